"""CPT checkpoint progression (PARTAGES Figure 1): weighted task-group scores over training steps."""

from __future__ import annotations

from typing import Any

import polars as pl

from pipeline.report.aggregate import weighted_means
from pipeline.report.arms import checkpoint_steps
from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.figures import legend_below, panels
from pipeline.report.sections.ranks import loglik_scores
from pipeline.report.tables import Table

TITLE = "CPT checkpoint progression"
QUESTION = "How do the task scores evolve over continual-pretraining steps, and what do merges recover?"


def _points(ctx: Context, model: str, steps: dict[str, int]) -> list[tuple[str, str, int]]:
    """(arm, kind, step) of one model: base, checkpoints, each final CPT arm (step from its log), merges."""
    points = [(a, "base" if a == "base" else "checkpoint", s) for a, s in steps.items()]
    grid = ctx.inputs.grid
    checkpoints = grid.arms_with("checkpoint")
    finals = sorted({grid.arms[a].parent for a in steps if a in checkpoints} - set(steps) - {None})
    for arm in finals:
        log = ctx.inputs.train_logs.get((model, arm))
        if arm in ctx.all_arms and log is not None and log.steps is not None:
            points.append((arm, "final", log.steps))
    at = {arm: step for arm, _, step in points}
    for arm in grid.arms_with("merge"):
        parent = grid.arms[arm].parent
        if parent in at and arm in ctx.all_arms:
            points.append((arm, "merge", at[parent]))
    return sorted(points, key=lambda p: (p[2], p[1] == "merge", p[0]))


def progression_sections(ctx: Context) -> list[Section]:
    steps = checkpoint_steps(ctx.inputs.grid, ctx.all_arms, ctx.settings.progression)
    if not set(steps) - {"base"}:
        return [
            Section(
                "progression",
                TITLE,
                QUESTION,
                missing="The summary has no CPT checkpoint arms (the grid's `checkpoint` arms, "
                "or arms mapped to a step by the `progression` setting).",
            )
        ]
    task_groups = ctx.settings.to_dict()["task_groups"] or {t: [t] for t in ctx.tasks}
    knowledge = loglik_scores(ctx).select(
        "model", "arm", (pl.col("task") + " (loglik)").alias("group"), "value"
    )
    scores = pl.concat([weighted_means(ctx.main, ["model", "arm"], task_groups), knowledge])
    groups = [*task_groups, *sorted(set(knowledge.get_column("group")))]
    rows: list[list[Any]] = []
    series: dict[str, list[tuple[str, str, int, list[float | None]]]] = {}
    for model in ctx.all_models:
        for arm, kind, step in _points(ctx, model, steps):
            values = [ctx.score(scores, model=model, arm=arm, group=g) for g in groups]
            if all(v is None for v in values):
                continue
            rows.append([model, arm, kind, step, *values])
            series.setdefault(model, []).append((arm, kind, step, values))
    table = Table(["model", "arm", "kind", "step", *groups], rows)
    fig, axes = panels(len(series))
    for ax, (model, pts) in zip(axes, series.items(), strict=True):
        for g, group in enumerate(groups):
            line = [(s, v[g]) for _, kind, s, v in pts if kind != "merge" and v[g] is not None]
            drawn = ax.plot([s for s, _ in line], [v for _, v in line], marker="o", label=group)[0]
            merges = [(s, v[g]) for _, kind, s, v in pts if kind == "merge" and v[g] is not None]
            if merges:
                ax.scatter(
                    [s for s, _ in merges], [v for _, v in merges], marker="x", color=drawn.get_color()
                )
        ax.set_xlabel("CPT step")
        ax.set_ylabel("weighted score")
        ax.set_title(model)
    if series:
        legend_below(fig, axes[0])
    described = ", ".join(f"{g} = {'+'.join(t)}" for g, t in task_groups.items()) or "none"
    text = [
        f"Task groups: {described}; a group's score is the mean of its cells weighted by their test items. "
        "`(loglik)` groups: log-likelihood accuracy over the medical or general-domain benchmark items. "
        "Step 0 is base; a final CPT arm sits at its log's last step; merges (crosses) sit at their "
        "parent's step."
    ]
    return [
        Section(
            "progression",
            TITLE,
            QUESTION,
            text,
            [
                Artefact(
                    "progression",
                    "Weighted task-group scores of base, CPT checkpoints, final CPT and merges per "
                    "training step.",
                    table,
                ),
                Artefact(
                    "progression_curve",
                    "Weighted task-group scores over CPT steps (crosses: merges).",
                    figure=fig,
                ),
            ],
        )
    ]
