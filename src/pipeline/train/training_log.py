"""The training log: the Trainer's log history as one parquet table (a row per train or eval record)."""

from __future__ import annotations

import os
from typing import Any

import polars as pl

from pipeline.io import atomic_path

SCHEMA = {
    "step": pl.Int64,
    "epoch": pl.Float64,
    "loss": pl.Float64,
    "lr": pl.Float64,
    "grad_norm": pl.Float64,
    "tokens_seen": pl.Int64,
    "tokens_per_second": pl.Float64,
    "elapsed": pl.Float64,
    "eval_loss": pl.Float64,
}
# Log-history key -> column, where the Trainer's name differs.
_RENAMES = {"learning_rate": "lr", "num_input_tokens_seen": "tokens_seen"}


def log_table(history: list[dict[str, Any]]) -> pl.DataFrame:
    """Train rows (`loss` set) and eval rows (`eval_loss` set) of a Trainer log history."""
    rows = []
    for record in history:
        if "loss" not in record and "eval_loss" not in record:
            continue  # the end-of-training summary
        named = {_RENAMES.get(key, key): value for key, value in record.items()}
        rows.append({column: named.get(column) for column in SCHEMA})
    return pl.DataFrame(rows, schema=SCHEMA)


def write_training_log(history: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        log_table(history).write_parquet(tmp)
