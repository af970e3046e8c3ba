"""What SFT and RPO share: the common TrainingArguments, the TensorBoard directory,
the saved-model layout and the training-log table.

`pipeline.train.sft` and `pipeline.train.rpo` both import from here (neither imports the other), so a
change to one stage's own code leaves the other's alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.io import atomic_path
from pipeline.models.record import carry_model_record
from pipeline.provenance import name_adapter_base
from pipeline.train.qlora import model_init_kwargs, use_bf16
from pipeline.train.settings import RpoSettings, SftSettings
from pipeline.train.training_log import SCHEMA, log_table

JOINT = "joint"  # the adapter name of a run that trains one model on every record
TENSORBOARD_ENV = "TENSORBOARD_LOGGING_DIR"  # read by transformers' TensorBoardCallback
# Log-history keys already in the shared training-log schema (under their own or their column name).
LOGGED = {*SCHEMA, "learning_rate", "num_input_tokens_seen"}


def training_arguments(settings: SftSettings | RpoSettings, work_dir: str) -> dict[str, Any]:
    """TrainingArguments shared by SFT and RPO: optimiser, precision, a log row per step, no checkpoints."""
    return dict(
        output_dir=work_dir,
        learning_rate=settings.lr,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup,  # a float in [0, 1) is a share of the steps
        num_train_epochs=settings.epochs,
        max_steps=-1 if settings.max_steps is None else settings.max_steps,
        per_device_train_batch_size=settings.per_device_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation,
        gradient_checkpointing=settings.gradient_checkpointing,
        max_length=settings.max_length,
        seed=settings.seed,
        data_seed=settings.seed,
        bf16=use_bf16(),
        model_init_kwargs=model_init_kwargs(),
        logging_steps=1,
        include_num_input_tokens_seen="non_padding",
        save_strategy="no",
        report_to=list(settings.report_to) or "none",
    )


@contextmanager
def tensorboard_dir(report_to: Sequence[str], output: Path) -> Iterator[None]:
    """With TensorBoard on, the Trainer writes its event files to `output`/tensorboard (a file target)."""
    if "tensorboard" not in report_to:
        yield
        return
    previous = os.environ.get(TENSORBOARD_ENV)
    os.environ[TENSORBOARD_ENV] = str(output / "tensorboard")
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(TENSORBOARD_ENV, None)
        else:
            os.environ[TENSORBOARD_ENV] = previous


def save_trained(trainer: Any, base_model: str | Path, target: Path, merge: bool) -> None:
    """Save the trained model to `target` in the output layout.

    LoRA + merge: a full merged checkpoint, the adapter kept in ``target/adapter``; LoRA without merge:
    the PEFT adapter; full training: the checkpoint. The tokenizer goes beside each. An adapter's
    ``adapter_config.json`` names its base as `pipeline.provenance.adapter_base_name` does (the hub id).
    """
    from accelerate.utils import is_peft_model

    model = trainer.accelerator.unwrap_model(trainer.model)
    tokenizer = trainer.processing_class
    target.mkdir(parents=True, exist_ok=True)
    if is_peft_model(model) and merge:
        model.save_pretrained(target / "adapter")
        tokenizer.save_pretrained(target / "adapter")
        merge_adapter(base_model, target / "adapter").save_pretrained(target)
        name_adapter_base(target / "adapter", base_model)
    else:
        model.save_pretrained(target)
        if is_peft_model(model):
            name_adapter_base(target, base_model)
    tokenizer.save_pretrained(target)
    carry_model_record(base_model, target)


def merge_adapter(base_model: str | Path, adapter_dir: str | Path) -> Any:
    """The base model (reloaded in its own dtype, never quantized) with the adapter merged in."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(Path(base_model).resolve()), dtype="auto")
    return PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()


def log_frame(history: list[dict[str, Any]], adapter: str) -> Any:
    """A trainer's log history as the shared training-log table + its own metrics + `adapter`."""
    import polars as pl

    table = log_table(history)
    kept = [record for record in history if "loss" in record or "eval_loss" in record]
    extras = [
        {
            k.replace("/", "_"): float(v)
            for k, v in record.items()
            if k not in LOGGED and isinstance(v, int | float)
        }
        for record in kept
    ]
    table = table.with_columns(adapter=pl.lit(adapter))
    extra = pl.DataFrame(extras, infer_schema_length=None)
    return pl.concat([table, extra], how="horizontal") if extra.width else table


def write_log(frames: list[Any], path: str | Path) -> None:
    """Write the training-log tables of a run as one Parquet file, atomically."""
    import polars as pl

    with atomic_path(path) as tmp:
        pl.concat(frames, how="diagonal_relaxed").write_parquet(tmp)
