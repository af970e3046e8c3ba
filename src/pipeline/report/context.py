"""What every section reads: the inputs, the settings, the main-metric rows and the arm profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl

from pipeline.report.aggregate import main_scores, overall, task_means, z_value
from pipeline.report.arms import Profile, checkpoint_steps, profiles
from pipeline.report.inputs import Inputs
from pipeline.report.settings import ReportSettings
from pipeline.report.significance import ItemStore, ScoreCell


@dataclass
class Context:
    inputs: Inputs
    settings: ReportSettings
    profiles: dict[str, Profile] = field(init=False)
    all_styles: pl.DataFrame = field(init=False)  # main-metric rows under every style in the summary
    main: pl.DataFrame = field(init=False)  # main-metric rows under each arm's own style
    stability: pl.DataFrame = field(init=False)  # main-metric rows of the explanation-stability cells
    store: ItemStore | None = field(init=False)
    stability_store: ItemStore | None = field(init=False)  # arms named "{arm}/{style}"

    def __post_init__(self) -> None:
        self.profiles = profiles(self.inputs.grid, self.settings.styles)
        own = {arm: p.style for arm, p in self.profiles.items()}
        summary = self.inputs.summary
        evaluation = pl.col("evaluation") if "evaluation" in summary.columns else pl.lit("generate")
        self.all_styles = main_scores(summary.filter(evaluation == "generate"), own)
        self.stability = main_scores(summary.filter(evaluation == "stability"), own)
        styles_per_arm = pl.col("style").n_unique().over(["model", "arm"])
        own_style = pl.col("arm").replace_strict(own, default="json")
        self.main = self.all_styles.filter((styles_per_arm == 1) | (pl.col("style") == own_style))
        self.store = self._store(self.inputs.scores_dir)
        self.stability_store = self._store(self.inputs.stability_dir)

    def _store(self, root: Path | None) -> ItemStore | None:
        return ItemStore(root, self.settings.bootstrap_samples, self.settings.seed) if root else None

    @property
    def z(self) -> float:
        return z_value(self.settings.confidence)

    def _in_grid_order(self, frame: pl.DataFrame, key: str) -> list[str]:
        """The `key` values (models or arms) of `frame` in the grid's order, others last, sorted."""
        present = set(frame.get_column(key).unique())
        names = self.inputs.grid.models if key == "model" else list(self.inputs.grid.arms)
        order = [name for name in names if name in present]
        return order + sorted(present - set(order))

    @cached_property
    def models(self) -> list[str]:
        """Models of the main-metric rows, in the grid's order."""
        return self._in_grid_order(self.main, "model")

    @cached_property
    def arms(self) -> list[str]:
        """Arms of the main-metric rows, in the grid's order (arms the grid does not name last, sorted)."""
        return self._in_grid_order(self.main, "arm")

    @cached_property
    def all_models(self) -> list[str]:
        """Models of every summary row (generation, log-likelihood, stability), in the grid's order."""
        return self._in_grid_order(self.inputs.summary, "model")

    @cached_property
    def all_arms(self) -> list[str]:
        """Arms of every summary row, in the grid's order."""
        return self._in_grid_order(self.inputs.summary, "arm")

    @cached_property
    def compared_arms(self) -> list[str]:
        """The arms but CPT checkpoints (those are compared in the progression section)."""
        steps = checkpoint_steps(self.inputs.grid, self.arms, self.settings.progression)
        return [a for a in self.arms if a == "base" or a not in steps]

    @cached_property
    def tasks(self) -> list[str]:
        return sorted(self.main.get_column("task").unique())

    @cached_property
    def languages(self) -> list[str]:
        return sorted(self.main.get_column("language").unique())

    @cached_property
    def task_scores(self) -> pl.DataFrame:
        """Per model, arm and task: the mean over the task's cells."""
        return task_means(self.main, ["model", "arm"])

    @cached_property
    def overall_scores(self) -> pl.DataFrame:
        """Per model and arm: the mean over tasks."""
        return overall(self.task_scores, ["model", "arm"])

    def cells(self, task: str | None = None) -> list[ScoreCell]:
        frame = self.main if task is None else self.main.filter(pl.col("task") == task)
        rows = frame.select("dataset", "language", "task", "subtask").unique().sort(pl.all()).rows()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    def score(self, frame: pl.DataFrame, **key: str) -> float | None:
        """The `value` of the one row of `frame` matching `key`, or None."""
        rows = frame.filter(*(pl.col(k) == v for k, v in key.items())).get_column("value")
        return float(rows[0]) if len(rows) == 1 else None
