"""The log-likelihood job: per-cell items and score rows from one model load."""

from __future__ import annotations

import json
from collections import Counter

from pipeline.evaluate.loglik_cells import cell_items, main, stratified_sample
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
    settings = {"k_shot": 1, "fewshot_split": "train", "max_items_per_cell": 4}
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
            "--model-name",
            "m",
            "--arm",
            "base",
        ]
    )
    items = read_jsonl(tmp_path / "out" / "demo-mcq" / "en" / "mcq.jsonl")
    ids = [r["id"] for r in items]
    assert len(ids) == 4 and ids == sorted(ids) and set(ids) < {f"qen{i}" for i in range(2, 7)}
    assert all(len(r["loglikelihoods"]) == 3 for r in items)
    rows = json.loads((tmp_path / "out" / "demo-mcq" / "it" / "mcq.json").read_text())
    assert [r["metric"] for r in rows] == ["loglik_acc", "loglik_acc_norm"]
    assert rows[0]["n"] == 3 and rows[0]["ci_low"] <= rows[0]["value"] <= rows[0]["ci_high"]
    assert rows[0]["model"] == "m" and rows[0]["decoding"] == {
        "method": "loglik",
        "k_shot": 1,
        "template": "mmlu",
    }


def subject_items(counts: dict[str, int]) -> list[Example]:
    items = []
    for subject, n in counts.items():
        for i in range(n):
            gold = {"question": f"{subject} {i}?", "choices": ["a", "b"], "answer": 0}
            items.append(
                Example(
                    f"{subject}-{i:03d}", "mmlu", "qa", "en", "mcq", "test", "", gold, {"subject": subject}
                )
            )
    return items


def test_capped_cells_are_a_seeded_sample_stratified_by_subject(tmp_path):
    """40 capped MMLU-medical items were all anatomy (the first ids): now each subject gets its share."""
    counts = {"anatomy": 60, "clinical_knowledge": 30, "medical_genetics": 9, "virology": 1}
    tasks = tmp_path / "mmlu.jsonl"
    write_jsonl(tasks, [e.to_record() for e in subject_items(counts)])
    cell = ("mmlu", "en", "mcq")

    def subjects(seed: int) -> tuple[Counter, list[str]]:
        tests = cell_items([tasks], [cell], "train", 20, seed=seed)[cell]
        return Counter(e.metadata["subject"] for e in tests), [e.id for e in tests]

    share, ids = subjects(0)
    assert share == {"anatomy": 12, "clinical_knowledge": 6, "medical_genetics": 2}
    assert ids == sorted(ids) and subjects(0)[1] == ids
    assert subjects(1)[0] == share and subjects(1)[1] != ids
    assert stratified_sample(subject_items({"a": 3}), None, 0, cell) == subject_items({"a": 3})
    assert len(stratified_sample(subject_items(counts), 7, 0, cell)) == 7
