"""What the Snakefile sets up before any job runs: how jobs find this package and interpreter."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline.paths import CHECKOUT_ENV


def prepare_job_environment(src_dir: str | Path, uses_conda: bool) -> None:
    """Jobs import the package from `src_dir` (installed or not), resolve relative config paths against
    the checkout above it (`pipeline.paths`) and, unless a conda env provides
    its own Python, run the interpreter that runs Snakemake (`python` first on PATH)."""
    os.environ[CHECKOUT_ENV] = str(Path(src_dir).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src_dir), os.environ.get("PYTHONPATH")]))
    if not uses_conda:
        os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
