"""Sub-RQ4: small vs large models of a family: each arm's relative improvement over the model's base."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.figures import panels
from pipeline.report.tables import Table

TITLE = "Sub-RQ4: model size"
QUESTION = "Do the arms help small and large models of a family alike?"


def relative(arm: float | None, base: float | None) -> float | None:
    """(arm − base) / base; None when either is missing or base is 0."""
    return None if arm is None or not base else (arm - base) / base


def size_pairs(ctx: Context) -> list[tuple[str, str, str, str]]:
    """(family, variant, small model, large model) for every pair in the grid with scores."""
    models = {m: spec for m, spec in ctx.inputs.grid.config["models"].items() if m in ctx.models}
    pairs = []
    for small, s in models.items():
        for large, g in models.items():
            same = (s.get("family"), s.get("variant")) == (g.get("family"), g.get("variant"))
            if same and s.get("size") == "small" and g.get("size") == "large":
                pairs.append((s["family"], s["variant"], small, large))
    return sorted(pairs)


def modelsize_sections(ctx: Context) -> list[Section]:
    pairs = size_pairs(ctx)
    arms = [a for a in ctx.compared_arms if a != "base"]
    if not pairs or "base" not in ctx.arms:
        return [
            Section(
                "rq4",
                TITLE,
                QUESTION,
                missing="The grid has no family with both a `size: small` and a "
                "`size: large` model of the same variant scored with a `base` arm.",
            )
        ]
    rows: list[list[Any]] = []
    bars: dict[tuple[str, str, str, str], list[tuple[str, float | None, float | None]]] = {}
    for pair in pairs:
        family, variant, small, large = pair
        for arm in arms:
            for task in [*ctx.tasks, None]:
                values = []
                for model in (small, large):
                    key = {"model": model, "arm": arm} | ({"task": task} if task else {})
                    base_key = {**key, "arm": "base"}
                    frame = ctx.task_scores if task else ctx.overall_scores
                    values.append((ctx.score(frame, **base_key), ctx.score(frame, **key)))
                if all(v[1] is None for v in values):
                    continue
                rel = [relative(a, b) for b, a in values]
                gap = None if None in rel else rel[1] - rel[0]
                rows.append(
                    [
                        family,
                        variant,
                        arm,
                        task or "overall",
                        small,
                        *values[0],
                        rel[0],
                        large,
                        *values[1],
                        rel[1],
                        gap,
                    ]
                )
                if task is None:
                    bars.setdefault(pair, []).append((arm, rel[0], rel[1]))
    table = Table(
        [
            "family",
            "variant",
            "arm",
            "task",
            "small model",
            "small base",
            "small arm",
            "small rel. impr.",
            "large model",
            "large base",
            "large arm",
            "large rel. impr.",
            "large − small",
        ],
        rows,
    )
    fig, axes = panels(len(bars), height=2.6)
    for ax, ((family, variant, small, large), items) in zip(axes, sorted(bars.items()), strict=True):
        x = np.arange(len(items))
        for offset, label, idx in ((-0.2, small, 1), (0.2, large, 2)):
            heights = [np.nan if i[idx] is None else 100 * i[idx] for i in items]
            ax.bar(x + offset, heights, width=0.4, label=label)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(x, labels=[i[0] for i in items], rotation=90)
        ax.set_ylabel("rel. improvement over base (%)")
        ax.set_title(f"{family} ({variant})")
        ax.legend(title=None, loc="best")
    text = [
        "Relative improvement = (arm − base) / base of the same model, on each task average and the overall "
        "average; `large − small` > 0 means the arm helps the large model more."
    ]
    return [
        Section(
            "rq4",
            TITLE,
            QUESTION,
            text,
            [
                Artefact(
                    "rq4_model_size",
                    "Relative improvement of each arm over its model's base, small vs large "
                    "models of a family and variant.",
                    table,
                ),
                Artefact(
                    "rq4_model_size_bars",
                    "Overall relative improvement over base (%), small vs large.",
                    figure=fig,
                ),
            ],
        )
    ]
