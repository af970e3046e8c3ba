"""lm-evaluation-harness tasks by name on our model folders: local task YAMLs, no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.evaluate.harness import main, score_rows
from pipeline.evaluate.settings import LmEvalSettings

QUESTIONS = [
    ("Which organ pumps blood?", ["liver", "heart", "lung"], 1),
    ("Which organ filters blood?", ["kidney", "skin", "eye"], 0),
    ("Which organ is for breathing?", ["ear", "stomach", "lung"], 2),
    ("Where is insulin made?", ["pancreas", "bone", "hair"], 0),
    ("Which cell carries oxygen?", ["neuron", "red blood cell", "platelet"], 1),
]
TASK_YAML = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    train: {train}
    test: {test}
output_type: multiple_choice
training_split: train
test_split: test
fewshot_split: train
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""
GROUP_YAML = """group: med_local
task: [med_local_en, med_local_fr]
aggregate_metric_list:
  - metric: acc
    aggregation: mean
    weight_by_size: true
metadata:
  version: 1.0
"""


@pytest.fixture
def task_folder(tmp_path: Path) -> Path:
    """Two tiny multiple-choice tasks (json data files) and a group of both, as a study would ship them."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    for name in ("med_local_en", "med_local_fr"):
        data = {}
        for split, rows in (("train", QUESTIONS[:2]), ("test", QUESTIONS)):
            path = tmp_path / f"{name}_{split}.jsonl"
            path.write_text(
                "".join(json.dumps({"question": q, "choices": c, "answer": a}) + "\n" for q, c, a in rows)
            )
            data[split] = path
        (folder / f"{name}.yaml").write_text(TASK_YAML.format(name=name, **data))
    (folder / "med_local.yaml").write_text(GROUP_YAML)
    return folder


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))


@pytest.mark.e2e
def test_a_group_of_local_tasks_runs_on_our_model_folder(task_folder, tiny_model_factory, tmp_path, offline):
    results, scores = tmp_path / "out" / "results.json", tmp_path / "out" / "scores.json"
    settings = {
        "tasks": ["med_local"],
        "include_path": str(task_folder),
        "num_fewshot": 1,
        "batch_size": 4,
        "device": "cpu",
        "seed": 3,
    }
    model = tiny_model_factory("qwen3", "base")
    argv = ["--model", str(model), "--results", str(results), "--scores", str(scores)]
    main([*argv, "--settings", json.dumps(settings), "--model-name", "m", "--arm", "base"])
    theirs = json.loads(results.read_text())
    assert "samples" not in theirs and set(theirs["results"]) >= {"med_local", "med_local_en", "med_local_fr"}
    assert theirs["n-shot"]["med_local_en"] == 1 and theirs["config"]["random_seed"] == 3
    rows = {(r["dataset"], r["metric"]): r for r in json.loads(scores.read_text())}
    en = rows[("med_local_en", "acc")]
    assert en["value"] == theirs["results"]["med_local_en"]["acc,none"]
    assert en["task"] == "lm_eval" and en["subtask"] == "none" and en["model"] == "m" and en["n"] == 5
    assert en["value"] == pytest.approx(sum(v for _, v in en["items"]) / 5)
    assert sorted(i for i, _ in en["items"]) == ["0", "1", "2", "3", "4"]
    assert en["decoding"]["method"] == "lm_eval" and en["decoding"]["num_fewshot"] == 1
    assert ("med_local_fr", "acc_norm") in rows
    group = rows[("med_local", "acc")]
    assert "items" not in group and group["value"] == theirs["results"]["med_local"]["acc,none"]


@pytest.mark.e2e
def test_unknown_task_names_fail_before_the_model_loads(task_folder, tmp_path, offline):
    settings = {"tasks": ["med_local_en", "no_such_task"], "include_path": str(task_folder)}
    argv = [
        "--model",
        str(tmp_path / "missing"),
        "--results",
        str(tmp_path / "r"),
        "--scores",
        str(tmp_path / "s"),
    ]
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['no_such_task'\]"):
        main([*argv, "--settings", json.dumps(settings)])
    with pytest.raises(ValueError, match="not a folder of task YAMLs"):
        main([*argv, "--settings", json.dumps({**settings, "include_path": str(tmp_path / "nope")})])
    assert not (tmp_path / "r").exists()


def test_settings_are_checked():
    with pytest.raises(ValueError, match="non-empty list"):
        LmEvalSettings.from_mapping({"tasks": []})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['shots'\]"):
        LmEvalSettings.from_mapping({"tasks": ["x"], "shots": 3})
    with pytest.raises(ValueError, match=r"lm_eval: missing key\(s\) \['tasks'\]"):
        LmEvalSettings.from_mapping({})


def test_score_rows_keep_per_document_values_only_for_means():
    results = {
        "results": {
            "t": {
                "alias": "t",
                "acc,none": 0.5,
                "acc_stderr,none": 0.25,
                "f1,none": 0.9,
                "f1_stderr,none": "N/A",
            },
        },
        "samples": {
            "t": [
                {"doc_id": 0, "filter": "none", "acc": 1.0, "f1": [1, 1]},
                {"doc_id": 1, "filter": "none", "acc": 0.0, "f1": [0, 1]},
            ]
        },
        "n-samples": {"t": {"original": 2, "effective": 2}},
        "n-shot": {"t": 0},
    }
    meta = {"model": "m", "arm": "a", "decoding": {"method": "lm_eval"}}
    rows = {r["metric"]: r for r in score_rows(results, meta, 0.95)}
    assert rows["acc"]["items"] == [["0", 1.0], ["1", 0.0]] and rows["acc"]["item_fields"] == ["value"]
    assert "items" not in rows["f1"] and rows["f1"]["stderr"] is None and rows["f1"]["value"] == 0.9
    assert set(rows) == {"acc", "f1"}
