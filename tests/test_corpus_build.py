"""Licence classes, de-duplication, decontamination and the build stage."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.corpus import build
from pipeline.corpus.build import build_corpus
from pipeline.corpus.clean import SCHEMA as CLEAN_SCHEMA
from pipeline.corpus.decontaminate import Decontaminator, read_test_texts
from pipeline.corpus.licences import COMMERCIAL, RESEARCH_ONLY, LicenceTable
from pipeline.corpus.settings import BuildSettings
from pipeline.examples import Example

VOCAB = [f"w{i}" for i in range(3000)]


def random_text(rng: random.Random, n: int = 120) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


@pytest.mark.parametrize(
    ("licence", "expected"),
    [
        ("CC BY 4.0", COMMERCIAL),
        ("CC-BY", COMMERCIAL),
        ("cc_by-sa", COMMERCIAL),
        ("CC0 1.0", COMMERCIAL),
        ("Public Domain", COMMERCIAL),
        ("CC-BY-NC", RESEARCH_ONLY),
        ("CC BY-NC-SA 4.0", RESEARCH_ONLY),
        ("CC-BY-ND", RESEARCH_ONLY),
        ("proprietary", RESEARCH_ONLY),
        (None, RESEARCH_ONLY),
    ],
)
def test_default_licence_classes(licence, expected):
    assert LicenceTable().classify(licence) == expected


def test_licence_overrides_come_first_and_are_checked():
    assert LicenceTable({"proprietary": COMMERCIAL}).classify("Proprietary") == COMMERCIAL
    with pytest.raises(ValueError, match="unknown class 'free'"):
        LicenceTable({"X": "free"})


def test_decontaminator_ignores_case_and_punctuation():
    test = ["The patient, a 45-year-old man, presented with acute chest pain radiating to the left arm."]
    texts = [
        "Intro. THE PATIENT a 45 year old man presented with acute chest pain radiating to the left arm!",
        "The patient, a 45-year-old woman, presented with acute abdominal pain radiating to the back.",
    ]
    assert [Decontaminator(test, 13).is_contaminated(t) for t in texts] == [True, False]
    short = Decontaminator(["chest pain radiating"], 13)
    assert [short.is_contaminated(t) for t in texts] == [False, False]
    with pytest.raises(ValueError, match="n-gram length"):
        Decontaminator(test, 0)


def example(i: int, split: str, text: str, task: str = "ner", gold: dict | None = None) -> dict:
    return Example(f"e{i}", "ds", task, "en", "sub", split, text, gold or {}).to_record()


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_read_test_texts_reads_test_split_and_qa_fields(tmp_path):
    qa_gold = {"question": "Which drug?", "choices": ["aspirin", "ibuprofen"], "answer": 0, "context": "ctx"}
    path = write_jsonl(
        tmp_path / "t.jsonl",
        [
            example(1, "train", "train text"),
            example(2, "test", "test text"),
            example(3, "test", "q", "qa", qa_gold),
        ],
    )
    assert read_test_texts([path]) == ["test text", "q", "Which drug?", "ctx", "aspirin", "ibuprofen"]
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x"}])
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: example lacks key"):
        read_test_texts([bad])


def cleaned(path, rows):
    """Write a cleaned-source parquet from (id, source, language, licence, text) rows."""
    records = [
        {
            "id": i,
            "source": s,
            "language": lang,
            "doc_type": "note",
            "licence": lic,
            "text": t,
            "words": len(t.split()),
        }
        for i, s, lang, lic, t in rows
    ]
    pq.write_table(pa.Table.from_pylist(records, schema=CLEAN_SCHEMA), path)
    return path


@pytest.fixture
def synthetic(tmp_path):
    rng = random.Random(0)
    texts = [random_text(rng) for _ in range(6)]
    near = texts[1].split()
    near[60] = "changed"
    passage = " ".join(texts[4].split()[40:70])
    a = cleaned(
        tmp_path / "a.parquet",
        [
            ("a0", "a", "en", "CC-BY", texts[0]),
            ("a1", "a", "en", "CC-BY", texts[1]),
            ("a2", "a", "en", "CC-BY", texts[0].upper()),  # exact duplicate after normalisation
            ("a3", "a", "en", "CC-BY", " ".join(near)),  # near duplicate of a1
        ],
    )
    b = cleaned(
        tmp_path / "b.parquet",
        [
            ("b0", "b", "it", "CC-BY-NC", texts[2]),
            ("b1", "b", "fr", "CC-BY", texts[3]),
            ("b2", "b", "it", "CC0", texts[4]),  # holds a test passage
        ],
    )
    tasks = write_jsonl(
        tmp_path / "tasks.jsonl", [example(1, "test", passage), example(2, "train", texts[5])]
    )
    return tmp_path, [a, b], [tasks]


def settings(**overrides):
    return BuildSettings.from_mapping(overrides, "test")


def test_build_removes_duplicates_and_contamination(synthetic):
    tmp, inputs, tasks = synthetic
    report = build_corpus(inputs, tasks, settings(batch_size=2), tmp / "corpus.parquet")
    corpus = pq.read_table(tmp / "corpus.parquet")
    assert corpus.column("id").to_pylist() == ["a0", "a1", "b0", "b1"]
    assert corpus.column("licence_class").to_pylist() == [COMMERCIAL, COMMERCIAL, RESEARCH_ONLY, COMMERCIAL]
    assert report["removed"] == {
        "language": 0,
        "licence": 0,
        "contaminated": 1,
        "exact_duplicates": 1,
        "near_duplicates": 1,
    }
    assert report["duplicates"] == [
        {"source": "a", "id": "a2", "kind": "exact", "of_source": "a", "of_id": "a0"},
        {"source": "a", "id": "a3", "kind": "near", "of_source": "a", "of_id": "a1"},
    ]
    assert report["contaminated"] == [{"source": "b", "id": "b2"}]
    assert report["licence_classes"][RESEARCH_ONLY]["documents"] == 1
    assert report["documents_out"] == 4 == sum(r["documents"] for r in report["table"])
    assert report["words_out"] == 480


def test_build_subsets_flagging_and_switches(synthetic):
    tmp, inputs, tasks = synthetic
    out = tmp / "c.parquet"
    report = build_corpus(inputs, tasks, settings(licence_subset="commercial", languages=["en", "it"]), out)
    assert pq.read_table(out).column("id").to_pylist() == ["a0", "a1"]
    assert report["removed"]["language"] == 1 and report["removed"]["licence"] == 1
    report = build_corpus(inputs, tasks, settings(decontamination={"action": "flag"}, workers=2), out)
    corpus = pq.read_table(out)
    assert corpus.filter(corpus.column("contaminated")).column("id").to_pylist() == ["b2"]
    assert report["flagged_contaminated"] == 1 and report["removed"]["contaminated"] == 0
    build_corpus(inputs, [], settings(dedup={"exact": False, "near": False}), out)
    assert pq.read_table(out).num_rows == 7


def test_build_cli_and_bad_inputs(synthetic):
    tmp, inputs, tasks = synthetic
    out, rep = tmp / "cli.parquet", tmp / "cli.json"
    argv = [
        "--inputs",
        *map(str, inputs),
        "--tasks",
        *map(str, tasks),
        "--output",
        str(out),
        "--report",
        str(rep),
    ]
    build.main([*argv, "--settings", '{"dedup": {"threshold": 0.9}}'])
    assert json.loads(rep.read_text())["settings"]["dedup"] == {
        "exact": True,
        "near": True,
        "threshold": 0.9,
        "num_perm": 128,
        "shingle": 5,
    }
    with pytest.raises(ValueError, match=r"corpus.corpora.dedup: unknown key\(s\) \['treshold'\]"):
        build.main([*argv, "--settings", '{"dedup": {"treshold": 0.9}}'])
    with pytest.raises(ValueError, match="licence_subset: must be one of"):
        build.main([*argv, "--settings", '{"licence_subset": "free"}'])
    pq.write_table(pa.table({"text": ["x"]}), tmp / "raw.parquet")
    with pytest.raises(ValueError, match=r"raw\.parquet: not a cleaned source"):
        build_corpus([tmp / "raw.parquet"], [], settings(), out)
