"""Token blocks for causal-LM training: plan the split and subset (data-size ablation), load, check."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

SPLITS = ("train", "validation")


@dataclass
class BlockPlan:
    """Which rows of a blocks file train and evaluate (row indices in file order)."""

    train_rows: np.ndarray
    eval_rows: np.ndarray
    block_size: int
    corpus_train_blocks: int

    @property
    def train_tokens(self) -> int:
        return len(self.train_rows) * self.block_size


def budget_blocks(budget: float | None, n_blocks: int, block_size: int, path: Path) -> int:
    """How many train blocks a token budget buys: a fraction (<= 1) or an absolute token count (> 1)."""
    if budget is None:
        return n_blocks
    if budget <= 0:
        raise ValueError(f"token_budget must be positive, got {budget!r}")
    if budget <= 1:
        k = math.floor(budget * n_blocks)
    else:
        if budget != int(budget):
            raise ValueError(f"token_budget {budget!r} > 1 is a token count and must be a whole number")
        k = int(budget) // block_size
        if budget > n_blocks * block_size:
            raise ValueError(
                f"{path}: token_budget {int(budget)} exceeds the {n_blocks * block_size} train tokens"
            )
    if k < 1:
        raise ValueError(f"{path}: token_budget {budget!r} selects no block of {block_size} tokens")
    return k


def seeded_subset(indices: np.ndarray, k: int, seed: int) -> np.ndarray:
    """`k` of `indices` chosen by a seeded permutation, in corpus order.

    Subsets of one seed are nested: a smaller budget takes a prefix of the same permutation.
    """
    order = np.random.default_rng(seed).permutation(len(indices))
    return np.sort(indices[order[:k]])


def plan_blocks(
    path: str | os.PathLike[str], token_budget: float | None, max_eval_blocks: int | None, seed: int
) -> BlockPlan:
    """Choose the train rows (a seeded subset within the token budget) and eval rows of a blocks file.

    Reads only the `split` column and the first block, so every rank can afford it.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: token blocks file not found")
    parquet = pq.ParquetFile(path)
    missing = {"input_ids", "split"} - set(parquet.schema_arrow.names)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)} (have {parquet.schema_arrow.names})")
    split = parquet.read(columns=["split"])["split"].to_numpy(zero_copy_only=False)
    unknown = set(np.unique(split)) - set(SPLITS)
    if unknown:
        raise ValueError(f"{path}: unknown split value(s) {sorted(unknown)} (expected {SPLITS})")
    train_rows, eval_rows = (np.flatnonzero(split == name) for name in SPLITS)
    if len(train_rows) == 0 or len(eval_rows) == 0:
        raise ValueError(
            f"{path}: needs train and validation blocks, has {len(train_rows)} and {len(eval_rows)}"
        )
    first = next(parquet.iter_batches(batch_size=1, columns=["input_ids"]))
    block_size = len(first.column(0)[0])
    k = budget_blocks(token_budget, len(train_rows), block_size, path)
    return BlockPlan(
        train_rows=seeded_subset(train_rows, k, seed),
        eval_rows=seeded_subset(eval_rows, min(max_eval_blocks or len(eval_rows), len(eval_rows)), seed),
        block_size=block_size,
        corpus_train_blocks=len(train_rows),
    )


def load_blocks(
    path: str | os.PathLike[str], plan: BlockPlan, cache_dir: str | os.PathLike[str], vocab_size: int | None
) -> tuple[Any, Any]:
    """The planned train and eval blocks as memory-mapped `datasets.Dataset`s of `input_ids`.

    With `vocab_size`, first check every block has the planned length and only known token ids
    (a full scan: do it on one rank).
    """
    from datasets import Dataset

    dataset = Dataset.from_parquet(str(path), cache_dir=str(cache_dir))
    if vocab_size is not None:
        column = dataset.data.table["input_ids"]
        lengths = pc.min_max(pc.list_value_length(column)).as_py()
        if lengths["min"] != plan.block_size or lengths["max"] != plan.block_size:
            raise ValueError(f"{path}: input_ids must all be {plan.block_size} long, found lengths {lengths}")
        ids = pc.min_max(pc.list_flatten(column)).as_py()
        if ids["min"] < 0 or ids["max"] >= vocab_size:
            raise ValueError(
                f"{path}: token ids span [{ids['min']}, {ids['max']}], outside the vocabulary "
                f"[0, {vocab_size})"
            )
    columns = dataset.select_columns(["input_ids"])
    return columns.select(plan.train_rows), columns.select(plan.eval_rows)


def collate_blocks(features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack equal-length blocks; the labels are the inputs (the model shifts them)."""
    input_ids = torch.tensor([f["input_ids"] for f in features], dtype=torch.long)
    return {"input_ids": input_ids, "labels": input_ids.clone()}
