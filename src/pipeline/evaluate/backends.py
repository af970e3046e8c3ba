"""Generation backends: one interface, the same output records from vLLM and transformers.

Prompts arrive already formatted (chat template or plain-text form) and tokenised by
the caller, so both backends see identical token ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pipeline.evaluate.settings import Decoding


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """(`text` before the first stop string, whether one occurred)."""
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length"


class GenerationBackend(Protocol):
    def generate(self, prompts: list[list[int]], decoding: Decoding) -> list[Completion]: ...


def is_adapter(model_dir: str | Path) -> bool:
    """An unmerged PEFT adapter directory rather than a full checkpoint."""
    return (Path(model_dir) / "adapter_config.json").exists() and not (
        Path(model_dir) / "config.json"
    ).exists()


def adapter_base(model_dir: str | Path) -> str:
    import json

    return json.loads((Path(model_dir) / "adapter_config.json").read_text())["base_model_name_or_path"]


class TransformersBackend:
    """Batched generation with left padding (CPU or GPU)."""

    def __init__(self, model_dir: str | Path, batch_size: int = 16, device: str | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        if is_adapter(model_dir):
            from peft import PeftModel

            base = AutoModelForCausalLM.from_pretrained(adapter_base(model_dir), dtype=dtype)
            self.model = PeftModel.from_pretrained(base, str(model_dir))
        else:
            self.model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype)
        self.model.to(self.device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.batch_size = batch_size
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}

    def generate(self, prompts: list[list[int]], decoding: Decoding) -> list[Completion]:
        import torch

        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: dict[int, Completion] = {}
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = max(len(prompts[i]) for i in batch)
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                n = len(prompts[i])
                ids[row, width - n :] = torch.tensor(prompts[i])
                mask[row, width - n :] = 1
            sampling = decoding.temperature > 0
            torch.manual_seed(decoding.seed)
            with torch.no_grad():
                out = self.model.generate(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    max_new_tokens=decoding.max_new_tokens,
                    do_sample=sampling,
                    temperature=decoding.temperature if sampling else None,
                    top_p=decoding.top_p if sampling else None,
                    top_k=None,
                    pad_token_id=self.pad_id,
                    stop_strings=list(decoding.stop) or None,
                    tokenizer=self.tokenizer if decoding.stop else None,
                )
            for row, i in enumerate(batch):
                results[i] = self._completion(out[row, width:].tolist(), len(prompts[i]), decoding)
        return [results[i] for i in range(len(prompts))]

    def _completion(self, new_ids: list[int], prompt_tokens: int, decoding: Decoding) -> Completion:
        """The decoded new tokens up to EOS, cut before a stop string (which generation stopped at)."""
        kept: list[int] = []
        finish = "length"
        for token in new_ids:
            if token in self.eos_ids:
                finish = "stop"
                break
            if token == self.pad_id:
                continue
            kept.append(token)
        text, stopped = cut_at_stop(self.tokenizer.decode(kept, skip_special_tokens=True), decoding.stop)
        return Completion(text, prompt_tokens, len(kept), "stop" if stopped else finish)


class VLLMBackend:
    """vLLM offline engine (GPU): one model load per job, every prompt of the job in one call."""

    def __init__(self, model_dir: str | Path, gpu_memory_utilization: float = 0.85, max_lora_rank: int = 64):
        try:
            from vllm import LLM
        except ImportError as err:
            raise RuntimeError(
                "generation.backend 'vllm' needs the GPU extra: pip install 'medadapt[gpu]' on a CUDA machine"
            ) from err
        self.lora_request = None
        if is_adapter(model_dir):
            from vllm.lora.request import LoRARequest

            self.llm = LLM(
                model=adapter_base(model_dir),
                enable_lora=True,
                max_lora_rank=max_lora_rank,
                gpu_memory_utilization=gpu_memory_utilization,
            )
            self.lora_request = LoRARequest("adapter", 1, str(model_dir))
        else:
            self.llm = LLM(model=str(model_dir), gpu_memory_utilization=gpu_memory_utilization)

    def generate(self, prompts: list[list[int]], decoding: Decoding) -> list[Completion]:
        from vllm import SamplingParams, TokensPrompt

        params = sampling_params(decoding, SamplingParams)
        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=p) for p in prompts], params, lora_request=self.lora_request
        )
        return [
            Completion(
                text=o.outputs[0].text,
                prompt_tokens=len(o.prompt_token_ids),
                completion_tokens=len(o.outputs[0].token_ids),
                finish_reason="length" if o.outputs[0].finish_reason == "length" else "stop",
            )
            for o in outputs
        ]


def sampling_params(decoding: Decoding, factory: Any) -> Any:
    """vLLM SamplingParams equivalent to `decoding` (greedy when temperature is 0)."""
    return factory(
        temperature=decoding.temperature,
        top_p=decoding.top_p if decoding.temperature > 0 else 1.0,
        max_tokens=decoding.max_new_tokens,
        seed=decoding.seed,
        stop=list(decoding.stop) or None,
        skip_special_tokens=True,
    )


def make_backend(name: str, model_dir: str | Path, batch_size: int) -> GenerationBackend:
    if name == "transformers":
        return TransformersBackend(model_dir, batch_size=batch_size)
    if name == "vllm":
        return VLLMBackend(model_dir)
    raise ValueError(f"generation.backend: unknown backend {name!r} (expected 'transformers' or 'vllm')")
