"""Published numbers beside ours: each seed-paper table in its layout, our run's rows after its rows."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.published import SCALES, PublishedTable
from pipeline.report.tables import Table

TITLE = "Published numbers beside ours"
QUESTION = "How do our runs compare with the numbers the seed papers publish?"


def _cell(value: float | None, stderr: float | None, decimals: int) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = f"{value:.{decimals}f}"
    return f"{text} ± {stderr:.{decimals}f}" if stderr is not None else text


def _ours(ctx: Context, spec: dict[str, Any], model: str, arm: str) -> tuple[float, float | None] | None:
    """Our mean value (and the standard error of that mean) of the summary rows `spec` selects."""
    summary = ctx.inputs.summary
    metric = spec.get("metric") or f"loglik_{ctx.settings.loglik_metric}"
    frame = summary.filter(
        (pl.col("model") == model)
        & (pl.col("arm") == arm)
        & (pl.col("evaluation") == spec["evaluation"])
        & (pl.col("metric") == metric)
    )
    if "subject" in spec:
        subject = spec["subject"]
        frame = frame.filter(
            (pl.col("subtask") == subject) | (pl.col("dataset").str.replace_all("-", "_") == subject)
        )
    for key in ("dataset", "language", "style"):
        if key in spec:
            frame = frame.filter(pl.col(key) == spec[key])
    if frame.is_empty():
        return None
    errors = frame.get_column("stderr").drop_nulls()
    stderr = math.sqrt(float((errors**2).sum())) / frame.height if len(errors) == frame.height else None
    return float(frame.get_column("value").mean()), stderr


def _our_row(ctx: Context, table: PublishedTable, model: str, arm: str) -> list[Any] | None:
    scale = SCALES[table.unit]
    cells: list[Any] = []
    for column in table.columns:
        found = _ours(ctx, column["ours"], model, arm) if column.get("ours") and scale else None
        if found is None:
            cells.append(None)
            continue
        value, stderr = found
        cells.append(_cell(value * scale, None if stderr is None else stderr * scale, table.decimals))
    return ["ours", model, arm, *cells] if any(c is not None for c in cells) else None


def published_table(ctx: Context, table: PublishedTable) -> Table:
    """The paper's table, each published row followed by ours for the same model (or arm) once."""
    models = set(ctx.all_models)
    shown: set[tuple[str, str]] = set()
    rows = []
    for row in table.rows:
        stderr = row.stderr or [None] * len(row.values)
        cells = [_cell(v, s, table.decimals) for v, s in zip(row.values, stderr, strict=True)]
        rows.append(["published", row.label, row.arm or "–", *cells])
        if row.arm is None:
            continue
        ours = [row.model] if row.model in models else ctx.all_models  # same arm, our models
        for model in ours:
            if (model, row.arm) in shown:
                continue
            mine = _our_row(ctx, table, model, row.arm)
            if mine is not None:
                shown.add((model, row.arm))
                rows.append(mine)
    return Table(["source", "model", "arm", *(c["printed"] for c in table.columns)], rows)


def published_sections(ctx: Context) -> list[Section]:
    studies = ctx.inputs.published
    if not studies:
        return [
            Section(
                "published",
                TITLE,
                QUESTION,
                missing="No published numbers were given (the config's `published:` study files).",
            )
        ]
    artefacts, text = [], []
    for study in studies:
        text.append(f"{study.study}: {study.paper}. {study.note}".strip())
        for table in study.tables:
            caption = (
                f"{study.study}, {table.caption} ({table.where}). Published rows as printed; each is "
                "followed "
                "by our run's value for the same model and arm (or, where the paper's model is not in our "
                "grid, our models with that arm), in the same unit, ± its standard error."
            )
            artefacts.append(
                Artefact(f"published_{study.slug}_{table.id}", caption, published_table(ctx, table))
            )
    return [Section("published", TITLE, QUESTION, text, artefacts)]
