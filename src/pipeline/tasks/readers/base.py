"""What every reader returns: documents with all of their gold, before sub-task filtering."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPLITS = ("train", "dev", "test")
UNSPLIT = "all"  # split of a document whose source has no split (see `carve` in docs/datasets.md)

LANGUAGE_NAMES = {"en": "English", "it": "Italian", "es": "Spanish", "fr": "French", "eu": "Basque"}


@dataclass
class Document:
    """One source unit (document, sentence block, question, case) with its full gold.

    `gold` follows the task layouts of `pipeline.examples`, with every label the source has;
    the registry restricts it to a sub-task.
    """

    id: str
    language: str
    split: str
    text: str
    gold: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


Reader = Callable[[Path, str, dict[str, Any]], list[Document]]


def span(text: str, start: int, end: int, label: str) -> dict[str, Any]:
    """A gold span over `text`."""
    return {"start": start, "end": end, "label": label, "text": text[start:end]}


def where(path: str | os.PathLike[str], line: int | None = None) -> str:
    """`file:line` for error messages."""
    return f"{path}:{line}" if line is not None else str(path)


def layout(pattern: str, language: str) -> str:
    """Fill `{lang}` (en), `{LANG}` (EN) and `{Language}` (English) in a path pattern."""
    return pattern.format(
        lang=language, LANG=language.upper(), Language=LANGUAGE_NAMES.get(language, language)
    )


def split_dirs(
    root: Path, language: str, options: dict[str, Any], default: dict[str, str]
) -> list[tuple[str, Path]]:
    """The (split, path) pairs of `options["splits"]` (else `default`) that exist under `root`."""
    patterns = options.get("splits", default)
    unknown = set(patterns) - {*SPLITS, UNSPLIT}
    if unknown:
        raise ValueError(
            f"options.splits: unknown split(s) {sorted(unknown)} (expected {SPLITS} or {UNSPLIT!r})"
        )
    found = [(split, root / layout(pattern, language)) for split, pattern in patterns.items()]
    return [(split, path) for split, path in found if path.exists()]


def require(pairs: list[tuple[str, Path]], root: Path, language: str) -> list[tuple[str, Path]]:
    """Fail clearly when no split of a language exists under `root`."""
    if not pairs:
        raise FileNotFoundError(f"no data for language {language!r} under {root}")
    return pairs


BOM = "\ufeff"


def read_text(path: str | os.PathLike[str], keep_bom: bool = False) -> str:
    """A UTF-8 file's text as stored (line ends kept, a byte-order mark dropped unless `keep_bom`);
    bytes that are not UTF-8 raise ValueError naming the file, line and byte offset."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8" if keep_bom else "utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        bad = data[err.start : err.end]
        raise ValueError(
            f"{where(path, line)}: not UTF-8 (byte {err.start} of the file is {bad!r})"
        ) from None


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    """The lines of a UTF-8 file (see `read_text`), line ends removed."""
    return read_text(path).splitlines()


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"duplicate key(s) {repeated[:5]}")
    return dict(pairs)


def load_json(text: str, at: str) -> Any:
    """Parse JSON read from `at` (a file name); a syntax error, a repeated key in an object or
    nesting too deep for Python raises ValueError naming `at` and the line."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        raise ValueError(f"{at}:{err.lineno}: invalid JSON ({err.msg})") from None
    except RecursionError:
        raise ValueError(f"{at}: JSON nested too deeply to read") from None
    except ValueError as err:
        raise ValueError(f"{at}: {err}") from None


def nonempty(records: Sized, path: str | os.PathLike[str], what: str = "records") -> None:
    """Fail on a split file or folder without any record (an empty or truncated download)."""
    if not len(records):
        raise ValueError(f"{path}: no {what} (empty split)")


def record_of(value: Any, at: str) -> dict[str, Any]:
    """`value` if it is a JSON object (a mapping), else ValueError naming `at`."""
    if not isinstance(value, dict):
        raise ValueError(f"{at}: expected a JSON object, got {type(value).__name__}")
    return value
