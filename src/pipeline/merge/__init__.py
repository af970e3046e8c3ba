"""Model merging: SLERP, linear, task arithmetic, TIES, DARE, out of core."""

from __future__ import annotations

from typing import Any

__all__ = ["merge_models"]


def __getattr__(name: str) -> Any:
    """`merge_models` imported on first use, so that `pipeline.merge.settings` (checked when the
    workflow starts) does not import torch."""
    if name == "merge_models":
        from pipeline.merge.merge import merge_models

        return merge_models
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
