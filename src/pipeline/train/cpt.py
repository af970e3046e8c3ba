"""Continual pretraining: full-parameter causal-LM training on token blocks, DeepSpeed ZeRO optional.

Launch (see pipeline.train.launch for multi-node)::

    torchrun --nproc_per_node N -m pipeline.train.cpt --model MODEL_DIR --blocks BLOCKS.parquet \\
        --output OUT_DIR --state-dir STATE_DIR --log LOG.parquet --settings JSON

Resumable state lives in STATE_DIR (see pipeline.train.checkpoints); OUT_DIR and LOG appear,
complete, only when training succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from pipeline.train.blocks import collate_blocks, load_blocks, plan_blocks
from pipeline.train.callbacks import CheckpointExport, NonFiniteGuard, ThroughputLog, fault_injection
from pipeline.train.checkpoints import newest_complete_checkpoint, prepare_state_dir, publish
from pipeline.train.cpt_settings import CptSettings
from pipeline.train.deepspeed import (
    gradient_accumulation_steps,
    init_deepspeed_process,
    load_deepspeed_config,
    world_size,
)
from pipeline.train.training_log import write_training_log

# Files of the base model directory that are not Hugging Face files but travel with the model.
CARRIED_FILES = ("medadapt_model.json",)


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
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    if not (model_dir / "config.json").is_file():
        raise ValueError(f"{model_dir}: not a Hugging Face model directory (no config.json)")
    ds_config = None
    if settings.zero_stage is not None:
        ds_config = load_deepspeed_config(settings.zero_stage, deepspeed_config)
        init_deepspeed_process(on_gpu=torch.cuda.is_available())
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

    args = TrainingArguments(
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
        eval_strategy="steps" if settings.eval_steps else "no",
        eval_steps=settings.eval_steps,
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
    main = args.process_index == 0
    vocab_size = AutoConfig.from_pretrained(model_dir).get_text_config().vocab_size
    with args.main_process_first(local=False, desc="preparing the state directory and token blocks"):
        if main:
            prepare_state_dir(state_dir, fingerprint(model_dir, blocks_path, settings, world, ds_config))
        train_set, eval_set = load_blocks(
            blocks_path, plan, state_dir / "datasets", vocab_size if main else None
        )
    resume = newest_complete_checkpoint(state_dir)

    carried = [model_dir / name for name in CARRIED_FILES if (model_dir / name).is_file()]
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=collate_blocks,
        processing_class=AutoTokenizer.from_pretrained(model_dir),
        callbacks=[
            NonFiniteGuard(),
            ThroughputLog(),
            CheckpointExport(kept, state_dir / "exports", carried),
            *fault_injection(),
        ],
    )
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    step = trainer.state.global_step
    if not any("eval_loss" in r and r["step"] == step for r in trainer.state.log_history):
        trainer.evaluate()
    final = state_dir / "final"
    trainer.save_model(str(final))

    if main:
        (final / "training_args.bin").unlink(missing_ok=True)
        for path in carried:
            shutil.copy2(path, final / path.name)
        exported = sorted(int(p.name.removeprefix("step-")) for p in (state_dir / "exports").glob("step-*"))
        steps = exported if kept == "all" else sorted(kept)
        missing = sorted(set(steps) - set(exported))
        if missing:
            raise RuntimeError(f"{state_dir}: kept checkpoint(s) {missing} were never exported")
        parts = {"": final, **{f"checkpoints/step-{s}": state_dir / "exports" / f"step-{s}" for s in steps}}
        if (state_dir / "tensorboard").is_dir():
            parts["tensorboard"] = state_dir / "tensorboard"
        write_training_log(trainer.state.log_history, log_path)
        publish(
            output_dir,
            parts,
            {
                "base_model": str(model_dir),
                "blocks": str(blocks_path),
                "settings": settings.to_dict(),
                "world_size": world,
                "gradient_accumulation_steps": accumulation,
                "steps": step,
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
            },
        )
        if not settings.keep_state:
            shutil.rmtree(state_dir)
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
