"""Ordered parallel map over a stream with a bounded number of batches in flight."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def bounded_map(
    func: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """Yield `func(item)` for each item, in order.

    With `workers` > 1 the calls run in a process pool; at most 2 × `workers` items are
    in flight, so memory stays bounded however long `items` is (`Pool.imap` would read
    the whole input ahead). `func` and `initializer` must be module-level functions.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        if initializer is not None:
            initializer(*initargs)
        yield from map(func, items)
        return
    with multiprocessing.get_context("fork").Pool(workers, initializer, initargs) as pool:
        pending: deque[Any] = deque()
        for item in items:
            pending.append(pool.apply_async(func, (item,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
