"""`results/summary.parquet`: every score of the grid in one long table.

One row per (model, arm, dataset, language, task, subtask, metric), with the value,
its uncertainty, the number of examples, the parse-failure rate, the decoding
settings, and the model's family, variant and size class.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from pipeline.io import atomic_path

COLUMNS = {
    "model": str,
    "family": str,
    "variant": str,
    "size": str,
    "arm": str,
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
}


def summary_rows(score_files: list[Path], models: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten score files into rows; a missing or non-finite value is an error naming the file."""
    rows = []
    for path in score_files:
        for metric in json.loads(path.read_text(encoding="utf-8")):
            value = metric.get("value")
            if value is None or not math.isfinite(value):
                raise ValueError(f"{path}: metric {metric.get('metric')!r} has no finite value ({value!r})")
            model = models[metric["model"]]
            row = {
                **{k: metric.get(k) for k in COLUMNS},
                "family": model["family"],
                "variant": model["variant"],
                "size": str(model.get("size", "")),
                "decoding": json.dumps(metric.get("decoding", {}), sort_keys=True),
            }
            rows.append(row)
    return rows


def write_summary(rows: list[dict[str, Any]], output: Path) -> None:
    import polars as pl

    schema = {
        name: pl.Utf8 if kind is str else pl.Int64 if kind is int else pl.Float64
        for name, kind in COLUMNS.items()
    }
    frame = pl.DataFrame(rows, schema=schema).sort(
        ["model", "arm", "dataset", "language", "subtask", "metric"]
    )
    with atomic_path(output) as tmp:
        frame.write_parquet(tmp)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scores", type=Path, nargs="+", required=True)
    parser.add_argument("--models", required=True, help="JSON: the config's models section")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    write_summary(summary_rows(args.scores, json.loads(args.models)), args.output)


if __name__ == "__main__":
    main()
