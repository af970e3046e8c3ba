"""Uncertainty of metric values: standard errors, confidence intervals, paired bootstrap tests.

Means (accuracy) get the analytic standard error and a Wilson interval for 0/1 items (a
normal interval otherwise); every other metric (F1 and friends) is bootstrapped over items
with a fixed seed: the standard error is the replicates' standard deviation and the interval
their percentiles. Inputs are per-item statistics from `pipeline.evaluate.metrics`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from pipeline.evaluate.metrics import ACCURACY, metric_value

_CHUNK = 200  # bootstrap replicates drawn at once (bounds memory to _CHUNK x n_items)


@dataclass(frozen=True)
class Estimate:
    """A metric value with its standard error and confidence interval over `n` items."""

    value: float
    stderr: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True)
class PairedTest:
    """System A minus system B on the same items: difference, its interval, two-sided p-value."""

    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value < alpha


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _weights(n_items: int, samples: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap resamples as multinomial item counts, in chunks of shape (chunk, n_items)."""
    rng = np.random.default_rng(seed)
    for start in range(0, samples, _CHUNK):
        size = min(_CHUNK, samples - start)
        yield rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=size)


def bootstrap(metric: str, stats: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """`samples` bootstrap replicates of `metric` over the items (rows) of `stats`."""
    stats = np.asarray(stats, dtype=float)
    n = len(stats)
    return np.concatenate([metric_value(metric, w @ stats, n) for w in _weights(n, samples, seed)])


def wilson_interval(successes: float, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    z = _z(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate(
    metric: str, stats: np.ndarray, samples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> Estimate:
    """Value, standard error and interval of `metric` from per-item statistics `stats` (n x k)."""
    stats = np.asarray(stats, dtype=float)
    n = len(stats)
    if n == 0:
        raise ValueError(f"{metric}: no items to estimate from")
    value = float(metric_value(metric, stats.sum(axis=0), n))
    if metric in ACCURACY:
        column = stats[:, 0]
        stderr = float(column.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
        if np.isin(column, (0.0, 1.0)).all():
            low, high = wilson_interval(float(column.sum()), n, confidence)
        else:
            half = _z(confidence) * stderr
            low, high = value - half, value + half
        return Estimate(value, stderr, low, high, n)
    reps = bootstrap(metric, stats, samples, seed)
    tail = (1 - confidence) / 2
    low, high = np.quantile(reps, [tail, 1 - tail])
    return Estimate(value, float(reps.std(ddof=1)), float(low), float(high), n)


def replicate_test(delta: float, diffs: np.ndarray, n: int, confidence: float) -> PairedTest:
    """The test of an observed difference `delta` from its paired bootstrap replicates `diffs`.

    The p-value is two-sided: twice the smaller tail, each tail counted as (b + 1) / (B + 1) with
    b of the B replicates on that side of zero (Davison & Hinkley 1997, eq. 4.11), so that a
    finite bootstrap never reports p = 0 (its smallest p-value is 2 / (B + 1)).
    """
    diffs = np.asarray(diffs, dtype=float)
    tail = (1 - confidence) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    smaller = min(int(np.sum(diffs <= 0)), int(np.sum(diffs >= 0)))
    p = min(1.0, 2 * (smaller + 1) / (len(diffs) + 1))
    return PairedTest(delta, float(low), float(high), p, n)


CORRECTIONS = ("holm", "bh", "none")


def adjust_p_values(p_values: Sequence[float], method: str) -> np.ndarray:
    """p-values adjusted for multiple comparisons over one family of tests.

    `holm`: Holm's step-down family-wise error control (p_(i) x (m - i + 1), made monotone);
    `bh`: Benjamini-Hochberg false discovery rate (p_(i) x m / i, made monotone from the top);
    `none`: unchanged. Adjusted values are capped at 1 and returned in the input order.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"unknown multiple-comparison correction {method!r}; known: {list(CORRECTIONS)}")
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0 or method == "none":
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adjusted = np.maximum.accumulate(ranked * (m - np.arange(m)))
    else:
        adjusted = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def cell_seed(seed: int, cell: Sequence[str]) -> int:
    """The bootstrap seed of an evaluation cell: the same for every model and arm, so that two
    systems' replicates of the cell use the same resamples (`bootstrap` weights depend only on
    the item count, the number of samples and the seed) and pair up."""
    return (seed + zlib.crc32("/".join(cell).encode("utf-8"))) % 2**32


def item_table(row: dict[str, Any], where: str = "score row") -> tuple[tuple[str, ...], np.ndarray]:
    """(item ids, per-item statistics n x k) of a score row, sorted by id; `where` names it in errors."""
    items, fields = row.get("items"), row.get("item_fields")
    if not isinstance(items, list) or not items or not isinstance(fields, list):
        raise ValueError(f"{where}: metric {row.get('metric')!r} has no per-item statistics ('items')")
    ordered = sorted(items, key=lambda item: str(item[0]))
    ids = tuple(str(item[0]) for item in ordered)
    if len(set(ids)) != len(ids):
        raise ValueError(f"{where}: metric {row.get('metric')!r} has duplicate item ids")
    return ids, np.asarray([item[1:] for item in ordered], dtype=float).reshape(len(ids), len(fields))
