"""Average rank of every model × arm (PARTAGES Table 7) and the specialisation vs forgetting trade-off.

Log-likelihood results (`--loglik`, per-item `acc`/`acc_norm` and `subject`) give a medical and a
general-domain accuracy per model × arm (item-weighted, groups from the `loglik_groups` setting);
they join the ranking as two more columns, and their change from the model's base is the trade-off.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from matplotlib.ticker import MaxNLocator

from pipeline.report.aggregate import average_ranks
from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.figures import COLUMN, legend_below, new_figure
from pipeline.report.tables import Table

GROUPS = ("medical", "general")


def loglik_scores(ctx: Context) -> pl.DataFrame:
    """Per model, arm and group (medical, general): mean of the `loglik_metric` over the group's items."""
    groups = ctx.settings.loglik_groups.to_dict()
    metric = ctx.settings.loglik_metric
    listed = {g: set(groups[g] or ()) for g in GROUPS}
    rows = []
    for (model, arm), records in sorted(ctx.inputs.loglik.items()):
        for group in GROUPS:
            other = "general" if group == "medical" else "medical"
            chosen = [
                r
                for r in records
                if (
                    r["subject"] in listed[group]
                    if groups[group] is not None
                    else r["subject"] not in listed[other]
                )
            ]
            if chosen:
                value = sum(float(r[metric]) for r in chosen) / len(chosen)
                rows.append({"model": model, "arm": arm, "task": group, "value": value, "items": len(chosen)})
    schema = {"model": pl.Utf8, "arm": pl.Utf8, "task": pl.Utf8, "value": pl.Float64, "items": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def rank_sections(ctx: Context) -> list[Section]:
    loglik = loglik_scores(ctx)
    return [_ranks(ctx, loglik), _tradeoff(ctx, loglik)]


def _ranks(ctx: Context, loglik: pl.DataFrame) -> Section:
    scores = pl.concat(
        [
            ctx.task_scores.select("model", "arm", "task", "value"),
            loglik.select("model", "arm", "task", "value"),
        ]
    )
    offered = [*ctx.tasks, *(g for g in GROUPS if g in set(loglik.get_column("task")))]
    systems = scores.select("model", "arm").unique().height
    counts = dict(scores.group_by("task").agg(pl.len()).rows())
    columns = [c for c in offered if counts.get(c) == systems]  # the same columns for every model × arm
    dropped = [c for c in offered if c not in columns]
    if not columns:
        return Section(
            "ranks",
            "Average rank",
            "Which model × arm ranks best across tasks?",
            missing=f"No task or benchmark group is scored for every model × arm (offered: {offered}).",
        )
    averages, ranked = average_ranks(scores.filter(pl.col("task").is_in(columns)), ["model", "arm"])
    rows = []
    for position, (model, arm, mean) in enumerate(averages.rows(), start=1):
        ranks = [
            ctx.score(ranked.rename({"value": "score", "rank": "value"}), model=model, arm=arm, task=t)
            for t in columns
        ]
        rows.append([position, model, arm, mean, *ranks])
    text = [
        f"Every model × arm is ranked within each column ({', '.join(columns)}; 1 = best, ties share the "
        "mean rank) by its task average; the table is sorted by the mean of those ranks."
    ]
    if dropped:
        text.append(
            f"Left out of the ranks, as not every model × arm has them: {', '.join(dropped)} (ranking "
            "some arms over more columns than others would not compare like with like)."
        )
    if loglik.is_empty():
        text.append(
            "No log-likelihood results (--loglik) were given, so only the generative tasks are ranked."
        )
    return Section(
        "ranks",
        "Average rank",
        "Which model × arm ranks best across tasks?",
        text,
        [
            Artefact(
                "average_rank",
                "Average rank of every model × arm across tasks (PARTAGES Table 7 layout).",
                Table(["#", "model", "arm", "average rank", *(f"rank {c}" for c in columns)], rows),
            ),
        ],
    )


def _tradeoff(ctx: Context, loglik: pl.DataFrame) -> Section:
    title, question = "Specialisation vs forgetting", "Do medical gains cost general-domain knowledge?"
    if loglik.is_empty() or set(loglik.get_column("task")) != set(GROUPS):
        return Section(
            "tradeoff",
            title,
            question,
            missing="No log-likelihood results (--loglik) with both "
            "medical and general-domain subjects are in this grid.",
        )
    rows: list[list[Any]] = []
    for model, arm in loglik.select("model", "arm").unique().sort(["model", "arm"]).rows():
        values = [ctx.score(loglik, model=model, arm=arm, task=g) for g in GROUPS]
        base = [ctx.score(loglik, model=model, arm="base", task=g) for g in GROUPS]
        deltas = [None if v is None or b is None else v - b for v, b in zip(values, base, strict=True)]
        rows.append([model, arm, *values, *deltas])
    table = Table(["model", "arm", "medical", "general", "Δ medical vs base", "Δ general vs base"], rows)
    points = [r for r in rows if r[1] != "base" and None not in r[4:]]
    fig = _tradeoff_scatter(points)
    metric = ctx.settings.loglik_metric
    text = [
        f"Log-likelihood multiple choice, `{metric}` averaged over the items of each group (medical subjects "
        "and general-domain subjects from the `loglik_groups` setting); deltas are against the model's base."
    ]
    return Section(
        "tradeoff",
        title,
        question,
        text,
        [
            Artefact(
                "tradeoff",
                "Medical and general-domain log-likelihood accuracy per model × arm, and their "
                "change from base.",
                table,
            ),
            Artefact(
                "tradeoff_scatter",
                "Specialisation (Δ medical) against forgetting (Δ general) per model × arm.",
                figure=fig,
            ),
        ],
    )


MARKERS = "osD^vP*Xph<>"


def _tradeoff_scatter(points: list[list[Any]]) -> Any:
    """Δ general (x) against Δ medical (y): colour per arm, marker per model, legends below the axes."""
    arms = sorted({r[1] for r in points})
    models = sorted({r[0] for r in points})
    colours = {arm: f"C{i % 10}" for i, arm in enumerate(arms)}
    markers = {model: MARKERS[i % len(MARKERS)] for i, model in enumerate(models)}
    rows = -(-len(arms) // 3) + -(-len(models) // 3)
    fig = new_figure(COLUMN, 2.6 + 0.14 * rows)
    ax = fig.add_subplot()
    for model, arm, *_, d_medical, d_general in points:
        ax.scatter(d_general, d_medical, color=colours[arm], marker=markers[model], s=16, linewidths=0)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.axvline(0, color="grey", linewidth=0.6)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_xlabel("Δ general-domain accuracy vs base (forgetting < 0)")
    ax.set_ylabel("Δ medical accuracy vs base")
    for arm in arms:
        ax.plot([], [], color=colours[arm], marker="o", linestyle="", label=f"arm {arm}")
    for model in models:
        ax.plot([], [], color="black", marker=markers[model], linestyle="", label=model)
    legend_below(fig, ax)
    return fig
