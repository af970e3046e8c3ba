"""Log-likelihood multiple-choice scoring: ours against lm-evaluation-harness's HFLM.

    .venv/bin/python benchmarks/run.py --only loglik [--smoke]

Both score the same items (synthetic MMLU-style questions, four options, k-shot contexts built
by `pipeline.evaluate.loglik.build_context`, which matches lm-eval's MMLU template) with the
same model and batch size; model loading is outside the timer on both sides. Items per CPU
second, higher is better.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from common import Row, Timer, bench_model, child_main, compare, interleaved, memory_row, sentences

BENCHMARK = "loglik"
# Beyond this difference (nats) the two sides are not computing the same scores.
TOLERANCE = 1e-3
SUBJECTS = ("anatomy", "clinical_knowledge", "college_medicine")


def sizes(smoke: bool) -> dict[str, int]:
    if smoke:
        return dict(items=12, k_shot=1, batch_size=8, repeats=1)
    return dict(items=120, k_shot=2, batch_size=16, repeats=2)


def items_records(n: int, k_shot: int) -> list[dict[str, Any]]:
    """Example records: `k_shot` dev items per subject (the shots), then `n` test items."""
    rng = random.Random(3)
    texts = sentences(n + k_shot * len(SUBJECTS), seed=5, min_words=6, max_words=18)
    records = []
    for i, text in enumerate(texts):
        subject = SUBJECTS[i % len(SUBJECTS)]
        split = "train" if i < k_shot * len(SUBJECTS) else "test"
        gold = {
            "question": f"{text} Which finding is most likely?",
            "choices": [" ".join(rng.sample(text.split(), 3)) for _ in range(4)],
            "answer": rng.randrange(4),
            "context": None,
        }
        records.append(
            {
                "id": f"{subject}-{split}-{i}",
                "dataset": "mmlu",
                "task": "qa",
                "language": "en",
                "subtask": subject,
                "split": split,
                "text": "",
                "gold": gold,
                "metadata": {"subject": subject},
            }
        )
    return records


def load_items(spec: dict[str, Any]) -> list[Any]:
    from pipeline.examples import Example

    with open(spec["items"], encoding="utf-8") as f:
        return [Example.from_record(json.loads(line)) for line in f]


def ours(spec: dict[str, Any]) -> dict[str, Any]:
    from pipeline.evaluate.loglik import LoglikelihoodScorer, score_multiple_choice

    items = load_items(spec)
    scorer = LoglikelihoodScorer(spec["model"], device="cpu")
    with Timer() as timer:
        results = score_multiple_choice(
            spec["model"], items, spec["k_shot"], spec["batch_size"], scorer=scorer
        )
    return {**timer.result(len(results)), "lls": [ll for r in results for ll in r.loglikelihoods]}


def peer(spec: dict[str, Any]) -> dict[str, Any]:
    """lm-eval's HFLM on the same (context, " letter") requests that its MMLU task would build."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from pipeline.evaluate.loglik import build_context

    items = load_items(spec)
    shots: dict[str, list[Any]] = {}
    for item in items:
        if item.split == "train":
            shots.setdefault(item.metadata["subject"], []).append(item)
    tests = [item for item in items if item.split == "test"]
    requests = [
        Instance(
            request_type="loglikelihood",
            doc=item.gold,
            arguments=(build_context(item, shots[item.metadata["subject"]][: spec["k_shot"]]), f" {letter}"),
            idx=j,
            metadata=("mmlu", i, 1),
        )
        for i, item in enumerate(tests)
        for j, letter in enumerate("ABCD")
    ]
    lm = HFLM(pretrained=spec["model"], device="cpu", batch_size=spec["batch_size"])
    with Timer() as timer:
        scores = lm.loglikelihood(requests, disable_tqdm=True)
    return {**timer.result(len(tests)), "lls": [ll for ll, _ in scores]}


def run(smoke: bool, workdir: Path) -> list[Row]:
    size = sizes(smoke)
    model = bench_model(workdir, smoke, "base")
    items = workdir / f"mc-items-{size['items']}.jsonl"
    items.write_text("".join(json.dumps(r) + "\n" for r in items_records(size["items"], size["k_shot"])))
    spec = {
        "model": str(model),
        "items": str(items),
        "k_shot": size["k_shot"],
        "batch_size": size["batch_size"],
    }
    m = interleaved(__file__, {"ours": ("ours", spec), "peer": ("peer", spec)}, size["repeats"])
    gap = max(abs(a - b) for a, b in zip(m["ours"].runs[0]["lls"], m["peer"].runs[0]["lls"], strict=True))
    if gap > TOLERANCE:
        raise RuntimeError(
            f"loglik benchmark: ours and lm-eval differ by {gap:.2e} nats: not the same scores"
        )
    notes = (
        f"{size['items']} items x 4 options, {size['k_shot']}-shot, batch {size['batch_size']}, model load "
        f"not timed; largest log-likelihood difference from lm-eval {gap:.1e}"
    )
    return [
        compare(
            BENCHMARK, "MC log-likelihood scoring", m["ours"], m["peer"], "items/CPU s", "lm-eval HFLM", notes
        ),
        memory_row(BENCHMARK, "MC log-likelihood scoring", m["ours"], m["peer"], "lm-eval HFLM"),
    ]


if __name__ == "__main__":
    child_main({"ours": ours, "peer": peer})
