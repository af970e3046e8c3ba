"""Training and validation loss per trained arm, from the training logs (`results/train_logs/`)."""

from __future__ import annotations

from typing import Any

import polars as pl

from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.figures import panels
from pipeline.report.tables import Table

TITLE = "Training curves"
QUESTION = "Did each trained arm converge, and did it overfit its training data?"


def _last(frame: pl.DataFrame, column: str) -> float | None:
    values = frame.get_column(column).drop_nulls()
    return float(values[-1]) if len(values) else None


def training_sections(ctx: Context) -> list[Section]:
    logs = {key: log.losses for key, log in sorted(ctx.inputs.train_logs.items()) if log.losses is not None}
    logs = {key: frame for key, frame in logs.items() if frame.get_column("loss").drop_nulls().len()}
    if not logs:
        return [
            Section(
                "training",
                TITLE,
                QUESTION,
                missing="No training logs (--train-logs) with loss rows: the grid trains no arm.",
            )
        ]
    rows: list[list[Any]] = []
    by_arm: dict[str, list[tuple[str, str, pl.DataFrame]]] = {}
    for (model, arm), frame in logs.items():
        for (adapter,), part in frame.sort("step").group_by(["adapter"], maintain_order=True):
            train = part.filter(pl.col("loss").is_not_null())
            rows.append(
                [
                    model,
                    arm,
                    adapter,
                    int(train.get_column("step").max()),
                    float(train.get_column("loss")[0]),
                    _last(train, "loss"),
                    _last(part, "eval_loss"),
                ]
            )
            by_arm.setdefault(arm, []).append((model, str(adapter), part))
    arms = [a for a in ctx.inputs.grid.arms if a in by_arm] + sorted(set(by_arm) - set(ctx.inputs.grid.arms))
    models = sorted({model for model, _ in logs})
    colours = {model: f"C{i % 10}" for i, model in enumerate(models)}
    fig, axes = panels(len(arms), height=2.0)
    for ax, arm in zip(axes, arms, strict=True):
        for model, _, part in by_arm[arm]:
            train = part.filter(pl.col("loss").is_not_null())
            ax.plot(train["step"], train["loss"], color=colours[model])
            valid = part.filter(pl.col("eval_loss").is_not_null())
            if valid.height:
                ax.plot(
                    valid["step"],
                    valid["eval_loss"],
                    color=colours[model],
                    linestyle="--",
                    marker="o",
                )
        ax.set_title(f"arm {arm}")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
    _legend(fig, models, colours)
    table = Table(
        ["model", "arm", "adapter", "steps", "first loss", "final loss", "final validation loss"], rows
    )
    text = [
        "Per-step training loss (solid) and validation loss (dashed, where the trainer evaluated: CPT on "
        "its held-out blocks) from each trained arm's training log; one panel per arm, one colour per model."
    ]
    return [
        Section(
            "training",
            TITLE,
            QUESTION,
            text,
            [
                Artefact(
                    "training_loss", "First and final training loss and the final validation loss.", table
                ),
                Artefact(
                    "training_curves",
                    "Training (solid) and validation (dashed) loss over steps, per trained arm.",
                    figure=fig,
                ),
            ],
        )
    ]


def _legend(fig: Any, models: list[str], colours: dict[str, str]) -> None:
    """One legend below the panels: a colour per model; solid = train, dashed = validation."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colours[m]) for m in models]
    handles += [Line2D([], [], color="black"), Line2D([], [], color="black", linestyle="--", marker="o")]
    labels = [*models, "train", "validation"]
    fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(labels)))
