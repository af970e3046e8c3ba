"""Run the benchmark suite: each hot stage against the tool a user would otherwise pick.

    .venv/bin/python benchmarks/run.py [--smoke] [--only NAME ...] [--output DIR]

Every benchmark measures ours and its peer in the same run on the same inputs (interleaved,
best of k) and reports ratios, ours / peer. Writes DIR/results.md (machine, then the ratios,
then absolute numbers per benchmark) and one report per benchmark under DIR/results/;
`--smoke` runs a reduced version (results-smoke.md, *-smoke.md) in about two minutes.
DIR defaults to benchmarks/. With --only, the reports of the chosen benchmarks are written and
results.md is left alone.
"""

from __future__ import annotations

import argparse
import importlib
import math
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from common import Row, machine

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("tokenisation", "merging", "training", "loglik", "generation", "dag", "parsing")
# Reports the wrapped stand-alone scripts write themselves, under WORKDIR/results (the suite writes
# the others).
OWN_REPORTS = {"tokenisation": "corpus", "merging": "merge"}


def fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}" if abs(x) >= 1 else f"{x:.3g}"


def ratio_table(rows: list[Row]) -> list[str]:
    lines = [
        "| benchmark | measurement | ratio ours / peer | better when | verdict | peer |",
        "|---|---|---:|---|---|---|",
    ]
    lines += [
        f"| {r.benchmark} | {r.name} | {r.ratio:.2f} | {r.better} | {r.verdict} | {r.peer_name} |"
        for r in rows
    ]
    return lines


def absolute_table(rows: list[Row]) -> list[str]:
    lines = [
        "| measurement | ours | peer | unit | ours, every run | peer, every run | notes |",
        "|---|---:|---:|---|---|---|---|",
    ]
    for r in rows:
        runs = [", ".join(fmt(v) for v in values) or "–" for values in (r.ours_runs, r.peer_runs)]
        lines.append(
            f"| {r.name} | {fmt(r.ours)} | {fmt(r.peer)} | {r.unit} | {runs[0]} | {runs[1]} | {r.notes} |"
        )
    return lines


def report_name(benchmark: str, smoke: bool) -> str:
    return f"{OWN_REPORTS.get(benchmark, benchmark)}{'-smoke' if smoke else ''}.md"


def write_report(benchmark: str, module_doc: str, rows: list[Row], path: Path, header: str) -> None:
    """A benchmark's own report: how it measures, then its numbers."""
    lines = [f"# Benchmark: {benchmark}", "", header, "", module_doc.strip(), "", *absolute_table(rows), ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def summary(results: dict[str, list[Row] | str], seconds: dict[str, float], smoke: bool, header: str) -> str:
    rows = [row for value in results.values() if isinstance(value, list) for row in value]
    lines = [
        "# Benchmarks" + (" (smoke)" if smoke else ""),
        "",
        header,
        "",
        "## Ratios",
        "",
        "Ratio = ours / peer, measured in the same run on the same inputs; *better when* says which way "
        "is good; *ok* means ours is better than the peer or within 10% of it. Each side runs in its own "
        "single-threaded child process, the two alternating, best of k runs; rates are per CPU second of "
        "that process (steadier than wall time on a shared machine; wall-clock ratios are in the notes). "
        "See README.md.",
        "",
        *ratio_table(rows),
        "",
        "## Absolute numbers",
    ]
    for benchmark, value in results.items():
        lines += [
            "",
            f"### {benchmark} ({seconds[benchmark]:.0f} s)",
            "",
            f"Details: [results/{report_name(benchmark, smoke)}](results/{report_name(benchmark, smoke)})",
            "",
        ]
        lines += absolute_table(value) if isinstance(value, list) else [f"FAILED: {value}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="reduced sizes: checks that every benchmark runs"
    )
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run these benchmarks only")
    parser.add_argument("--output", type=Path, default=HERE, help="where results.md and results/ go")
    parser.add_argument(
        "--workdir", type=Path, help="keep inputs (models, data) here instead of a temp folder"
    )
    args = parser.parse_args()
    chosen = args.only or BENCHMARKS
    suffix = "-smoke" if args.smoke else ""
    (args.output / "results").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    header = f"Machine: {machine()}"
    results: dict[str, list[Row] | str] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="medadapt-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for name in chosen:
            module = importlib.import_module(f"bench_{name}")
            print(f"== {name}", flush=True)
            began = time.perf_counter()
            try:
                results[name] = module.run(args.smoke, workdir)
            except Exception as err:  # one failing benchmark must not lose the others' numbers
                traceback.print_exc()
                results[name] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                continue
            finally:
                seconds[name] = time.perf_counter() - began
            print(f"== {name}: {seconds[name]:.0f} s", flush=True)
            path = args.output / "results" / report_name(name, args.smoke)
            if name in OWN_REPORTS:  # the wrapped script wrote its report into the workdir
                shutil.copyfile(workdir / "results" / path.name, path)
            else:
                write_report(name, module.__doc__ or "", results[name], path, header)
    header += (
        f"\n\nCommand: `.venv/bin/python benchmarks/run.py{' --smoke' if args.smoke else ''}`, "
        f"{time.perf_counter() - start:.0f} s in all."
    )
    text = summary(results, seconds, args.smoke, header)
    if args.only is None:
        (args.output / f"results{suffix}.md").write_text(text, encoding="utf-8")
    print(text)
    failed = [name for name, value in results.items() if isinstance(value, str)]
    if failed:
        sys.exit(f"benchmark(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
