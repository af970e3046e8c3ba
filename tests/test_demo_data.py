"""The demo generator: deterministic native-format data that the registry reads back."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.demo.data import generate
from pipeline.examples import Example
from pipeline.io import read_jsonl
from pipeline.tasks import extract
from pipeline.tasks.answers import gold_answer
from pipeline.tasks.readers.reasoning import read_traces
from pipeline.tasks.registry import load_examples, load_registry

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {"seed": 3, "documents_per_language": 12, "questions_per_language": 8}


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """A base dir holding results/demo, as the workflow lays it out."""
    base = tmp_path_factory.mktemp("demo")
    generate(base / "results" / "demo", SETTINGS)
    return base


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(demo_root, tmp_path):
    generate(tmp_path / "again", SETTINGS)
    assert tree(tmp_path / "again") == tree(demo_root / "results" / "demo")
    generate(tmp_path / "other", {**SETTINGS, "seed": 4})
    assert tree(tmp_path / "other") != tree(tmp_path / "again")


def test_every_demo_dataset_loads_with_expected_counts(demo_root):
    registry = load_registry(REPO / "config" / "datasets" / "demo.yaml")
    n_docs, n_q = SETTINGS["documents_per_language"], SETTINGS["questions_per_language"]
    expected = {
        "demo-ner": n_docs,
        "demo-re": n_docs,
        "demo-mcq": n_q,
        "demo-general": n_q,
        "demo-argmining": n_q,
    }
    assert set(registry) == set(expected)
    for name, spec in registry.items():
        examples = load_examples(name, spec, demo_root)
        per_cell = Counter(e.cell for e in examples)
        assert len(per_cell) == len(spec.languages) * len(spec.subtasks)
        assert set(per_cell.values()) == {expected[name]}, name
        splits = Counter(e.split for e in examples if e.cell == examples[0].cell)
        assert splits == {"train": expected[name] - expected[name] // 4, "test": expected[name] // 4}
        assert len({e.id for e in examples}) == len(examples)
        with_answer = [e for e in examples if any(gold_answer(e).values())]
        assert len(with_answer) > 0.6 * len(examples), name


def test_gold_spans_match_text_and_mcq_carries_explanation(demo_root):
    registry = load_registry(REPO / "config" / "datasets" / "demo.yaml")
    for name in ("demo-ner", "demo-re", "demo-argmining"):
        for e in load_examples(name, registry[name], demo_root):
            for s in e.gold["entities"]:
                assert e.text[s["start"] : s["end"]] == s["text"]
            assert len(e.text.split()) <= 60 or name == "demo-argmining"
    mcq = load_examples("demo-mcq", registry["demo-mcq"], demo_root)
    assert all(e.metadata["explanation"] and len(e.gold["choices"]) == 5 for e in mcq)
    for e in mcq:
        assert e.gold["choices"][e.gold["answer"]].lower() in e.metadata["explanation"].lower()


def test_corpus_layout_and_noise(demo_root):
    docs = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((demo_root / "results/demo/corpus").rglob("*.json"))
    ]
    assert len(docs) == 3 * SETTINGS["documents_per_language"]
    keys = ["authors", "doi", "publication_date", "id", "url", "source", "source_url", "licence", "language",
            "type", "description", "text"]  # fmt: skip
    assert all(list(d) == keys for d in docs)
    texts = [d["text"] for d in docs]
    assert len(set(texts)) < len(texts), "expected exact duplicates for the cleaning stage"
    assert {d["licence"] for d in docs} == {"CC BY 4.0", "CC-BY-NC"}
    assert any("http" in t for t in texts) and any("  " in t for t in texts)
    assert all(len(t.split()) >= 100 for t in texts)


def test_reasoning_traces(demo_root):
    traces = read_traces(demo_root / "results/demo/reasoning.csv")
    assert Counter(t["language"] for t in traces) == {"en": 2, "it": 2, "es": 2}
    assert all(t["question"] and t["reasoning"] and t["answer"] for t in traces)


def test_extract_cli_writes_example_records(demo_root, tmp_path):
    entry = {
        "task": "qa",
        "reader": "medqa_jsonl",
        "path": "results/demo/mcq",
        "languages": ["en", "it"],
        "subtasks": {"mcq": {}},
        "options": {"splits": {"train": "{lang}/train.jsonl", "test": "{lang}/test.jsonl"}},
        "max_test": 1,
    }
    out = tmp_path / "tasks" / "demo-mcq.jsonl"
    extract.main(
        ["--name", "demo-mcq", "--spec", json.dumps(entry), "--settings", '{"seed": 1, "max_train": 3}',
         "--output", str(out), "--base-dir", str(demo_root)]
    )  # fmt: skip
    examples = [Example.from_record(r) for r in read_jsonl(out)]
    assert Counter((e.language, e.split) for e in examples) == {
        ("en", "train"): 3, ("en", "test"): 1, ("it", "train"): 3, ("it", "test"): 1,
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown key"):
        extract.main(
            ["--name", "x", "--spec", json.dumps(entry), "--settings", '{"sed": 1}', "--output", str(out)]
        )


def test_languages_are_a_setting_and_french_is_covered(tmp_path):
    """Languages are data: a French-only demo loads through the same readers."""
    import yaml

    generate(tmp_path / "results" / "demo", {**SETTINGS, "languages": ["fr"]})
    entries = yaml.safe_load((REPO / "config" / "datasets" / "demo.yaml").read_text())["datasets"]
    registry = load_registry({"datasets": {n: {**e, "languages": ["fr"]} for n, e in entries.items()}})
    for name, spec in registry.items():
        examples = load_examples(name, spec, tmp_path)
        assert examples and {e.language for e in examples} == {"fr"}, name
    general = load_examples("demo-general", registry["demo-general"], tmp_path)[0]
    assert general.gold["question"].startswith("Combien font")
    assert sorted(p.name for p in (tmp_path / "results" / "demo" / "corpus").iterdir()) == ["fr"]


@pytest.mark.parametrize("languages", [[], ["de"], "en"])
def test_unsupported_languages_are_refused(tmp_path, languages):
    with pytest.raises(ValueError, match="languages must be a non-empty list"):
        generate(tmp_path / "d", {**SETTINGS, "languages": languages})
    assert not (tmp_path / "d").exists()
