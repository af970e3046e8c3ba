"""Read safetensors checkpoints one tensor at a time, and check that models can be merged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIED_HEAD = "lm_head.weight"
SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"


@dataclass(frozen=True)
class TensorInfo:
    file: Path
    dtype: str  # safetensors code: "F32", "BF16", ...
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Checkpoint:
    """A model folder's tensors: name -> where and what, in file order."""

    path: Path
    tensors: dict[str, TensorInfo]

    @classmethod
    def open(cls, path: str | Path) -> Checkpoint:
        path = Path(path)
        index = path / INDEX_FILE
        if index.exists():
            try:
                weight_map: dict[str, str] = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (json.JSONDecodeError, KeyError) as err:
                raise ValueError(f"{index}: not a safetensors index with a 'weight_map' ({err})") from err
            files = sorted(set(weight_map.values()))
        elif (path / SINGLE_FILE).exists():
            weight_map, files = {}, [SINGLE_FILE]
        else:
            raise ValueError(f"{path}: no {SINGLE_FILE} or {INDEX_FILE} (only safetensors checkpoints merge)")
        tensors: dict[str, TensorInfo] = {}
        for file in files:
            tensors.update(_read_header(path / file))
        misplaced = sorted(
            n for n, f in weight_map.items() if n not in tensors or tensors[n].file != path / f
        )
        if misplaced:
            raise ValueError(f"{index}: tensors absent from the shard the index names: {misplaced[:5]}")
        if _ties_embeddings(path):
            # Some savers (e.g. DeepSpeed through the Trainer) also write the tied copy.
            tensors.pop(TIED_HEAD, None)
        return cls(path, tensors)

    def load(self, name: str) -> Any:
        """One tensor as a torch tensor; the file is mapped only while it is read."""
        from safetensors import safe_open

        with safe_open(self.tensors[name].file, framework="pt") as f:
            return f.get_tensor(name)


def _ties_embeddings(path: Path) -> bool:
    """Whether the model's config ties its output head to the input embeddings."""
    config_file = path / "config.json"
    if not config_file.exists():
        return False
    config = json.loads(config_file.read_text(encoding="utf-8"))
    return bool(
        config.get("tie_word_embeddings", (config.get("text_config") or {}).get("tie_word_embeddings"))
    )


def _read_header(file: Path) -> dict[str, TensorInfo]:
    from safetensors import SafetensorError, safe_open

    if not file.exists():
        raise ValueError(f"{file}: shard listed in the index does not exist")
    try:
        with safe_open(file, framework="pt") as f:
            return {
                name: TensorInfo(file, f.get_slice(name).get_dtype(), tuple(f.get_slice(name).get_shape()))
                for name in f.keys()  # noqa: SIM118 (safe_open is not a mapping)
            }
    except SafetensorError as err:
        raise ValueError(f"{file}: unreadable safetensors file ({err})") from err


def check_compatible(base: Checkpoint, others: list[Checkpoint]) -> None:
    """Raise ValueError unless every model has the base's tensor names, shapes and vocabulary."""
    for other in others:
        missing = sorted(set(base.tensors) - set(other.tensors))
        extra = sorted(set(other.tensors) - set(base.tensors))
        if missing or extra:
            raise ValueError(
                f"{other.path}: tensor set differs from base {base.path}: "
                f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                f"extra {extra[:5]}{'...' if len(extra) > 5 else ''}"
            )
        for name, info in base.tensors.items():
            shape = other.tensors[name].shape
            if shape != info.shape:
                raise ValueError(
                    f"tensor {name!r} has shape {list(shape)} in {other.path} "
                    f"but {list(info.shape)} in base {base.path}"
                )
        _check_vocabulary(base.path, other.path)


def _check_vocabulary(base: Path, other: Path) -> None:
    base_vocab, other_vocab = _vocabulary(base), _vocabulary(other)
    if base_vocab is None or other_vocab is None:
        return
    if base_vocab != other_vocab:
        raise ValueError(
            f"{other / 'tokenizer.json'}: vocabulary differs from base {base / 'tokenizer.json'} "
            "(same token ids must mean the same tokens to merge embeddings)"
        )


def _vocabulary(path: Path) -> tuple[Any, Any] | None:
    file = path / "tokenizer.json"
    if not file.exists():
        return None
    try:
        tokenizer = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{file}: invalid JSON ({err.msg})") from err
    added = [(t.get("id"), t.get("content")) for t in tokenizer.get("added_tokens") or []]
    return tokenizer.get("model", {}).get("vocab"), added
