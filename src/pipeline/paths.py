"""Where a relative path of a config or dataset registry points: one rule for the dry run and every job.

A relative path either names a workflow target (under `results/` or `data/`), which lives in the
working directory like every Snakemake output, or an input beside the checkout (a registry, real data
such as `../shared/data`, a local model folder), which is resolved against the checkout — the folder
holding the Snakefile — whatever `--directory` is. Jobs learn the checkout from `MEDADAPT_CHECKOUT`,
which the Snakefile sets, so a relocated checkout changes no job's parameters.
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT_ENV = "MEDADAPT_CHECKOUT"
PRODUCED_ROOTS = ("results", "data")


def checkout() -> Path:
    """The checkout this code runs from (`$MEDADAPT_CHECKOUT`, else the folder above `src/`)."""
    return Path(os.environ.get(CHECKOUT_ENV) or Path(__file__).resolve().parents[2])


def is_produced(path: str | os.PathLike[str]) -> bool:
    """A relative path inside a workflow output folder (resolved in the working directory)."""
    parts = Path(path).parts
    return not Path(path).is_absolute() and bool(parts) and parts[0] in PRODUCED_ROOTS


def resolve(path: str | os.PathLike[str], base: str | os.PathLike[str] | None = None) -> Path:
    """`path` as the jobs see it: absolute, a workflow target, or under the checkout; an explicit `base`
    roots every relative path (tests and tools reading a copy elsewhere)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    if base is not None:
        return Path(base) / p
    return p if is_produced(p) else checkout() / p
