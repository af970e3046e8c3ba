"""Settings of continual pretraining, parsed from the `--settings` JSON and checked up front.

Torch-free: the workflow checks them when it starts (`pipeline.settings`).
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field
from typing import Literal

from pipeline.settings import SettingsError, StageSettings, at_least, require

# transformers' SchedulerType values, spelt out so that the workflow checks settings without importing
# transformers (tests/test_config_check.py keeps the two equal).
Scheduler = Literal[
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
    "greedy",
]
SCHEDULERS = typing.get_args(Scheduler)
Precision = Literal["auto", "bf16", "fp32"]
PRECISIONS = typing.get_args(Precision)


def default_save_steps(total_steps: int) -> int:
    """Steps between resumable checkpoints when `save_steps` is null: about ten per run."""
    return max(1, math.ceil(total_steps / 10))


def unreachable_step(
    step: int, total_steps: int, save_steps: int | None, keep: list[int] | Literal["all"]
) -> str | None:
    """Why a run of `total_steps` does not export checkpoint `step`, or None when it does.

    A step listed in `keep` is saved and exported when the run reaches it; with `keep: all`,
    only the saved steps are: the multiples of `save_steps` and the last step.
    """
    if step > total_steps:
        return f"the run ends at step {total_steps}"
    if keep == "all":
        every = save_steps or default_save_steps(total_steps)
        if step % every and step != total_steps:
            return f"keep_checkpoints: all exports every {every} steps (save_steps) and the last one"
    elif step not in keep:
        return f"keep_checkpoints {keep} does not list it"
    return None


@dataclass(frozen=True)
class CptSettings(StageSettings):
    """Every key of `--settings`; see docs/training.md for their meaning."""

    WHERE = "cpt settings"

    lr: float = 2e-5
    lr_scheduler: Scheduler = "cosine"
    warmup_ratio: float | None = None
    warmup_steps: int | None = None
    effective_batch_size: int = 32
    per_device_batch_size: int = 4
    max_steps: int | None = None
    epochs: float | None = None
    token_budget: float | None = None  # a share (<= 1) or a count (> 1) of the train tokens
    save_steps: int | None = None
    save_total_limit: int = 2
    keep_checkpoints: list[int] | Literal["all"] = field(default_factory=list)
    eval_steps: int | None = None
    max_eval_blocks: int | None = None
    zero_stage: Literal[2, 3] | None = 3
    seed: int = 0
    weight_decay: float = 0.1
    max_grad_norm: float = 1.0
    report_to: list[str] = field(default_factory=list)
    precision: Precision = "auto"
    gradient_checkpointing: bool = False
    keep_state: bool = False
    # The workflow's, not the user's: the steps the grid's checkpoint arms take from this run.
    required_checkpoints: list[int] = field(default_factory=list)

    def validate(self) -> None:
        require(self.lr > 0, "lr", f"must be a positive number, got {self.lr!r}")
        if self.warmup_ratio is not None and self.warmup_steps is not None:
            raise SettingsError("warmup_ratio", "and warmup_steps are exclusive: set one")
        if self.warmup_ratio is not None:
            require(
                0 <= self.warmup_ratio < 1, "warmup_ratio", f"must be in [0, 1), got {self.warmup_ratio!r}"
            )
        if self.max_steps is not None and self.epochs is not None:
            raise SettingsError("max_steps", "and epochs are exclusive: set one")
        if self.epochs is not None:
            require(self.epochs > 0, "epochs", f"must be positive, got {self.epochs!r}")
        at_least(self, 0, "warmup_steps")
        at_least(self, 1, "effective_batch_size", "per_device_batch_size", "save_total_limit")
        at_least(self, 1, "max_steps", "save_steps", "eval_steps", "max_eval_blocks")
        for key in ("keep_checkpoints", "required_checkpoints"):
            steps = getattr(self, key)
            if steps != "all" and any(step < 1 for step in steps):
                raise SettingsError(key, f'must be positive steps (or "all"), got {steps!r}')
        require(
            self.token_budget is None or self.token_budget > 0,
            "token_budget",
            f"must be a positive fraction (<= 1) or token count (> 1), got {self.token_budget!r}",
        )
        require(
            all(self.report_to), "report_to", f"must be a list of integration names, got {self.report_to!r}"
        )

    def total_steps(self, train_blocks: int) -> int:
        """Optimizer steps: `max_steps`, else `epochs` (default 1) passes over the train blocks."""
        if train_blocks < self.effective_batch_size:
            raise ValueError(
                f"{train_blocks} train blocks cannot fill one step of effective_batch_size "
                f"{self.effective_batch_size} (raise token_budget or lower the batch)"
            )
        if self.max_steps is not None:
            return self.max_steps
        return max(1, math.floor((self.epochs or 1.0) * train_blocks / self.effective_batch_size))

    def checkpoint_steps(self, total_steps: int) -> int:
        """Steps between resumable checkpoints: `save_steps`, else about ten per run."""
        return self.save_steps or default_save_steps(total_steps)

    def kept_steps(self, total_steps: int) -> set[int] | Literal["all"]:
        """The exported steps; raises, before any training, when a kept step or a step a checkpoint
        arm needs (`required_checkpoints`) lies beyond the run or between its saves."""
        if self.keep_checkpoints != "all":
            late = [step for step in self.keep_checkpoints if step > total_steps]
            if late:
                raise ValueError(
                    f"settings.keep_checkpoints: step(s) {late} are beyond the run's {total_steps} steps"
                )
        for step in self.required_checkpoints:
            why = unreachable_step(step, total_steps, self.save_steps, self.keep_checkpoints)
            if why:
                raise ValueError(
                    f"settings.required_checkpoints: a checkpoint arm needs step {step}, which this run "
                    f"({total_steps} steps) never exports: {why}; fix the arm's step or the schedule "
                    "(max_steps, epochs, save_steps)"
                )
        return "all" if self.keep_checkpoints == "all" else set(self.keep_checkpoints)
