"""Explanation stability: the same k-shot questions answer-only and explain-then-answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.evaluate.score import score_file
from pipeline.evaluate.settings import ScoreSettings
from pipeline.evaluate.stability import STYLES, main, stability_requests
from pipeline.examples import Example
from pipeline.io import read_jsonl, write_jsonl

CELL = ("demo-mcq", "en", "mcq")


def mcq(i: int, split: str, subject: str = "anatomy") -> Example:
    gold = {"question": f"Which organ is number {i}?", "choices": ["heart", "liver", "lung"], "answer": i % 3}
    return Example(f"q{i:02d}", "demo-mcq", "qa", "en", "mcq", split, "", gold, {"subject": subject})


def items(n_test: int = 4, n_shots: int = 2) -> dict:
    return {CELL: [mcq(i, "train") for i in range(n_shots)] + [mcq(10 + i, "test") for i in range(n_test)]}


def test_both_styles_share_questions_and_shots():
    requests = stability_requests(items(), k_shot=2, fewshot_split="train")
    assert len(requests) == 2 * 4
    by_style = {s: [r for r in requests if r.style == s] for s in STYLES}
    assert [r.example.id for r in by_style["qa_answer_only"]] == [
        r.example.id for r in by_style["qa_explain"]
    ]
    assert {tuple(s.id for s in r.shots) for r in requests} == {("q00", "q01")}


def test_shots_come_from_the_items_subject_and_must_suffice():
    pool = {CELL: [mcq(0, "train", "genetics"), mcq(1, "train"), mcq(10, "test")]}
    (request, _) = stability_requests(pool, k_shot=1, fewshot_split="train")
    assert [s.id for s in request.shots] == ["q01"]
    with pytest.raises(ValueError, match=r"q10 of demo-mcq/en/mcq needs 2 shots, split 'train' has 1"):
        stability_requests(pool, k_shot=2, fewshot_split="train")


def test_non_qa_cells_are_refused():
    ner = Example("n1", "demo-ner", "ner", "en", "disease", "test", "fever", {"entities": []})
    with pytest.raises(ValueError, match="demo-ner/en/disease is not a multiple-choice"):
        stability_requests({("demo-ner", "en", "disease"): [ner]}, k_shot=0, fewshot_split="train")


def test_cli_writes_both_styles_which_score_like_any_prediction(tmp_path: Path, tiny_model_factory):
    model = tiny_model_factory("qwen3", "instruct")
    tasks = tmp_path / "demo-mcq.jsonl"
    write_jsonl(tasks, [e.to_record() for exs in items().values() for e in exs])
    settings = {"generation": {"decoding": {"max_new_tokens": 6}}, "k_shot": 1, "fewshot_split": "train"}
    out = tmp_path / "stability"
    main(
        [
            "--model",
            str(model),
            "--tasks",
            str(tasks),
            "--cells",
            "/".join(CELL),
            "--output-dir",
            str(out),
            "--throughput",
            str(tmp_path / "tp.json"),
            "--cache",
            str(tmp_path / "cache"),
            "--settings",
            json.dumps(settings),
            "--model-name",
            "m",
            "--arm",
            "a",
        ]
    )
    answer, explain = (read_jsonl(out / s / "demo-mcq" / "en" / "mcq.jsonl") for s in STYLES)
    assert [r["id"] for r in answer] == [r["id"] for r in explain] == ["q10", "q11", "q12", "q13"]
    assert all(r["shots"] == ["q00"] for r in answer + explain)
    assert "Explanation:" in explain[0]["prompt"] and "Explanation:" not in answer[0]["prompt"]
    assert json.loads((tmp_path / "tp.json").read_text())["prompts"] == 8
    assert {(r["model"], r["arm"]) for r in answer + explain} == {("m", "a")}
    assert all(r["decoding"]["max_new_tokens"] == 6 for r in answer)
    for style in STYLES:
        predictions = out / style / "demo-mcq" / "en" / "mcq.jsonl"
        score_file(predictions, predictions.with_suffix(".json"), ScoreSettings(bootstrap_samples=20))
        (accuracy, *_) = json.loads(predictions.with_suffix(".json").read_text())
        assert accuracy["metric"] == "accuracy" and accuracy["style"] == style and accuracy["n"] == 4
