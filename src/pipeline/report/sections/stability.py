"""Explanation stability (Preferred-MedLLM): QA accuracy answer-only vs when asked to explain.

Two sources of pairs, both on the same QA cells of a model: the explanation-stability cells
(`evaluation == "stability"`: one arm asked the same k-shot questions answer-only and
explain-then-answer), and arms that differ only in their evaluation style (`eval_style` of the
grid, or the `styles` setting): `json` is answer-only, `reasoning` explains then concludes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from pipeline.examples import Cell
from pipeline.report.arms import style_pairs
from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.significance import ItemStore
from pipeline.report.tables import Table

TITLE = "Explanation stability"
QUESTION = "Does asking for an explanation change multiple-choice accuracy?"
QA = "qa"
K_SHOT_STYLES = ("qa_answer_only", "qa_explain")


def _key() -> pl.Expr:
    return pl.concat_str(["dataset", "language", "subtask"], separator="/")


def _accuracy(frame: pl.DataFrame, cells: set[Cell]) -> float:
    keep = frame.filter(_key().is_in(["/".join(c) for c in cells]))
    return float(keep.get_column("value").mean())


def _cells(frame: pl.DataFrame) -> set[Cell]:
    return set(frame.select("dataset", "language", "subtask").rows())


@dataclass(frozen=True)
class Comparison:
    """One model's QA accuracy answer-only vs explain: two styles of one arm, or two arms."""

    model: str
    answer: str  # the answer-only system ("arm" or "arm/style" in the stability store)
    explain: str
    answer_rows: pl.DataFrame
    explain_rows: pl.DataFrame
    store: ItemStore | None
    setting: str


def _k_shot_pairs(ctx: Context, model: str) -> list[Comparison]:
    rows = ctx.stability.filter((pl.col("task") == QA) & (pl.col("model") == model))
    out = []
    for arm in ctx.all_arms:
        mine = rows.filter(pl.col("arm") == arm)
        answer, explain = (mine.filter(pl.col("style") == s) for s in K_SHOT_STYLES)
        if not answer.is_empty() and not explain.is_empty():
            names = [f"{arm}/{s}" for s in K_SHOT_STYLES]
            out.append(Comparison(model, *names, answer, explain, ctx.stability_store, "k-shot prompts"))
    return out


def _arm_pairs(ctx: Context, model: str) -> list[Comparison]:
    rows = ctx.all_styles.filter((pl.col("task") == QA) & (pl.col("model") == model))
    out = []
    for a, e in style_pairs(ctx.profiles):
        answer = rows.filter((pl.col("arm") == a.arm) & (pl.col("style") == "json"))
        explain = rows.filter((pl.col("arm") == e.arm) & (pl.col("style") == "reasoning"))
        if not answer.is_empty() and not explain.is_empty():
            out.append(Comparison(model, a.arm, e.arm, answer, explain, ctx.store, "arms' eval styles"))
    return out


def stability_sections(ctx: Context) -> list[Section]:
    comparisons = [
        c for model in ctx.all_models for c in (*_k_shot_pairs(ctx, model), *_arm_pairs(ctx, model))
    ]
    if not comparisons:
        return [
            Section(
                "stability",
                TITLE,
                QUESTION,
                missing="The summary has no QA cells scored both answer-only and with an explanation for "
                "one model: configure `stability` (k-shot prompts) or arms that differ only in `eval_style`.",
            )
        ]
    out: list[list[Any]] = []
    alpha = ctx.settings.alpha
    for c in comparisons:
        cells = _cells(c.answer_rows) & _cells(c.explain_rows)
        acc_a, acc_e = _accuracy(c.answer_rows, cells), _accuracy(c.explain_rows, cells)
        test = None
        if c.store is not None:
            qa_cells = [(d, lang, QA, s) for d, lang, s in sorted(cells)]
            test = c.store.test([c.model], c.answer, c.explain, qa_cells, ctx.settings.confidence)
        drop = acc_a - acc_e
        out.append(
            [
                c.model,
                c.answer,
                c.explain,
                len(cells),
                acc_a,
                acc_e,
                drop,
                drop / acc_a if acc_a else None,
                test.p_value if test else None,
                (test.p_value < alpha) if test else None,
                c.setting,
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
            "setting",
        ],
        out,
    )
    text = [
        "Accuracy is the mean over the QA cells both were scored on; drop = answer-only − explain "
        "(> 0: explaining costs accuracy). `k-shot prompts`: the same questions and shots, asked to answer "
        "(`qa_answer_only`) or to explain first (`qa_explain`), as Preferred-MedLLM's Table 2; `arms' eval "
        "styles`: arms that differ only in their evaluation style (`json` answer-only, `reasoning` explains "
        "then concludes). p: paired bootstrap over the same items."
    ]
    return [
        Section(
            "stability",
            TITLE,
            QUESTION,
            text,
            [
                Artefact("stability", "QA accuracy answer-only vs explain, and the drop.", table),
                *_per_dataset(ctx, comparisons),
            ],
        )
    ]


def _per_dataset(ctx: Context, comparisons: list[Comparison]) -> list[Artefact]:
    """Preferred-MedLLM's Table 2 layout: per benchmark, accuracy answer-only, with explanation, drop."""
    k_shot = [c for c in comparisons if c.setting == "k-shot prompts"]
    if not k_shot:
        return []
    datasets = sorted({d for c in k_shot for d in (*c.answer_rows["dataset"], *c.explain_rows["dataset"])})
    columns = ["model", "arm"]
    for dataset in datasets:
        columns += [f"{dataset} answer-only", f"{dataset} with explanation", f"{dataset} drop"]
    rows = []
    for c in k_shot:
        row: list[Any] = [c.model, c.answer.split("/")[0]]
        for dataset in datasets:
            answer, explain = (
                f.filter(pl.col("dataset") == dataset) for f in (c.answer_rows, c.explain_rows)
            )
            cells = _cells(answer) & _cells(explain)
            a, e = (_accuracy(f, cells) if cells else None for f in (answer, explain))
            row += [a, e, a - e if a is not None and e is not None else None]
        rows.append(row)
    caption = (
        "Per benchmark (Preferred-MedLLM Table 2 layout): accuracy answer-only, with explanation, and the "
        "drop (answer-only − with explanation), over the benchmark's language and sub-task cells."
    )
    return [Artefact("stability_table2", caption, Table(columns, rows))]
