"""Seeded splits where a source has none, and seeded caps on split sizes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from pipeline.tasks.readers.base import SPLITS, UNSPLIT, Document


def _rng(seed: int, *key: str) -> random.Random:
    return random.Random(":".join([str(seed), *key]))


def _size(size: float, n: int) -> int:
    """A float is a fraction of `n` (1.0 = all), an int a count; capped at `n`."""
    if isinstance(size, float):
        if not 0 < size <= 1:
            raise ValueError(f"carve: fractional size {size} must be in (0, 1]")
        return round(size * n)
    return min(n, size)


def carve(docs: list[Document], moves: Sequence[dict[str, Any]], seed: int, key: str) -> list[Document]:
    """Apply seeded moves `{from, to, size}` in order; documents keep their reader order.

    Documents are drawn by id, so every sub-task of a dataset gets the same split.
    """
    for move in moves:
        source, target = move["from"], move["to"]
        ids = sorted({d.id for d in docs if d.split == source})
        chosen = set(_rng(seed, key, source, target).sample(ids, _size(move["size"], len(ids))))
        for d in docs:
            if d.split == source and d.id in chosen:
                d.split = target
    left = sorted({d.id for d in docs if d.split not in SPLITS})
    if left:
        raise ValueError(
            f"{len(left)} document(s) have no train/dev/test split (e.g. {left[0]!r}, split "
            f"{next(d.split for d in docs if d.id == left[0])!r}); add `carve` moves from {UNSPLIT!r}"
        )
    return docs


def cap(docs: list[Document], split: str, limit: int | None, seed: int, key: str) -> list[Document]:
    """Keep a seeded sample of at most `limit` documents of `split` (others untouched, order kept)."""
    ids = sorted({d.id for d in docs if d.split == split})
    if limit is None or len(ids) <= limit:
        return docs
    kept = set(_rng(seed, key, split, "cap").sample(ids, limit))
    return [d for d in docs if d.split != split or d.id in kept]
