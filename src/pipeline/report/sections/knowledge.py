"""Knowledge and forgetting per benchmark (PARTAGES Tables 3–6 layout).

Log-likelihood accuracy (lm-evaluation-harness semantics) of every model × arm on each benchmark,
one table per benchmark group (medical, general) and language; each cell carries the summary's
paired bootstrap test against the reference arm: ▲ significantly better, ▼ significantly worse.
A benchmark's group comes from the `loglik_groups` setting (its subject: the dataset name with
`_` for `-`, or the sub-task); a group set to null takes every benchmark the other does not list.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from pipeline.report.arms import checkpoint_steps
from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.published import SCALES
from pipeline.report.tables import Score, Table

TITLE = "Knowledge and forgetting per benchmark"
QUESTION = "Does adaptation raise medical knowledge, and what does it cost in general-domain knowledge?"
GROUPS = ("medical", "general")


def benchmark_group(dataset: str, subtask: str, groups: dict[str, list[str] | None]) -> str | None:
    """The group of a benchmark cell: the group listing its subject, else the group left null."""
    subjects = {dataset.replace("-", "_"), subtask}
    for group in GROUPS:
        if groups[group] is not None and subjects & set(groups[group]):
            return group
    return next((g for g in GROUPS if groups[g] is None), None)


def _mark(row: dict[str, Any]) -> str:
    if not row["significant"]:
        return ""
    return "▲" if row["delta"] > 0 else "▼"


def _arm_order(ctx: Context, arms: set[str]) -> list[str]:
    """Base, checkpoints by step, then the other arms in the grid's order."""
    steps = checkpoint_steps(ctx.inputs.grid, sorted(arms), ctx.settings.progression)
    rest = [a for a in ctx.all_arms if a in arms and a not in steps]
    return [a for a in steps if a in arms] + rest


def _published_rows(
    ctx: Context, group: str, language: str, benchmarks: list[tuple[str, str]]
) -> list[list[Any]]:
    """Rows of the published tables of this group and language, on the benchmarks we also score."""
    rows = []
    for study in ctx.inputs.published:
        for table in study.tables:
            if (table.layout, table.group, table.language) != ("knowledge", group, language):
                continue
            scale = SCALES[table.unit] or 1.0
            subjects = [c["ours"]["subject"] if c.get("ours") else None for c in table.columns]
            for row in table.rows:
                by_subject = dict(zip(subjects, row.values, strict=True))
                values = [
                    next(
                        (
                            by_subject[s] / scale
                            for s in (d.replace("-", "_"), t)
                            if by_subject.get(s) is not None
                        ),
                        None,
                    )
                    for d, t in benchmarks
                ]
                present = [v for v in values if v is not None]
                if present:
                    model = row.model if row.model in ctx.all_models else row.label
                    arm = f"published: {row.arm or row.label}"
                    rows.append([model, arm, *values, sum(present) / len(present)])
    return rows


def _table(ctx: Context, frame: pl.DataFrame, group: str, language: str) -> Table:
    benchmarks = sorted(set(frame.select("dataset", "subtask").rows()))
    single = {d for d, _ in benchmarks if sum(1 for x, _ in benchmarks if x == d) == 1}
    names = [d if d in single else f"{d}/{s}" for d, s in benchmarks]
    rows = []
    for model in ctx.all_models:
        mine = frame.filter(pl.col("model") == model)
        for arm in _arm_order(ctx, set(mine.get_column("arm"))):
            cells = {
                (r["dataset"], r["subtask"]): r
                for r in mine.filter(pl.col("arm") == arm).iter_rows(named=True)
            }
            values = [cells.get(b) for b in benchmarks]
            present = [c["value"] for c in values if c is not None]
            scores = [Score(c["value"], marks=_mark(c)) if c is not None else None for c in values]
            rows.append([model, arm, *scores, sum(present) / len(present) if present else None])
    rows += _published_rows(ctx, group, language, benchmarks)
    return Table(["model", "arm", *names, "average"], rows)


def knowledge_sections(ctx: Context) -> list[Section]:
    metric = f"loglik_{ctx.settings.loglik_metric}"
    summary = ctx.inputs.summary
    rows = (
        summary.filter((pl.col("evaluation") == "loglik") & (pl.col("metric") == metric))
        if "evaluation" in summary.columns
        else summary.clear()
    )
    if rows.is_empty():
        return [
            Section(
                "knowledge",
                TITLE,
                QUESTION,
                missing=f"The summary has no log-likelihood rows ({metric}): configure `loglik`.",
            )
        ]
    groups = ctx.settings.loglik_groups.to_dict()
    group = [benchmark_group(d, s, groups) for d, s in rows.select("dataset", "subtask").rows()]
    rows = rows.with_columns(pl.Series("group", group, dtype=pl.Utf8))
    artefacts = []
    for name in GROUPS:
        for language in sorted(rows.filter(pl.col("group") == name).get_column("language").unique()):
            frame = rows.filter((pl.col("group") == name) & (pl.col("language") == language))
            caption = f"{name.capitalize()} benchmarks, {language.upper()}: log-likelihood {metric[7:]}."
            table = _table(ctx, frame, name, language)
            artefacts.append(Artefact(f"knowledge_{name}_{language}", caption, table))
    reference = rows.get_column("reference_arm").drop_nulls()
    against = reference[0] if len(reference) else "the reference arm"
    text = [
        f"One table per benchmark group and language, as PARTAGES's Tables 3–6: {metric[7:]} per benchmark "
        f"and their unweighted average. ▲/▼: significantly better/worse than `{against}` of the same model "
        f"(paired bootstrap over the same items, p < {ctx.settings.alpha:.2f}; the summary's "
        "`significant` column). Arms: base, checkpoints by step, then the grid's order; rows whose arm "
        "reads `published: …` are the paper's numbers for the same benchmarks (the config's `published:`)."
    ]
    return [Section("knowledge", TITLE, QUESTION, text, artefacts)]
