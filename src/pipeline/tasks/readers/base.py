"""What every reader returns: documents with all of their gold, before sub-task filtering."""

from __future__ import annotations

import os
from collections.abc import Callable
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
