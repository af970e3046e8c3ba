"""Sub-RQ5: single-language vs joint training, and cross-lingual transfer (trained on A, tested on B)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import polars as pl

from pipeline.report.aggregate import language_means, pooled
from pipeline.report.arms import language_families
from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.figures import heatmap
from pipeline.report.tables import Table

TITLE = "Sub-RQ5: languages"
QUESTION = "Is training per language better than joint training, and does training transfer across languages?"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name)


def language_sections(ctx: Context) -> list[Section]:
    families = {
        name: ([p for p in mono if p.arm in ctx.arms], joint if joint and joint.arm in ctx.arms else None)
        for name, (mono, joint) in language_families(ctx.profiles).items()
    }
    families = {name: fam for name, fam in families.items() if fam[0]}
    if not families:
        return [
            Section(
                "rq5",
                TITLE,
                QUESTION,
                missing="The grid has no arm whose mix or corpus is restricted "
                "to one language (e.g. a mix with `languages: [en]`) with scores in the summary.",
            )
        ]
    by_language = language_means(ctx.main, ["model", "arm"])
    rows: list[list[Any]] = []
    artefacts: list[Artefact] = []
    for name, (mono, joint) in families.items():
        for model in ctx.models:
            for p in mono:
                language = p.single_language
                own = ctx.score(by_language, model=model, arm=p.arm, language=language)
                if own is None:
                    continue
                shared = (
                    ctx.score(by_language, model=model, arm=joint.arm, language=language) if joint else None
                )
                base = ctx.score(by_language, model=model, arm="base", language=language)
                delta = None if shared is None else own - shared
                rows.append(
                    [name, model, language, p.arm, own, joint.arm if joint else None, shared, delta, base]
                )
        artefacts += _transfer(ctx, name, mono, joint, by_language)
    table = Table(
        [
            "family",
            "model",
            "language",
            "single-language arm",
            "score",
            "joint arm",
            "joint score",
            "single − joint",
            "base score",
        ],
        rows,
    )
    text = [
        "A language score is the mean over tasks of the task's cells in that language. Single-language arms "
        "are scored on their own language; the transfer matrices (mean over models) show every test "
        "language, so the off-diagonal cells are cross-lingual transfer."
    ]
    if any(joint is None for _, joint in families.values()):
        text.append("Families without a joint arm (same data in every language) have no joint score.")
    return [
        Section(
            "rq5",
            TITLE,
            QUESTION,
            text,
            [
                Artefact(
                    "rq5_single_vs_joint",
                    "Single-language vs joint training, per model and language (score on "
                    "the training language).",
                    table,
                ),
                *artefacts,
            ],
        )
    ]


def _transfer(ctx: Context, name: str, mono: list, joint: Any, by_language: pl.DataFrame) -> list[Artefact]:
    """The trained-on × tested-on matrix of one family, as a table and a heatmap."""
    pooled_scores = pooled(by_language, ["arm", "language"])
    trained = [(f"{p.arm} ({p.single_language})", p.arm) for p in mono]
    if joint is not None:
        trained.append((f"{joint.arm} (joint)", joint.arm))
    if "base" in ctx.arms:
        trained.append(("base (none)", "base"))
    rows = [
        [label, *(ctx.score(pooled_scores, arm=arm, language=lang) for lang in ctx.languages)]
        for label, arm in trained
    ]
    matrix = np.array([[np.nan if v is None else v for v in row[1:]] for row in rows], dtype=float)
    slug = _slug(name)
    return [
        Artefact(
            f"rq5_transfer_{slug}",
            f"Cross-lingual transfer, family {name}: rows trained on, columns "
            "tested on (language score, mean over models).",
            Table(["trained on", *ctx.languages], rows),
        ),
        Artefact(
            f"rq5_transfer_{slug}_heatmap",
            f"Cross-lingual transfer, family {name} (mean over models).",
            figure=heatmap(matrix, [r[0] for r in rows], ctx.languages, f"Transfer: {name}", "score"),
        ),
    ]
