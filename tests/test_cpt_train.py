"""CPT for real on a tiny model: resume after a kill, NaN stop, 2-rank ZeRO-2/3 through the launcher."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from conftest import TINY_TEXTS
from pipeline.provenance import RUN_RECORD, code_state
from pipeline.train.callbacks import KILL_AT_STEP_ENV

REPO = Path(__file__).resolve().parents[1]
BLOCK_SIZE = 32


@pytest.fixture(scope="module")
def cpt_inputs(tiny_model_factory, tmp_path_factory) -> tuple[Path, Path]:
    """A tiny base model and a blocks parquet of its tokenized demo text (90 train, 10 validation)."""
    from transformers import AutoTokenizer

    model = tiny_model_factory("llama", "base")
    tokenizer = AutoTokenizer.from_pretrained(model)
    ids: list[int] = []
    for text in TINY_TEXTS:
        ids += [*tokenizer(text)["input_ids"], tokenizer.eos_token_id]
    blocks = [ids[i : i + BLOCK_SIZE] for i in range(0, len(ids) - BLOCK_SIZE + 1, BLOCK_SIZE)][:100]
    assert len(blocks) == 100
    path = tmp_path_factory.mktemp("cpt") / "blocks.parquet"
    table = pa.table(
        {
            "input_ids": pa.array(blocks, pa.list_(pa.int32())),
            "source": ["demo"] * len(blocks),
            "split": ["validation" if i % 10 == 0 else "train" for i in range(len(blocks))],
        }
    )
    pq.write_table(table, path)
    return model, path


def cpt_args(inputs: tuple[Path, Path], run: Path, settings: dict) -> list[str]:
    model, blocks = inputs
    return [
        *("--model", str(model), "--blocks", str(blocks), "--output", str(run / "out")),
        *("--state-dir", str(run / "state"), "--log", str(run / "log.parquet")),
        *("--settings", json.dumps(settings)),
    ]


def run_module(argv: list[str], env: dict[str, str] | None = None, timeout: int = 300):
    environment = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=REPO,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def check(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr[-4000:]


# Single process, plain Trainer (fp32 on CPU is deterministic): 8 steps of 8 sequences.
SINGLE = {
    "zero_stage": None,
    "lr": 1e-3,
    "lr_scheduler": "cosine",
    "warmup_steps": 2,
    "effective_batch_size": 8,
    "per_device_batch_size": 4,
    "max_steps": 8,
    "save_steps": 2,
    "keep_checkpoints": [3, 8],
    "keep_state": True,
}


def test_kill_and_resume_equals_an_uninterrupted_run(cpt_inputs, tmp_path):
    check(run_module(["pipeline.train.cpt", *cpt_args(cpt_inputs, tmp_path / "straight", SINGLE)]))

    resumed = tmp_path / "resumed"
    argv = ["pipeline.train.cpt", *cpt_args(cpt_inputs, resumed, SINGLE)]
    killed = run_module(argv, env={KILL_AT_STEP_ENV: "5"})
    assert killed.returncode == -signal.SIGKILL
    assert not (resumed / "out").exists() and not (resumed / "log.parquet").exists()
    assert (resumed / "state" / "checkpoint-4" / "medadapt_complete").is_file()
    check(run_module(argv))  # the same command again

    straight = tmp_path / "straight"
    manifest = json.loads((resumed / "out" / "cpt_run.json").read_text())
    assert manifest["resumed_from"] == "checkpoint-4"
    assert manifest["gradient_accumulation_steps"] == 2 and manifest["steps"] == 8
    for inside, name in (("", "out"), ("checkpoints/step-3", "out@step-3")):
        run = json.loads((resumed / "out" / inside / RUN_RECORD).read_text())
        assert run["method"] == "cpt" and run["name"].endswith(name) and run["code"] == code_state()
        assert run["resumed_from"] == "checkpoint-4" and run["settings"]["max_steps"] == 8
        assert (resumed / "out" / inside / "README.md").read_text().startswith("---\n")
    for inside in ("", "checkpoints/step-3", "checkpoints/step-8"):
        expected = load_file(straight / "out" / inside / "model.safetensors")
        got = load_file(resumed / "out" / inside / "model.safetensors")
        assert expected.keys() == got.keys()
        for name in expected:
            torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-6)
    log, reference = pl.read_parquet(resumed / "log.parquet"), pl.read_parquet(straight / "log.parquet")
    train = log.filter(pl.col("loss").is_not_null())
    assert train["step"].to_list() == list(range(1, 9))
    assert train["tokens_seen"].to_list() == [8 * BLOCK_SIZE * s for s in range(1, 9)]
    assert (train["tokens_per_second"] > 0).all() and train["elapsed"].is_sorted()
    torch.testing.assert_close(
        train["loss"].to_torch(), reference.filter(pl.col("loss").is_not_null())["loss"].to_torch()
    )
    assert log["eval_loss"].drop_nulls().len() == 1

    # Killed after the last checkpoint, before publishing: the rerun publishes it without training.
    (resumed / "log.parquet").unlink()
    shutil.rmtree(resumed / "out")
    republished = run_module(argv)
    check(republished)
    assert "'loss'" not in republished.stdout + republished.stderr
    assert pl.read_parquet(resumed / "log.parquet").equals(log)
    assert load_file(resumed / "out" / "model.safetensors").keys() == expected.keys()


def test_non_finite_loss_stops_and_publishes_nothing(cpt_inputs, tmp_path):
    settings = {**SINGLE, "lr": 1e30, "warmup_steps": 0, "save_steps": 1, "keep_checkpoints": "all"}
    result = run_module(["pipeline.train.cpt", *cpt_args(cpt_inputs, tmp_path, settings)])
    assert result.returncode != 0
    # lr=1e30 blows the weights up at step 1; step 2's gradient norm (or loss) is NaN.
    assert re.search(
        r"NonFiniteLossError: non-finite (loss|grad_norm) \((nan|inf)\) at step 2", result.stderr
    )
    assert not (tmp_path / "out").exists() and not (tmp_path / "log.parquet").exists()
    assert not (tmp_path / "state" / "checkpoint-2").exists()  # the failing step saved nothing


@pytest.mark.e2e
@pytest.mark.parametrize("stage", [2, 3])
def test_two_rank_zero_training_through_the_launcher(cpt_inputs, tmp_path, stage):
    settings = {
        "zero_stage": stage,
        "lr": 1e-3,
        "effective_batch_size": 8,
        "per_device_batch_size": 2,
        "max_steps": 8,
        "save_steps": 4,
        "keep_checkpoints": [4],
    }
    launch = ["pipeline.train.launch", "--nodes", "1", "--procs-per-node", "2", "--cluster", "local", "--"]
    check(run_module([*launch, "pipeline.train.cpt", *cpt_args(cpt_inputs, tmp_path, settings)], timeout=400))

    log = pl.read_parquet(tmp_path / "log.parquet")
    losses = log["loss"].drop_nulls().to_list()
    assert len(losses) == 8 and sum(losses[:2]) / 2 > sum(losses[-2:]) / 2 + 0.1
    assert log["tokens_seen"].drop_nulls().max() == 8 * 8 * BLOCK_SIZE

    out = tmp_path / "out"
    manifest = json.loads((out / "cpt_run.json").read_text())
    assert manifest["world_size"] == 2 and manifest["gradient_accumulation_steps"] == 2
    ds = manifest["deepspeed"]
    assert ds["zero_optimization"]["stage"] == stage
    assert (
        ds["train_batch_size"],
        ds["train_micro_batch_size_per_gpu"],
        ds["gradient_accumulation_steps"],
    ) == (
        8,
        2,
        2,
    )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for model_dir in (out, out / "checkpoints" / "step-4"):
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        batch = tokenizer("The patient was given aspirin", return_tensors="pt")
        with torch.no_grad():
            loss = model(**batch, labels=batch["input_ids"]).loss
        assert torch.isfinite(loss)
    assert not (tmp_path / "state").exists()


@pytest.mark.e2e
def test_one_process_with_deepspeed_from_the_environment(cpt_inputs, tmp_path):
    settings = {"zero_stage": 2, "effective_batch_size": 8, "per_device_batch_size": 4, "max_steps": 2}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    env = dict(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    check(run_module(["pipeline.train.cpt", *cpt_args(cpt_inputs, tmp_path, settings)], env=env))
    manifest = json.loads((tmp_path / "out" / "cpt_run.json").read_text())
    assert manifest["world_size"] == 1 and manifest["deepspeed"]["gradient_accumulation_steps"] == 2
    assert pl.read_parquet(tmp_path / "log.parquet")["loss"].drop_nulls().len() == 2
