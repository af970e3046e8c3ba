"""Average rank of every model × arm (PARTAGES Table 7) and the specialisation vs forgetting trade-off.

Log-likelihood results (`--loglik`, per-item `acc`/`acc_norm` and `subject`) give a medical and a
general-domain accuracy per model × arm (item-weighted, groups from the `loglik_groups` setting);
they join the ranking as two more columns, and their change from the model's base is the trade-off.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from pipeline.report.aggregate import average_ranks
from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.figures import new_figure
from pipeline.report.tables import Table

GROUPS = ("medical", "general")


def loglik_scores(ctx: Context) -> pl.DataFrame:
    """Per model, arm and group (medical, general): mean of the `loglik_metric` over the group's items."""
    groups = ctx.settings["loglik_groups"]
    metric = ctx.settings["loglik_metric"]
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
    columns = [*ctx.tasks, *(g for g in GROUPS if g in set(loglik.get_column("task")))]
    averages, ranked = average_ranks(scores, ["model", "arm"])
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
    fig = new_figure(5.0, 4.0)
    ax = fig.add_subplot()
    points = [r for r in rows if r[1] != "base" and None not in r[4:]]
    ax.scatter([r[5] for r in points], [r[4] for r in points])
    for r in points:
        ax.annotate(f"{r[0]}/{r[1]}", (r[5], r[4]), fontsize=6)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("Δ general-domain accuracy vs base (forgetting < 0)")
    ax.set_ylabel("Δ medical accuracy vs base (specialisation > 0)")
    metric = ctx.settings["loglik_metric"]
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
