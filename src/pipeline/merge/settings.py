"""The merge stage's settings: validated, with each method's mergekit defaults filled in.

Torch-free: the workflow checks them when it starts (`pipeline.settings`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.io import canonical_json
from pipeline.merge.methods import MergeMethod, get_method
from pipeline.merge.parameters import Setting, normalize_setting
from pipeline.settings import parse_json_object

DTYPES = ("float32", "float16", "bfloat16", "float64")
COMMON_KEYS = {"method", "dtype", "max_shard_size"}
DEFAULT_MAX_SHARD_SIZE = "5GB"
PER_TENSOR_KEYS = ("t", "weight", "density")
# Closed ranges of the per-tensor values that have one: SLERP's t interpolates, density is a share kept.
RANGES = {"t": (0.0, 1.0, "[0, 1]"), "density": (0.0, 1.0, "(0, 1]")}


@dataclass(frozen=True)
class MergeSettings:
    """Merge settings as parsed: the registered method, the values it reads, defaults filled in."""

    method: MergeMethod
    parameters: dict[str, Setting]  # t / weight / density for every input
    model_parameters: list[dict[str, Setting]]  # per --models entry; takes precedence
    base_parameters: dict[str, Setting]  # linear: the base's weight
    normalize: bool
    rescale: bool
    lambda_: float
    seed: int
    dtype: str | None  # None: each tensor keeps the base's dtype
    max_shard_size: int  # bytes

    def model_scopes(self) -> list[list[dict[str, Setting]]]:
        """Per model, where its per-tensor parameters are looked up: its own, then the global ones."""
        return [[own, self.parameters] for own in self.model_parameters]

    @classmethod
    def from_mapping(cls, mapping: Any, where: str = "merge settings", n_models: int = 1) -> MergeSettings:
        """The settings of `mapping` for a merge of the base with `n_models` models; a bad key or value
        raises ValueError naming `where` (a config path, e.g. ``arms.cpt-slerp.settings``)."""
        try:
            return parse_settings(mapping, n_models)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None

    @classmethod
    def from_json(cls, text: str, where: str = "merge settings", n_models: int = 1) -> MergeSettings:
        """The settings of a `--settings` JSON object (`to_json` of the applied settings, or the user's)."""
        return cls.from_mapping(parse_json_object(text, where), where, n_models)

    def to_dict(self) -> dict[str, Any]:
        """The settings as applied (`record`): parsed again, they are these settings."""
        return self.record()

    def to_json(self) -> str:
        return canonical_json(self.record())

    def record(self) -> dict[str, Any]:
        """The settings as applied, defaults included (for merge_parameters.json and the card)."""
        record: dict[str, Any] = {"method": self.method.name, **self.parameters}
        record.update(dtype=self.dtype, max_shard_size=self.max_shard_size)
        keys = self.method.keys
        if "normalize" in keys:
            record.update(normalize=self.normalize)
        if "lambda" in keys:
            record["lambda"] = self.lambda_
        if "rescale" in keys:
            record.update(rescale=self.rescale)
        if "seed" in keys:
            record.update(seed=self.seed)
        if any(self.model_parameters):
            record.update(model_parameters=self.model_parameters)
        if self.base_parameters:
            record.update(base_parameters=self.base_parameters)
        return record


def parse_settings(settings: Mapping[str, Any], n_models: int) -> MergeSettings:
    """Validate `settings` for a merge of a base with `n_models` other models."""
    if not isinstance(settings, Mapping):
        raise ValueError(f"merge settings must be a JSON object, got {settings!r}")
    method = get_method(settings.get("method"))
    unknown = set(settings) - COMMON_KEYS - method.keys
    if unknown:
        raise ValueError(f"settings: keys {sorted(unknown)} do not apply to method {method.name!r}")
    parameters = {k: normalize_setting(k, settings[k]) for k in PER_TENSOR_KEYS if k in settings}
    for key, value in parameters.items():
        _check_range(key, value)
    method.check(parameters, n_models)
    model_keys = {"weight", "density"} & method.keys
    model_parameters = settings.get("model_parameters", [{}] * n_models)
    if not isinstance(model_parameters, list) or len(model_parameters) != n_models:
        raise ValueError(
            f"settings 'model_parameters': expected a list of {n_models} objects (one per model)"
        )
    dtype = settings.get("dtype")
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"settings 'dtype': expected one of {DTYPES} or null, got {dtype!r}")
    return MergeSettings(
        method=method,
        parameters=parameters,
        model_parameters=[
            _scope(f"model_parameters[{i}]", p, model_keys) for i, p in enumerate(model_parameters)
        ],
        base_parameters=_scope("base_parameters", settings.get("base_parameters", {}), {"weight"}),
        normalize=_typed(settings, "normalize", bool, method.normalize),
        rescale=_typed(settings, "rescale", bool, method.rescale),
        lambda_=float(_typed(settings, "lambda", int | float, 1.0)),
        seed=_typed(settings, "seed", int, 0),
        dtype=dtype,
        max_shard_size=_shard_size(settings.get("max_shard_size", DEFAULT_MAX_SHARD_SIZE)),
    )


def _scope(where: str, value: Any, allowed: set[str]) -> dict[str, Setting]:
    if not isinstance(value, dict) or set(value) - allowed:
        raise ValueError(
            f"settings {where!r}: expected an object with keys among {sorted(allowed)}, got {value!r}"
        )
    scoped = {k: normalize_setting(f"{where}.{k}", v) for k, v in value.items()}
    for key, setting in scoped.items():
        _check_range(key, setting, f"{where}.{key}")
    return scoped


def _values(setting: Setting) -> list[float]:
    """Every number of a setting: the number, a gradient's points, each filter's value(s)."""
    if isinstance(setting, float):
        return [setting]
    return [v for item in setting for v in (_values(item["value"]) if isinstance(item, dict) else [item])]


def _check_range(key: str, setting: Setting, where: str | None = None) -> None:
    if key not in RANGES:
        return
    low, high, shown = RANGES[key]
    bad = [v for v in _values(setting) if not (low <= v <= high) or (key == "density" and v == low)]
    if bad:
        raise ValueError(f"settings {where or key!r}: {bad[0]!r} is outside {shown}")


def _typed(settings: dict[str, Any], key: str, kind: Any, default: Any) -> Any:
    value = settings.get(key, default)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"settings {key!r}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB)\s*$", re.IGNORECASE)
_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def _shard_size(value: Any) -> int:
    """Bytes, from an int or a size like "2GB" (decimal units, as transformers reads them)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = _SIZE.match(value) if isinstance(value, str) else None
    if m is None or float(m[1]) <= 0:
        raise ValueError(
            f"settings 'max_shard_size': expected bytes (int > 0) or a size like '2GB', got {value!r}"
        )
    return int(float(m[1]) * _UNITS[m[2].upper()])
