"""CoNLL-style IOB files: `token<sep>tag` per line, blank line = end of a sentence or a document.

Text is rebuilt from the tokens (single spaces; newlines between sentences) with character
offsets. Options: `splits` (split → file pattern), `separator` (`tab`, `space` or `auto`),
`block` (`sentence`: one document per blank-line block; `document`: same, but named as
documents), `labels` (required: the entity labels; any other tag is an error, since a misspelt
tag would otherwise read as a new label).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.tasks.readers.base import Document, nonempty, read_lines, require, split_dirs, where
from pipeline.tasks.readers.iob import build, check_tag

DEFAULT_SPLITS = {"train": "train.txt", "dev": "dev.txt", "test": "test.txt"}
SEPARATORS = {"tab": "\t", "space": " ", "auto": None}


def blocks(path: Path, separator: str | None, labels: set[str]) -> list[list[tuple[str, str]]]:
    """Blank-line-separated blocks of (token, tag); a file without any is an error."""
    found: list[list[tuple[str, str]]] = [[]]
    for lineno, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            if found[-1]:
                found.append([])
            continue
        cols = line.split(separator) if separator else line.split()
        if len(cols) < 2 or not cols[0]:
            raise ValueError(f"{where(path, lineno)}: expected 'token<sep>tag', got {line!r}")
        found[-1].append((cols[0], check_tag(cols[-1].strip(), where(path, lineno), labels)))
    found = [b for b in found if b]
    nonempty(found, path, "tokens")
    return found


def read(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    sep = options.get("separator", "auto")
    if sep not in SEPARATORS:
        raise ValueError(f"options.separator: {sep!r} is not one of {sorted(SEPARATORS)}")
    unit = options.get("block", "sentence")
    if unit not in ("sentence", "document"):
        raise ValueError(f"options.block: {unit!r} is not 'sentence' or 'document'")
    if not options.get("labels"):
        raise ValueError(
            "options.labels: required for CoNLL data (the entity labels, e.g. [FARMACO]), "
            "so that a misspelt tag is an error rather than a new label"
        )
    labels = set(options["labels"])
    docs = []
    for split, path in require(split_dirs(root, language, options, DEFAULT_SPLITS), root, language):
        for i, block in enumerate(blocks(path, SEPARATORS[sep], labels)):
            text, entities = build([block])
            docs.append(Document(f"{split}-{unit}-{i:05d}", language, split, text, {"entities": entities}))
    return docs
