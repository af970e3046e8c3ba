"""SLERP merging against mergekit, read from bench_merge.py's report.

    .venv/bin/python benchmarks/run.py --only merging [--smoke]

Runs benchmarks/bench_merge.py (a random Llama-shaped checkpoint, ~640 MB in float32, tiny with
--smoke; each merge in its own process) with the report written beside the suite's, and reads
back the best time and the peak RSS (VmHWM) of each side.
"""

from __future__ import annotations

from pathlib import Path

from common import Row
from scripts import number, run_script, table_after

BENCHMARK = "merging"
SCRIPT = Path(__file__).resolve().parent / "bench_merge.py"
PEER = "mergekit run_merge (SLERP)"


def run(smoke: bool, workdir: Path) -> list[Row]:
    results = workdir / "results"
    text = run_script(
        SCRIPT, results, ["--smoke"] if smoke else [], "merge-smoke.md" if smoke else "merge.md"
    )
    table = {row[0]: row for row in table_after(text, "## Absolute numbers")}
    ours, peer = table["ours"], table["mergekit"]
    ours_times = tuple(number(t) for t in ours[2].split(", "))
    peer_times = tuple(number(t) for t in peer[2].split(", "))
    model = next(line for line in text.splitlines() if line.startswith("Model:"))
    return [
        Row(
            BENCHMARK,
            "SLERP merge time",
            number(ours[1]),
            number(peer[1]),
            "s",
            "lower",
            PEER,
            model.removeprefix("Model: ").rstrip(",") + "; imports not timed",
            ours_times,
            peer_times,
        ),
        Row(
            BENCHMARK,
            "peak RSS: SLERP merge",
            number(ours[3]),
            number(peer[3]),
            "MiB",
            "lower",
            PEER,
            "VmHWM of the merge process",
        ),
    ]
