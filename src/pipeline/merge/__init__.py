"""Model merging: SLERP, linear, task arithmetic, TIES, DARE, out of core."""
