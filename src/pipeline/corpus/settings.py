"""Stage settings: defaults overlaid with the JSON given on the command line."""

from __future__ import annotations

import copy
import json
from typing import Any


def merge_settings(defaults: dict[str, Any], given: dict[str, Any] | None, where: str) -> dict[str, Any]:
    """Return `defaults` overlaid with `given`, recursing into nested dicts.

    A key absent from `defaults` raises ValueError naming it, so a typo never silently
    falls back to a default.
    """
    merged = copy.deepcopy(defaults)
    for key, value in (given or {}).items():
        if key not in defaults:
            raise ValueError(f"{where}: unknown setting {key!r} (known: {sorted(defaults)})")
        if isinstance(defaults[key], dict) and defaults[key] and isinstance(value, dict):
            merged[key] = merge_settings(defaults[key], value, f"{where}.{key}")
        else:
            merged[key] = value
    return merged


def parse_settings(text: str, defaults: dict[str, Any], where: str) -> dict[str, Any]:
    """Parse a `--settings` JSON string and merge it over `defaults`."""
    try:
        given = json.loads(text) if text else {}
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: --settings is not valid JSON ({err.msg})") from err
    if not isinstance(given, dict):
        raise ValueError(f"{where}: --settings must be a JSON object")
    return merge_settings(defaults, given, where)
