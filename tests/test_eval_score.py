"""The scoring stage: prediction files in, metric rows with per-item statistics out."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import paired_rows
from pipeline.evaluate.metrics import LENIENT_PARSE
from pipeline.evaluate.score import main, score_records
from pipeline.evaluate.settings import ScoreSettings
from pipeline.examples import Example
from pipeline.io import write_jsonl
from pipeline.tasks.answers import gold_answer

ROW_KEYS = {
    "model", "arm", "dataset", "language", "task", "subtask", "style", "metric", "value", "n", "stderr",
    "ci_low", "ci_high", "parse_failure_rate", "parse_mode", "decoding", "item_fields", "items",
}  # fmt: skip


def ner_example(i: int) -> Example:
    text = f"Patient {i} had fever and chest pain."
    entities = [
        {"start": text.index("fever"), "end": text.index("fever") + 5, "label": "SYMPTOM", "text": "fever"},
        {
            "start": text.index("chest"),
            "end": text.index("chest") + 10,
            "label": "SYMPTOM",
            "text": "chest pain",
        },
    ]
    return Example(f"doc{i}", "toy", "ner", "en", "symptoms", "test", text, {"entities": entities})


def qa_example(i: int) -> Example:
    gold = {
        "question": f"Q{i}?",
        "choices": ["aspirin", "ibuprofen", "paracetamol"],
        "answer": i % 3,
        "context": None,
    }
    return Example(f"q{i}", "toyqa", "qa", "en", "mcqa", "test", "", gold)


def record(example: Example, completion: str, arm: str = "it", style: str = "json") -> dict:
    return {
        "id": example.id,
        "dataset": example.dataset,
        "task": example.task,
        "language": example.language,
        "subtask": example.subtask,
        "style": style,
        "prompt": "...",
        "completion": completion,
        "gold": gold_answer(example),
        "example_gold": example.gold,
        "model": "tiny-llama",
        "arm": arm,
        "decoding": {"temperature": 0.0, "max_new_tokens": 64},
    }


def test_ner_rows(tmp_path):
    examples = [ner_example(i) for i in range(20)]
    completions = (
        ['{"entities": ["fever", "chest pain"]}'] * 10 + ['{"entities": ["fever"]}'] * 5 + ["oops"] * 5
    )
    preds = tmp_path / "preds.jsonl"
    write_jsonl(preds, [record(e, c) for e, c in zip(examples, completions, strict=True)])
    out = tmp_path / "scores" / "cell.json"
    main(
        [
            "--predictions",
            str(preds),
            "--outputs",
            str(out),
            "--settings",
            json.dumps({"bootstrap_samples": 200}),
        ]
    )
    rows = json.loads(out.read_text())
    names = [
        "f1_strict_typed",
        "precision_strict_typed",
        "recall_strict_typed",
        "f1_strict_untyped",
        "f1_lenient",
    ]
    assert [r["metric"] for r in rows] == names + [n + LENIENT_PARSE for n in names]
    assert [r["parse_mode"] for r in rows] == ["strict"] * 5 + ["lenient"] * 5
    assert all(set(r) == ROW_KEYS for r in rows)
    main_row = rows[0]
    # tp 25, predicted 25, gold 40
    assert main_row["value"] == pytest.approx(2 * 25 / (25 + 40))
    assert main_row["n"] == 20
    assert main_row["parse_failure_rate"] == pytest.approx(0.25)
    assert main_row["ci_low"] <= main_row["value"] <= main_row["ci_high"]
    assert main_row["stderr"] > 0
    assert main_row["decoding"] == {"temperature": 0.0, "max_new_tokens": 64}
    assert main_row["item_fields"] == ["tp", "n_pred", "n_gold"]
    assert main_row["items"][0] == ["doc0", 2, 2, 2]
    assert main_row["items"][-1] == ["doc19", 0, 0, 2]
    assert rows[1]["value"] == pytest.approx(1.0)


def test_several_cells_and_a_paired_test(tmp_path):
    examples = [qa_example(i) for i in range(60)]
    letters = "ABC"
    good = [record(e, f"Answer: {letters[i % 3]}") for i, e in enumerate(examples)]
    bad = [record(e, "Answer: A", arm="base") for e in examples]
    reasoning = [
        record(e, f"Let me think.\nConclusion: {letters[i % 3]}", arm="rot", style="reasoning")
        for i, e in enumerate(examples)
    ]
    paths = []
    for name, recs in (("good", good), ("bad", bad), ("rot", reasoning)):
        write_jsonl(tmp_path / f"{name}.jsonl", recs)
        paths.append(tmp_path / f"{name}.jsonl")
    outs = [tmp_path / f"{p.stem}.json" for p in paths]
    main(["--predictions", *map(str, paths), "--outputs", *map(str, outs)])
    good_rows, bad_rows, rot_rows = (json.loads(o.read_text()) for o in outs)
    assert good_rows[0]["metric"] == "accuracy" and good_rows[0]["value"] == 1.0
    assert bad_rows[0]["value"] == pytest.approx(1 / 3)
    assert rot_rows[0]["value"] == 1.0 and rot_rows[0]["arm"] == "rot"
    test = paired_rows(good_rows[0], bad_rows[0])
    assert test.delta == pytest.approx(2 / 3)
    assert test.significant()


def test_a_folder_of_cells_is_scored_into_a_folder_by_relative_path(tmp_path):
    """The workflow's score job: one generate folder (cells as dataset/language/sub-task files, the
    throughput record beside them) in, one folder of score files out."""
    predictions = tmp_path / "predictions" / "toyqa"
    for language in ("en", "it"):
        records = [{**record(qa_example(i), "Answer: A"), "language": language} for i in range(6)]
        write_jsonl(predictions / language / "mcqa.jsonl", records)
    (predictions / "throughput.json").write_text("{}")
    scores = tmp_path / "scores" / "toyqa"
    main(
        [
            "--predictions",
            str(predictions),
            "--outputs",
            str(scores),
            "--settings",
            '{"bootstrap_samples": 20}',
        ]
    )
    written = sorted(p.relative_to(scores).as_posix() for p in scores.rglob("*") if p.is_file())
    assert written == ["en/mcqa.json", "it/mcqa.json"]
    assert json.loads((scores / "it" / "mcqa.json").read_text())[0]["language"] == "it"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no prediction files"):
        main(["--predictions", str(tmp_path / "empty"), "--outputs", str(tmp_path / "out")])


@pytest.mark.parametrize(
    ("task", "gold", "completion", "metric", "value"),
    [
        (
            "re",
            {"relations": [{"head": "Hb", "relation": "r", "tail": "12"}]},
            '{"relations": []}',
            "f1",
            0.0,
        ),
        ("crf", {"items": {"age": "46"}}, '{"items": {"age": "46"}}', "macro_f1", 1.0),
        ("argmining", {"claims": ["c"], "premises": ["p"]}, '{"claims": ["c"], "premises": []}', "f1", 2 / 3),
    ],
)
def test_other_tasks_main_metric(task, gold, completion, metric, value):
    base = {"model": "m", "arm": "a", "dataset": "d", "language": "en", "task": task, "subtask": "s"}
    records = [{**base, "id": "1", "style": "json", "completion": completion, "gold": gold}]
    rows = score_records(records, ScoreSettings(bootstrap_samples=50))
    assert rows[0]["metric"] == metric
    assert rows[0]["value"] == pytest.approx(value)


def test_bad_input_names_the_file_and_record(tmp_path):
    good = record(ner_example(0), "{}")
    cases = [
        ([good, {k: v for k, v in good.items() if k != "gold"}], "record 2: missing keys"),
        ([good, {**good, "id": "other", "dataset": "x"}], r"record 2: \['dataset'\] differ"),
        ([good, good], "record 2: duplicate id"),
        ([{**good, "gold": {"relations": []}}], "record 1: gold is not a ner answer"),
        ([{**good, "task": "pos"}], "unknown task"),
        ([], "no prediction records"),
    ]
    for i, (records, message) in enumerate(cases):
        path = tmp_path / f"bad{i}.jsonl"
        write_jsonl(path, records)
        with pytest.raises(ValueError, match=message) as err:
            main(["--predictions", str(path), "--outputs", str(tmp_path / "out.json")])
        assert str(path) in str(err.value)
    assert not (tmp_path / "out.json").exists()
    with pytest.raises(ValueError, match=r"scoring: unknown key\(s\) \['samples'\]"):
        main(["--predictions", "a.jsonl", "--outputs", "a.json", "--settings", '{"samples": 10}'])
    with pytest.raises(ValueError, match="bootstrap_samples"):
        ScoreSettings(bootstrap_samples=1)
    with pytest.raises(ValueError, match="confidence"):
        ScoreSettings.from_mapping({"confidence": 95})
    with pytest.raises(SystemExit):
        main(["--predictions", "a.jsonl", "b.jsonl", "--outputs", "a.json"])


def test_scoring_modules_import_neither_torch_nor_transformers():
    code = (
        "import sys, pipeline.evaluate.score, pipeline.evaluate.stats, pipeline.evaluate.parse, "
        "pipeline.evaluate.metrics; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lenient_parse_rows_beside_the_strict_ones():
    """A base model's near-miss layout scores zero strictly and is read by the lenient rows."""
    base = {"model": "m", "arm": "base", "dataset": "d", "language": "en", "task": "ner", "subtask": "s"}
    completions = [
        '{"entities": [{"name": "fever", "description": "a sign"}]}',
        '{"type": "json", "data": {"entities": ["cough"]}}',
        '{"entities": ["fever"]}',
    ]
    golds = [["fever"], ["cough"], ["fever"]]
    records = [
        {**base, "id": str(i), "completion": c, "gold": {"entities": g}}
        for i, (c, g) in enumerate(zip(completions, golds, strict=True))
    ]
    rows = {r["metric"]: r for r in score_records(records, ScoreSettings(bootstrap_samples=20))}
    assert rows["f1_strict_typed"]["value"] == pytest.approx(2 * 1 / (1 + 3))
    assert rows["f1_strict_typed"]["parse_failure_rate"] == pytest.approx(2 / 3)
    lenient = rows["f1_strict_typed" + LENIENT_PARSE]
    assert lenient["value"] == 1.0 and lenient["parse_failure_rate"] == 0.0
    qa = {**base, "task": "qa", "id": "q", "completion": "B", "gold": {"answer": "B"}}
    assert [r["metric"] for r in score_records([qa], ScoreSettings(bootstrap_samples=20))] == ["accuracy"]
