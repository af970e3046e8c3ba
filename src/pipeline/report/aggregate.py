"""Averages of the main metric "as the thesis does": cells → task → overall, with intervals.

A task's score is the mean of its cells' main metric (dataset × language × sub-task); the
overall score is the mean of the task scores (each task weighs the same), and a language's score
the mean over tasks of the task's cells in that language. Standard errors combine the cells'
(assumed independent): se(mean of k) = sqrt(Σ se²) / k; intervals are value ± z·se.
Scores pooled over models are the mean of the models' scores, combined the same way.
"""

from __future__ import annotations

import json
from statistics import NormalDist

import polars as pl

from pipeline.evaluate.metrics import MAIN_METRIC

CELL = ("dataset", "language", "task", "subtask")


def _style(decoding: str | None) -> str | None:
    try:
        value = json.loads(decoding) if decoding else None
    except json.JSONDecodeError:
        return None
    return value.get("style") if isinstance(value, dict) else None


def main_scores(summary: pl.DataFrame, styles: dict[str, str]) -> pl.DataFrame:
    """The main-metric rows with a `style` column: the summary's own, else the decoding's, else the arm's."""
    unknown = sorted(set(summary.get_column("task").unique()) - set(MAIN_METRIC))
    if unknown:
        raise ValueError(f"summary column 'task': unknown task(s) {unknown} (known: {sorted(MAIN_METRIC)})")
    main = summary.filter(pl.col("metric") == pl.col("task").replace_strict(MAIN_METRIC, default=None))
    own = main.get_column("style") if "style" in main.columns else pl.Series([None] * main.height)
    decoded = [_style(d) for d in main.get_column("decoding").to_list()]
    arms = main.get_column("arm").to_list()
    style = [o or d or styles.get(a, "json") for o, d, a in zip(own.to_list(), decoded, arms, strict=True)]
    main = main.with_columns(pl.Series("style", style, dtype=pl.Utf8))
    key = ["model", "arm", *CELL, "style"]
    dup = main.group_by(key).len().filter(pl.col("len") > 1)
    if not dup.is_empty():
        raise ValueError(f"summary: {dup.height} cell(s) have two main-metric rows, e.g. {dup.row(0)[:-1]}")
    return main.sort(key)


def _combine(values: str = "value") -> list[pl.Expr]:
    return [
        pl.col(values).mean().alias("value"),
        ((pl.col("stderr") ** 2).sum().sqrt() / pl.len()).alias("stderr"),
    ]


def task_means(main: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per group and task: mean over the task's cells, its standard error, cell and item counts."""
    return (
        main.group_by([*by, "task"])
        .agg(*_combine(), pl.len().alias("cells"), pl.col("n").sum().alias("items"))
        .sort([*by, "task"])
    )


def overall(tasks: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per group: mean over its task scores."""
    return tasks.group_by(by).agg(*_combine(), pl.len().alias("tasks")).sort(by)


def language_means(main: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per group and language: mean over tasks of the task's cells in that language."""
    return overall(task_means(main, [*by, "language"]), [*by, "language"])


def pooled(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Scores pooled over models: the mean of the models' scores per group `by`."""
    return frame.group_by(by).agg(*_combine(), pl.len().alias("models")).sort(by)


def z_value(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def weighted_means(main: pl.DataFrame, by: list[str], groups: dict[str, list[str]]) -> pl.DataFrame:
    """Per group `by` and task group: the mean of the group's cells weighted by their item counts."""
    task_group = {task: g for g, tasks in groups.items() for task in tasks}
    frame = main.filter(pl.col("task").is_in(list(task_group))).with_columns(
        pl.col("task").replace_strict(task_group).alias("group")
    )
    return (
        frame.group_by([*by, "group"])
        .agg(((pl.col("value") * pl.col("n")).sum() / pl.col("n").sum()).alias("value"))
        .sort([*by, "group"])
    )


def average_ranks(
    scores: pl.DataFrame, system: list[str], column: str = "task"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(average rank per system, rank per system and `column` value); 1 = best, ties share the mean rank."""
    ranked = scores.with_columns(
        pl.col("value").rank(method="average", descending=True).over(column).alias("rank")
    )
    return ranked.group_by(system).agg(pl.col("rank").mean().alias("average_rank")).sort(
        ["average_rank", *system]
    ), ranked
