"""Write sharded safetensors one tensor at a time.

Every output tensor's name, dtype and shape are known before any is computed, so
each shard's header is written first and tensor bytes are then streamed after it:
memory holds one tensor, never a shard.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pipeline.io import write_json

# safetensors dtype codes (https://github.com/huggingface/safetensors, format spec)
_CODES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
}


def torch_dtype(code: str, name: str) -> Any:
    """The torch dtype of a safetensors dtype code."""
    import torch

    if code not in _CODES:
        raise ValueError(f"tensor {name!r}: unsupported safetensors dtype {code!r}")
    return getattr(torch, _CODES[code])


def dtype_code(dtype: Any) -> str:
    """The safetensors code of a torch dtype."""
    codes = {v: k for k, v in _CODES.items()}
    return codes[str(dtype).removeprefix("torch.")]


@dataclass(frozen=True)
class OutputTensor:
    dtype: Any  # torch dtype
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count * self.dtype.itemsize


def plan_shards(tensors: dict[str, OutputTensor], max_shard_size: int | str) -> dict[str, list[str]]:
    """File name -> tensor names, in order; `model.safetensors` alone when one shard suffices."""
    from huggingface_hub import split_state_dict_into_shards_factory

    split = split_state_dict_into_shards_factory(
        tensors,
        get_storage_size=lambda t: t.nbytes,
        filename_pattern="model{suffix}.safetensors",
        max_shard_size=max_shard_size,
    )
    return split.filename_to_tensors


def write_index(directory: Path, shards: dict[str, list[str]], tensors: dict[str, OutputTensor]) -> None:
    """`model.safetensors.index.json`, as transformers writes it."""
    write_json(
        directory / "model.safetensors.index.json",
        {
            "metadata": {"total_size": sum(t.nbytes for t in tensors.values())},
            "weight_map": {name: file for file, names in shards.items() for name in names},
        },
    )


class ShardWriter:
    """One safetensors file whose tensors must be written in the announced order."""

    def __init__(self, path: Path, tensors: dict[str, OutputTensor]):
        self._path = path
        self._expected = list(tensors.items())
        self._written = 0
        header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
        offset = 0
        for name, spec in tensors.items():
            header[name] = {
                "dtype": dtype_code(spec.dtype),
                "shape": list(spec.shape),
                "data_offsets": [offset, offset + spec.nbytes],
            }
            offset += spec.nbytes
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # the format allows space padding; keeps data 8-byte aligned
        self._file: BinaryIO = path.open("wb")
        self._file.write(struct.pack("<Q", len(raw)) + raw)

    def write(self, name: str, tensor: Any) -> None:
        if self._written >= len(self._expected):
            raise ValueError(f"{self._path}: tensor {name!r} beyond the announced tensors")
        expected_name, spec = self._expected[self._written]
        if name != expected_name or tensor.dtype != spec.dtype or tuple(tensor.shape) != spec.shape:
            raise ValueError(
                f"{self._path}: got tensor {name!r} {tensor.dtype} {list(tensor.shape)}, "
                f"expected {expected_name!r} {spec.dtype} {list(spec.shape)}"
            )
        import torch

        self._file.write(tensor.contiguous().reshape(-1).view(torch.uint8).numpy())
        self._written += 1

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self._file.close()
        if exc_type is None and self._written != len(self._expected):
            missing = [name for name, _ in self._expected[self._written :]]
            raise ValueError(f"{self._path}: tensors never written: {missing[:5]}")
