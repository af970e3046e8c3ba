"""Reasoning preference pairs for RPO (Preferred-MedLLM): sample k-shot explanations, rank by the answer.

For each training QA question the model is prompted k-shot with gold explanations, in exactly the
``qa_explain`` prompt the explanation-stability evaluation uses (`pipeline.tasks.prompts.qa_prompt`, ending
in ``Explanation:``), and samples several responses, stopped and cut where a next question starts;
a response whose answer letter is right is *chosen*, any other is *rejected*. The gold explanation
and answer (``metadata["explanation"]``, when present) rank above both. Pairs (preferred, dispreferred):
``gt_chosen`` (gold, chosen), ``gt_rejected`` (gold, rejected), ``chosen_rejected``.

Prompts are plain text tokenized with the tokenizer's own special tokens, as TRL's DPOTrainer does.

    python -m pipeline.train.preferences --model MODEL_DIR --examples TASKS.jsonl [...] \\
        --output PAIRS.jsonl --settings '{"k_shot": 3, ...}'
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.examples import Example, read_examples
from pipeline.io import write_jsonl
from pipeline.tasks.answers import OPTION_LETTERS, option_letter
from pipeline.tasks.prompts import qa_prompt, stop_sequences
from pipeline.train.settings import PreferenceSettings

ANSWER = re.compile(r"Answer:\s*\(?([A-Z])\)?(?![A-Za-z])")
STYLE = "qa_explain"  # the prompt style pairs are sampled in, and the RPO arm is evaluated in


def load_questions(paths: list[str | Path]) -> list[Example]:
    """Training QA examples (task "qa", split "train") of task files; a bad record, or a question
    whose gold lacks a key, raises ValueError naming file and line."""
    return [e for e in read_examples(paths, _check_question) if e.task == "qa" and e.split == "train"]


def _check_question(example: Example) -> None:
    if example.task == "qa" and example.split == "train":
        for key in ("question", "choices", "answer"):
            if key not in example.gold:
                raise ValueError(f"example {example.id}: gold lacks key {key!r}")


def gold_response(example: Example) -> str | None:
    """The gold explanation and answer as a response to the prompt, or None without an explanation."""
    explanation = example.metadata.get("explanation")
    if not explanation:
        return None
    return f" {explanation.strip()}\nAnswer: {option_letter(example.gold['answer'])}"


def build_prompt(example: Example, shots: list[Example]) -> str:
    """The k-shot ``qa_explain`` prompt: solved shots, then the question, ending in ``Explanation:``."""
    return qa_prompt(example, shots, explain=True)


def cut_response(text: str) -> str:
    """A sampled continuation up to its first answer line (or up to the next question), right-stripped."""
    for stop in stop_sequences(STYLE):
        text = text.split(stop, 1)[0]
    match = ANSWER.search(text)
    return (text[: match.end()] if match else text).rstrip()


def answer_of(response: str, n_choices: int) -> str | None:
    """The option letter a response answers, or None when it gives no valid one."""
    match = ANSWER.search(response)
    if match is None or OPTION_LETTERS.index(match.group(1)) >= n_choices:
        return None
    return match.group(1)


def question_pairs(example: Example, prompt: str, responses: list[str]) -> list[dict[str, Any]]:
    """Preference pairs of one question from its sampled responses (duplicates and empty ones dropped)."""
    right = option_letter(example.gold["answer"])
    n_choices = len(example.gold["choices"])
    unique = list(dict.fromkeys(r for r in responses if r.strip()))
    chosen = [r for r in unique if answer_of(r, n_choices) == right]
    rejected = [r for r in unique if answer_of(r, n_choices) != right]
    gold = gold_response(example)
    pairs: list[tuple[str, str, str]] = []
    if gold is not None:
        pairs += [("gt_chosen", gold, c) for c in chosen if c.strip() != gold.strip()]
        pairs += [("gt_rejected", gold, r) for r in rejected]
    pairs += [("chosen_rejected", c, r) for c in chosen for r in rejected]
    return [
        {
            "id": f"{example.id}/{kind}/{n}",
            "prompt": prompt,
            "chosen": good,
            "rejected": bad,
            "pair_type": kind,
        }
        for n, (kind, good, bad) in enumerate(pairs)
    ]


def pick_shots(example: Example, pool: list[Example], k: int, rng: random.Random) -> list[Example]:
    """k shots with gold explanations, never the question itself."""
    candidates = [shot for shot in pool if shot.id != example.id]
    if len(candidates) < k:
        raise ValueError(
            f"k_shot={k} but only {len(candidates)} other training question(s) have metadata['explanation']"
        )
    return rng.sample(candidates, k)


def sample_responses(model: Any, tokenizer: Any, prompt: str, settings: PreferenceSettings) -> list[str]:
    """`samples_per_question` pure-temperature samples (no top-k/top-p), cut to their answer."""
    import torch

    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    with torch.no_grad():
        output = model.generate(
            **inputs,
            do_sample=True,
            temperature=settings.temperature,
            top_k=0,
            top_p=1.0,
            max_new_tokens=settings.max_new_tokens,
            num_return_sequences=settings.samples_per_question,
            pad_token_id=tokenizer.pad_token_id,
            stop_strings=list(stop_sequences(STYLE)),
            tokenizer=tokenizer,
        )
    new = output[:, inputs["input_ids"].shape[1] :]
    return [cut_response(text) for text in tokenizer.batch_decode(new, skip_special_tokens=True)]


def build_pairs(
    model_dir: str | Path, example_paths: list[str | Path], settings: PreferenceSettings
) -> list[dict]:
    """Preference pairs for the training questions in `example_paths`, sampled from `model_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    questions = load_questions(example_paths)
    if not questions:
        raise ValueError(
            f"no training QA examples (task 'qa', split 'train') in {[str(p) for p in example_paths]}"
        )
    pool = [q for q in questions if gold_response(q) is not None]
    random.Random(settings.seed).shuffle(questions)
    questions = questions[: settings.max_questions]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").to(device).eval()
    pairs = []
    for i, example in enumerate(questions):
        shots = pick_shots(example, pool, settings.k_shot, random.Random(settings.seed + i))
        prompt = build_prompt(example, shots)
        set_seed(settings.seed + i)
        pairs += question_pairs(example, prompt, sample_responses(model, tokenizer, prompt, settings))
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="HF model dir that samples the responses")
    parser.add_argument("--examples", type=Path, nargs="+", required=True, help="task example JSONL file(s)")
    parser.add_argument("--output", type=Path, required=True, help="preference pairs JSONL")
    parser.add_argument(
        "--settings", default="{}", help="JSON object of pipeline.train.settings.PreferenceSettings"
    )
    args = parser.parse_args(argv)
    pairs = build_pairs(args.model, args.examples, PreferenceSettings.from_json(args.settings))
    write_jsonl(args.output, pairs)
    counts = dict(sorted(Counter(p["pair_type"] for p in pairs).items()))
    print(f"{len(pairs)} preference pairs written to {args.output}: {counts}")


if __name__ == "__main__":
    main()
