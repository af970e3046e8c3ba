"""`results/summary.parquet`: every score of the grid in one long table.

One row per (model, arm, evaluation, style, dataset, language, task, subtask, metric), with
the value, its uncertainty, the number of examples, the parse-failure rate, the decoding
settings, the model's family, variant and size class, and a paired bootstrap test against the
reference arm (the untouched `base` model by default) on the same items: `delta`, `p_value`
and `significant` are filled on each cell's main metric (and the log-likelihood accuracies).
`p_adjusted` corrects `p_value` for multiple comparisons (`correction`: Holm by default, or
Benjamini-Hochberg, over every test of the summary or within the groups of `correction_by`),
and `significant` reads the adjusted value.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.evaluate.metrics import MAIN_METRIC
from pipeline.evaluate.settings import SummarySettings
from pipeline.evaluate.stats import (
    adjust_p_values,
    bootstrap,
    cell_seed,
    item_table,
    replicate_test,
)
from pipeline.io import atomic_path
from pipeline.provenance import code_state, commit_label, config_hash

EVALUATIONS = ("generate", "loglik", "stability", "lm_eval")
LOGLIK_METRICS = ("loglik_acc", "loglik_acc_norm")

COLUMNS = {
    "model": str,
    "family": str,
    "variant": str,
    "size": str,
    "arm": str,
    "evaluation": str,
    "style": str,
    "dataset": str,
    "language": str,
    "task": str,
    "subtask": str,
    "metric": str,
    "value": float,
    "stderr": float,
    "ci_low": float,
    "ci_high": float,
    "n": int,
    "parse_failure_rate": float,
    "decoding": str,
    "reference_arm": str,
    "delta": float,
    "p_value": float,
    "p_adjusted": float,
    "correction": str,
    "significant": bool,
    "run_id": str,
    "config_hash": str,
    "commit": str,
}
CELL = ("dataset", "language", "task", "subtask")


@dataclass(frozen=True)
class ItemScores:
    """The per-item statistics of one tested score row, items sorted by id."""

    path: Path
    ids: tuple[str, ...]
    stats: np.ndarray


def headline(row: dict[str, Any]) -> bool:
    """A row of a cell's main metric, a log-likelihood accuracy or an lm-evaluation-harness metric."""
    return (
        row["evaluation"] == "lm_eval"
        or row["metric"] == MAIN_METRIC.get(row["task"])
        or row["metric"] in LOGLIK_METRICS
    )


def tested(row: dict[str, Any], metric: dict[str, Any]) -> bool:
    """Rows that get a significance test: the headline rows, harness metrics only where they come with
    per-document values (means of them)."""
    if row["evaluation"] == "lm_eval":
        return bool(metric.get("items"))
    return headline(row)


def bootstrap_metric(row: dict[str, Any]) -> str:
    """The statistic a row's items are bootstrapped with: harness metrics are means of their items."""
    return "accuracy" if row["evaluation"] == "lm_eval" else row["metric"]


def _item_scores(path: Path, row: dict[str, Any]) -> ItemScores:
    return ItemScores(path, *item_table(row, str(path)))


def read_score_file(path: Path, evaluation: str) -> list[tuple[dict[str, Any], ItemScores | None]]:
    """The metric rows of one score file, each with its items when it is tested."""
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err.msg}, line {err.lineno})") from err
    if not isinstance(metrics, list):
        raise ValueError(f"{path}: expected a JSON list of metric rows")
    out = []
    for metric in metrics:
        missing = [k for k in ("model", "arm", *CELL, "metric") if k not in metric]
        if missing:
            raise ValueError(f"{path}: a metric row lacks {missing}")
        value = metric.get("value")
        if value is None or not math.isfinite(value):
            raise ValueError(f"{path}: metric {metric['metric']!r} has no finite value ({value!r})")
        row = {**{k: metric.get(k) for k in COLUMNS}, "evaluation": evaluation}
        row["style"] = metric.get("style")
        row["decoding"] = json.dumps(metric.get("decoding") or {}, sort_keys=True)
        out.append((row, _item_scores(path, metric) if tested(row, metric) else None))
    return out


def _test_key(row: dict[str, Any], arm: str) -> tuple[Any, ...]:
    style = row["style"] if row["evaluation"] == "stability" else None
    return (row["evaluation"], style, row["model"], arm, *(row[k] for k in CELL), row["metric"])


def mark_significance(
    rows: list[tuple[dict[str, Any], ItemScores | None]], settings: SummarySettings
) -> None:
    """Fill `reference_arm`, `delta`, `p_value`, `significant` of every tested row in place.

    A row is compared with the reference arm's row of the same model, evaluation (and style, for
    stability), cell and metric; rows without one (the reference itself) stay empty. Replicates
    use the cell's seed (`cell_seed`), so these p-values equal the report's single-cell tests.
    """
    reference = settings.reference_arm
    by_key = {_test_key(row, row["arm"]): (row, items) for row, items in rows if items is not None}
    replicates: dict[tuple[Any, ...], np.ndarray] = {}

    def reps(row: dict[str, Any], items: ItemScores) -> np.ndarray:
        key = _test_key(row, row["arm"])
        if key not in replicates:
            seed = cell_seed(settings.seed, tuple(str(row[k] or "") for k in CELL))
            samples = settings.bootstrap_samples
            replicates[key] = bootstrap(bootstrap_metric(row), items.stats, samples, seed)
        return replicates[key]

    for row, items in rows:
        found = by_key.get(_test_key(row, reference))
        if items is None or row["arm"] == reference or found is None:
            continue
        ref_row, ref_items = found
        if ref_items.ids != items.ids:
            raise ValueError(f"{items.path} and {ref_items.path} cover different items")
        diffs = reps(row, items) - reps(ref_row, ref_items)
        test = replicate_test(row["value"] - ref_row["value"], diffs, len(items.ids), settings.confidence)
        row.update(reference_arm=reference, delta=test.delta, p_value=test.p_value)
    correct_p_values([row for row, _ in rows], settings)


def correct_p_values(rows: list[dict[str, Any]], settings: SummarySettings) -> None:
    """Fill `p_adjusted`, `correction` and `significant` of the tested rows in place: one family of
    tests per value of the `correction_by` columns (one family for the whole summary when empty)."""
    method, by = settings.correction, list(settings.correction_by)
    families: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("p_value") is not None:
            families.setdefault(tuple(row[k] for k in by), []).append(row)
    alpha = 1 - settings.confidence
    for family in families.values():
        adjusted = adjust_p_values([row["p_value"] for row in family], method)
        for row, p in zip(family, adjusted, strict=True):
            row.update(p_adjusted=float(p), correction=method, significant=bool(p < alpha))


def summary_rows(scores: dict[str, list[Path]], settings: SummarySettings) -> list[dict[str, Any]]:
    """Flatten score files (per evaluation) into rows with their model's columns and significance marks."""
    unknown = sorted(set(scores) - set(EVALUATIONS))
    if unknown:
        raise ValueError(f"unknown evaluation(s) {unknown}; known: {list(EVALUATIONS)}")
    if not any(scores.values()):
        raise ValueError(
            "no score files: the grid evaluates nothing (evaluate_datasets, loglik, stability, lm_eval)"
        )
    rows = [
        pair
        for evaluation, paths in scores.items()
        for path in paths
        for pair in read_score_file(path, evaluation)
    ]
    for row, _ in rows:
        model = settings.models.get(row["model"])
        if model is None:
            raise ValueError(f"score rows name model {row['model']!r}, which the config's models lack")
        row.update(family=model.family, variant=model.variant, size=model.size)
    mark_significance(rows, settings)
    return [row for row, _ in rows]


def run_columns(grid_config_hash: str) -> dict[str, str | None]:
    """`run_id`, `config_hash` and `commit` of this summary: which grid and which code made it.

    `run_id` hashes the other two: equal ids, same config and same code (`commit` ends in `-dirty`
    when the code had uncommitted changes), so grids combined into one table stay apart.
    """
    commit = commit_label(code_state())
    run_id = config_hash({"config_hash": grid_config_hash, "commit": commit})[:16]
    return {"run_id": run_id, "config_hash": grid_config_hash, "commit": commit}


def write_summary(rows: list[dict[str, Any]], output: Path) -> None:
    import polars as pl

    kinds = {str: pl.Utf8, int: pl.Int64, float: pl.Float64, bool: pl.Boolean}
    schema = {name: kinds[kind] for name, kind in COLUMNS.items()}
    frame = pl.DataFrame(rows, schema=schema).sort(
        ["model", "arm", "evaluation", "style", "dataset", "language", "subtask", "metric"], nulls_last=True
    )
    with atomic_path(output) as tmp:
        frame.write_parquet(tmp)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scores", type=Path, nargs="*", default=[], help="generation score files")
    parser.add_argument("--loglik-scores", type=Path, nargs="*", default=[])
    parser.add_argument("--stability-scores", type=Path, nargs="*", default=[])
    parser.add_argument(
        "--lm-eval-scores", type=Path, nargs="*", default=[], help="pipeline.evaluate.harness rows"
    )
    parser.add_argument("--settings", default="{}", help="JSON of evaluate.settings.SummarySettings")
    parser.add_argument("--config-hash", default="", help="SHA-256 of the whole config's canonical JSON")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    scores = {
        "generate": args.scores,
        "loglik": args.loglik_scores,
        "stability": args.stability_scores,
        "lm_eval": args.lm_eval_scores,
    }
    rows = summary_rows(scores, SummarySettings.from_json(args.settings))
    run = run_columns(args.config_hash or None)
    write_summary([{**row, **run} for row in rows], args.output)


if __name__ == "__main__":
    main()
