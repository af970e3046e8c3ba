"""Settings of continual pretraining, parsed from the `--settings` JSON and checked up front."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

PRECISIONS = ("auto", "bf16", "fp32")
# transformers' SchedulerType values, spelt out so that the workflow checks settings without importing
# transformers (tests/test_cpt_config.py keeps the two equal).
SCHEDULERS = (
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
)


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
class CptSettings:
    """Every key of `--settings`; see docs/training.md for their meaning."""

    lr: float = 2e-5
    lr_scheduler: str = "cosine"
    warmup_ratio: float | None = None
    warmup_steps: int | None = None
    effective_batch_size: int = 32
    per_device_batch_size: int = 4
    max_steps: int | None = None
    epochs: float | None = None
    token_budget: float | None = None
    save_steps: int | None = None
    save_total_limit: int = 2
    keep_checkpoints: list[int] | Literal["all"] = field(default_factory=list)
    eval_steps: int | None = None
    max_eval_blocks: int | None = None
    zero_stage: int | None = 3
    seed: int = 0
    weight_decay: float = 0.1
    max_grad_norm: float = 1.0
    report_to: list[str] = field(default_factory=list)
    precision: str = "auto"
    gradient_checkpointing: bool = False
    keep_state: bool = False
    required_checkpoints: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.lr_scheduler not in SCHEDULERS:
            self._bad("lr_scheduler", f"must be one of {list(SCHEDULERS)}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, int | float) or not self.lr > 0:
            self._bad("lr", "must be a positive number")
        if self.warmup_ratio is not None and self.warmup_steps is not None:
            self._bad("warmup_ratio", "and warmup_steps are exclusive: set one")
        if self.warmup_ratio is not None and not 0 <= self.warmup_ratio < 1:
            self._bad("warmup_ratio", "must be in [0, 1)")
        if self.max_steps is not None and self.epochs is not None:
            self._bad("max_steps", "and epochs are exclusive: set one")
        if self.epochs is not None and not self.epochs > 0:
            self._bad("epochs", "must be positive")
        for key in ("effective_batch_size", "per_device_batch_size", "save_total_limit"):
            self._positive_int(key, getattr(self, key))
        for key in ("warmup_steps", "max_steps", "save_steps", "eval_steps", "max_eval_blocks"):
            if getattr(self, key) is not None:
                self._positive_int(key, getattr(self, key), allow_zero=key == "warmup_steps")
        if self.keep_checkpoints != "all":
            if not isinstance(self.keep_checkpoints, list):
                self._bad("keep_checkpoints", 'must be a list of steps or "all"')
            for step in self.keep_checkpoints:
                self._positive_int("keep_checkpoints", step)
        for step in self.required_checkpoints:
            self._positive_int("required_checkpoints", step)
        if self.zero_stage not in (2, 3, None):
            self._bad("zero_stage", "must be 2, 3 or null (no DeepSpeed)")
        if self.precision not in PRECISIONS:
            self._bad("precision", f"must be one of {PRECISIONS}")
        if not isinstance(self.report_to, list) or not all(isinstance(r, str) for r in self.report_to):
            self._bad("report_to", "must be a list of integration names")
        if self.token_budget is not None and not (
            isinstance(self.token_budget, int | float)
            and math.isfinite(self.token_budget)
            and self.token_budget > 0
        ):
            self._bad("token_budget", "must be a positive fraction (<= 1) or token count (> 1)")

    def _bad(self, key: str, why: str) -> None:
        raise ValueError(f"settings.{key} = {getattr(self, key)!r}: {why}")

    def _positive_int(self, key: str, value: Any, allow_zero: bool = False) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
            raise ValueError(
                f"settings.{key}: {value!r} is not a {'non-negative' if allow_zero else 'positive'} integer"
            )

    @classmethod
    def from_json(cls, text: str) -> CptSettings:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"--settings is not valid JSON ({err.msg})") from err
        if not isinstance(raw, dict):
            raise ValueError("--settings must be a JSON object")
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"--settings: unknown key(s) {sorted(unknown)}")
        return cls(**raw)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
