"""Continual pretraining: full-parameter causal-LM training on token blocks, DeepSpeed ZeRO optional.

Launch (see pipeline.train.launch for multi-node)::

    torchrun --standalone --nproc_per_node N -m -- pipeline.train.cpt --model MODEL_DIR \\
        --blocks BLOCKS.parquet --output OUT_DIR --state-dir STATE_DIR --log LOG.parquet --settings JSON

("-m --": without it torchrun takes --log for an abbreviation of its own options.)

Resumable state lives in STATE_DIR (see pipeline.train.checkpoints); OUT_DIR and LOG appear,
complete, only when training succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Literal

import torch

from pipeline.models.record import MODEL_RECORD
from pipeline.progress import setup_job_logging
from pipeline.provenance import RunRecorder
from pipeline.train.blocks import collate_blocks, load_blocks, plan_blocks
from pipeline.train.callbacks import (
    CheckpointExport,
    NonFiniteGuard,
    ProgressLog,
    ThroughputLog,
    fault_injection,
)
from pipeline.train.checkpoints import (
    checkpoint_step,
    export_model,
    newest_complete_checkpoint,
    prepare_state_dir,
    publish,
    resume_message,
)
from pipeline.train.cpt_settings import CptSettings
from pipeline.train.deepspeed import (
    gradient_accumulation_steps,
    init_deepspeed_process,
    load_deepspeed_config,
    use_safe_checkpoint_loading,
    world_size,
)
from pipeline.train.training_log import write_training_log

# Files of the base model directory that are not Hugging Face files but travel with the model.
CARRIED_FILES = (MODEL_RECORD,)


def use_bf16(precision: str) -> bool:
    """bf16 on a GPU that supports it, fp32 otherwise, unless the settings force one."""
    if precision == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return precision == "bf16"


def fingerprint(
    model: Path, blocks: Path, settings: CptSettings, world: int, ds_config: Any
) -> dict[str, Any]:
    """What a resumable state must match: same inputs, settings, world size and DeepSpeed config."""
    stat = blocks.stat()
    return {
        "model": str(model.resolve()),
        "blocks": [str(blocks.resolve()), stat.st_size, stat.st_mtime_ns],
        "settings": settings.to_dict(),
        "world_size": world,
        "deepspeed": ds_config,
    }


def training_arguments(
    settings: CptSettings, state_dir: Path, total_steps: int, accumulation: int, ds_config: Any
) -> Any:
    """The Trainer's arguments: log every step, evaluate before the final checkpoint, resumable saves."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(state_dir),
        per_device_train_batch_size=settings.per_device_batch_size,
        per_device_eval_batch_size=settings.per_device_batch_size,
        gradient_accumulation_steps=accumulation,
        max_steps=total_steps,
        learning_rate=settings.lr,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_ratio
        if settings.warmup_ratio is not None
        else settings.warmup_steps or 0,
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        bf16=use_bf16(settings.precision),
        activation_checkpointing=settings.gradient_checkpointing,
        logging_strategy="steps",
        logging_steps=1,
        logging_nan_inf_filter=False,
        include_num_input_tokens_seen="all",
        # The last step always evaluates, before its checkpoint is saved: that checkpoint holds the
        # final model and the whole log, so a run killed after it publishes without training again.
        eval_strategy="steps",
        eval_steps=settings.eval_steps or total_steps,
        save_strategy="steps",
        save_steps=settings.checkpoint_steps(total_steps),
        save_total_limit=settings.save_total_limit,
        seed=settings.seed,
        data_seed=settings.seed,
        use_cpu=not torch.cuda.is_available(),
        dataloader_drop_last=True,
        dataloader_pin_memory=torch.cuda.is_available(),
        remove_unused_columns=False,
        report_to=settings.report_to or "none",
        disable_tqdm=True,
        deepspeed=ds_config,
    )


def publish_run(
    state_dir: Path,
    final_checkpoint: Path,
    kept: set[int] | Literal["all"],
    carried: list[Path],
    output_dir: Path,
    log_path: Path,
    manifest: dict[str, Any],
    recorder: RunRecorder,
) -> None:
    """Rank 0, after the last checkpoint: write the log, then move OUT_DIR into place at once.

    The final model and every kept checkpoint get their card and run record (`pipeline.provenance`).
    """
    export_model(final_checkpoint, state_dir / "final", carried)
    exported = sorted(int(p.name.removeprefix("step-")) for p in (state_dir / "exports").glob("step-*"))
    steps = exported if kept == "all" else sorted(kept)
    missing = sorted(set(steps) - set(exported))
    if missing:
        raise RuntimeError(f"{state_dir}: kept checkpoint(s) {missing} were never exported")
    run = {k: manifest[k] for k in ("steps", "train_tokens", "world_size", "resumed_from")}
    recorder.write(state_dir / "final", output_dir, **run)
    for step in steps:
        recorder.write(
            state_dir / "exports" / f"step-{step}",
            output_dir / "checkpoints" / f"step-{step}",
            **run,
            step=step,
        )
    parts = {"": state_dir / "final"}
    parts |= {f"checkpoints/step-{s}": state_dir / "exports" / f"step-{s}" for s in steps}
    if (state_dir / "tensorboard").is_dir():
        parts["tensorboard"] = state_dir / "tensorboard"
    trainer_state = json.loads((final_checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    write_training_log(trainer_state["log_history"], log_path)
    publish(output_dir, parts, manifest)


def train(
    model_dir: Path,
    blocks_path: Path,
    output_dir: Path,
    state_dir: Path,
    log_path: Path,
    settings: CptSettings,
    deepspeed_config: Path | None = None,
) -> None:
    """Train (resuming from STATE_DIR if it holds this run's checkpoints), then publish model and log."""
    from accelerate import PartialState
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, Trainer

    recorder = RunRecorder("cpt", settings.to_dict(), {"blocks": blocks_path}, model_dir)
    if not (model_dir / "config.json").is_file():
        raise ValueError(f"{model_dir}: not a Hugging Face model directory (no config.json)")
    if deepspeed_config is not None and settings.zero_stage is None:
        raise ValueError(f"--deepspeed-config {deepspeed_config} given but settings.zero_stage is null")
    ds_config = None
    if settings.zero_stage is not None:
        ds_config = load_deepspeed_config(settings.zero_stage, deepspeed_config)
        init_deepspeed_process(on_gpu=torch.cuda.is_available())
        use_safe_checkpoint_loading()
    world = world_size()
    accumulation = gradient_accumulation_steps(
        settings.effective_batch_size, settings.per_device_batch_size, world
    )
    plan = plan_blocks(blocks_path, settings.token_budget, settings.max_eval_blocks, settings.seed)
    if len(plan.eval_rows) < settings.per_device_batch_size * world:
        raise ValueError(
            f"{blocks_path}: {len(plan.eval_rows)} validation blocks cannot fill one eval batch of "
            f"{settings.per_device_batch_size} x {world} ranks"
        )
    total_steps = settings.total_steps(len(plan.train_rows))
    kept = settings.kept_steps(total_steps)
    if "tensorboard" in settings.report_to:
        os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(state_dir / "tensorboard"))

    args = training_arguments(settings, state_dir, total_steps, accumulation, ds_config)
    main = args.process_index == 0
    vocab_size = AutoConfig.from_pretrained(model_dir).get_text_config().vocab_size
    with args.main_process_first(local=False, desc="preparing the state directory and token blocks"):
        if main:
            prepare_state_dir(state_dir, fingerprint(model_dir, blocks_path, settings, world, ds_config))
        train_set, eval_set = load_blocks(
            blocks_path, plan, state_dir / "datasets", vocab_size if main else None
        )
    resume = newest_complete_checkpoint(state_dir)
    if main:
        print(resume_message(state_dir, resume, total_steps), file=sys.stderr, flush=True)
    carried = [model_dir / name for name in CARRIED_FILES if (model_dir / name).is_file()]

    if resume is None or checkpoint_step(resume) < total_steps:
        trainer = Trainer(
            model=AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32),
            args=args,
            train_dataset=train_set,
            eval_dataset=eval_set,
            data_collator=collate_blocks,
            processing_class=AutoTokenizer.from_pretrained(model_dir),
            callbacks=[
                NonFiniteGuard(),
                ThroughputLog(),
                ProgressLog(),
                CheckpointExport(kept, state_dir / "exports", carried),
                *fault_injection(),
            ],
        )
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if main:
        manifest = {
            "base_model": str(model_dir),
            "blocks": str(blocks_path),
            "settings": settings.to_dict(),
            "world_size": world,
            "gradient_accumulation_steps": accumulation,
            "steps": total_steps,
            "block_size": plan.block_size,
            "train_blocks": len(plan.train_rows),
            "train_tokens": plan.train_tokens,
            "corpus_train_blocks": plan.corpus_train_blocks,
            "validation_blocks": len(plan.eval_rows),
            "bf16": args.bf16,
            # DeepSpeed's resolved config may hold Infinity, which JSON lacks: keep it as a string.
            "deepspeed": json.loads(json.dumps(args.hf_deepspeed_config.config), parse_constant=str)
            if ds_config
            else None,
            "resumed_from": resume.name if resume else None,
        }
        publish_run(
            state_dir,
            state_dir / f"checkpoint-{total_steps}",
            kept,
            carried,
            output_dir,
            log_path,
            manifest,
            recorder,
        )
        if not settings.keep_state:
            shutil.rmtree(state_dir, ignore_errors=True)  # best effort: a rank may still map the data cache
    PartialState().destroy_process_group()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="base model (Hugging Face checkpoint dir)")
    parser.add_argument("--blocks", type=Path, required=True, help="token blocks parquet")
    parser.add_argument("--output", type=Path, required=True, help="final model dir (written at the end)")
    parser.add_argument(
        "--state-dir", type=Path, required=True, help="resumable checkpoints (outside outputs)"
    )
    parser.add_argument("--log", type=Path, required=True, help="training log parquet")
    parser.add_argument("--settings", default="{}", help="JSON object of settings (docs/training.md)")
    parser.add_argument(
        "--deepspeed-config",
        type=Path,
        help="ZeRO config template (default config/deepspeed/zero<stage>.json)",
    )
    args = parser.parse_args(argv)
    setup_job_logging()
    train(
        args.model,
        args.blocks,
        args.output,
        args.state_dir,
        args.log,
        CptSettings.from_json(args.settings),
        args.deepspeed_config,
    )


if __name__ == "__main__":
    main()
