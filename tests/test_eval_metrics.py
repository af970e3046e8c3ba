"""Task metrics, and agreement of the score stage's NER F1 with seqeval and nervaluate."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from nervaluate import Evaluator
from seqeval.metrics import f1_score as seqeval_f1
from seqeval.metrics.sequence_labeling import get_entities

from pipeline.evaluate.metrics import (
    LENIENT_PARSE,
    MAIN_METRIC,
    item_matrix,
    metric_value,
    metrics_for,
    normalize,
    words_overlap,
)
from pipeline.evaluate.score import score_records
from pipeline.evaluate.settings import ScoreSettings


def corpus_value(task, name, answers, golds):
    metric = next(m for m in metrics_for(task, golds) if m.name == name)
    stats = item_matrix(metric, answers, golds)
    return float(metric_value(name, stats.sum(axis=0), len(golds)))


def test_main_metric_comes_first():
    golds = {
        "ner": {"entities": []},
        "re": {"relations": []},
        "qa": {"answer": "A"},
        "crf": {"items": {"x": None}},
        "argmining": {"claims": [], "premises": []},
    }
    for task, main in MAIN_METRIC.items():
        assert metrics_for(task, [golds[task]])[0].name == main


def test_ner_strict_is_a_normalised_multiset_match():
    golds = [{"entities": ["chest pain", "fever", "fever"]}, {"entities": ["Hb"]}]
    answers = [{"entities": ["chest  pain ", "fever", "Fever", "FEVER", "cough"]}, {"entities": []}]
    # tp 3 ("chest pain" after whitespace normalisation, two case-folded "fever"); 5 predicted; 4 gold
    for name in ("f1_strict_typed", "f1_strict_untyped"):
        assert corpus_value("ner", name, answers, golds) == pytest.approx(2 * 3 / (5 + 4))
    assert corpus_value("ner", "precision_strict_typed", answers, golds) == pytest.approx(3 / 5)
    assert corpus_value("ner", "recall_strict_typed", answers, golds) == pytest.approx(3 / 4)


def test_unicode_forms_are_nfc_normalised():
    composed, decomposed = "febbre alta è", "febbre alta e\u0300"
    assert normalize(composed) == normalize(decomposed)
    golds = [{"entities": [composed]}]
    assert corpus_value("ner", "f1_strict_typed", [{"entities": [decomposed]}], golds) == 1.0
    assert corpus_value("ner", "f1_strict_untyped", [{"entities": ["É"]}], [{"entities": ["é"]}]) == 1.0


def test_typed_and_untyped_strict_differ_on_type_confusions():
    golds = [{"entities": [{"text": "aspirin", "type": "drug"}, {"text": "fever", "type": "problem"}]}]
    answers = [{"entities": [{"text": "aspirin", "type": "problem"}, {"text": "Fever", "type": "PROBLEM"}]}]
    assert corpus_value("ner", "f1_strict_typed", answers, golds) == pytest.approx(0.5)
    assert corpus_value("ner", "f1_strict_untyped", answers, golds) == pytest.approx(1.0)
    # an untyped prediction in a typed cell names no type: strict-typed wrong, untyped right
    assert corpus_value("ner", "f1_strict_typed", [{"entities": ["aspirin"]}], golds) == 0.0
    assert corpus_value("ner", "f1_strict_untyped", [{"entities": ["aspirin"]}], golds) == pytest.approx(
        2 / 3
    )
    # in a single-type cell (plain-string golds) a predicted type is not compared
    plain = [{"entities": ["aspirin"]}]
    typed_answer = [{"entities": [{"text": "aspirin", "type": "whatever"}]}]
    assert corpus_value("ner", "f1_strict_typed", typed_answer, plain) == 1.0


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("chest pain", "severe chest pain", True),
        ("severe chest pain", "chest pain radiating", True),
        ("CT", "ACTH stimulation test", False),
        ("e", "fever", False),
        ("chest pain", "abdominal pain", False),
        ("pain", "abdominal pain", True),
        ("tac", "tac", True),
        ("++", "++", True),
        ("++", "+", False),
    ],
)
def test_lenient_overlap_is_on_word_boundaries(a, b, overlap):
    assert words_overlap(normalize(a), normalize(b)) is overlap
    assert words_overlap(normalize(b), normalize(a)) is overlap


def test_ner_lenient_matches_overlapping_words_one_to_one():
    golds = [{"entities": ["severe chest pain", "fever", "fever", "ACTH stimulation test"]}]
    answers = [{"entities": ["chest pain", "FEVER", "fever", "fever", "CT", "e"]}]
    # chest pain ~ severe chest pain; two of the three fevers pair with the two gold fevers
    assert corpus_value("ner", "f1_lenient", answers, golds) == pytest.approx(2 * 3 / (6 + 4))


def test_re_triples_are_normalised():
    golds = [{"relations": [{"head": "Hb", "relation": "has_result", "tail": "12 g/dL"}]}]
    answers = [
        {
            "relations": [
                {"head": "hb", "relation": "HAS_RESULT", "tail": "12  g/dL"},
                {"head": "Hb", "relation": "has_result", "tail": "13"},
            ]
        }
    ]
    assert corpus_value("re", "precision", answers, golds) == pytest.approx(0.5)
    assert corpus_value("re", "recall", answers, golds) == pytest.approx(1.0)


def test_qa_accuracy_and_unanswered():
    golds = [{"answer": "A"}, {"answer": "B"}, {"answer": "C"}]
    answers = [{"answer": "A"}, {"answer": None}, {"answer": "D"}]
    assert corpus_value("qa", "accuracy", answers, golds) == pytest.approx(1 / 3)


def test_crf_macro_f1_over_items():
    golds = [
        {"items": {"age": "46", "sex": "female", "smoker": None}},
        {"items": {"age": "70", "sex": None, "smoker": None}},
    ]
    answers = [
        {"items": {"age": "46", "sex": "Female", "extra": "x"}},
        {"items": {"age": "71", "sex": "male"}},
    ]
    # age: tp 1, fp 1, fn 1 -> 0.5; sex: tp 1, fp 1, fn 0 -> 2/3; smoker: no values -> excluded
    assert corpus_value("crf", "macro_f1", answers, golds) == pytest.approx((0.5 + 2 / 3) / 2)


def test_argmining_micro_and_per_label():
    golds = [{"claims": ["c1"], "premises": ["p1", "p2"]}]
    answers = [{"claims": ["c1", "c2"], "premises": ["p1"]}]
    assert corpus_value("argmining", "f1_claim", answers, golds) == pytest.approx(2 / 3)
    assert corpus_value("argmining", "f1_premise", answers, golds) == pytest.approx(2 / 3)
    assert corpus_value("argmining", "f1", answers, golds) == pytest.approx(2 * 2 / (3 + 3))


def test_empty_everything_scores_zero():
    assert metric_value("f1", np.zeros(3), 1) == 0.0
    assert metric_value("f1_strict_typed" + LENIENT_PARSE, np.zeros(3), 1) == 0.0


# --- agreement with seqeval and nervaluate -------------------------------------------------------


def read_iob(path):
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
        else:
            current.append(line.rsplit(maxsplit=1)[-1])
    if current:
        sentences.append(current)
    return sentences


def to_spans(tags):
    """Token spans [start, end) of an IOB sequence, chunked by seqeval."""
    return [{"start": s, "end": e + 1, "label": label} for label, s, e in get_entities(tags)]


def to_tags(spans, length):
    tags = ["O"] * length
    for span in spans:
        tags[span["start"]] = f"B-{span['label']}"
        for i in range(span["start"] + 1, span["end"]):
            tags[i] = f"I-{span['label']}"
    return tags


def perturb(spans, length, rng, labels):
    """Predictions near the gold: kept, dropped, boundary-shifted, relabelled, plus spurious spans."""
    out = []
    for span in spans:
        roll = rng.random()
        if roll < 0.15:
            continue
        span = dict(span)
        if roll < 0.35:
            span["start"] = min(max(0, span["start"] + rng.choice([-1, 1])), span["end"] - 1)
        elif roll < 0.5:
            span["end"] = max(span["start"] + 1, min(length, span["end"] + rng.choice([-1, 1])))
        elif roll < 0.6:
            span["label"] = rng.choice([lab for lab in labels if lab != span["label"]])
        out.append(span)
    if length and rng.random() < 0.3:
        start = rng.randrange(length)
        out.append(
            {"start": start, "end": min(length, start + rng.randint(1, 3)), "label": rng.choice(labels)}
        )
    placed, taken = [], set()
    for span in sorted(out, key=lambda s: (s["start"], s["end"])):
        cells = set(range(span["start"], span["end"]))
        if not cells & taken:
            placed.append(span)
            taken |= cells
    return placed


def score_stage_f1(gold_docs, pred_docs):
    """NER F1 rows of the score stage on token spans written as surface forms ("t3 t4"), typed.

    The predictions go through the whole stage (a JSON completion, the parser, the metrics, the
    estimate): forms are unique per span within a document, so form equality is offset equality.
    """

    def entities(spans):
        spans = sorted(spans, key=lambda s: (s["start"], s["end"]))
        return [
            {"text": " ".join(f"t{i}" for i in range(s["start"], s["end"])), "type": s["label"]}
            for s in spans
        ]

    records = [
        {
            "id": str(n),
            "model": "m",
            "arm": "a",
            "dataset": "d",
            "language": "en",
            "task": "ner",
            "subtask": "s",
            "completion": json.dumps({"entities": entities(pred)}),
            "gold": {"entities": entities(gold)},
        }
        for n, (gold, pred) in enumerate(zip(gold_docs, pred_docs, strict=True))
    ]
    rows = score_records(records, ScoreSettings(bootstrap_samples=2))
    return {row["metric"]: row["value"] for row in rows}


def assert_agreement(gold_tags, pred_spans, labels):
    gold_spans = [to_spans(t) for t in gold_tags]
    pred_tags = [to_tags(p, len(t)) for p, t in zip(pred_spans, gold_tags, strict=True)]
    ours = score_stage_f1(gold_spans, pred_spans)
    assert ours["f1_strict_typed"] == pytest.approx(seqeval_f1(gold_tags, pred_tags), abs=1e-12)

    def inclusive(docs):
        return [[{**s, "end": s["end"] - 1} for s in doc] for doc in docs]

    results = Evaluator(inclusive(gold_spans), inclusive(pred_spans), tags=labels, loader="dict").evaluate()
    assert ours["f1_strict_typed"] == pytest.approx(results["overall"]["strict"].f1, abs=1e-12)
    assert ours["f1_strict_untyped"] == pytest.approx(results["overall"]["exact"].f1, abs=1e-12)
    return ours["f1_strict_typed"]


@pytest.mark.parametrize("language", ["English", "Italian", "Spanish"])
def test_strict_f1_equals_seqeval_and_nervaluate_on_e3c(shared_data, language):
    folder = shared_data / "e3c/preprocessed_data/clinical_entities/layer1" / language
    gold_tags = read_iob(folder / "train.txt")[:300]
    assert sum(len(to_spans(t)) for t in gold_tags) > 100
    labels = ["ety", "other"]
    for seed in range(3):
        rng = random.Random(seed)
        pred_spans = [perturb(to_spans(t), len(t), rng, labels) for t in gold_tags]
        assert 0.3 < assert_agreement(gold_tags, pred_spans, labels) < 0.95


def random_spans(length, rng, labels):
    spans, i = [], 0
    while i < length:
        if rng.random() < 0.3:
            end = min(length, i + rng.randint(1, 3))
            spans.append({"start": i, "end": end, "label": rng.choice(labels)})
            i = end
        else:
            i += 1
    return spans


@pytest.mark.filterwarnings("ignore::UserWarning")  # seqeval warns on cases without any span
def test_strict_f1_equals_seqeval_and_nervaluate_on_random_cases():
    rng = random.Random(0)
    labels = ["X", "Y", "Z"]
    for _ in range(300):
        lengths = [rng.randint(0, 12) for _ in range(rng.randint(1, 5))]
        gold_tags = [to_tags(random_spans(n, rng, labels), n) for n in lengths]
        pred_spans = [perturb(to_spans(t), len(t), rng, labels) for t in gold_tags]
        assert_agreement(gold_tags, pred_spans, labels)
