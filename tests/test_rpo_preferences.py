"""RPO preference data: k-shot prompts, answer classification, pair construction, sampling."""

from __future__ import annotations

import json
import random

import pytest

from pipeline.examples import Example
from pipeline.io import read_jsonl
from pipeline.tasks.prompts import render
from pipeline.train import preferences
from pipeline.train.settings import PreferenceSettings


def qa(i: int, answer: int = 1, explanation: str | None = "Fever points to infection.", split: str = "train"):
    return Example(
        id=f"q{i}",
        dataset="medqa",
        task="qa",
        language="en",
        subtask="mcqa",
        split=split,
        text=f"Question {i}",
        gold={
            "question": f"Which sign {i}?",
            "choices": ["pain", "fever", "cough"],
            "answer": answer,
            "context": None,
        },
        metadata={"explanation": explanation} if explanation else {},
    )


def test_prompt_is_the_evaluated_qa_explain_prompt():
    shot = qa(1)
    prompt = preferences.build_prompt(qa(2), [shot])
    assert prompt == render(qa(2), "qa_explain", shots=[shot])
    assert prompt.endswith("Question: Which sign 2?\nA. pain\nB. fever\nC. cough\nExplanation:")
    assert "Explanation: Fever points to infection.\nAnswer: B\n\n" in prompt
    assert prompt.endswith("Explanation:") and not prompt.endswith("### Answer:\n")
    with_context = Example.from_record({**qa(3).to_record(), "gold": {**qa(3).gold, "context": "A case."}})
    assert "Context: A case.\nQuestion:" in preferences.build_prompt(with_context, [])
    assert preferences.gold_response(qa(4, explanation=None)) is None


def test_responses_are_cut_and_classified():
    assert (
        preferences.cut_response(" It is fever.\nAnswer: B and more\n\nQuestion: next")
        == " It is fever.\nAnswer: B"
    )
    assert preferences.cut_response(" rambling\nQuestion: next\nAnswer: A") == " rambling"
    assert preferences.answer_of(" so\nAnswer: (C)", n_choices=3) == "C"
    assert preferences.answer_of(" so\nAnswer: D", n_choices=3) is None
    assert preferences.answer_of(" so\nAnswer: Because", n_choices=3) is None


def test_pairs_rank_gold_over_chosen_over_rejected():
    example = qa(1, answer=1)
    responses = [" fever\nAnswer: B", " pain\nAnswer: A", " no answer", " fever\nAnswer: B", "  "]
    pairs = preferences.question_pairs(example, "PROMPT", responses)
    gold = preferences.gold_response(example)
    by_type = {}
    for pair in pairs:
        by_type.setdefault(pair["pair_type"], []).append((pair["chosen"], pair["rejected"]))
        assert pair["prompt"] == "PROMPT" and pair["id"].startswith("q1/")
    assert by_type["gt_chosen"] == [(gold, " fever\nAnswer: B")]
    assert by_type["gt_rejected"] == [(gold, " pain\nAnswer: A"), (gold, " no answer")]
    assert by_type["chosen_rejected"] == [
        (" fever\nAnswer: B", " pain\nAnswer: A"),
        (" fever\nAnswer: B", " no answer"),
    ]
    assert len({p["id"] for p in pairs}) == len(pairs)
    without_gold = preferences.question_pairs(qa(2, explanation=None), "P", responses)
    assert {p["pair_type"] for p in without_gold} == {"chosen_rejected"}


def test_questions_and_shots(tmp_path):
    path = tmp_path / "tasks.jsonl"
    other = {**qa(9).to_record(), "task": "ner", "gold": {"entities": []}}
    records = [qa(1).to_record(), qa(2, split="test").to_record(), other, qa(3, explanation=None).to_record()]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert [q.id for q in preferences.load_questions([path])] == ["q1", "q3"]
    with pytest.raises(ValueError, match="k_shot=2 but only 1"):
        preferences.pick_shots(qa(5), [qa(1), qa(5)], 2, rng=random.Random(0))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**qa(1).to_record(), "gold": {"question": "q"}}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: example q1: gold lacks key 'choices'"):
        preferences.load_questions([bad])
    with pytest.raises(ValueError, match=r"training.preferences: unknown key\(s\) \['shots'\]"):
        PreferenceSettings.from_mapping({"shots": 2})


def test_cli_samples_seeded_pairs(tiny_model_factory, tmp_path):
    model_dir = tiny_model_factory("llama", "base")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(qa(i, answer=i % 3).to_record()) + "\n" for i in range(4)))
    settings = {
        "k_shot": 1,
        "samples_per_question": 3,
        "temperature": 1.0,
        "max_new_tokens": 12,
        "max_questions": 2,
    }
    runs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        argv = ["--model", str(model_dir), "--examples", str(tasks), "--output", str(out)]
        preferences.main([*argv, "--settings", json.dumps(settings)])
        runs.append(read_jsonl(out))
    assert runs[0] == runs[1], "sampling is seeded"
    pairs = runs[0]
    assert pairs and len({p["id"].split("/")[0] for p in pairs}) == 2
    for pair in pairs:
        assert set(pair) == {"id", "prompt", "chosen", "rejected", "pair_type"}
        assert pair["prompt"].count("Question:") == 2 and pair["prompt"].endswith("Explanation:")
        assert pair["chosen"] != pair["rejected"]


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_base_model_sees_the_same_tokens_in_training_and_evaluation(tiny_model_factory, family):
    """RPO pairs are tokenized with the tokenizer's special tokens (as DPOTrainer does); the
    explanation-stability job encodes `format_prompt(..., header=False)`: the same ids."""
    from transformers import AutoTokenizer

    from pipeline.models.chat import encode, format_prompt

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_factory(family, "base"))
    prompt = preferences.build_prompt(qa(2), [qa(1)])
    evaluated = encode(
        tokenizer, format_prompt(tokenizer, render(qa(2), "qa_explain", shots=[qa(1)]), header=False)
    )
    assert tokenizer(prompt)["input_ids"] == evaluated
