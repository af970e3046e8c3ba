"""Supervised fine-tuning (IT and RoT arms): LoRA/QLoRA on prompt/completion mixes with TRL's SFTTrainer.

Examples are tokenized here with `pipeline.models.chat` — the same texts and token ids the generation
stage feeds the model — and handed to the trainer pre-tokenized (``input_ids`` + ``completion_mask``);
TRL builds the labels, truncates and collates. The loss mask is pinned in `sft_config`:
``loss: "full"`` trains on instruction + answer (Shi et al., 2024), ``"completion_only"`` on the answer.

    python -m pipeline.train.sft --model MODEL_DIR --data MIX.jsonl [...] --output OUT_DIR \\
        --log LOG.parquet --settings '{"lr": 2e-4, ...}'
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path
from typing import Any

from pipeline.io import atomic_dir, iter_jsonl
from pipeline.models import chat
from pipeline.models.record import carry_model_record
from pipeline.progress import setup_job_logging
from pipeline.provenance import RunRecorder
from pipeline.train.callbacks import NonFiniteGuard, ProgressLog, ThroughputLog
from pipeline.train.finetune import (
    JOINT,
    log_frame,
    save_trained,
    tensorboard_dir,
    training_arguments,
    write_log,
)
from pipeline.train.qlora import bnb_config, lora_config, require_quantization_support
from pipeline.train.settings import SftSettings

MIX_KEYS = ("id", "prompt", "completion", "dataset", "task", "language", "kind")
MIX_KINDS = ("it", "rot")


def read_mix(path: str | Path) -> list[dict[str, Any]]:
    """SFT mix records of a JSONL file; a bad line or record raises ValueError naming file and line."""
    records = []
    for lineno, record in iter_jsonl(path):
        missing = [k for k in MIX_KEYS if k not in record]
        if missing:
            raise ValueError(f"{path}:{lineno}: SFT record lacks key(s) {missing}")
        for key in ("prompt", "completion"):
            if not isinstance(record[key], str) or not record[key]:
                raise ValueError(f"{path}:{lineno}: key {key!r} must be a non-empty string")
        if record["kind"] not in MIX_KINDS:
            raise ValueError(
                f"{path}:{lineno}: key 'kind' is {record['kind']!r}, not one of {list(MIX_KINDS)}"
            )
        records.append(record)
    return records


def select_records(records: list[dict[str, Any]], settings: SftSettings) -> list[dict[str, Any]]:
    """Apply the task/language filter, then keep at most `max_examples_per_task` per task (seeded, nested)."""
    tasks, languages = settings.filter.tasks, settings.filter.languages
    kept = [
        r
        for r in records
        if (tasks is None or r["task"] in tasks) and (languages is None or r["language"] in languages)
    ]
    limit = settings.max_examples_per_task
    if limit is not None:
        order = list(range(len(kept)))
        random.Random(settings.seed).shuffle(order)
        counts: dict[str, int] = {}
        chosen = set()
        for i in order:
            task = kept[i]["task"]
            if counts.get(task, 0) < limit:
                counts[task] = counts.get(task, 0) + 1
                chosen.add(i)
        kept = [r for i, r in enumerate(kept) if i in chosen]
    if not kept:
        raise ValueError(
            f"no SFT records left after filter {settings.filter.to_dict()} (of {len(records)} read)"
        )
    return kept


def tokenize_records(tokenizer: Any, records: list[dict[str, Any]]) -> Any:
    """A pre-tokenized `datasets.Dataset`: ``input_ids`` and ``completion_mask`` (1 on answer tokens)."""
    from datasets import Dataset

    input_ids, completion_mask = [], []
    for record in records:
        prompt_text, completion_text = chat.format_example(tokenizer, record["prompt"], record["completion"])
        prompt_ids = chat.encode(tokenizer, prompt_text)
        completion_ids = chat.encode(tokenizer, completion_text)
        input_ids.append(prompt_ids + completion_ids)
        completion_mask.append([0] * len(prompt_ids) + [1] * len(completion_ids))
    return Dataset.from_dict({"input_ids": input_ids, "completion_mask": completion_mask})


def sft_config(settings: SftSettings, work_dir: str) -> Any:
    """The `SFTConfig`, with every TRL default that decides the loss mask set explicitly."""
    from trl import SFTConfig

    return SFTConfig(
        **training_arguments(settings, work_dir),
        completion_only_loss=settings.loss == "completion_only",
        assistant_only_loss=False,
        packing=False,
        padding_free=False,
        loss_type="nll",
        truncation_mode="keep_start",
    )


def use_fused_lm_head(setting: bool | None) -> bool:
    """Whether the loss goes through TRL's chunked LM head (`setting`; None: when CUDA is available)."""
    if setting is not None:
        return bool(setting)
    import torch

    return torch.cuda.is_available()


def trainer_class(fused_lm_head: bool) -> type:
    """TRL's `SFTTrainer`, or a subclass whose loss comes from the model's own forward.

    TRL computes the loss through a chunked LM head that never materialises the full logits: a
    memory saving on GPU (Triton), but its torch fallback is ~3x slower than the plain forward on
    CPU. The subclass returns the model's causal-LM loss on the same labels (the collator's `-100`
    mask) with the same `num_items_in_batch` normalisation, so the loss values are identical.
    """
    from trl import SFTTrainer

    if fused_lm_head:
        return SFTTrainer

    class PlainLossSFTTrainer(SFTTrainer):
        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            outputs = model(**inputs, num_items_in_batch=num_items_in_batch)
            return (outputs.loss, outputs) if return_outputs else outputs.loss

    return PlainLossSFTTrainer


def build_trainer(
    model_dir: str | Path, records: list[dict[str, Any]], settings: SftSettings, work_dir: str
) -> Any:
    """An `SFTTrainer` for `records` on the model in `model_dir` (a LoRA adapter, over NF4 when asked)."""
    model_path = str(Path(model_dir).resolve())
    tokenizer = chat.load_tokenizer(model_path)
    return trainer_class(use_fused_lm_head(settings.fused_lm_head))(
        model=model_path,
        args=sft_config(settings, work_dir),
        train_dataset=tokenize_records(tokenizer, records),
        processing_class=tokenizer,
        peft_config=lora_config(settings.lora),
        quantization_config=bnb_config(settings.quantization),
        callbacks=[NonFiniteGuard(), ThroughputLog(), ProgressLog()],
    )


def train(
    model_dir: str | Path,
    data: list[str | Path],
    output: str | Path,
    log: str | Path,
    settings: SftSettings,
) -> None:
    """Train on the mixes in `data`; write the model (or per-task adapters) to `output`, the log to `log`."""
    recorder = RunRecorder("sft", settings.to_dict(), input_roles("data", data), model_dir)
    require_quantization_support(settings.quantization)
    records = select_records([r for path in data for r in read_mix(path)], settings)
    if settings.per_task_adapters:
        groups = {
            task: [r for r in records if r["task"] == task] for task in sorted({r["task"] for r in records})
        }
    else:
        groups = {JOINT: records}
    frames = []
    with (
        atomic_dir(output) as tmp,
        tempfile.TemporaryDirectory(prefix="sft-") as work_dir,
        tensorboard_dir(settings.report_to, tmp),
    ):
        for name, group in groups.items():
            trainer = build_trainer(model_dir, group, settings, work_dir)
            trainer.train()
            frames.append(log_frame(trainer.state.log_history, name))
            target = tmp if name == JOINT else tmp / "adapters" / name
            save_trained(trainer, model_dir, target, settings.merge_adapter)
        if settings.per_task_adapters:
            trainer.processing_class.save_pretrained(tmp)
            carry_model_record(model_dir, tmp)
            (tmp / "adapters.json").write_text(
                json.dumps({task: f"adapters/{task}" for task in groups}, indent=2) + "\n", encoding="utf-8"
            )
        recorder.write(tmp, output, examples={name: len(group) for name, group in groups.items()})
    write_log(frames, log)


def input_roles(role: str, paths: list[str | Path]) -> dict[str, str | Path]:
    """Provenance input names: `role` for one path, `role[i]` for several."""
    if len(paths) == 1:
        return {role: paths[0]}
    return {f"{role}[{i}]": path for i, path in enumerate(paths)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, required=True, help="HF model dir (base, instruct or CPT output)"
    )
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="SFT mix JSONL file(s)")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True, help="training log (Parquet)")
    parser.add_argument("--settings", default="{}", help="JSON object of pipeline.train.settings.SftSettings")
    args = parser.parse_args(argv)
    setup_job_logging()
    train(args.model, args.data, args.output, args.log, SftSettings.from_json(args.settings))


if __name__ == "__main__":
    main()
