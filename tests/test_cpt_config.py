"""CPT building blocks without training: DeepSpeed configs, settings, blocks plan, state dir, log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from pipeline.train.blocks import budget_blocks, plan_blocks, seeded_subset
from pipeline.train.callbacks import NonFiniteGuard, NonFiniteLossError
from pipeline.train.checkpoints import (
    COMPLETE_MARKER,
    export_model,
    mark_complete,
    newest_complete_checkpoint,
    prepare_state_dir,
)
from pipeline.train.cpt_settings import CptSettings
from pipeline.train.deepspeed import default_config_path, gradient_accumulation_steps, load_deepspeed_config
from pipeline.train.training_log import SCHEMA, write_training_log


@pytest.mark.parametrize("stage", [2, 3])
def test_deepspeed_templates_parse_and_leave_batch_sizes_to_the_trainer(stage):
    config = load_deepspeed_config(stage)
    assert json.loads(default_config_path(stage).read_text()) == config
    assert config["zero_optimization"]["stage"] == stage
    for key in ("train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps"):
        assert config[key] == "auto"
    assert config["bf16"]["enabled"] == "auto"
    assert "optimizer" not in config and "scheduler" not in config  # the Trainer's AdamW + schedule


def test_deepspeed_config_errors_name_the_file(tmp_path):
    wrong_stage = tmp_path / "z.json"
    wrong_stage.write_text(json.dumps({"zero_optimization": {"stage": 2}}))
    with pytest.raises(ValueError, match=r"z\.json.*stage is 2.*zero_stage 3"):
        load_deepspeed_config(3, wrong_stage)
    no_gather = tmp_path / "z3.json"
    no_gather.write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    with pytest.raises(ValueError, match=r"z3\.json.*stage3_gather_16bit_weights_on_model_save"):
        load_deepspeed_config(3, no_gather)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match=r"broken\.json: invalid JSON"):
        load_deepspeed_config(2, broken)
    with pytest.raises(ValueError, match="zero_stage must be 2, 3 or null"):
        load_deepspeed_config(1)


@pytest.mark.parametrize(
    ("effective", "per_device", "world", "expected"),
    [(8, 2, 2, 2), (8, 4, 1, 2), (256, 4, 8, 8), (32, 4, 8, 1)],  # (256, 4, 8): 2 nodes x 4 GPUs
)
def test_gradient_accumulation_is_effective_batch_over_per_device_times_world(
    effective, per_device, world, expected
):
    assert gradient_accumulation_steps(effective, per_device, world) == expected
    assert expected * per_device * world == effective


def test_gradient_accumulation_rejects_indivisible_batches():
    with pytest.raises(ValueError, match=r"effective_batch_size 30 is not divisible.*4 x world size 2 = 8"):
        gradient_accumulation_steps(30, 4, 2)
    with pytest.raises(ValueError, match="must be positive"):
        gradient_accumulation_steps(8, 0, 2)


def test_settings_defaults_and_derived_steps():
    settings = CptSettings.from_json("{}")
    assert settings.zero_stage == 3 and settings.precision == "auto" and settings.report_to == []
    assert settings.total_steps(100) == 100 // 32  # one epoch of 32-sequence steps
    assert CptSettings(epochs=2.5, effective_batch_size=8).total_steps(80) == 25
    assert CptSettings(max_steps=7).total_steps(1000) == 7
    assert CptSettings().checkpoint_steps(95) == 10  # about ten checkpoints per run
    assert CptSettings(save_steps=3).checkpoint_steps(95) == 3
    assert CptSettings(keep_checkpoints=[2, 4]).kept_steps(10) == {2, 4}
    assert CptSettings(keep_checkpoints="all").kept_steps(10) == "all"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"bogus": 1}, r"unknown key\(s\) \['bogus'\]"),
        ({"zero_stage": 1}, "settings.zero_stage"),
        ({"max_steps": 5, "epochs": 1}, "settings.max_steps.*exclusive"),
        ({"warmup_ratio": 0.1, "warmup_steps": 3}, "settings.warmup_ratio.*exclusive"),
        ({"warmup_ratio": 1.5}, r"settings.warmup_ratio.*\[0, 1\)"),
        ({"lr_scheduler": "zigzag"}, "settings.lr_scheduler"),
        ({"precision": "fp16"}, "settings.precision"),
        ({"keep_checkpoints": "some"}, "settings.keep_checkpoints"),
        ({"keep_checkpoints": [0]}, "settings.keep_checkpoints"),
        ({"per_device_batch_size": 2.5}, "settings.per_device_batch_size"),
        ({"token_budget": -1}, "settings.token_budget"),
        ({"report_to": "wandb"}, "settings.report_to"),
    ],
)
def test_bad_settings_raise_naming_the_key(settings, message):
    with pytest.raises(ValueError, match=message):
        CptSettings.from_json(json.dumps(settings))


def test_settings_check_steps_against_the_run():
    with pytest.raises(ValueError, match=r"keep_checkpoints: step\(s\) \[12\] are beyond the run's 10 steps"):
        CptSettings(keep_checkpoints=[5, 12]).kept_steps(10)
    with pytest.raises(ValueError, match="cannot fill one step of effective_batch_size 32"):
        CptSettings().total_steps(20)


def test_token_budget_is_a_fraction_or_a_token_count():
    path = Path("blocks.parquet")
    assert budget_blocks(None, 100, 16, path) == 100
    assert budget_blocks(0.25, 100, 16, path) == 25
    assert budget_blocks(1, 100, 16, path) == 100
    assert budget_blocks(800, 100, 16, path) == 50
    assert budget_blocks(8e2, 100, 16, path) == 50
    with pytest.raises(ValueError, match=r"blocks\.parquet: token_budget 1601 exceeds the 1600 train tokens"):
        budget_blocks(1601, 100, 16, path)
    with pytest.raises(ValueError, match="selects no block"):
        budget_blocks(0.001, 100, 16, path)
    with pytest.raises(ValueError, match="whole number"):
        budget_blocks(20.5, 100, 16, path)


def test_budget_subsets_are_seeded_nested_and_in_corpus_order():
    rows = np.arange(0, 200, 2)
    small, large = seeded_subset(rows, 10, seed=3), seeded_subset(rows, 40, seed=3)
    assert np.all(np.diff(large) > 0) and set(small) <= set(large) and set(large) <= set(rows)
    assert np.array_equal(small, seeded_subset(rows, 10, seed=3))
    assert not np.array_equal(small, seeded_subset(rows, 10, seed=4))


def write_blocks(path: Path, splits: list[str], block_size: int = 4, **columns) -> Path:
    n = len(splits)
    table = {
        "input_ids": pa.array([[i % 7] * block_size for i in range(n)], pa.list_(pa.int32())),
        "source": ["s"] * n,
        "split": splits,
    }
    pq.write_table(pa.table({**table, **columns}), path)
    return path


def test_plan_blocks_splits_and_applies_the_budget(tmp_path):
    path = write_blocks(tmp_path / "b.parquet", ["train", "validation"] * 10)
    plan = plan_blocks(path, token_budget=0.5, max_eval_blocks=3, seed=0)
    assert plan.block_size == 4 and plan.corpus_train_blocks == 10
    assert len(plan.train_rows) == 5 and all(r % 2 == 0 for r in plan.train_rows)
    assert len(plan.eval_rows) == 3 and all(r % 2 == 1 for r in plan.eval_rows)
    assert plan.train_tokens == 20


def test_plan_blocks_rejects_bad_files(tmp_path):
    with pytest.raises(ValueError, match=r"missing\.parquet: token blocks file not found"):
        plan_blocks(tmp_path / "missing.parquet", None, None, 0)
    bad_split = write_blocks(tmp_path / "s.parquet", ["train", "test"])
    with pytest.raises(ValueError, match=r"s\.parquet: unknown split value\(s\) \['test'\]"):
        plan_blocks(bad_split, None, None, 0)
    no_eval = write_blocks(tmp_path / "t.parquet", ["train", "train"])
    with pytest.raises(ValueError, match=r"t\.parquet: needs train and validation blocks, has 2 and 0"):
        plan_blocks(no_eval, None, None, 0)
    pq.write_table(pa.table({"input_ids": [[1, 2]]}), tmp_path / "c.parquet")
    with pytest.raises(ValueError, match=r"c\.parquet: missing column\(s\) \['split'\]"):
        plan_blocks(tmp_path / "c.parquet", None, None, 0)


def test_newest_complete_checkpoint_ignores_partial_ones(tmp_path):
    for step in (2, 4, 6):
        (tmp_path / f"checkpoint-{step}").mkdir()
    mark_complete(tmp_path / "checkpoint-2")
    mark_complete(tmp_path / "checkpoint-4")
    assert newest_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-4"
    assert newest_complete_checkpoint(tmp_path / "absent") is None


def test_prepare_state_dir_drops_partial_checkpoints_and_other_runs(tmp_path):
    state = tmp_path / "state"
    prepare_state_dir(state, {"run": 1})
    (state / "checkpoint-2").mkdir()
    mark_complete(state / "checkpoint-2")
    (state / "checkpoint-4").mkdir()  # killed while saving
    (state / "final").mkdir()
    prepare_state_dir(state, {"run": 1})
    assert sorted(p.name for p in state.iterdir()) == ["checkpoint-2", "run.json"]
    prepare_state_dir(state, {"run": 2})  # other settings: nothing of run 1 may be resumed
    assert sorted(p.name for p in state.iterdir()) == ["run.json"]


def test_export_model_keeps_model_files_only(tmp_path):
    checkpoint = tmp_path / "checkpoint-3"
    (checkpoint / "global_step3").mkdir(parents=True)
    model_files = ["config.json", "model.safetensors", "tokenizer.json", "generation_config.json"]
    state_files = ["optimizer.pt", "scheduler.pt", "rng_state_0.pth", "trainer_state.json", "latest"]
    for name in [*model_files, *state_files, "training_args.bin", "zero_to_fp32.py", COMPLETE_MARKER]:
        (checkpoint / name).write_text(name)
    extra = tmp_path / "medadapt_model.json"
    extra.write_text("{}")
    export_model(checkpoint, tmp_path / "step-3", [extra])
    assert sorted(p.name for p in (tmp_path / "step-3").iterdir()) == sorted([*model_files, extra.name])


def test_training_log_has_one_row_per_train_or_eval_record(tmp_path):
    history = [
        {"loss": 2.0, "learning_rate": 1e-3, "grad_norm": 1.5, "num_input_tokens_seen": 64, "step": 1},
        {"loss": 1.5, "learning_rate": 5e-4, "grad_norm": 1.2, "num_input_tokens_seen": 128, "step": 2},
        {"eval_loss": 1.7, "step": 2, "elapsed": 3.0},
        {"train_loss": 1.75, "train_runtime": 3.0, "step": 2},
    ]
    path = tmp_path / "log.parquet"
    write_training_log(history, path)
    log = pl.read_parquet(path)
    assert log.columns == list(SCHEMA)
    assert log["step"].to_list() == [1, 2, 2]
    assert log["lr"].to_list()[:2] == [1e-3, 5e-4] and log["tokens_seen"].to_list()[:2] == [64, 128]
    assert log["eval_loss"].to_list() == [None, None, 1.7]


def test_non_finite_guard_names_the_step(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    state = TrainerState(global_step=7)
    guard = NonFiniteGuard()
    guard.on_log(args, state, TrainerControl(), logs={"loss": 1.0, "grad_norm": 2.0})
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(nan\) at step 7"):
        guard.on_log(args, state, TrainerControl(), logs={"loss": float("nan")})
    with pytest.raises(NonFiniteLossError, match=r"non-finite grad_norm \(inf\) at step 7"):
        guard.on_log(args, state, TrainerControl(), logs={"loss": 1.0, "grad_norm": float("inf")})


def test_checkpoint_arms_are_checked_at_cpt_start_when_epochs_set_the_length():
    """The old PARTAGES preset (epochs: 1 over ~954k blocks of 2,048 tokens) ends at step 828,
    before the step-1440 checkpoint its merge needs: the job stops before training."""
    old = CptSettings(
        epochs=1,
        effective_batch_size=1152,
        save_steps=720,
        keep_checkpoints="all",
        required_checkpoints=[720, 1440],
    )
    total = old.total_steps(954_000)
    assert total == 828
    with pytest.raises(
        ValueError, match=r"needs step 1440, which this run \(828 steps\) never exports: the run ends"
    ):
        old.kept_steps(total)
    between = CptSettings(max_steps=30, save_steps=10, keep_checkpoints="all", required_checkpoints=[15])
    with pytest.raises(ValueError, match="exports every 10 steps"):
        between.kept_steps(30)
    listed = CptSettings(max_steps=30, keep_checkpoints=[15], required_checkpoints=[15])
    assert listed.kept_steps(30) == {15}
    assert (
        CptSettings(keep_checkpoints="all", required_checkpoints=[10, 30], save_steps=10).kept_steps(30)
        == "all"
    )
