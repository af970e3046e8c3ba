"""Explanation stability (Preferred-MedLLM): QA accuracy answer-only vs when asked to explain.

Two sources of pairs, both on the same QA cells of a model: rows of one arm under both styles in
the summary (its `style` column, or a `style` key in its `decoding` JSON), and arms that differ
only in their evaluation style (`eval_style` of the grid, or the `styles` setting): `json` is
answer-only, `reasoning` explains then concludes.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from pipeline.report.arms import style_pairs
from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.tables import Table

TITLE = "Explanation stability"
QUESTION = "Does asking for an explanation change multiple-choice accuracy?"
QA = "qa"


def _key() -> pl.Expr:
    return pl.concat_str(["dataset", "language", "subtask"], separator="/")


def _accuracy(frame: pl.DataFrame, cells: set[tuple[str, str, str]]) -> float:
    keep = frame.filter(_key().is_in(["/".join(c) for c in cells]))
    return float(keep.get_column("value").mean())


def _cells(frame: pl.DataFrame) -> set[tuple[str, str, str]]:
    return set(frame.select("dataset", "language", "subtask").rows())


def stability_sections(ctx: Context) -> list[Section]:
    qa = ctx.all_styles.filter(pl.col("task") == QA)
    comparisons: list[tuple[str, str, str, pl.DataFrame, pl.DataFrame, bool]] = []
    for model in ctx.models:
        rows = qa.filter(pl.col("model") == model)
        for arm in ctx.arms:
            mine = rows.filter(pl.col("arm") == arm)
            answer, explain = (mine.filter(pl.col("style") == s) for s in ("json", "reasoning"))
            if not answer.is_empty() and not explain.is_empty():
                comparisons.append((model, arm, arm, answer, explain, False))
        for a, e in style_pairs(ctx.profiles):
            answer = rows.filter((pl.col("arm") == a.arm) & (pl.col("style") == "json"))
            explain = rows.filter((pl.col("arm") == e.arm) & (pl.col("style") == "reasoning"))
            if not answer.is_empty() and not explain.is_empty():
                comparisons.append((model, a.arm, e.arm, answer, explain, True))
    if not comparisons:
        return [
            Section(
                "stability",
                TITLE,
                QUESTION,
                missing="The summary has no QA cells scored under both "
                "the answer-only (`json`) and the explain (`reasoning`) style for one model.",
            )
        ]
    out: list[list[Any]] = []
    alpha = ctx.settings["alpha"]
    for model, arm_a, arm_e, answer, explain, testable in comparisons:
        cells = _cells(answer) & _cells(explain)
        acc_a, acc_e = _accuracy(answer, cells), _accuracy(explain, cells)
        test = None
        if testable and ctx.store is not None:
            qa_cells = [(d, lang, QA, s) for d, lang, s in sorted(cells)]
            test = ctx.store.test([model], arm_a, arm_e, qa_cells, ctx.settings["confidence"])
        drop = acc_a - acc_e
        out.append(
            [
                model,
                arm_a,
                arm_e,
                len(cells),
                acc_a,
                acc_e,
                drop,
                drop / acc_a if acc_a else None,
                test.p_value if test else None,
                (test.p_value < alpha) if test else None,
            ]
        )
    table = Table(
        [
            "model",
            "answer-only arm",
            "explain arm",
            "QA cells",
            "answer-only accuracy",
            "explain accuracy",
            "drop",
            "relative drop",
            "p",
            "significant",
        ],
        out,
    )
    text = [
        "Accuracy is the mean over the QA cells both styles were scored on; drop = answer-only − explain "
        "(> 0: explaining costs accuracy). p: paired bootstrap over the same items, for pairs of arms with "
        "score files (rows of one arm under two styles share a score-file path, so they are not tested)."
    ]
    return [
        Section(
            "stability",
            TITLE,
            QUESTION,
            text,
            [
                Artefact("stability", "QA accuracy answer-only vs explain, and the drop.", table),
            ],
        )
    ]
