"""The benchmark suite's reduced run: every benchmark runs and reports a finite ratio."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from conftest import REPO

BENCHMARKS = ("tokenisation", "merging", "training", "loglik", "generation", "dag", "parsing")


@pytest.mark.e2e
def test_smoke_suite_reports_a_finite_ratio_for_every_benchmark(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--smoke", "--output", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = (tmp_path / "results-smoke.md").read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks (smoke)\n\nMachine: ")
    ratios = text.split("## Ratios")[1].split("## Absolute numbers")[0]
    finite: dict[str, int] = {}
    for line in ratios.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 6 and cells[0] in BENCHMARKS:
            finite[cells[0]] = finite.get(cells[0], 0) + math.isfinite(float(cells[2]))
    assert {name for name, count in finite.items() if count} == set(BENCHMARKS)
    for name in ("corpus", "merge", "training", "loglik", "generation", "dag", "parsing"):
        assert (tmp_path / "results" / f"{name}-smoke.md").is_file(), name
