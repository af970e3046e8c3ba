"""CoNLL-style IOB files: `token<sep>tag` per line, blank line = end of a sentence or a document.

Text is rebuilt from the tokens (single spaces; newlines between sentences) with character
offsets. Options: `splits` (split → file pattern), `separator` (`tab`, `space` or `auto`),
`block` (`sentence`: one document per blank-line block; `document`: same, but named as
documents), `labels` (allowed entity labels; others are an error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.tasks.readers.base import Document, require, split_dirs, where
from pipeline.tasks.readers.iob import build, check_tag

DEFAULT_SPLITS = {"train": "train.txt", "dev": "dev.txt", "test": "test.txt"}
SEPARATORS = {"tab": "\t", "space": " ", "auto": None}


def blocks(path: Path, separator: str | None, labels: set[str] | None) -> list[list[tuple[str, str]]]:
    """Blank-line-separated blocks of (token, tag)."""
    found: list[list[tuple[str, str]]] = [[]]
    with open(path, encoding="utf-8", newline="") as f:
        for lineno, line in enumerate(f.read().splitlines(), start=1):
            if not line.strip():
                if found[-1]:
                    found.append([])
                continue
            cols = line.split(separator) if separator else line.split()
            if len(cols) < 2 or not cols[0]:
                raise ValueError(f"{where(path, lineno)}: expected 'token<sep>tag', got {line!r}")
            found[-1].append((cols[0], check_tag(cols[-1].strip(), where(path, lineno), labels)))
    return [b for b in found if b]


def read(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    sep = options.get("separator", "auto")
    if sep not in SEPARATORS:
        raise ValueError(f"options.separator: {sep!r} is not one of {sorted(SEPARATORS)}")
    unit = options.get("block", "sentence")
    if unit not in ("sentence", "document"):
        raise ValueError(f"options.block: {unit!r} is not 'sentence' or 'document'")
    labels = set(options["labels"]) if "labels" in options else None
    docs = []
    for split, path in require(split_dirs(root, language, options, DEFAULT_SPLITS), root, language):
        for i, block in enumerate(blocks(path, SEPARATORS[sep], labels)):
            text, entities = build([block])
            docs.append(Document(f"{split}-{unit}-{i:05d}", language, split, text, {"entities": entities}))
    return docs
