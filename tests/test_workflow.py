"""The workflow as a DAG: config validation, dry runs, lint."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def snakemake(
    *args: str, cwd: Path = REPO, check: bool = True, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def job_counts(dry_run_output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    counts = {}
    table = dry_run_output.split("Job stats:")[-1]
    for line in table.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def write_config(tmp_path: Path, edit) -> Path:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    edit(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_demo_dag_builds_every_stage(tmp_path):
    out = snakemake(
        "-n", "--directory", str(tmp_path), "--configfile", str(REPO / "config/config.yaml")
    ).stdout
    counts = job_counts(out)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    n_models, n_arms = len(config["models"]), len(config["arms"])
    assert counts["base_model"] == n_models
    assert counts["generate"] == n_models * n_arms
    assert counts["score"] == n_models * n_arms
    for rule in ("demo_data", "extract_tasks", "clean_source", "build_corpus", "corpus_blocks", "cpt", "sft"):
        assert counts.get(rule, 0) >= 1, rule
    assert counts["merge"] == n_models and counts["rpo"] == n_models and counts["summary"] == 1


def test_unknown_config_key_stops_before_any_job(tmp_path):
    config = write_config(tmp_path, lambda c: c["generation"].update(beam_width=4))
    result = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(config), check=False)
    assert result.returncode != 0
    assert "beam_width" in result.stdout + result.stderr


def test_bad_config_value_names_the_key(tmp_path):
    config = write_config(tmp_path, lambda c: c["models"]["llama-base"].update(family="mistral"))
    result = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(config), check=False)
    assert result.returncode != 0
    assert "mistral" in result.stdout + result.stderr


def test_lint_is_clean():
    result = snakemake("--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    shutil.which("snakefmt") is None and not (Path(sys.executable).parent / "snakefmt").exists(),
    reason="snakefmt not installed",
)
def test_snakefmt_is_clean():
    snakefmt = str(Path(sys.executable).parent / "snakefmt")
    files = ["Snakefile", *map(str, sorted((REPO / "workflow" / "rules").glob("*.smk")))]
    result = subprocess.run([snakefmt, "--check", *files], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_thesis_grid_dry_runs_with_the_slurm_profile(tmp_path):
    """The full grid's DAG builds under the SLURM profile, with GPU and multi-node requests visible."""
    out = snakemake(
        "-n",
        "--profile",
        str(REPO / "slurm"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(REPO / "config/thesis.yaml"),
        cwd=REPO,
    ).stdout
    counts = job_counts(out)
    print("jobs per rule:", counts)
    assert counts["base_model"] == 12 and counts["extract_tasks"] == 24
    assert counts["generate"] == counts["score"] == 12 * 17
    jobs = out.split("\n\n")
    small_cpt = next(j for j in jobs if "rule cpt:" in j and "model=qwen3-1.7b," in j)
    large_cpt = next(j for j in jobs if "rule cpt:" in j and "model=qwen3-8b," in j)
    generate = next(j for j in jobs if "rule generate:" in j)
    assert "gpu=4" in small_cpt and "nodes=1" in small_cpt
    assert "nodes=2" in large_cpt and "mpi=srun" in large_cpt and "--gpus-per-node=4" in large_cpt
    assert "--nodes 2 --procs-per-node 4 --cluster slurm" in large_cpt
    assert "gpu=1" in generate


def test_python_is_ruff_clean():
    ruff = str(Path(sys.executable).parent / "ruff")
    for args in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [ruff, *args, "src", "tests", "benchmarks"], cwd=REPO, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_presets_layer_over_the_thesis_grid(tmp_path):
    """A preset config changes exactly the settings it names, and its arms join the grid."""
    result = snakemake(
        "-n",
        "-p",
        "--directory",
        str(tmp_path),
        "--configfile",
        str(REPO / "config/thesis.yaml"),
        str(REPO / "config/presets/cpt-preferred-medllm.yaml"),
        str(REPO / "config/presets/rpo-ablations.yaml"),
    )
    out = result.stdout + result.stderr
    cpt = next(
        line
        for line in out.splitlines()
        if "pipeline.train.cpt --model results/models/qwen3-8b/base " in line
    )
    assert '"lr_scheduler":"cosine"' in cpt and '"epochs":2' in cpt and '"warmup_ratio":0.03' in cpt
    assert '"effective_batch_size":1152' in cpt  # kept from the thesis grid
    assert "results/models/qwen3-8b/cpt-dpo" in out and "results/models/qwen3-8b/rpo-only" in out
