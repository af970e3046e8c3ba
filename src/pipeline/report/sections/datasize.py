"""Sub-RQ2: score against training data size, per family of arms that differ only in their size caps."""

from __future__ import annotations

from typing import Any

import polars as pl

from pipeline.report.arms import size_families
from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.figures import legend_below, panels
from pipeline.report.tables import Table
from pipeline.report.training_data import training_data

TITLE = "Sub-RQ2: training data size"
QUESTION = "How does the amount of training data change the scores?"


def datasize_sections(ctx: Context) -> list[Section]:
    families = {
        name: [p for p in members if p.arm in ctx.arms]
        for name, members in size_families(ctx.profiles).items()
    }
    families = {name: members for name, members in families.items() if any(p.capped for p in members)}
    if not families:
        return [
            Section(
                "rq2",
                TITLE,
                QUESTION,
                missing="The grid has no data-size ablation arms (arms whose "
                "settings or mix carry token_budget, max_examples_per_task, max_examples_per_cell, "
                "max_examples or token_budget_words) with scores in the summary.",
            )
        ]
    rows: list[list[Any]] = []
    points: dict[str, dict[str, list[tuple[float, float, bool, float]]]] = {}
    for name, members in families.items():
        for model in ctx.models:
            base = ctx.score(ctx.overall_scores, model=model, arm="base")
            if base is not None:
                rows.append([name, model, "base", "no training", 0, 0, "–", *_scores(ctx, model, "base")])
            for p in members:
                overall = ctx.score(ctx.overall_scores, model=model, arm=p.arm)
                if overall is None:
                    continue
                data = training_data(ctx, model, p.arm)
                caps = ", ".join(f"{k}={v}" for k, v in p.caps) or "full"
                rows.append(
                    [
                        name,
                        model,
                        p.arm,
                        caps,
                        data.examples,
                        data.tokens,
                        data.source,
                        *_scores(ctx, model, p.arm),
                    ]
                )
                size = data.tokens if data.tokens is not None else data.examples
                if size:
                    half = ctx.z * _stderr(ctx, model, p.arm)
                    points.setdefault(name, {}).setdefault(model, []).append(
                        (float(size), overall, data.tokens is not None, half)
                    )
    table = Table(
        [
            "family",
            "model",
            "arm",
            "caps",
            "examples",
            "training tokens",
            "tokens from",
            *ctx.tasks,
            "overall",
        ],
        rows,
    )
    artefacts = [
        Artefact(
            "rq2_data_size",
            "Scores per data-size ablation arm: examples and training tokens "
            "of the arm's own stage, task and overall averages (base: no training).",
            table,
        )
    ]
    if points:
        fig, axes = panels(len(points))
        for ax, (name, by_model) in zip(axes, sorted(points.items()), strict=True):
            tokens = all(t for pts in by_model.values() for _, _, t, _ in pts)
            for model, pts in sorted(by_model.items()):
                pts.sort()
                line = ax.errorbar(
                    [x for x, *_ in pts],
                    [y for _, y, *_ in pts],
                    yerr=[h for *_, h in pts],
                    marker="o",
                    capsize=1.5,
                    elinewidth=0.7,
                    label=model,
                )[0]
                base = ctx.score(ctx.overall_scores, model=model, arm="base")
                if base is not None:
                    ax.axhline(base, color=line.get_color(), linestyle=":", linewidth=0.8)
            sizes = [x for pts in by_model.values() for x, *_ in pts]
            if max(sizes) >= 10 * min(sizes):
                ax.set_xscale("log")
            ax.set_xlabel("training tokens" if tokens else "training examples / blocks")
            ax.set_ylabel("overall score")
            ax.set_title(f"family {name}")
        legend_below(fig, axes[0])
        confidence = round(100 * ctx.settings.confidence)
        artefacts.append(
            Artefact(
                "rq2_data_size_curve",
                f"Overall score against training data size per ablation family, with {confidence}% "
                "intervals from the cells' standard errors (dotted: the model's base).",
                figure=fig,
            )
        )
    text = [
        "A family is the arms that differ only in their size caps (token_budget of CPT; "
        "max_examples_per_task and friends of a mix or SFT arm); `full` is the family's uncapped arm. "
        "Training tokens are the arm's own stage, from its training log when there is one."
    ]
    return [Section("rq2", TITLE, QUESTION, text, artefacts)]


def _scores(ctx: Context, model: str, arm: str) -> list[float | None]:
    tasks = [ctx.score(ctx.task_scores, model=model, arm=arm, task=t) for t in ctx.tasks]
    return [*tasks, ctx.score(ctx.overall_scores, model=model, arm=arm)]


def _stderr(ctx: Context, model: str, arm: str) -> float:
    """The standard error of a model × arm's overall score (0 when unknown)."""
    hit = ctx.overall_scores.filter((pl.col("model") == model) & (pl.col("arm") == arm))
    return float(hit.get_column("stderr")[0]) if hit.height == 1 and hit.get_column("stderr")[0] else 0.0
