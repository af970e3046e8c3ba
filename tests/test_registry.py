"""The registry: Table 1 as data, schema checks, cells, seeded splits and caps."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.tasks.registry import cells, load_examples, load_registry

REPO = Path(__file__).resolve().parents[1]


def crf_registry(path: str = "crf", **extra) -> dict:
    entry = {
        "task": "crf",
        "reader": "crf_jsonl",
        "path": path,
        "languages": ["it"],
        "subtasks": {"history": {"items": ["history/*"]}, "exams": {"items": ["exams/ecg", "exams/ct"]}},
        **extra,
    }
    return {"datasets": {"toy-crf": entry}}


@pytest.fixture
def crf_data(tmp_path) -> Path:
    lines = [
        {
            "id": f"c{i:02d}",
            "text": f"case {i}",
            "items": {"history/fever": "yes" if i % 2 else None, "exams/ecg": "ok"},
        }
        for i in range(20)
    ]
    path = tmp_path / "crf" / "it" / "train.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return tmp_path


def test_thesis_registry_encodes_table_1():
    registry = load_registry(REPO / "config" / "datasets" / "thesis.yaml")
    all_ = [cell for spec in registry.values() for cell in cells(spec)]
    assert len(all_) == 63 and len(set(all_)) == 63  # the table as given (the paper says 61)
    by_task = Counter(registry[name].task for name, _, _ in all_)
    assert by_task == {"ner": 26, "qa": 14, "re": 8, "crf": 12, "argmining": 3}
    assert sum(len(spec.subtasks) for spec in registry.values()) == 36  # dataset x sub-task (paper: 35)
    assert Counter(lang for _, lang, _ in all_) == {"en": 26, "it": 23, "es": 14}
    assert cells(registry["pharmaer"]) == [
        ("pharmaer", "it", s) for s in ("drug", "disease", "symptom", "anatomical_part")
    ]
    assert registry["medqa"].max_train == 1000 and registry["medmcqa"].max_train == 1000


def test_the_development_twin_is_table_1_with_other_paths():
    """shared.yaml reads ../shared/data; all but where the files lie is thesis.yaml's."""
    thesis = load_registry(REPO / "config" / "datasets" / "thesis.yaml")
    twin = load_registry(REPO / "config" / "datasets" / "shared.yaml")
    assert list(twin) == list(thesis)
    for name, spec in thesis.items():
        for key in ("task", "reader", "languages", "subtasks", "carve", "max_train", "max_test"):
            assert getattr(twin[name], key) == getattr(spec, key), (name, key)


def test_schema_rejects_unknown_keys_and_bad_values():
    entry = crf_registry()["datasets"]["toy-crf"]
    with pytest.raises(ValueError, match=r"key datasets\.toy-crf\.pth: unknown key"):
        load_registry({"datasets": {"toy-crf": {**entry, "pth": "x"}}})
    with pytest.raises(ValueError, match=r"key datasets\.toy-crf\.subtasks\.history\.lables: unknown key"):
        load_registry({"datasets": {"toy-crf": {**entry, "subtasks": {"history": {"lables": ["x"]}}}}})
    with pytest.raises(ValueError, match=r"key datasets\.toy-crf\.task: 'summarise' is not one of"):
        load_registry({"datasets": {"toy-crf": {**entry, "task": "summarise"}}})


def test_dataset_and_subtask_names_are_data_not_code():
    entry = crf_registry()["datasets"]["toy-crf"]
    with pytest.raises(ValueError, match=r"key datasets\.'q`touch PWNED`': not a valid name"):
        load_registry({"datasets": {"q`touch PWNED`": entry}})
    with pytest.raises(ValueError, match=r"key datasets\.toy-crf\.subtasks\.'a;b': not a valid name"):
        load_registry({"datasets": {"toy-crf": {**entry, "subtasks": {"a;b": {}}}}})


def test_missing_data_is_a_clear_error(tmp_path):
    spec = load_registry(crf_registry("data/restricted/ecream"))["toy-crf"]
    expected = (
        f"dataset 'toy-crf': data not found at {tmp_path / 'data/restricted/ecream'} .*docs/datasets.md"
    )
    with pytest.raises(FileNotFoundError, match=expected):
        load_examples("toy-crf", spec, tmp_path)


def test_crf_items_and_seeded_carve_and_caps(crf_data):
    carve = [{"from": "train", "to": "test", "size": 0.25}, {"from": "train", "to": "dev", "size": 3}]
    spec = load_registry(crf_registry(carve=carve))["toy-crf"]
    examples = load_examples("toy-crf", spec, crf_data, seed=7)
    history = [e for e in examples if e.subtask == "history"]
    assert Counter(e.split for e in history) == {"train": 12, "dev": 3, "test": 5}
    exams = [e for e in examples if e.subtask == "exams"]
    assert [e.metadata["doc_id"] for e in exams] == [
        e.metadata["doc_id"] for e in history
    ]  # same split per doc
    assert all(e.gold["items"] == {"exams/ecg": "ok", "exams/ct": None} for e in exams)
    assert all(list(e.gold["items"]) == ["history/fever"] for e in history)
    assert examples == load_examples("toy-crf", spec, crf_data, seed=7)
    other = load_examples("toy-crf", spec, crf_data, seed=8)
    assert {e.id for e in other if e.split == "test"} != {e.id for e in examples if e.split == "test"}
    capped = load_examples("toy-crf", spec, crf_data, seed=7, max_train=4, max_test=2)
    assert Counter(e.split for e in capped if e.subtask == "history") == {"train": 4, "dev": 3, "test": 2}
    own_cap = load_registry(crf_registry(carve=carve, max_train=2))["toy-crf"]
    capped = load_examples("toy-crf", own_cap, crf_data, seed=7, max_train=4)
    assert Counter(e.split for e in capped if e.subtask == "history")["train"] == 2  # the spec's cap wins
    ids = [e.id for e in capped]
    assert ids[0].startswith("toy-crf/it/history/train/") and len(set(ids)) == len(ids)


def test_unsplit_documents_and_label_typos_are_errors(crf_data):
    data = crf_data / "crf" / "it" / "train.jsonl"
    data.rename(crf_data / "one.jsonl")
    spec = load_registry(crf_registry("one.jsonl"))["toy-crf"]
    with pytest.raises(ValueError, match=r"no train/dev/test split .*add `carve`"):
        load_examples("toy-crf", spec, crf_data)
    carve = [{"from": "all", "to": "test", "size": 0.5}, {"from": "all", "to": "train", "size": 1.0}]
    spec = load_registry(crf_registry("one.jsonl", carve=carve))["toy-crf"]
    assert Counter(e.split for e in load_examples("toy-crf", spec, crf_data)) == {"train": 20, "test": 20}
    typo = crf_registry("one.jsonl", carve=carve)
    typo["datasets"]["toy-crf"]["subtasks"]["exams"] = {"items": ["exam/*"]}
    with pytest.raises(ValueError, match="sub-task 'exams': none of items"):
        load_examples("toy-crf", load_registry(typo)["toy-crf"], crf_data)


def test_per_language_paths_and_options(tmp_path):
    for lang, name in (("en", "medqa_test.jsonl"), ("it", "test.jsonl")):
        rec = {"question": f"{lang}?", "options": {"A": "a", "B": "b"}, "answer_idx": "B"}
        (tmp_path / lang).mkdir()
        (tmp_path / lang / name).write_text(json.dumps(rec) + "\n", encoding="utf-8")
    entry = {
        "task": "qa",
        "reader": "medqa_jsonl",
        "path": {"en": "en", "it": "it"},
        "languages": ["en", "it"],
        "subtasks": {"mcq": {}, "no_context": {"context": False}},
        "options": {
            "splits": {"test": "test.jsonl"},
            "languages": {"en": {"splits": {"test": "medqa_test.jsonl"}}},
        },
    }
    examples = load_examples("toy", load_registry({"datasets": {"toy": entry}})["toy"], tmp_path)
    assert [(e.language, e.subtask, e.text, e.gold["answer"]) for e in examples] == [
        ("en", "mcq", "en?", 1), ("en", "no_context", "en?", 1),
        ("it", "mcq", "it?", 1), ("it", "no_context", "it?", 1),
    ]  # fmt: skip
