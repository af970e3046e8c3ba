"""Benchmark our SLERP merge against mergekit's on the same random model.

    .venv/bin/python benchmarks/bench_merge.py [--smoke]

Builds a random Llama-shaped checkpoint (~640 MB in float32; tiny with --smoke),
a "fine-tuned" copy, then runs each merge in its own subprocess so that each
peak RSS (its VmHWM) is measured separately. Prints and writes
benchmarks/results/merge.md (merge-smoke.md with --smoke): ratios first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
T = 0.5
FULL = dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=8, vocab_size=32000, repeats=2)
SMOKE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, vocab_size=1000, repeats=1)


def build_inputs(root: Path, size: dict[str, int]) -> tuple[Path, Path, int]:
    """A random base (sharded) and a perturbed copy; returns their paths and the parameter count."""
    import torch
    from huggingface_hub import save_torch_state_dict
    from transformers import AutoModelForCausalLM, LlamaConfig

    from pipeline.models.families import get_family
    from pipeline.models.tiny import train_tokenizer

    config = LlamaConfig(
        hidden_size=size["hidden_size"],
        intermediate_size=size["intermediate_size"],
        num_hidden_layers=size["num_hidden_layers"],
        num_attention_heads=16,
        num_key_value_heads=8,
        vocab_size=size["vocab_size"],
        tie_word_embeddings=False,
        dtype="float32",
        architectures=["LlamaForCausalLM"],
    )
    with torch.device("meta"):
        shapes = {n: t.shape for n, t in AutoModelForCausalLM.from_config(config).state_dict().items()}
    tokenizer = train_tokenizer(["a merged model benchmark"] * 10, get_family("llama"), 300)
    g = torch.Generator().manual_seed(0)
    base = {n: 0.02 * torch.randn(s, generator=g) for n, s in shapes.items()}
    paths = []
    for name, tensors in (("base", base), ("finetuned", None)):
        path = root / name
        if tensors is None:
            tensors = {n: t + 0.002 * torch.randn(t.shape, generator=g) for n, t in base.items()}
        path.mkdir()
        save_torch_state_dict(tensors, path, max_shard_size="200MB")
        config.save_pretrained(path)
        tokenizer.save_pretrained(path)
        paths.append(path)
    return paths[0], paths[1], sum(t.numel() for t in base.values())


def child(which: str, base: str, other: str, out: str) -> None:
    """Run one merge in this process; print seconds and peak RSS as JSON."""
    import psutil

    if which == "ours":
        import huggingface_hub.serialization  # noqa: F401  (imported lazily by the merge: keep it out of the timing)
        import safetensors.torch  # noqa: F401
        import torch  # noqa: F401

        from pipeline.merge import merge_models
    else:
        from mergekit.config import MergeConfiguration
        from mergekit.merge import run_merge
        from mergekit.options import MergeOptions
    baseline = psutil.Process().memory_info().rss
    start = time.perf_counter()
    if which == "ours":
        merge_models(
            base, [other], out, {"method": "slerp", "t": T, "dtype": "float32", "max_shard_size": "2GB"}
        )
    else:
        config = {
            "merge_method": "slerp",
            "base_model": base,
            "models": [{"model": base}, {"model": other}],
            "parameters": {"t": T},
            "dtype": "float32",
        }
        options = MergeOptions(quiet=True, out_shard_size=500_000_000)  # parameters: 2 GB in float32
        run_merge(MergeConfiguration.model_validate(config), out, options)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss": peak_rss(), "baseline_rss": baseline}))


def peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM, which, unlike getrusage's ru_maxrss, does not
    inherit the high-water mark of the parent whose memory the child was forked from."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (the benchmark measures memory on Linux only)")


def run_child(which: str, base: Path, other: Path, out: Path) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", which, str(base), str(other), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{which} merge failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def max_difference(a: Path, b: Path) -> float:
    from pipeline.merge.checkpoint import Checkpoint

    ours, theirs = Checkpoint.open(a), Checkpoint.open(b)
    if set(ours.tensors) != set(theirs.tensors):
        raise ValueError(f"{a} and {b} hold different tensors")
    return max(float((ours.load(n) - theirs.load(n)).abs().max()) for n in ours.tensors)


def machine() -> str:
    from importlib.metadata import version

    import psutil
    import torch

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} logical CPUs "
        f"(torch threads {torch.get_num_threads()}), {psutil.virtual_memory().total / 2**30:.1f} GiB RAM; "
        f"Python {platform.python_version()}, torch {torch.__version__}, mergekit {version('mergekit')}, "
        f"safetensors {version('safetensors')}"
    )


def report(runs: dict[str, list[dict[str, float]]], n_params: int, difference: float, smoke: bool) -> str:
    best = {k: min(r["seconds"] for r in v) for k, v in runs.items()}
    peak = {k: max(r["peak_rss"] for r in v) for k, v in runs.items()}
    above = {k: max(r["peak_rss"] - r["baseline_rss"] for r in v) for k, v in runs.items()}
    mb = 2**20
    times = {k: ", ".join(f"{r['seconds']:.2f}" for r in v) for k, v in runs.items()}
    rows = "\n".join(
        f"| {k} | {best[k]:.2f} | {times[k]} | {peak[k] / mb:.0f} | "
        f"{runs[k][0]['baseline_rss'] / mb:.0f} | {above[k] / mb:.0f} |"
        for k in ("ours", "mergekit")
    )
    return f"""# Merge benchmark: SLERP, ours vs mergekit{" (smoke)" if smoke else ""}

Machine: {machine()}

Model: random Llama-shaped checkpoint, {n_params / 1e6:.1f} M parameters, {n_params * 4 / 1e6:.0f} MB
in float32 (base in 200 MB shards, untied lm_head); merged with a perturbed copy, t = {T}, float32 out.
Each merge runs in its own process; times exclude imports; peak RSS is the process's VmHWM.

## Ratios (ours / mergekit)

| time (best of {len(runs["ours"])}) | peak RSS | peak RSS above post-import baseline |
|---|---|---|
| {best["ours"] / best["mergekit"]:.2f} | {peak["ours"] / peak["mergekit"]:.2f} \
| {above["ours"] / above["mergekit"]:.2f} |

Largest absolute difference between the two merged models: {difference:.2e}

## Absolute numbers

| merge | best time (s) | all times (s) | peak RSS (MiB) | RSS after imports (MiB) | peak above it (MiB) |
|---|---|---|---|---|---|
{rows}
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny model: checks the benchmark runs")
    parser.add_argument("--child", nargs=4, metavar=("WHICH", "BASE", "OTHER", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    size = SMOKE if args.smoke else FULL
    with tempfile.TemporaryDirectory(prefix="bench-merge-") as tmp:
        root = Path(tmp)
        print("building inputs...", flush=True)
        base, other, n_params = build_inputs(root, size)
        runs: dict[str, list[dict[str, float]]] = {"ours": [], "mergekit": []}
        for repeat in range(size["repeats"]):
            for which in ("mergekit", "ours"):
                out = root / f"{which}-{repeat}"
                runs[which].append(run_child(which, base, other, out))
                print(which, runs[which][-1], flush=True)
        difference = max_difference(root / "ours-0", root / "mergekit-0")
    text = report(runs, n_params, difference, args.smoke)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("merge-smoke.md" if args.smoke else "merge.md")).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
