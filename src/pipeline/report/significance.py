"""Paired bootstrap tests of task scores from the per-item statistics in the score files.

A task score is a mean over cells (and over models when pooled), so the test resamples items
within each cell, jointly for the two arms (and for every model: the same test items), rescores
each cell and averages: the difference of the two arms' task scores under the same resample.
For one cell this is exactly the summary's test of the cell's rows (the cell's seed): the
replicates come from `pipeline.evaluate.stats.bootstrap`, whose item weights depend only on the
item count, the number of samples and the seed, which makes two arms' replicates paired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.evaluate.metrics import MAIN_METRIC, metric_value
from pipeline.evaluate.stats import PairedTest, bootstrap, cell_seed, item_table, replicate_test

ScoreCell = tuple[str, str, str, str]  # a score-table cell with its task: dataset, language, task, subtask


@dataclass(frozen=True)
class Items:
    """The main metric's per-item statistics of one model × arm × cell, rows sorted by item id."""

    path: Path
    metric: str
    fields: tuple[str, ...]
    ids: tuple[str, ...]
    stats: np.ndarray


class ItemStore:
    """Score files under `root` (`{model}/{arm}/{dataset}/{language}/{subtask}.json`), read on demand."""

    def __init__(self, root: Path, samples: int, seed: int) -> None:
        self.root = root
        self.samples = samples
        self.seed = seed
        self._items: dict[tuple[str, str, ScoreCell], Items | None] = {}
        self._reps: dict[tuple[str, str, ScoreCell], np.ndarray] = {}

    def items(self, model: str, arm: str, cell: ScoreCell) -> Items | None:
        key = (model, arm, cell)
        if key not in self._items:
            self._items[key] = self._load(model, arm, cell)
        return self._items[key]

    def _load(self, model: str, arm: str, cell: ScoreCell) -> Items | None:
        dataset, language, task, subtask = cell
        path = self.root / model / arm / dataset / language / f"{subtask}.json"
        if not path.exists():
            return None
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: invalid JSON ({err.msg})") from err
        metric = MAIN_METRIC[task]
        row = next((r for r in rows if isinstance(r, dict) and r.get("metric") == metric), None)
        if row is None:
            raise ValueError(f"{path}: no {metric!r} row")
        ids, stats = item_table(row, str(path))
        return Items(path, metric, tuple(row["item_fields"]), ids, stats)

    def _replicates(self, model: str, arm: str, cell: ScoreCell, items: Items) -> np.ndarray:
        key = (model, arm, cell)
        if key not in self._reps:
            self._reps[key] = bootstrap(items.metric, items.stats, self.samples, cell_seed(self.seed, cell))
        return self._reps[key]

    def paired(
        self, models: list[str], arm_a: str, arm_b: str, cells: list[ScoreCell]
    ) -> list[tuple[str, ScoreCell, Items, Items]]:
        """The (model, cell) units both arms have score files for, with their items (which must match)."""
        units = []
        for model in models:
            for cell in cells:
                a, b = self.items(model, arm_a, cell), self.items(model, arm_b, cell)
                if a is None or b is None:
                    continue
                if a.ids != b.ids or a.fields != b.fields:
                    raise ValueError(f"{a.path} and {b.path} cover different items or item fields")
                units.append((model, cell, a, b))
        return units

    def test(
        self, models: list[str], arm_a: str, arm_b: str, cells: list[ScoreCell], confidence: float
    ) -> PairedTest | None:
        """Task score of `arm_a` minus `arm_b` over the paired units; None when no unit pairs up."""
        units = self.paired(models, arm_a, arm_b, cells)
        if not units:
            return None
        deltas, diffs, n = [], [], 0
        for model, cell, a, b in units:
            values = [float(metric_value(x.metric, x.stats.sum(axis=0), len(x.ids))) for x in (a, b)]
            deltas.append(values[0] - values[1])
            diffs.append(self._replicates(model, arm_a, cell, a) - self._replicates(model, arm_b, cell, b))
            n += len(a.ids)
        return replicate_test(float(np.mean(deltas)), np.mean(diffs, axis=0), n, confidence)
