"""Run a stand-alone benchmark script (bench_corpus.py, bench_merge.py) and read its markdown report.

The script runs in its own interpreter with its `RESULTS` folder pointed at the suite's output,
so its report lands beside the suite's; its numbers are then read back from the tables it wrote.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from common import REPO, child_env

SHIM = (
    "import importlib.util, pathlib, sys\n"
    "script, results, *args = sys.argv[1:]\n"
    "spec = importlib.util.spec_from_file_location(pathlib.Path(script).stem, script)\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "module.RESULTS = pathlib.Path(results)\n"
    "sys.argv = [script, *args]\n"
    "module.main()\n"
)


def run_script(script: Path, results: Path, args: list[str], report: str) -> str:
    """Run `script args` writing into `results`; return the text of `results/report`."""
    results.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", SHIM, str(script), str(results), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=child_env(one_thread=False),  # the scripts choose their own parallelism
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return (results / report).read_text(encoding="utf-8")


def table_after(text: str, heading: str) -> list[list[str]]:
    """The body rows (cells stripped) of the first markdown table after the heading starting `heading`."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        raise ValueError(f"no heading {heading!r} in the report")
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    if len(rows) < 3:
        raise ValueError(f"no table under {heading!r} in the report")
    return rows[2:]  # header and separator dropped


def number(cell: str) -> float:
    """A number as the reports print it ("1,234", "0.56")."""
    match = re.fullmatch(r"-?[\d,]+(\.\d+)?(e[-+]?\d+)?", cell)
    if match is None:
        raise ValueError(f"{cell!r} is not a number")
    return float(cell.replace(",", ""))
