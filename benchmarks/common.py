"""What every benchmark shares: the result row, the machine line, child processes, inputs.

Each measurement runs in its own child process (``python bench_x.py --child TASK JSON``) so that
its peak RSS is that process's own VmHWM, and imports stay out of the timings: the child imports
first, then times only the stage.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Children never reach the network nor join a stray distributed job.
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
# Measured children compute on one thread: on a shared machine a multi-threaded torch op stalls
# whenever one of its threads is descheduled, which spread repeated runs by 4x. Both sides of a
# comparison get the same setting.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
DISTRIBUTED = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Row:
    """One comparison: our number, the peer's on the same inputs in the same run, and their ratio.

    `ratio` is always ours / peer; `better` says which way is good ("higher" for throughput,
    "lower" for time and memory). `ours_runs` and `peer_runs` hold every repetition.
    """

    benchmark: str
    name: str
    ours: float
    peer: float
    unit: str
    better: str
    peer_name: str
    notes: str = ""
    ours_runs: tuple[float, ...] = ()
    peer_runs: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.better not in ("higher", "lower"):
            raise ValueError(f"{self.name}: better must be 'higher' or 'lower', not {self.better!r}")

    @property
    def ratio(self) -> float:
        return self.ours / self.peer if self.peer else math.nan

    @property
    def verdict(self) -> str:
        """Whether ours is at least as good as the peer (within 10%)."""
        if not math.isfinite(self.ratio):
            return "n/a"
        good = self.ratio >= 0.9 if self.better == "higher" else self.ratio <= 1.1
        return "ok" if good else "behind"


@dataclass
class Measured:
    """Repeated measurements of one implementation: one dict per child run."""

    runs: list[dict[str, Any]] = field(default_factory=list)

    def values(self, key: str) -> tuple[float, ...]:
        return tuple(float(run[key]) for run in self.runs)

    def best(self, key: str, better: str) -> float:
        return max(self.values(key)) if better == "higher" else min(self.values(key))


def machine() -> str:
    """CPU model, cores, RAM, load and the versions that decide the numbers."""
    from importlib.metadata import version

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    packages = ("torch", "transformers", "trl", "peft", "deepspeed", "lm_eval", "mergekit", "snakemake")
    versions = ", ".join(f"{name} {version(name)}" for name in packages)
    return (
        f"{cpu}, {os.cpu_count()} logical cores, {mem_kib / 2**20:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; {versions}; "
        f"load average {os.getloadavg()[0]:.1f} at start (shared machine: compare ratios, not absolutes)"
    )


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM): unlike ru_maxrss it does not inherit a forking parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: the benchmarks measure memory on Linux only")


def child_env(one_thread: bool = True) -> dict[str, str]:
    """This environment, offline, outside any distributed job, the package importable from src/."""
    env = {k: v for k, v in os.environ.items() if k not in DISTRIBUTED}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return {**env, **OFFLINE, **(ONE_THREAD if one_thread else {})}


def run_child(script: str | Path, task: str, spec: dict[str, Any], timeout: int = 900) -> dict[str, Any]:
    """Run `script --child TASK SPEC` in a fresh interpreter; return the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, str(script), "--child", task, json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=child_env(),
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{Path(script).name} --child {task} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_main(tasks: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
    """The `--child TASK SPEC` entry point: run the task, print its result with the peak RSS."""
    _, flag, task, spec = sys.argv
    if flag != "--child" or task not in tasks:
        raise SystemExit(f"usage: {sys.argv[0]} --child {{{','.join(tasks)}}} JSON")
    result = tasks[task](json.loads(spec))
    print(json.dumps({**result, "peak_rss_mib": peak_rss_mib()}))


def interleaved(
    script: str | Path, tasks: dict[str, tuple[str, dict[str, Any]]], repeats: int
) -> dict[str, Measured]:
    """Run each (task, spec) `repeats` times, alternating which goes first, one child per run."""
    measured = {name: Measured() for name in tasks}
    names = list(tasks)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            task, spec = tasks[name]
            measured[name].runs.append(run_child(script, task, spec))
            print(f"  {Path(script).stem} {name} #{repeat + 1}: {measured[name].runs[-1]}", flush=True)
    return measured


def compare(
    benchmark: str,
    name: str,
    ours: Measured,
    peer: Measured,
    unit: str,
    peer_name: str,
    notes: str,
    key: str = "rate",
) -> Row:
    """A throughput row (higher is better) from the best run of each side, best-of-k against noise
    from other jobs; the wall-clock ratio goes into the notes when the runs have one."""
    if all("wall_rate" in run for run in ours.runs + peer.runs) and key == "rate":
        wall = ours.best("wall_rate", "higher") / peer.best("wall_rate", "higher")
        notes = f"{notes}; wall-clock ratio {wall:.2f}"
    return Row(
        benchmark,
        name,
        ours.best(key, "higher"),
        peer.best(key, "higher"),
        unit,
        "higher",
        peer_name,
        notes,
        ours.values(key),
        peer.values(key),
    )


def memory_row(benchmark: str, stage: str, ours: Measured, peer: Measured, peer_name: str) -> Row:
    """Peak RSS of the stage's child processes (the largest over repetitions)."""
    return Row(
        benchmark,
        f"peak RSS: {stage}",
        max(ours.values("peak_rss_mib")),
        max(peer.values("peak_rss_mib")),
        "MiB",
        "lower",
        peer_name,
        "VmHWM of the child process (imports, model and data included)",
        ours.values("peak_rss_mib"),
        peer.values("peak_rss_mib"),
    )


class Timer:
    """Wall and CPU seconds (user + system, every thread of this process) of a `with` block.

    Rates are taken per CPU second: on a shared machine the wall time of a single-threaded child
    depends on what else runs; its CPU time much less.
    """

    def __enter__(self) -> Timer:
        self.start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.start[0]
        self.cpu = time.process_time() - self.start[1]

    def result(self, work: float) -> dict[str, float]:
        """`work` units done in the block: seconds, and the rate per CPU and per wall second."""
        return {
            "wall_s": self.wall,
            "cpu_s": self.cpu,
            "rate": work / self.cpu,
            "wall_rate": work / self.wall,
        }


# Synthetic clinical-looking text in the three languages: tokenizers, corpora, prompts, items.
VOCABULARY = {
    "en": "patient fever chest pain aspirin dose blood pressure admitted history diabetes insulin "
    "tumour biopsy heart rate therapy symptoms nausea headache discharge diagnosis treatment",
    "it": "paziente febbre dolore toracico aspirina dose pressione ricoverato anamnesi diabete insulina "
    "tumore biopsia frequenza terapia sintomi nausea cefalea dimissione diagnosi trattamento",
    "es": "paciente fiebre dolor torácico aspirina dosis presión ingresado antecedentes diabetes insulina "
    "tumor biopsia frecuencia terapia síntomas náuseas cefalea alta diagnóstico tratamiento",
}
WORDS = {language: words.split() for language, words in VOCABULARY.items()}


def sentences(n: int, seed: int, min_words: int = 8, max_words: int = 30) -> list[str]:
    """`n` seeded pseudo-clinical sentences, cycling through the three languages."""
    rng = random.Random(seed)
    languages = list(WORDS)
    out = []
    for i in range(n):
        words = WORDS[languages[i % 3]]
        body = " ".join(rng.choice(words) for _ in range(rng.randint(min_words, max_words)))
        out.append(f"{body.capitalize()} {rng.randint(1, 500)} mg, {rng.randint(60, 180)}/80 mmHg.")
    return out


# Model sizes: the smoke model is the unit tests' tiny one; the full one is large enough that the
# model's arithmetic, not fixed per-call costs, dominates a step on CPU.
ARCH = {
    True: dict(
        hidden_size=64,
        intermediate_size=128,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        max_position_embeddings=512,
        vocab_size=700,
    ),
    False: dict(
        hidden_size=256,
        intermediate_size=688,
        num_layers=4,
        num_heads=4,
        num_kv_heads=2,
        max_position_embeddings=1024,
        vocab_size=4000,
    ),
}


def bench_model(workdir: Path, smoke: bool, variant: str, family: str = "llama") -> Path:
    """A random-weight model of the family's real architecture, built once per workdir."""
    from pipeline.models.tiny import build_tiny_model

    out = workdir / "models" / f"{family}-{variant}-{'smoke' if smoke else 'full'}"
    if not (out / "config.json").is_file():
        texts = [*sentences(400, seed=1), '{"entities": ["fever"]} Question: Which? Answer: A']
        build_tiny_model(texts, family, variant, ARCH[smoke], seed=0, output_dir=out)
    return out
