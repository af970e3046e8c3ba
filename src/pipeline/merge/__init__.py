"""Model merging: SLERP, linear, task arithmetic, TIES, DARE, out of core."""

from pipeline.merge.merge import merge_models

__all__ = ["merge_models"]
