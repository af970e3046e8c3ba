"""Generation: our batched transformers backend against one-prompt-at-a-time `model.generate`.

    .venv/bin/python benchmarks/run.py --only generation [--smoke]

Same instruct model, same chat-formatted prompts (token ids from `pipeline.models.chat`), greedy,
fixed `max_new_tokens`; model loading is outside the timer on both sides. Prompts per CPU
second, higher is better. The vLLM backend needs a GPU and is not measured here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common import Row, Timer, bench_model, child_main, compare, interleaved, memory_row, sentences

BENCHMARK = "generation"


def sizes(smoke: bool) -> dict[str, int]:
    if smoke:
        return dict(prompts=16, batch_size=16, max_new_tokens=8, repeats=1)
    return dict(prompts=64, batch_size=32, max_new_tokens=24, repeats=2)


def prompt_ids(model: str, n: int) -> list[list[int]]:
    """Chat-formatted extraction prompts of varied length, tokenised as the generate stage does."""
    from transformers import AutoTokenizer

    from pipeline.models import chat

    tokenizer = AutoTokenizer.from_pretrained(model)
    texts = sentences(n, seed=11, min_words=5, max_words=60)
    return [
        chat.encode(
            tokenizer, chat.format_prompt(tokenizer, f"Extract the clinical entities as JSON.\n\n{t}")
        )
        for t in texts
    ]


def ours(spec: dict[str, Any]) -> dict[str, Any]:
    from pipeline.evaluate.backends import Decoding, TransformersBackend

    prompts = prompt_ids(spec["model"], spec["prompts"])
    backend = TransformersBackend(spec["model"], batch_size=spec["batch_size"], device="cpu")
    with Timer() as timer:
        completions = backend.generate(prompts, Decoding(max_new_tokens=spec["max_new_tokens"]))
    return {
        **timer.result(len(prompts)),
        "texts": [c.text for c in completions],
        "new_tokens": sum(c.completion_tokens for c in completions),
    }


def peer(spec: dict[str, Any]) -> dict[str, Any]:
    """The loop a user writes first: one prompt, one `generate` call, decode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompts = prompt_ids(spec["model"], spec["prompts"])
    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32).eval()
    eos = set(model.generation_config.eos_token_id or [])
    texts, new_tokens = [], 0
    with Timer() as timer, torch.no_grad():
        for ids in prompts:
            out = model.generate(
                input_ids=torch.tensor([ids]),
                max_new_tokens=spec["max_new_tokens"],
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
            generated = out[0, len(ids) :].tolist()
            new_tokens += sum(token not in eos for token in generated)
            texts.append(tokenizer.decode(generated, skip_special_tokens=True))
    return {**timer.result(len(prompts)), "texts": texts, "new_tokens": new_tokens}


def run(smoke: bool, workdir: Path) -> list[Row]:
    size = sizes(smoke)
    model = bench_model(workdir, smoke, "instruct")
    spec = {"model": str(model), **{k: size[k] for k in ("prompts", "batch_size", "max_new_tokens")}}
    m = interleaved(__file__, {"ours": ("ours", spec), "peer": ("peer", spec)}, size["repeats"])
    same = sum(
        a.strip() == b.strip()
        for a, b in zip(m["ours"].runs[0]["texts"], m["peer"].runs[0]["texts"], strict=True)
    )
    notes = (
        f"{size['prompts']} prompts, batch {size['batch_size']}, greedy, max_new_tokens "
        f"{size['max_new_tokens']}; identical text for {same}/{size['prompts']} prompts (left padding "
        f"changes float rounding); new tokens {m['ours'].runs[0]['new_tokens']} vs "
        f"{m['peer'].runs[0]['new_tokens']}"
    )
    peer_name = "model.generate, one prompt at a time"
    return [
        compare(
            BENCHMARK, "greedy generation (CPU)", m["ours"], m["peer"], "prompts/CPU s", peer_name, notes
        ),
        memory_row(BENCHMARK, "greedy generation (CPU)", m["ours"], m["peer"], peer_name),
    ]


if __name__ == "__main__":
    child_main({"ours": ours, "peer": peer})
