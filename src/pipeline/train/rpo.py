"""Reasoning preference optimisation (RPO): DPO plus an α-weighted NLL term on the chosen response.

TRL 1.16 dropped ``rpo_alpha``; the same objective is ``loss_type=["sigmoid", "sft"]`` with
``loss_weights=[1, α]``: ``-log σ(β·Δ) + α·NLL(chosen)``, where TRL's NLL is the mean over every chosen
completion token of the batch. ``loss: "dpo"`` trains the sigmoid term alone (the CPT+DPO ablation).
LoRA by default (the reference is the adapter-free model); ``lora: null`` trains every weight against a
frozen copy. Same output layout as `pipeline.train.sft`.

    python -m pipeline.train.rpo --model MODEL_DIR --pairs PAIRS.jsonl --output OUT_DIR \\
        --log LOG.parquet --settings '{"alpha": 10, "beta": 0.1, ...}'
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from pipeline.io import atomic_dir, iter_jsonl
from pipeline.provenance import RunRecorder
from pipeline.train.callbacks import NonFiniteGuard, ThroughputLog
from pipeline.train.qlora import (
    LORA_DEFAULTS,
    bnb_config,
    lora_config,
    lora_settings,
    require_quantization_support,
)
from pipeline.train.sft import (
    JOINT,
    check_keys,
    check_report_to,
    check_training_length,
    log_frame,
    save_trained,
    tensorboard_dir,
    training_arguments,
    write_log,
)

DEFAULTS: dict[str, Any] = {
    "loss": "rpo",
    "alpha": 10.0,
    "beta": 0.1,
    "lr": 5e-6,
    "lr_scheduler": "linear",
    "warmup": 0,
    "epochs": 1,
    "max_steps": None,
    "per_device_batch_size": 2,
    "gradient_accumulation": 1,
    "max_length": 1024,
    "lora": LORA_DEFAULTS,
    "merge_adapter": True,
    "seed": 0,
    "gradient_checkpointing": True,
    "quantization": None,  # "nf4": QLoRA (4-bit base, LoRA adapter; CUDA only)
    "report_to": [],  # Trainer integrations, e.g. ["tensorboard"]: event files in OUT_DIR/tensorboard
}
LOSSES = ("rpo", "dpo")
PAIR_KEYS = ("prompt", "chosen", "rejected")


def resolve_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Complete and validate RPO settings (defaults in `DEFAULTS`)."""
    check_keys(settings, DEFAULTS, "rpo settings")
    merged = {**DEFAULTS, **settings}
    if merged["lora"] is not None:
        merged["lora"] = lora_settings(merged["lora"], "rpo settings.lora")
    elif merged["quantization"] is not None:
        raise ValueError("rpo settings.quantization: QLoRA trains a LoRA adapter; set `lora` too")
    if merged["loss"] not in LOSSES:
        raise ValueError(f"rpo settings.loss: {merged['loss']!r} is not one of {list(LOSSES)}")
    if merged["alpha"] < 0 or not merged["beta"] > 0:
        raise ValueError("rpo settings: alpha must be >= 0 and beta > 0")
    check_training_length(merged, "rpo settings")
    check_report_to(merged["report_to"], "rpo settings")
    return merged


def loss_terms(settings: dict[str, Any]) -> tuple[list[str], list[float]]:
    """TRL's (loss_type, loss_weights): DPO's sigmoid loss, plus α·NLL for RPO."""
    if settings["loss"] == "dpo":
        return ["sigmoid"], [1.0]
    return ["sigmoid", "sft"], [1.0, float(settings["alpha"])]


def read_pairs(path: str | Path) -> list[dict[str, str]]:
    """(prompt, chosen, rejected) pairs of a JSONL file; a bad line raises ValueError naming file:line."""
    pairs = []
    for lineno, record in iter_jsonl(path):
        for key in PAIR_KEYS:
            if not isinstance(record.get(key), str) or not record[key]:
                raise ValueError(f"{path}:{lineno}: key {key!r} must be a non-empty string")
        pairs.append({key: record[key] for key in PAIR_KEYS})
    if not pairs:
        raise ValueError(f"{path}: no preference pairs")
    return pairs


def dpo_config(settings: dict[str, Any], work_dir: str) -> Any:
    """The `DPOConfig` of RPO settings."""
    from trl import DPOConfig

    loss_type, loss_weights = loss_terms(settings)
    return DPOConfig(
        **training_arguments(settings, work_dir),
        loss_type=loss_type,
        loss_weights=loss_weights,
        beta=settings["beta"],
        truncation_mode="keep_start",
    )


def build_trainer(
    model_dir: str | Path, pairs: list[dict[str, str]], settings: dict[str, Any], work_dir: str
) -> Any:
    """A `DPOTrainer` with the RPO (or DPO) loss on `pairs` for the model in `model_dir`."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import DPOTrainer

    model_path = str(Path(model_dir).resolve())
    return DPOTrainer(
        model=model_path,
        args=dpo_config(settings, work_dir),
        train_dataset=Dataset.from_list(pairs),
        processing_class=AutoTokenizer.from_pretrained(model_path),
        peft_config=None if settings["lora"] is None else lora_config(settings["lora"]),
        quantization_config=bnb_config(settings["quantization"]),
        callbacks=[NonFiniteGuard(), ThroughputLog()],
    )


def train(
    model_dir: str | Path,
    pairs_path: str | Path,
    output: str | Path,
    log: str | Path,
    settings: dict[str, Any],
) -> None:
    """Train on the pairs of `pairs_path`; write the model to `output` and the training log to `log`."""
    settings = resolve_settings(settings)
    recorder = RunRecorder("rpo", settings, {"pairs": pairs_path}, model_dir)
    require_quantization_support(settings["quantization"])
    pairs = read_pairs(pairs_path)
    with (
        atomic_dir(output) as tmp,
        tempfile.TemporaryDirectory(prefix="rpo-") as work_dir,
        tensorboard_dir(settings["report_to"], tmp),
    ):
        trainer = build_trainer(model_dir, pairs, settings, work_dir)
        trainer.train()
        save_trained(trainer, model_dir, tmp, settings["merge_adapter"])
        recorder.write(tmp, output, pairs=len(pairs))
    write_log([log_frame(trainer.state.log_history, JOINT)], log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="HF model dir (usually a CPT output)")
    parser.add_argument("--pairs", type=Path, required=True, help="preference pairs JSONL")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True, help="training log (Parquet)")
    parser.add_argument("--settings", default="{}", help="JSON object; see DEFAULTS")
    args = parser.parse_args(argv)
    train(args.model, args.pairs, args.output, args.log, json.loads(args.settings))


if __name__ == "__main__":
    main()
