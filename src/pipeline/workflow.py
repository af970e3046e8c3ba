"""What the Snakefile sets up before any job runs: how jobs find this package and interpreter."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def prepare_job_environment(src_dir: str | Path, uses_conda: bool) -> None:
    """Jobs import the package from `src_dir` (installed or not) and, unless a conda env provides
    its own Python, run the interpreter that runs Snakemake (`python` first on PATH)."""
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src_dir), os.environ.get("PYTHONPATH")]))
    if not uses_conda:
        os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
