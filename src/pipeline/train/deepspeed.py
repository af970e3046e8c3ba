"""DeepSpeed ZeRO configuration: the JSON templates, batch arithmetic and the process environment.

The templates under ``config/deepspeed/`` leave batch sizes, clipping and precision as
``"auto"``: the Hugging Face Trainer fills them from its `TrainingArguments`, so the
settings have a single source of truth.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config" / "deepspeed"
DISTRIBUTED_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def default_config_path(stage: int) -> Path:
    """The repository's template for a ZeRO stage: ``config/deepspeed/zero<stage>.json``."""
    return CONFIG_DIR / f"zero{stage}.json"


def load_deepspeed_config(stage: int, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read a ZeRO config template and check it is the stage the settings ask for."""
    if stage not in (2, 3):
        raise ValueError(f"zero_stage must be 2, 3 or null, got {stage!r}")
    path = Path(path) if path is not None else default_config_path(stage)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: DeepSpeed config not found") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err.msg})") from err
    found = config.get("zero_optimization", {}).get("stage")
    if found != stage:
        raise ValueError(
            f"{path}: zero_optimization.stage is {found!r} but settings ask for zero_stage {stage}"
        )
    if (
        stage == 3
        and config["zero_optimization"].get("stage3_gather_16bit_weights_on_model_save") is not True
    ):
        raise ValueError(
            f"{path}: ZeRO-3 needs zero_optimization.stage3_gather_16bit_weights_on_model_save=true "
            "so that checkpoints are saved as plain Hugging Face weights"
        )
    return config


def gradient_accumulation_steps(
    effective_batch_size: int, per_device_batch_size: int, world_size: int
) -> int:
    """Micro-batches per optimizer step so that one step sees `effective_batch_size` sequences."""
    if min(effective_batch_size, per_device_batch_size, world_size) < 1:
        raise ValueError(
            f"effective_batch_size ({effective_batch_size}), per_device_batch_size ({per_device_batch_size}) "
            f"and world size ({world_size}) must be positive"
        )
    per_step = per_device_batch_size * world_size
    if effective_batch_size % per_step:
        raise ValueError(
            f"effective_batch_size {effective_batch_size} is not divisible by per_device_batch_size "
            f"{per_device_batch_size} x world size {world_size} = {per_step}"
        )
    return effective_batch_size // per_step


def world_size() -> int:
    """The number of training processes, as the launcher (torchrun, deepspeed) announces it."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def ensure_single_process_env() -> None:
    """Let a plain `python -m ...` process run DeepSpeed: declare a world of one on a free local port."""
    if "WORLD_SIZE" in os.environ:
        missing = [name for name in DISTRIBUTED_ENV if name not in os.environ]
        if missing:
            raise ValueError(f"WORLD_SIZE is set but {', '.join(missing)} are not (launch with torchrun)")
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ.update(
        RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )


def init_deepspeed_process(on_gpu: bool) -> None:
    """Set up this process for DeepSpeed before `TrainingArguments` is built.

    On GPUs accelerate initialises `deepspeed.comm` (NCCL). On CPUs it only initialises
    torch.distributed (gloo), so ZeRO would see a world of one: initialise DeepSpeed's
    communication first, on gloo, and accelerate joins that process group.
    """
    ensure_single_process_env()
    if not on_gpu:
        import deepspeed

        deepspeed.init_distributed(dist_backend="gloo")


# Classes of DeepSpeed's own that its ZeRO checkpoints pickle besides tensors and builtins; nothing
# else may be unpickled from a resumed state folder.
CHECKPOINT_CLASSES = (
    "deepspeed.runtime.fp16.loss_scaler.LossScaler",
    "deepspeed.runtime.fp16.loss_scaler.DynamicLossScaler",
    "deepspeed.runtime.zero.config.ZeroStageEnum",
    "deepspeed.utils.tensor_fragment.fragment_address",
)


def load_weights_only(path: str | os.PathLike[str], map_location: Any = None) -> Any:
    """`torch.load(weights_only=True)` with DeepSpeed's checkpoint classes allowed: a state file that
    holds anything else (code to run) is refused, naming the file."""
    import importlib
    import pickle

    import torch

    allowed = [
        getattr(importlib.import_module(name.rsplit(".", 1)[0]), name.rsplit(".", 1)[1])
        for name in CHECKPOINT_CLASSES
    ]
    with torch.serialization.safe_globals(allowed):
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            raise RuntimeError(
                f"{path}: refused to load resumable state holding more than tensors and DeepSpeed's "
                f"checkpoint classes ({reason}); see docs/training.md on the state folder"
            ) from None


def use_safe_checkpoint_loading() -> None:
    """Make DeepSpeed resume through `load_weights_only`: its `TorchCheckpointEngine.load` unpickles
    with `weights_only=False`, so anyone able to write the state folder would run code at the next
    resume. (The Trainer's own state files already load with `weights_only=True`.)"""
    from deepspeed.runtime.checkpoint_engine.torch_checkpoint_engine import TorchCheckpointEngine

    def load(self: Any, path: str, map_location: Any = None) -> Any:
        return load_weights_only(path, map_location)

    TorchCheckpointEngine.load = load
