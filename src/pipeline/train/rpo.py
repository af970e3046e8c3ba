"""Reasoning preference optimisation (RPO): DPO plus an α-weighted NLL term on the chosen response.

TRL 1.16 dropped ``rpo_alpha``; the same objective is ``loss_type=["sigmoid", "sft"]`` with
``loss_weights=[1, α]``: ``-log σ(β·Δ) + α·NLL(chosen)``, where TRL's NLL is the mean over every chosen
completion token of the batch (``nll_normalization: "token"``). ``nll_normalization: "sequence"`` is
the normalisation of Pang et al. (2024, Iterative Reasoning Preference Optimization, eq. 2): each
chosen sequence's NLL ``-log p(y|x)`` divided by its whole length ``|x| + |y|`` in tokens, averaged over
the batch. ``loss: "dpo"`` trains the sigmoid term alone (the CPT+DPO ablation).

Pairs longer than ``max_length`` tokens (prompt + response) are cut at the end by TRL
(``keep_start``: the answer line goes first) and pairs whose prompt alone fills it are dropped; the run
counts both before training, logs them and writes them to the run record ``OUT_DIR/medadapt_run.json``.
LoRA by default (the reference is the adapter-free model); ``lora: null`` trains every weight against a
frozen copy. Same output layout as `pipeline.train.sft` (`pipeline.train.finetune.save_trained`).

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
from pipeline.models.chat import load_tokenizer
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
from pipeline.train.settings import RpoSettings

PAIR_KEYS = ("prompt", "chosen", "rejected")


def loss_terms(settings: RpoSettings) -> tuple[list[str], list[float]]:
    """TRL's (loss_type, loss_weights): DPO's sigmoid loss, plus α·NLL for RPO with TRL's per-token
    normalisation (the per-sequence one is added by `RPOTrainer`)."""
    if settings.loss == "dpo" or settings.nll_normalization == "sequence":
        return ["sigmoid"], [1.0]
    return ["sigmoid", "sft"], [1.0, float(settings.alpha)]


def sequence_nll_weight(settings: RpoSettings) -> float:
    """α when RPO's NLL is normalised per sequence (Pang et al.), else 0."""
    rpo_sequence = settings.loss == "rpo" and settings.nll_normalization == "sequence"
    return float(settings.alpha) if rpo_sequence else 0.0


def sequence_nll(per_token_logps: Any, completion_mask: Any, attention_mask: Any) -> Any:
    """Pang et al.'s NLL term on a DPO batch ``[chosen..., rejected...]``: per chosen sequence,
    ``-Σ log p(completion tokens) / (|x| + |y|)`` (prompt and completion tokens, as trained), averaged.

    `per_token_logps[i, t]` is the log-probability of token t + 1 of row i (TRL's shifted layout).
    """
    n = per_token_logps.size(0) // 2
    chosen = (per_token_logps[:n] * completion_mask[:n, 1:]).sum(dim=1)
    return (-chosen / attention_mask[:n].sum(dim=1).clamp(min=1)).mean()


def truncation_report(pairs: list[dict[str, str]], tokenizer: Any, max_length: int | None) -> dict[str, Any]:
    """How many pairs `max_length` cuts, tokenised as TRL does (plain text, the tokenizer's own
    special tokens): ``truncated`` pairs lose the end of the chosen or rejected response (its answer
    first), ``dropped`` pairs have a prompt that alone fills `max_length` (TRL drops them)."""
    prompt_lengths, longest = [], []
    for pair in pairs:
        prompt = len(tokenizer(pair["prompt"])["input_ids"])
        whole = max(len(tokenizer(pair["prompt"] + pair[k])["input_ids"]) for k in ("chosen", "rejected"))
        prompt_lengths.append(prompt)
        longest.append(whole)
    ordered = sorted(longest)
    dropped = sum(max_length is not None and p >= max_length for p in prompt_lengths)
    truncated = sum(
        max_length is not None and p < max_length < w for p, w in zip(prompt_lengths, longest, strict=True)
    )
    return {
        "max_length": max_length,
        "pairs": len(pairs),
        "truncated": truncated,
        "dropped": dropped,
        "longest_tokens": ordered[-1],
        "p95_tokens": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "longest_prompt_tokens": max(prompt_lengths),
    }


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


def dpo_config(settings: RpoSettings, work_dir: str) -> Any:
    """The `DPOConfig` of RPO settings."""
    from trl import DPOConfig

    loss_type, loss_weights = loss_terms(settings)
    return DPOConfig(
        **training_arguments(settings, work_dir),
        loss_type=loss_type,
        loss_weights=loss_weights,
        beta=settings.beta,
        truncation_mode="keep_start",
    )


def rpo_trainer_class() -> type:
    """TRL's `DPOTrainer` with Pang et al.'s per-sequence NLL term (weight `sequence_nll_weight`)
    added to its loss, from the policy's own forward pass (no extra forward)."""
    from trl import DPOTrainer

    class FirstOutputs:
        """The policy model, remembering the outputs of its first call (TRL calls the policy once)."""

        def __init__(self, model: Any) -> None:
            self.model, self.outputs = model, None

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            outputs = self.model(*args, **kwargs)
            if self.outputs is None:
                self.outputs = outputs
            return outputs

        def __getattr__(self, name: str) -> Any:
            return getattr(self.model, name)

    class RPOTrainer(DPOTrainer):
        def __init__(self, *args: Any, sequence_nll_weight: float = 0.0, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.sequence_nll_weight = sequence_nll_weight

        def _compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool) -> Any:
            if not self.sequence_nll_weight:
                return super()._compute_loss(model, inputs, return_outputs)
            policy = FirstOutputs(model)
            result = super()._compute_loss(policy, inputs, return_outputs)
            mask = inputs["completion_mask"]
            logps = policy.outputs.log_probs[:, -(mask.size(1) - 1) :]
            nll = sequence_nll(logps, mask, inputs["attention_mask"])
            mode = "train" if self.model.training else "eval"
            self._metrics[mode]["nll_sequence"].append(self.accelerator.gather(nll.detach()).mean().item())
            if return_outputs:
                return result[0] + self.sequence_nll_weight * nll, result[1]
            return result + self.sequence_nll_weight * nll

    return RPOTrainer


def build_trainer(
    model_dir: str | Path, pairs: list[dict[str, str]], settings: RpoSettings, work_dir: str
) -> Any:
    """A `DPOTrainer` with the RPO (or DPO) loss on `pairs` for the model in `model_dir`."""
    from datasets import Dataset

    model_path = str(Path(model_dir).resolve())
    return rpo_trainer_class()(
        sequence_nll_weight=sequence_nll_weight(settings),
        model=model_path,
        args=dpo_config(settings, work_dir),
        train_dataset=Dataset.from_list(pairs),
        processing_class=load_tokenizer(model_path),
        peft_config=None if settings.lora is None else lora_config(settings.lora),
        quantization_config=bnb_config(settings.quantization),
        callbacks=[NonFiniteGuard(), ThroughputLog(), ProgressLog()],
    )


def train(
    model_dir: str | Path,
    pairs_path: str | Path,
    output: str | Path,
    log: str | Path,
    settings: RpoSettings,
) -> None:
    """Train on the pairs of `pairs_path`; write the model to `output` and the training log to `log`."""
    recorder = RunRecorder("rpo", settings.to_dict(), {"pairs": pairs_path}, model_dir)
    require_quantization_support(settings.quantization)
    pairs = read_pairs(pairs_path)
    truncation = truncation_report(pairs, load_tokenizer(model_dir), settings.max_length)
    print(f"rpo: {json.dumps(truncation)}", flush=True)
    if truncation["truncated"] or truncation["dropped"]:
        print(
            f"rpo: WARNING max_length {settings.max_length} cuts the end of {truncation['truncated']} and "
            f"drops {truncation['dropped']} of {truncation['pairs']} pairs ({pairs_path})",
            flush=True,
        )
    with (
        atomic_dir(output) as tmp,
        tempfile.TemporaryDirectory(prefix="rpo-") as work_dir,
        tensorboard_dir(settings.report_to, tmp),
    ):
        trainer = build_trainer(model_dir, pairs, settings, work_dir)
        trainer.train()
        save_trained(trainer, model_dir, tmp, settings.merge_adapter)
        recorder.write(tmp, output, pairs=len(pairs), truncation=truncation)
    write_log([log_frame(trainer.state.log_history, JOINT)], log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="HF model dir (usually a CPT output)")
    parser.add_argument("--pairs", type=Path, required=True, help="preference pairs JSONL")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True, help="training log (Parquet)")
    parser.add_argument("--settings", default="{}", help="JSON object of pipeline.train.settings.RpoSettings")
    args = parser.parse_args(argv)
    setup_job_logging()
    train(args.model, args.pairs, args.output, args.log, RpoSettings.from_json(args.settings))


if __name__ == "__main__":
    main()
