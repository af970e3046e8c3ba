"""How much data an arm's own training stage saw: examples, words and tokens, and where each came from.

Tokens come from the training log (last `tokens_seen`: every epoch, as trained) when there is one,
otherwise they are estimated from one pass over the data: CPT train blocks × block size (× the
`token_budget` fraction), SFT mix words × the model's tokens per word (from its corpus block stats).
Words and examples are one pass over the data: the mix statistics (capped by the arm's own
`max_examples_per_task`) or the corpus block statistics (× the `token_budget` fraction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.report.context import Context


@dataclass(frozen=True)
class Data:
    examples: int | None
    words: int | None
    tokens: int | None
    source: str  # where the tokens come from: "log", "estimate" or "–"


def _budget_fraction(settings: dict[str, Any], total_tokens: int) -> float:
    budget = settings.get("token_budget")
    if budget is None:
        return 1.0
    return float(budget) if budget <= 1 else min(1.0, float(budget) / total_tokens) if total_tokens else 0.0


def _mix_data(ctx: Context, model: str, spec: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    stats = ctx.inputs.mix_stats.get(spec.get("mix"))
    if stats is None:
        return None, None, None
    cap = (spec.get("settings") or {}).get("max_examples_per_task")
    examples = stats["examples"] if cap is None else sum(min(n, cap) for n in stats["by_task"].values())
    words = round(examples * (stats["prompt_words"]["mean"] + stats["completion_words"]["mean"]))
    per_word = [s["tokens_per_word"] for (m, _), s in sorted(ctx.inputs.block_stats.items()) if m == model]
    return examples, words, round(words * per_word[0]) if per_word else None


def _corpus_data(ctx: Context, model: str, spec: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    stats = ctx.inputs.block_stats.get((model, spec.get("corpus")))
    if stats is None:
        return None, None, None
    fraction = _budget_fraction(spec.get("settings") or {}, stats["tokens"])
    blocks = stats["blocks"]["train"] if isinstance(stats["blocks"], dict) else stats["blocks"]
    block_size = stats.get("block_size")
    tokens = round(blocks * block_size * fraction) if block_size else round(stats["tokens"] * fraction)
    return round(blocks * fraction), round(stats["words"] * fraction), tokens


def training_data(ctx: Context, model: str, arm: str) -> Data:
    """The data of `arm`'s own stage for `model` (nothing for base, merges and unknown arms)."""
    known = ctx.inputs.grid.arms.get(arm)
    if known is not None and known.method == "sft":
        examples, words, estimate = _mix_data(ctx, model, known.spec)
    elif known is not None and known.method == "cpt":
        examples, words, estimate = _corpus_data(ctx, model, known.spec)
    else:
        examples, words, estimate = None, None, None
    log = ctx.inputs.train_logs.get((model, arm))
    if log is not None and log.tokens is not None:
        return Data(examples, words, log.tokens, "log")
    return Data(examples, words, estimate, "estimate" if estimate is not None else "–")
