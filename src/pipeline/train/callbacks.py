"""Trainer callbacks: non-finite loss guard, throughput and progress logging, checkpoint export, faults."""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from pathlib import Path
from typing import Any, Literal

from accelerate import PartialState
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from pipeline.progress import Progress
from pipeline.train.checkpoints import export_model, mark_complete

log = logging.getLogger(__name__)

KILL_AT_STEP_ENV = "MEDADAPT_FAULT_KILL_AT_STEP"


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss or gradient norm."""


class NonFiniteGuard(TrainerCallback):
    """Stop at the first non-finite loss, gradient norm or eval loss, before that step is saved.

    Every rank sees the same (all-gathered) values, so every rank raises together.
    """

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: Any = None,
        **kwargs: Any,
    ) -> None:
        for key in ("loss", "grad_norm", "eval_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(value):
                raise NonFiniteLossError(
                    f"non-finite {key} ({value}) at step {state.global_step}; stopping without publishing "
                    "a checkpoint or model"
                )


class ThroughputLog(TrainerCallback):
    """Add wall time and tokens per second to each logged record (kept across resumes)."""

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        elapsed = [record["elapsed"] for record in state.log_history if "elapsed" in record]
        self._offset = elapsed[-1] if elapsed else 0.0
        self._start = self._last_time = time.perf_counter()
        self._last_tokens = state.num_input_tokens_seen

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: Any = None,
        **kwargs: Any,
    ) -> None:
        now = time.perf_counter()
        record = state.log_history[-1]
        record["elapsed"] = self._offset + now - self._start
        if "loss" in record:
            tokens = state.num_input_tokens_seen
            record["tokens_per_second"] = (tokens - self._last_tokens) / max(now - self._last_time, 1e-9)
            self._last_tokens, self._last_time = tokens, now


class ProgressLog(TrainerCallback):
    """Log optimizer steps done/total, their rate and the time left, on the main process."""

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._progress = Progress(state.max_steps, "training steps", log, done=state.global_step)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if state.is_world_process_zero:
            self._progress.advance(1)


class CheckpointExport(TrainerCallback):
    """Save at every kept step; once all ranks saved, export kept steps and mark the checkpoint complete."""

    def __init__(self, keep: set[int] | Literal["all"], exports_dir: Path, extra_files: list[Path]) -> None:
        self.keep = keep
        self.exports_dir = exports_dir
        self.extra_files = extra_files

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.keep != "all" and state.global_step in self.keep:
            control.should_save = True

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        PartialState().wait_for_everyone()
        if state.is_world_process_zero:
            step = state.global_step
            checkpoint = Path(args.output_dir) / f"checkpoint-{step}"
            if self.keep == "all" or step in self.keep:
                export_model(checkpoint, self.exports_dir / f"step-{step}", self.extra_files)
            mark_complete(checkpoint)


class KillAtStep(TrainerCallback):
    """Test-only fault injection: SIGKILL this process at the end of a step (set by an env variable)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def fault_injection() -> list[TrainerCallback]:
    """The fault callbacks requested by `MEDADAPT_FAULT_KILL_AT_STEP` (none when unset)."""
    step = os.environ.get(KILL_AT_STEP_ENV)
    return [KillAtStep(int(step))] if step else []
