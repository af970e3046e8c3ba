"""The cost table (thesis Table 2): training words, tokens and FLOPs per arm, generation cost, wall-clock."""

from __future__ import annotations

from typing import Any

from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.tables import Table
from pipeline.report.training_data import training_data

TITLE = "Cost"
QUESTION = "What does each arm cost to train and to evaluate?"


def train_flops(parameters: int | None, tokens: int | None) -> float | None:
    """Analytic training compute: 6 · N · D."""
    return None if parameters is None or tokens is None else 6.0 * parameters * tokens


def generation_flops(parameters: int | None, tokens: int | None) -> float | None:
    """Analytic inference compute: 2 · N · D (D = prompt + completion tokens)."""
    return None if parameters is None or tokens is None else 2.0 * parameters * tokens


def _own_flops(ctx: Context, model: str, arm: str) -> float | None:
    method = ctx.inputs.grid.arms[arm].method
    if method in ("none", "merge"):
        return 0.0
    return train_flops(ctx.inputs.parameters.get(model), training_data(ctx, model, arm).tokens)


def cost_sections(ctx: Context) -> list[Section]:
    i = ctx.inputs
    if not (i.train_logs or i.throughput or i.benchmarks or i.mix_stats or i.block_stats):
        return [
            Section(
                "cost",
                TITLE,
                QUESTION,
                missing="No training logs (--train-logs), throughput records "
                "(--throughput), benchmark files (--benchmarks) or data statistics were given.",
            )
        ]
    rows: list[list[Any]] = []
    for model in i.grid.models:
        n = i.parameters.get(model)
        for arm, grid_arm in i.grid.arms.items():
            data = training_data(ctx, model, arm)
            log = i.train_logs.get((model, arm))
            throughput = i.throughput.get((model, arm))
            bench = i.benchmarks.get((model, arm))
            if data.words is None and log is None and throughput is None and bench is None:
                continue
            own = _own_flops(ctx, model, arm)
            chain = [_own_flops(ctx, model, a) for a in i.grid.lineage(arm)]
            cumulative = None if None in chain else sum(c for c in chain if c is not None)
            gen_tokens = throughput["prompt_tokens"] + throughput["completion_tokens"] if throughput else None
            rows.append(
                [
                    model,
                    arm,
                    grid_arm.method,
                    n,
                    data.words,
                    data.tokens,
                    data.source,
                    own,
                    cumulative,
                    log.seconds if log else None,
                    gen_tokens,
                    generation_flops(n, gen_tokens),
                    throughput["seconds"] if throughput else None,
                    throughput["cached"] if throughput else None,
                    bench.seconds if bench else None,
                    bench.max_rss_mb if bench else None,
                ]
            )
    table = Table(
        [
            "model",
            "arm",
            "method",
            "parameters",
            "training words",
            "training tokens",
            "tokens from",
            "training FLOPs",
            "cumulative training FLOPs",
            "training seconds",
            "generation tokens",
            "generation FLOPs",
            "generation seconds",
            "cached prompts",
            "benchmark seconds",
            "max RSS (MB)",
        ],
        rows,
    )
    text = [
        "Training FLOPs = 6·N·D (N the model's parameters, D the training tokens of the arm's own stage: "
        "its log's last tokens_seen, else one pass over its data, `tokens from` = estimate); the cumulative "
        "column adds the stages of the arm's parents (merges cost no training). N counts every parameter, "
        "so for LoRA runs 6·N·D is an upper bound. Generation FLOPs = 2·N·D over prompt + completion "
        "tokens of every evaluated prompt (cached ones included; `generation seconds` is measured and "
        "excludes cache hits). "
        "Training words are one pass over the data (mix words, or corpus words × the token budget).",
    ]
    if not i.parameters:
        text.append("No model folders (--model-dirs) were given, so N and the FLOPs are unknown.")
    return [
        Section(
            "cost",
            TITLE,
            QUESTION,
            text,
            [
                Artefact(
                    "cost",
                    "Cost per model and arm: data, analytic FLOPs (6ND training, 2ND generation) and "
                    "measured wall-clock.",
                    table,
                ),
            ],
        )
    ]
