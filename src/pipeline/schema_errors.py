"""Config errors as lines that name their key: `arms.it.settings.lr: ...`.

Shared by the config check and the dataset registry's own schema; imports nothing heavy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

NAME_RULE = "letters, digits and . _ @ + - only, starting with a letter or digit"


def key_path(parts: Iterable[Any]) -> str:
    """`['arms', 'it', 'settings', 'lr']` as `arms.it.settings.lr` (list indices as `[i]`)."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            part = str(part)
            shown = part if re.fullmatch(r"[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*", part) else repr(part)
            text += f".{shown}" if text else shown
    return text or "<top level>"


def _unexpected(message: str) -> list[str]:
    """The keys a jsonschema '... (x, y were unexpected)' message names."""
    inside = re.search(r"\((.*) (?:was|were) unexpected\)", message)
    return re.findall(r"'((?:[^'\\]|\\.)*)'", inside.group(1)) if inside else []


UNKNOWN_KEY_VALIDATORS = ("additionalProperties", "unevaluatedProperties")


def describe(error: Any, root: str = "config key") -> list[str]:
    """One line per offending key of a jsonschema error."""
    path = list(error.absolute_path)
    if error.validator in ("oneOf", "anyOf"):
        # A mapping of one of the alternatives (e.g. lora settings or null) with a typo'd key: the key.
        unknown = [e for e in error.context if e.validator in UNKNOWN_KEY_VALIDATORS]
        if unknown:
            return [line for e in unknown for line in describe(e, root)]
    if error.validator in UNKNOWN_KEY_VALIDATORS:
        keys = _unexpected(error.message)
        if keys:
            return [f"{root} {key_path([*path, key])}: unknown key" for key in keys]
    if "propertyNames" in error.relative_schema_path:
        return [f"{root} {key_path([*path, error.instance])}: not a valid name ({NAME_RULE})"]
    if error.validator == "pattern" and error.validator_value.startswith("^[A-Za-z0-9]["):
        return [f"{root} {key_path(path)}: {error.instance!r} is not a valid name ({NAME_RULE})"]
    return [f"{root} {key_path(path)}: {error.message}"]
