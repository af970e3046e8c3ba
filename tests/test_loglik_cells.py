"""The log-likelihood job: per-cell items and score rows from one model load."""

from __future__ import annotations

import json

from pipeline.evaluate.loglik_cells import main
from pipeline.examples import Example
from pipeline.io import read_jsonl, write_jsonl


def qa(i: int, split: str, language: str = "en") -> Example:
    gold = {"question": f"Which organ pumps blood? ({i})", "choices": ["liver", "heart", "lung"], "answer": 1}
    return Example(f"q{language}{i}", "demo-mcq", "qa", language, "mcq", split, gold["question"], gold)


def test_scores_each_cell_with_its_own_shots(tmp_path, tiny_model_factory):
    tasks = tmp_path / "demo-mcq.jsonl"
    examples = [qa(i, "train") for i in range(2)] + [qa(i, "test") for i in range(2, 7)]
    examples += [qa(i, "train", "it") for i in range(2)] + [qa(i, "test", "it") for i in range(2, 5)]
    write_jsonl(tasks, [e.to_record() for e in examples])
    settings = {"k_shot": 1, "fewshot_split": "train", "max_items_per_cell": 4, "model": "m", "arm": "base"}
    main(
        [
            "--model",
            str(tiny_model_factory("qwen3", "base")),
            "--tasks",
            str(tasks),
            "--cells",
            "demo-mcq/en/mcq",
            "demo-mcq/it/mcq",
            "--items-dir",
            str(tmp_path / "out"),
            "--scores-dir",
            str(tmp_path / "out"),
            "--settings",
            json.dumps(settings),
        ]
    )
    items = read_jsonl(tmp_path / "out" / "demo-mcq" / "en" / "mcq.jsonl")
    assert [r["id"] for r in items] == ["qen2", "qen3", "qen4", "qen5"]
    assert all(len(r["loglikelihoods"]) == 3 for r in items)
    rows = json.loads((tmp_path / "out" / "demo-mcq" / "it" / "mcq.json").read_text())
    assert [r["metric"] for r in rows] == ["loglik_acc", "loglik_acc_norm"]
    assert rows[0]["n"] == 3 and rows[0]["ci_low"] <= rows[0]["value"] <= rows[0]["ci_high"]
    assert rows[0]["model"] == "m" and rows[0]["decoding"] == {"method": "loglik", "k_shot": 1}
