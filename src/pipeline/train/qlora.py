"""LoRA adapters and the 4-bit NF4 base of QLoRA; how a model is loaded for training."""

from __future__ import annotations

import importlib.util
from typing import Any

from pipeline.train.settings import LoraSettings

QUANTIZATIONS = (None, "nf4")


def lora_config(settings: LoraSettings) -> Any:
    """A PEFT `LoraConfig` for causal-LM training from LoRA settings."""
    from peft import LoraConfig

    modules = settings.target_modules
    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=modules if isinstance(modules, str) else list(modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def require_quantization_support(quantization: str | None) -> None:
    """Fail before any training when `quantization` cannot run here (NF4 needs CUDA and bitsandbytes)."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"settings.quantization: {quantization!r} is not one of {list(QUANTIZATIONS)}")
    if quantization is None:
        return
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(
            "settings.quantization 'nf4' (QLoRA) needs a CUDA GPU: bitsandbytes 4-bit layers do not run "
            "on CPU. Set quantization to null to train plain LoRA."
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise RuntimeError(
            "settings.quantization 'nf4' (QLoRA) needs bitsandbytes: "
            "install the GPU extra (pip install '.[gpu]')."
        )


def bnb_config(quantization: str | None) -> Any:
    """The `BitsAndBytesConfig` of a quantization setting: 4-bit NF4, double quantization, bf16 compute."""
    if quantization is None:
        return None
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def use_bf16() -> bool:
    """bf16 weights and autocast on a GPU that supports it; fp32 elsewhere (CPU runs of tiny models)."""
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def model_init_kwargs() -> dict[str, Any]:
    """`from_pretrained` keyword arguments for a model to train."""
    return {"dtype": "bfloat16" if use_bf16() else "float32"}
