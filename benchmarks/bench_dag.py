"""Workflow DAG: `snakemake -n` wall time and peak RSS against the job count.

    .venv/bin/python benchmarks/run.py --only dag [--smoke]

Dry runs of the demo config (and a copy with twice the models), the thesis grid and a copy of it
with 4x the models (`--directory` a temporary folder: nothing lands in results/), each compared with the
Snakemake floor: a two-rule Snakefile with the same number of jobs. Ours and the floor alternate,
best of k runs (wall time, as a user waits; CPU time in the notes). The growth exponent is the
log-log slope of CPU seconds (steadier than wall time on a shared machine) against jobs from the
thesis grid to 4x it (1 = linear), given against linear and against the floor's own slope.
Targets: the thesis grid under 30 s and within 1.5x the floor at every size; growth no worse
than linear.

A third Snakefile, the shaped floor, has the thesis grid's job shape and none of its logic: half
its jobs generate and half score, on three wildcards, each with a log, resources, a conda env and a
settings function, the generation jobs with a benchmark, two inputs and the generate command's
placeholders; a summary and a report over every score folder; as many rules as the workflow. Its
ratio to the floor is what Snakemake spends on that shape alone; ours to it, what the workflow's own
code and its other rules add (on the thesis grid, the demo in smoke runs; alternating with the others).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from common import REPO, Row, child_env

BENCHMARK = "dag"
TARGET_SECONDS = 30.0
TARGET_RATIO = 1.5  # ours / the Snakemake floor, every grid
REPEATS = 2  # runs of each side, alternating; the best counts (1 in smoke runs)
# snakemake's CLI in this interpreter, printing its peak RSS (VmHWM, KiB) and CPU seconds (its
# own and its children's, user + system) to stderr at exit.
SHIM = (
    "import atexit, os, re, sys\n"
    "def report():\n"
    "    status = open('/proc/self/status').read()\n"
    "    print('VMHWM_KIB', re.search(r'VmHWM:\\s+(\\d+)', status).group(1), file=sys.stderr)\n"
    "    print('CPU_S', sum(os.times()[:4]), file=sys.stderr)\n"
    "atexit.register(report)\n"
    "from snakemake.cli import main\n"
    "sys.argv = ['snakemake', *sys.argv[1:]]\n"
    "main()\n"
)
FLOOR = """N = int(config["jobs"])


rule all:
    input:
        expand("out/{i}.txt", i=range(N - 1)),


rule make:
    output:
        "out/{i}.txt",
    shell:
        "touch {output}"
"""


# Jobs named "{model}/{arm}/{dataset}" as in the thesis grid (12 models, 16 datasets); the rules
# `other*` only fill the output index up to the workflow's rule count.
SHAPED = """N = int(config["jobs"])
M = N // 2 - 3
DATASETS = [f"dataset{d}" for d in range(16)]
MODELS = [f"model{m}" for m in range(12)]
ARMS = [f"arm{a}" for a in range(M // 192 + 1)]
SCORES = expand("scores/{m}/{a}/{d}", m=MODELS, a=ARMS, d=DATASETS)[:M]


def settings(wildcards):
    return '{"max_new_tokens": 512, "style": "json"}'


rule all:
    input:
        "summary.parquet",
        "report",
        expand("extra/{i}.txt", i=range(N - 2 * M - 5)),


rule source:
    output:
        "sources/{name}.txt",
    shell:
        "touch {output}"


rule generate:
    input:
        model="sources/model.txt",
        tasks="sources/tasks.txt",
    output:
        directory("predictions/{model}/{arm}/{dataset}"),
    log:
        "logs/generate/{model}/{arm}/{dataset}.log",
    benchmark:
        "benchmarks/generate/{model}/{arm}/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(DATASETS),
    conda:
        "env.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=120,
        cpus_per_task=4,
        gpu=1,
    params:
        code="0123456789abcdef",
        settings=settings,
        cells=lambda wildcards: [f"{wildcards.dataset}/en/main"],
    shell:
        "python -m generate --model {input.model:q} --tasks {input.tasks:q} --cells {params.cells:q}"
        " --output {output:q} --model-name {wildcards.model:q} --arm {wildcards.arm:q}"
        " --cache cache --settings {params.settings:q} > {log:q} 2>&1"


rule score:
    input:
        "predictions/{model}/{arm}/{dataset}",
    output:
        directory("scores/{model}/{arm}/{dataset}"),
    log:
        "logs/score/{model}/{arm}/{dataset}.log",
    wildcard_constraints:
        dataset="|".join(DATASETS),
    conda:
        "env.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
        cpus_per_task=2,
    params:
        code="0123456789abcdef",
        settings=settings,
    shell:
        "python -m score --predictions {input:q} --outputs {output:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule summary:
    input:
        SCORES,
    output:
        "summary.parquet",
    shell:
        "touch {output}"


rule report:
    input:
        "summary.parquet",
        SCORES,
    output:
        directory("report"),
    shell:
        "mkdir {output}"


rule extra:
    output:
        "extra/{i}.txt",
    shell:
        "touch {output}"
"""
RULE = re.compile(r"^(?:rule|checkpoint) \w+:", re.MULTILINE)


def workflow_rules() -> int:
    """How many rules and checkpoints the workflow defines (read from its files, not parsed)."""
    files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    return sum(len(RULE.findall(f.read_text(encoding="utf-8"))) for f in files)


SHAPED_ENV = "channels: [conda-forge]\ndependencies: [python=3.11]\n"


def dry_run(args: list[str], workdir: Path) -> dict[str, float]:
    """Wall seconds (interpreter start included, as a user waits), jobs and peak RSS of `snakemake -n`."""
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", SHIM, "-n", "--directory", str(workdir), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=child_env(one_thread=False),
        timeout=900,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"snakemake -n {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    jobs = re.search(r"^total\s+(\d+)\s*$", done.stdout, re.MULTILINE)
    rss = re.search(r"VMHWM_KIB (\d+)", done.stderr)
    cpu = re.search(r"CPU_S ([\d.]+)", done.stderr)
    if jobs is None or rss is None or cpu is None:
        raise RuntimeError(f"snakemake -n {' '.join(args)}: no job total, peak RSS or CPU time in its output")
    return {
        "seconds": seconds,
        "cpu_s": float(cpu.group(1)),
        "jobs": int(jobs.group(1)),
        "peak_rss_mib": int(rss.group(1)) / 1024,
    }


def scaled_config(source: Path, factor: int, out: Path) -> Path:
    """A copy of a config with every model repeated `factor` times under new names."""
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    models = config["models"]
    config["models"] = {
        (name if k == 0 else f"{name}-copy{k}"): model
        for k in range(factor)
        for name, model in models.items()
    }
    out.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return out


def ours(config: Path, workdir: Path) -> dict[str, float]:
    return dry_run(["--snakefile", str(REPO / "Snakefile"), "--configfile", str(config)], workdir)


def floor(jobs: int, workdir: Path) -> dict[str, float]:
    snakefile = workdir / "Floor.smk"
    workdir.mkdir(parents=True, exist_ok=True)
    snakefile.write_text(FLOOR, encoding="utf-8")
    return dry_run(["--snakefile", str(snakefile), "--config", f"jobs={jobs}"], workdir)


def shaped_floor(jobs: int, rules: int, workdir: Path) -> dict[str, float]:
    """The shaped floor with `jobs` jobs and `rules` rules (see the module's docstring)."""
    snakefile = workdir / "Shaped.smk"
    workdir.mkdir(parents=True, exist_ok=True)
    filler = '\n\nrule other{k}:\n    output:\n        "other{k}/{{x}}.json",\n    shell:\n        "true"\n'
    fillers = "".join(filler.format(k=k) for k in range(max(rules - len(RULE.findall(SHAPED)), 0)))
    snakefile.write_text(SHAPED + fillers, encoding="utf-8")
    (workdir / "env.yaml").write_text(SHAPED_ENV, encoding="utf-8")
    return dry_run(["--snakefile", str(snakefile), "--config", f"jobs={jobs}"], workdir)


def slope(points: list[dict[str, float]]) -> float:
    """Least-squares slope of log(CPU seconds) on log(jobs) (CPU time: steadier than wall time)."""
    xs = [math.log(p["jobs"]) for p in points]
    ys = [math.log(p["cpu_s"]) for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def best_of(runs: list[dict[str, float]]) -> dict[str, float]:
    """The fastest run's wall time, and the least CPU time and peak RSS of any run."""
    return {
        "seconds": min(r["seconds"] for r in runs),
        "cpu_s": min(r["cpu_s"] for r in runs),
        "jobs": runs[0]["jobs"],
        "peak_rss_mib": min(r["peak_rss_mib"] for r in runs),
    }


def run(smoke: bool, workdir: Path) -> list[Row]:
    root = workdir / "dag"
    root.mkdir(parents=True, exist_ok=True)
    demo, thesis = REPO / "config" / "config.yaml", REPO / "config" / "thesis.yaml"
    grids = {"demo": demo, "demo x2": scaled_config(demo, 2, root / "demo-x2.yaml")}
    scaling = ["demo", "demo x2"]
    if not smoke:
        grids |= {
            "thesis": thesis,
            "thesis x4": scaled_config(thesis, 4, root / "thesis-x4.yaml"),
        }
        scaling = ["thesis", "thesis x4"]
    repeats = 1 if smoke else REPEATS
    shaped_grid, rules = scaling[0], workflow_rules()
    rows, measured, floors, runs = [], {}, {}, {}
    shaped_runs: list[dict[str, float]] = []
    for i, (name, config) in enumerate(grids.items()):
        ours_runs, floor_runs = runs[name] = [], []
        for k in range(repeats):  # alternating, so that a busy spell hits every side
            ours_runs.append(ours(config, root / f"grid-{i}-{k}"))
            jobs = int(ours_runs[-1]["jobs"])
            floor_runs.append(floor(jobs, root / f"floor-{i}-{k}"))
            if name == shaped_grid:
                shaped_runs.append(shaped_floor(jobs, rules, root / f"shaped-{k}"))
        measured[name], floors[name] = best_of(ours_runs), best_of(floor_runs)
        print(f"  dag {name}: {measured[name]} floor {floors[name]}", flush=True)
        rows.append(
            Row(
                BENCHMARK,
                f"snakemake -n: {name} ({measured[name]['jobs']:,} jobs)",
                measured[name]["seconds"],
                floors[name]["seconds"],
                "s",
                "lower",
                "Snakemake floor (2-rule Snakefile, same job count)",
                f"wall time of the whole command, interpreter start included; CPU "
                f"{measured[name]['cpu_s']:.1f} s vs {floors[name]['cpu_s']:.1f} s "
                f"({measured[name]['cpu_s'] / floors[name]['cpu_s']:.2f}x); target "
                f"{TARGET_RATIO}x the floor",
                tuple(r["seconds"] for r in ours_runs),
                tuple(r["seconds"] for r in floor_runs),
            )
        )
    shaped = best_of(shaped_runs)
    shaped_grid_runs, shaped_floor_runs = runs[shaped_grid]
    shape_notes = (
        f"{shaped['jobs']:,} jobs, {rules} rules: generate and score jobs with the {shaped_grid} grid's "
        "wildcards, logs, benchmarks, resources, conda envs, settings functions and commands, a summary "
        "and a report over every score folder, nothing else (module docstring)"
    )
    rows += [
        Row(
            BENCHMARK,
            f"snakemake -n: {shaped_grid}'s job shape without the workflow's logic",
            shaped["seconds"],
            floors[shaped_grid]["seconds"],
            "s",
            "lower",
            "Snakemake floor (2-rule Snakefile, same job count)",
            f"{shape_notes}; CPU {shaped['cpu_s']:.1f} s vs {floors[shaped_grid]['cpu_s']:.1f} s",
            tuple(r["seconds"] for r in shaped_runs),
            tuple(r["seconds"] for r in shaped_floor_runs),
        ),
        Row(
            BENCHMARK,
            f"snakemake -n: {shaped_grid} vs its job shape without the workflow's logic",
            measured[shaped_grid]["seconds"],
            shaped["seconds"],
            "s",
            "lower",
            "shaped floor (the row above)",
            f"what the workflow's own code and other rules add; CPU {measured[shaped_grid]['cpu_s']:.1f} s "
            f"vs {shaped['cpu_s']:.1f} s",
            tuple(r["seconds"] for r in shaped_grid_runs),
            tuple(r["seconds"] for r in shaped_runs),
        ),
    ]
    if not smoke:
        rows.append(
            Row(
                BENCHMARK,
                "snakemake -n: thesis grid vs target",
                measured["thesis"]["seconds"],
                TARGET_SECONDS,
                "s",
                "lower",
                f"target ({TARGET_SECONDS:.0f} s)",
                f"{measured['thesis']['jobs']:,} jobs",
            )
        )
    points = [measured[name] for name in scaling]
    ours_slope, floor_slope = slope(points), slope([floors[name] for name in scaling])
    jobs = f"jobs {', '.join(format(p['jobs'], ',') for p in points)}"
    rows.append(
        Row(
            BENCHMARK,
            f"growth exponent ({' / '.join(scaling)})",
            ours_slope,
            1.0,
            "log CPU s / log jobs",
            "lower",
            "linear (target)",
            f"{jobs}; the Snakemake floor's exponent over the same job counts {floor_slope:.2f}",
        )
    )
    rows.append(
        Row(
            BENCHMARK,
            f"growth exponent vs the floor's ({' / '.join(scaling)})",
            ours_slope,
            floor_slope,
            "log CPU s / log jobs",
            "lower",
            "Snakemake floor (2-rule Snakefile, same job counts)",
            f"{jobs}; the floor's start-up (about 1.5 CPU s) flattens its slope on small grids",
        )
    )
    largest = scaling[-1]
    rows.append(
        Row(
            BENCHMARK,
            f"peak RSS: snakemake -n, {largest}",
            measured[largest]["peak_rss_mib"],
            floors[largest]["peak_rss_mib"],
            "MiB",
            "lower",
            "Snakemake floor (2-rule Snakefile, same job count)",
            f"VmHWM of the snakemake process, {measured[largest]['jobs']:,} jobs",
        )
    )
    return rows
