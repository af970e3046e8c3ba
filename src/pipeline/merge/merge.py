"""Merge a base model with other models, streaming tensor by tensor into a new model folder."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.io import atomic_dir, write_json
from pipeline.merge.card import merge_details
from pipeline.merge.checkpoint import Checkpoint, check_compatible
from pipeline.merge.parameters import layer_positions
from pipeline.merge.settings import MergeSettings, parse_settings
from pipeline.merge.writer import OutputTensor, ShardWriter, plan_shards, torch_dtype, write_index
from pipeline.provenance import RUN_RECORD, RunRecorder, model_reference

PARAMETERS_FILE = "merge_parameters.json"
MODEL_FILE = "medadapt_model.json"  # what a model folder is (family, variant, how it was made)
_NOT_COPIED = {
    "config.json",
    "README.md",
    RUN_RECORD,
    PARAMETERS_FILE,
    MODEL_FILE,
    "model.safetensors.index.json",
}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")


def merge_models(
    base: str | Path,
    models: list[str | Path],
    output: str | Path,
    settings: Mapping[str, Any] | MergeSettings,
) -> dict[str, Any]:
    """Merge `models` into `base` as `settings` say; write the model folder `output` atomically.

    Returns the record written to `output/merge_parameters.json`.
    """
    import torch

    config = settings if isinstance(settings, MergeSettings) else parse_settings(settings, len(models))
    recorder = RunRecorder("merge", config.record(), parent=models[0])
    base_ckpt = Checkpoint.open(base)
    others = [Checkpoint.open(m) for m in models]
    check_compatible(base_ckpt, others)
    positions = layer_positions(list(base_ckpt.tensors))
    out_dtype = getattr(torch, config.dtype) if config.dtype else None
    outputs = {}
    for name, info in base_ckpt.tensors.items():
        stored = torch_dtype(info.dtype, name)
        outputs[name] = OutputTensor(
            out_dtype if out_dtype and stored.is_floating_point else stored, info.shape
        )
    shards = plan_shards(outputs, config.max_shard_size)
    resolved: dict[str, dict[str, Any]] = {}
    with atomic_dir(output) as tmp:
        for file, names in shards.items():
            with ShardWriter(tmp / file, {n: outputs[n] for n in names}) as writer:
                for name in names:
                    tensor, resolved[name] = _merge_tensor(name, positions[name], base_ckpt, others, config)
                    writer.write(name, tensor.to(outputs[name].dtype))
                    del tensor
        if len(shards) > 1:
            write_index(tmp, shards, outputs)
        _copy_side_files(base_ckpt.path, tmp)
        _write_config(base_ckpt.path, tmp, config.dtype)
        record = {
            "method": config.method.name,
            "base": str(base_ckpt.path),
            "models": [str(o.path) for o in others],
            "settings": config.record(),
            "tensors": resolved,
        }
        write_json(tmp / PARAMETERS_FILE, record)
        write_json(tmp / MODEL_FILE, merged_model_record(base_ckpt.path, [o.path for o in others], config))
        recorder.write(
            tmp,
            output,
            merge_details(record),
            merged={"base": model_reference(base), "models": [model_reference(m) for m in models]},
        )
    return record


def _merge_tensor(
    name: str, position: float, base: Checkpoint, others: list[Checkpoint], config: MergeSettings
) -> tuple[Any, dict[str, Any]]:
    """One merged tensor (float32/64, or the base's for non-float tensors) and its resolved parameters."""
    import torch

    base_tensor = base.load(name)
    if not base_tensor.is_floating_point():
        for other in others:
            if not torch.equal(other.load(name), base_tensor):
                raise ValueError(
                    f"tensor {name!r}: non-float tensor differs in {other.path}; cannot merge it"
                )
        return base_tensor, {"copied_from_base": True}
    return config.method.merge(name, position, base_tensor, others, config)


def _model_record(folder: Path) -> dict[str, Any] | None:
    path = folder / MODEL_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err.msg})") from err


def merged_model_record(base: Path, models: list[Path], config: MergeSettings) -> dict[str, Any]:
    """The merged folder's `medadapt_model.json`: how it was made (method, inputs and their own
    records, settings), and the family and architecture the inputs share; not the base's seed or
    variant, which describe another model (a merge of an instruct and a base model is neither)."""
    inputs = [("base", base), *(("model", m) for m in models)]
    records = [_model_record(path) for _, path in inputs]
    shared = {
        key: records[0][key]
        for key in ("family", "architecture", "variant")
        if records[0] and key in records[0] and all(r and r.get(key) == records[0][key] for r in records)
    }
    return {
        **shared,
        "made_by": "merge",
        "method": config.method.name,
        "inputs": [
            {"role": role, "path": str(path), "model": record}
            for (role, path), record in zip(inputs, records, strict=True)
        ],
        "settings": config.record(),
    }


def _copy_side_files(base: Path, output: Path) -> None:
    """Tokenizer, generation config and other small files of the base (not its weights)."""
    for file in sorted(base.iterdir()):
        if file.is_file() and file.name not in _NOT_COPIED and not file.name.endswith(_WEIGHT_SUFFIXES):
            shutil.copy2(file, output / file.name)


def _write_config(base: Path, output: Path, dtype: str | None) -> None:
    config_file = base / "config.json"
    if not config_file.exists():
        raise ValueError(f"{config_file}: missing (the merged model takes the base's config)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{config_file}: invalid JSON ({err.msg})") from err
    if dtype:
        config["dtype"] = dtype
        if "torch_dtype" in config:
            config["torch_dtype"] = dtype
    write_json(output / "config.json", config)
