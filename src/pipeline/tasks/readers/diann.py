"""DIANN 2018: plain-text abstracts with inline tags `<dis>` (disability), `<neg>` (negation cue)
and `<scp>` (negation scope). Tags are removed from the text; `options.tags` (default `[dis]`)
picks which become entities (labelled by tag name).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.tasks.readers.base import Document, nonempty, read_text, require, span, split_dirs, where

TAG = re.compile(r"<(/?)(dis|neg|scp)>")
DEFAULT_SPLITS = {
    "train": "{Language}/{Language}_Training/Annotated",
    "test": "{Language}/{Language}_Test/Annotated",
}


def untag(raw: str, path: Path, tags: set[str]) -> tuple[str, list[dict[str, Any]]]:
    """Text without tags and the spans of the tags in `tags`; mismatched tags are errors."""
    parts, stack, found, pos, out_len = [], [], [], 0, 0
    for m in TAG.finditer(raw):
        parts.append(raw[pos : m.start()])
        out_len += m.start() - pos
        pos = m.end()
        closing, name = m.group(1) == "/", m.group(2)
        if not closing:
            stack.append((name, out_len, raw.count("\n", 0, m.start()) + 1))
            continue
        if not stack or stack[-1][0] != name:
            line = raw.count("\n", 0, m.start()) + 1
            raise ValueError(f"{where(path, line)}: closing </{name}> does not match an open <{name}>")
        _, start, _ = stack.pop()
        if name in tags:
            found.append((start, out_len, name))
    if stack:
        name, _, line = stack[-1]
        raise ValueError(f"{where(path, line)}: <{name}> is never closed")
    text = "".join(parts) + raw[pos:]
    entities = [span(text, s, e, name) for s, e, name in sorted(found) if e > s]
    return text, entities


def read(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    tags = set(options.get("tags", ["dis"]))
    docs = []
    for split, folder in require(split_dirs(root, language, options, DEFAULT_SPLITS), root, language):
        paths = sorted(folder.glob("*.txt"))
        nonempty(paths, folder, "abstracts (*.txt)")
        for path in paths:
            text, entities = untag(read_text(path), path, tags)
            docs.append(
                Document(path.stem, language, split, text, {"entities": entities}, {"source": str(path)})
            )
    return docs
