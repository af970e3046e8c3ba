"""Sub-RQ1 (which arm wins each task, with paired tests) and the thesis averages (cell → task → overall)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pipeline.evaluate.stats import PairedTest
from pipeline.report.aggregate import language_means, pooled
from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.figures import forest, heatmap
from pipeline.report.tables import Score, Table

POOLED = "all models"


def _ranked(frame: pl.DataFrame, task: str, order: list[str]) -> list[tuple[str, float]]:
    rows = frame.filter(pl.col("task") == task).select("arm", "value").rows()
    return sorted(rows, key=lambda r: (-r[1], order.index(r[0])))


def _test_cells(test: PairedTest | None, alpha: float) -> list[Any]:
    """delta, ci low, ci high, p, significant (all None without a test)."""
    if test is None:
        return [None] * 5
    return [test.delta, test.ci_low, test.ci_high, test.p_value, test.p_value < alpha]


class _Scope:
    """One scope of the arm × task table: one model, or all models pooled."""

    def __init__(self, ctx: Context, name: str, models: list[str], arms: list[str]) -> None:
        self.ctx, self.name, self.models, self.arms = ctx, name, models, arms
        tasks = ctx.task_scores.filter(pl.col("model").is_in(models) & pl.col("arm").is_in(arms))
        totals = ctx.overall_scores.filter(pl.col("model").is_in(models) & pl.col("arm").is_in(arms))
        self.tasks = pooled(tasks, ["arm", "task"])
        self.overall = pooled(totals, ["arm"])
        self.marks: dict[tuple[str, str], str] = {}
        self.winners: list[list[Any]] = []
        self.vs_base: list[list[Any]] = []

    def _test(self, arm_a: str, arm_b: str, task: str) -> PairedTest | None:
        store = self.ctx.store
        if store is None:
            return None
        return store.test(self.models, arm_a, arm_b, self.ctx.cells(task), self.ctx.settings.confidence)

    def run_tests(self) -> None:
        alpha = self.ctx.settings.alpha
        for task in self.ctx.tasks:
            ranked = _ranked(self.tasks, task, self.arms)
            if not ranked:
                continue
            winner = ranked[0][0]
            self.marks[(winner, task)] = "◆"
            if len(ranked) > 1:
                runner = ranked[1][0]
                test = self._test(winner, runner, task)
                if test is not None and test.p_value < alpha:
                    self.marks[(winner, task)] += "*"
                self.winners.append(
                    [self.name, task, winner, ranked[0][1], runner, ranked[1][1], *_test_cells(test, alpha)]
                )
            if "base" not in dict(ranked):
                continue
            for arm, _ in ranked:
                if arm == "base":
                    continue
                test = self._test(arm, "base", task)
                if test is None:
                    continue
                self.vs_base.append([self.name, task, arm, *_test_cells(test, alpha)])
                if test.p_value < alpha:
                    self.marks[(arm, task)] = self.marks.get((arm, task), "") + (
                        "▲" if test.delta > 0 else "▼"
                    )

    def rows(self) -> list[list[Any]]:
        z = self.ctx.z
        out = []
        for arm in self.arms:
            row: list[Any] = [arm]
            for task in [*self.ctx.tasks, None]:
                frame = self.overall if task is None else self.tasks.filter(pl.col("task") == task)
                hit = frame.filter(pl.col("arm") == arm)
                if hit.is_empty():
                    row.append(None)
                    continue
                value, se = float(hit.get_column("value")[0]), float(hit.get_column("stderr")[0])
                row.append(
                    Score(value, value - z * se, value + z * se, self.marks.get((arm, task or ""), ""))
                )
            if any(cell is not None for cell in row[1:]):
                out.append(row)
        return out


RQ1 = ("rq1", "Sub-RQ1: arms per task", "How do IT, CPT and RoT address each medical NLP task?")
AVERAGES = ("averages", "Averages per task, language and arm", "How does each arm score on average?")


def task_sections(ctx: Context) -> list[Section]:
    if ctx.main.is_empty():
        missing = "The summary has no generated task cells (`evaluate_datasets` is empty)."
        return [Section(*RQ1, missing=missing), Section(*AVERAGES, missing=missing)]
    return [_rq1(ctx), _averages(ctx)]


def _rq1(ctx: Context) -> Section:
    arms = ctx.compared_arms
    scopes = [_Scope(ctx, POOLED, ctx.models, arms)] + [_Scope(ctx, m, [m], arms) for m in ctx.models]
    for scope in scopes:
        scope.run_tests()
    pooled_scope, by_model = scopes[0], scopes[1:]
    confidence = round(100 * ctx.settings.confidence)
    columns = [*ctx.tasks, "overall"]
    main_table = Table(["arm", *columns], pooled_scope.rows())
    model_table = Table(["model", "arm", *columns], [[s.name, *r] for s in by_model for r in s.rows()])
    test_columns = ["delta", "ci low", "ci high", "p", "significant"]
    winners = Table(
        ["scope", "task", "winner", "winner score", "runner-up", "runner-up score", *test_columns],
        [w for s in scopes for w in s.winners],
    )
    matrix = np.array(
        [[s.value if isinstance(s, Score) else np.nan for s in row[1:-1]] for row in main_table.rows]
    )
    text = [
        "Main metric per task (ner f1_strict_typed, re f1, qa accuracy, crf macro_f1, argmining f1), "
        "the mean "
        f"over the task's cells (dataset × language × sub-task), pooled over {len(ctx.models)} model(s) as "
        f"the mean of the models' task means. Intervals ({confidence}%): normal approximation from the "
        "cells' standard errors (se of a mean of k independent cells = √Σse²/k), not a bootstrap over cells.",
        "Marks: ◆ the task's winner (highest mean); * the winner is significantly better than the runner-up; "
        "▲/▼ significantly above/below `base`. Tests: paired bootstrap of the task score over the same test "
        "items (resampled within each cell, jointly for both arms and all models; "
        f"{ctx.settings.bootstrap_samples} replicates, two-sided, α = {ctx.settings.alpha}, "
        "uncorrected).",
    ]
    artefacts = [
        Artefact(
            "rq1_arm_task",
            f"Arm × task: mean main metric over the task's cells, all models ({confidence}% "
            "interval from cell standard errors; ◆ winner, * winner > runner-up, ▲/▼ vs base).",
            main_table,
        ),
        Artefact(
            "rq1_arm_task_heatmap",
            "Arm × task: mean main metric over the task's cells, all models.",
            figure=heatmap(
                matrix,
                [row[0] for row in main_table.rows],
                ctx.tasks,
                "Mean main metric per arm and task",
                "score",
            ),
        ),
        Artefact(
            "rq1_arm_task_by_model",
            "Arm × task per model, with the marks of the per-model tests.",
            model_table,
        ),
    ]
    if ctx.store is None:
        text.append("No score files (--scores-dir) were given, so no paired tests and no significance marks.")
    else:
        artefacts.append(
            Artefact(
                "rq1_winners",
                "Winner vs runner-up per task: paired bootstrap of the task-score difference.",
                winners,
            )
        )
        artefacts.append(
            Artefact(
                "rq1_vs_base",
                "Each arm vs base per task: paired bootstrap of the task-score difference.",
                Table(["scope", "task", "arm", *test_columns], [r for s in scopes for r in s.vs_base]),
            )
        )
        if pooled_scope.vs_base:
            artefacts.append(
                Artefact(
                    "rq1_vs_base_forest",
                    f"Difference from base per task and arm, all models, with its {confidence}% paired "
                    "bootstrap interval (filled: significant).",
                    figure=forest(
                        [
                            (task, arm, d, lo, hi, sig)
                            for _, task, arm, d, lo, hi, _, sig in pooled_scope.vs_base
                        ],
                        "difference from base (main metric)",
                        "Arms vs base",
                    ),
                )
            )
    return Section(*RQ1, text, artefacts)


def _averages(ctx: Context) -> Section:
    by = ["model", "arm"]
    langs = language_means(ctx.main, by)
    columns = [*ctx.tasks, *(f"lang {lang}" for lang in ctx.languages), "overall"]

    def lookup(frames: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], key: dict[str, str]) -> list[Any]:
        tasks, languages, total = frames
        values = [ctx.score(tasks, **key, task=t) for t in ctx.tasks]
        values += [ctx.score(languages, **key, language=lang) for lang in ctx.languages]
        return [*values, ctx.score(total, **key)]

    model_frames = (ctx.task_scores, langs, ctx.overall_scores)
    arm_frames = (
        pooled(ctx.task_scores, ["arm", "task"]),
        pooled(langs, ["arm", "language"]),
        pooled(ctx.overall_scores, ["arm"]),
    )
    by_model = Table(
        ["model", "arm", *columns],
        [
            [m, a, *lookup(model_frames, {"model": m, "arm": a})]
            for m in ctx.models
            for a in ctx.arms
            if not ctx.task_scores.filter((pl.col("model") == m) & (pl.col("arm") == a)).is_empty()
        ],
    )
    by_arm = Table(["arm", *columns], [[a, *lookup(arm_frames, {"arm": a})] for a in ctx.arms])
    text = [
        "As the thesis averages: each sub-task cell's main metric → the task's mean over its cells → the "
        "overall mean over tasks (each task weighs the same). A language column is the mean over tasks of "
        "the task's cells in that language. Per arm: the mean over models."
    ]
    return Section(
        *AVERAGES,
        text,
        [
            Artefact(
                "averages_by_arm", "Per arm (mean over models): task, language and overall averages.", by_arm
            ),
            Artefact(
                "averages_by_model", "Per model and arm: task, language and overall averages.", by_model
            ),
        ],
    )
