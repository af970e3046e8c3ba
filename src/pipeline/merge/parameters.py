"""Per-tensor merge parameters, resolved exactly as mergekit resolves them.

A setting is a number, a gradient (list of numbers interpolated over the layer
stack), or a list of conditions `{"filter": substring, "value": number|gradient}`
where the first condition whose filter occurs in the tensor name wins (a
condition without filter, or with filter "*", matches every tensor).
Tensors inside `...layers.N.` sit at position N / (layers - 1) of their stack
(1 when the stack has one layer); every other tensor sits at position 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Setting = float | list[float] | list[dict[str, Any]]

_LAYER = re.compile(r"^(?P<stack>(?:.*?\.)?layers)\.(?P<index>\d+)\.")


def normalize_setting(key: str, value: Any) -> Setting:
    """Validate a user setting and return it in mergekit's form.

    Also accepts `{"default": value, "filters": [{"filter": s, "value": v}, ...]}`.
    """
    if isinstance(value, dict):
        unknown = set(value) - {"default", "filters"}
        if unknown:
            raise ValueError(
                f"setting {key!r}: unknown keys {sorted(unknown)} (expected 'default', 'filters')"
            )
        conditions = list(value.get("filters", []))
        if "default" in value:
            conditions.append({"value": value["default"]})
        value = conditions
    if _is_number(value):
        return float(value)
    if isinstance(value, list) and value and all(_is_number(v) for v in value):
        return [float(v) for v in value]
    if isinstance(value, list) and value and all(isinstance(c, dict) for c in value):
        return [_condition(key, c) for c in value]
    raise ValueError(
        f"setting {key!r}: expected a number, a non-empty list of numbers (a layer gradient), "
        f"or filters, got {value!r}"
    )


def _condition(key: str, condition: dict[str, Any]) -> dict[str, Any]:
    unknown = set(condition) - {"filter", "value"}
    if unknown or "value" not in condition:
        raise ValueError(
            f"setting {key!r}: a filter needs 'value' and optionally 'filter', got {condition!r}"
        )
    value = normalize_setting(key, condition["value"])
    if isinstance(value, list) and isinstance(value[0], dict):
        raise ValueError(f"setting {key!r}: filters cannot be nested, got {condition!r}")
    filter_ = condition.get("filter")
    if filter_ is not None and not isinstance(filter_, str):
        raise ValueError(f"setting {key!r}: filter must be a string, got {filter_!r}")
    return {"filter": filter_, "value": value}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def evaluate(setting: Setting, tensor_name: str, position: float) -> float | None:
    """The value of `setting` for one tensor; None when no filter matches."""
    if isinstance(setting, float):
        return setting
    if isinstance(setting[0], dict):
        for condition in setting:
            filter_ = condition["filter"]
            if filter_ is None or filter_ == "*" or filter_ in tensor_name:
                return evaluate(condition["value"], tensor_name, position)
        return None
    scaled = position * (len(setting) - 1)
    i0 = int(scaled)
    i1 = min(len(setting) - 1, i0 + 1)
    frac = scaled - i0
    return float((1 - frac) * setting[i0] + frac * setting[i1])


def resolve(
    key: str,
    scopes: Iterable[Mapping[str, Setting]],
    tensor_name: str,
    position: float,
    default: float | None,
) -> float:
    """First value found in `scopes` (highest precedence first), else `default`."""
    for scope in scopes:
        if key in scope:
            value = evaluate(scope[key], tensor_name, position)
            if value is not None:
                return value
    if default is None:
        raise ValueError(f"no value of {key!r} applies to tensor {tensor_name!r} (add a default)")
    return default


def layer_positions(tensor_names: Sequence[str]) -> dict[str, float]:
    """The gradient position of every tensor: N / (layers - 1) inside a layer stack, else 0."""
    found = {name: m for name in tensor_names if (m := _LAYER.match(name))}
    stack_size: dict[str, int] = {}
    for m in found.values():
        stack_size[m["stack"]] = max(stack_size.get(m["stack"], 0), int(m["index"]) + 1)
    positions = {}
    for name in tensor_names:
        m = found.get(name)
        if m is None:
            positions[name] = 0.0
        else:
            size = stack_size[m["stack"]]
            positions[name] = int(m["index"]) / (size - 1) if size > 1 else 1.0
    return positions
