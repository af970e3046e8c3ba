"""i2b2/VA 2010 concepts and relations: `txt/<doc>.txt`, `concept/<doc>.con`, `rel/<doc>.rel`.

Text files are pre-tokenised (one sentence per line, tokens split by whitespace). Concept lines
`c="chest pain" 12:4 12:5||t="problem"` give 1-based line and 0-based token positions
(inclusive); relation lines `c="aspirin" 3:2 3:2||r="TrAP"||c="pain" 3:6 3:6` relate the first
concept (head) to the second (tail). Entity labels: problem, treatment, test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.tasks.readers.base import (
    Document,
    nonempty,
    read_lines,
    read_text,
    require,
    span,
    split_dirs,
    where,
)

CONCEPT = re.compile(r'^c="(.*)" (\d+):(\d+) (\d+):(\d+)$')
DEFAULT_SPLITS = {"train": "train", "dev": "dev", "test": "test"}


def token_offsets(text: str) -> list[list[tuple[int, int]]]:
    """Character (start, end) of each whitespace token, per line."""
    offsets, pos = [], 0
    for line in text.split("\n"):
        offsets.append([(pos + m.start(), pos + m.end()) for m in re.finditer(r"\S+", line)])
        pos += len(line) + 1
    return offsets


def concept(part: str, text: str, tokens: list[list[tuple[int, int]]], label: str, at: str) -> dict[str, Any]:
    m = CONCEPT.match(part.strip())
    if not m:
        raise ValueError(f'{at}: bad concept {part!r} (expected c="..." line:token line:token)')
    surface, l1, t1, l2, t2 = m.group(1), *map(int, m.groups()[1:])
    try:
        start, end = tokens[l1 - 1][t1][0], tokens[l2 - 1][t2][1]
    except IndexError:
        raise ValueError(f"{at}: position {l1}:{t1}-{l2}:{t2} is outside the text") from None
    if " ".join(text[start:end].split()).lower() != " ".join(surface.split()).lower():
        raise ValueError(f"{at}: concept {surface!r} differs from the text {text[start:end]!r}")
    return span(text, start, end, label)


def attributes(line: str, at: str) -> list[str]:
    parts = line.split("||")
    if len(parts) not in (2, 3):
        raise ValueError(f"{at}: expected 'c=...||t=...' or 'c=...||r=...||c=...', got {line!r}")
    return parts


def read_document(txt: Path, con: Path, rel: Path | None, language: str, split: str) -> Document:
    text = read_text(txt)
    tokens = token_offsets(text)
    entities = []
    for lineno, line in enumerate(read_lines(con), start=1):
        if line.strip():
            at = where(con, lineno)
            c, t = attributes(line, at)
            label = re.fullmatch(r't="(\w+)"', t.strip())
            if not label:
                raise ValueError(f'{at}: bad type {t!r} (expected t="problem|treatment|test")')
            entities.append(concept(c, text, tokens, label.group(1), at))
    relations = []
    lines = read_lines(rel) if rel and rel.exists() else []
    for lineno, line in enumerate(lines, start=1):
        if line.strip():
            at = where(rel, lineno)
            parts = attributes(line, at)
            kind = re.fullmatch(r'r="(\w+)"', parts[1].strip()) if len(parts) == 3 else None
            if not kind:
                raise ValueError(f"{at}: bad relation {line!r}")
            by_pos = {(e["start"], e["end"]): e for e in entities}
            head, tail = (concept(p, text, tokens, "", at) for p in (parts[0], parts[2]))
            head, tail = (by_pos.get((s["start"], s["end"])) for s in (head, tail))
            if head is None or tail is None:
                raise ValueError(f"{at}: relation argument is not a concept of {con.name}")
            relations.append({"head": head, "relation": kind.group(1), "tail": tail})
    entities.sort(key=lambda s: (s["start"], s["end"], s["label"]))
    return Document(txt.stem, language, split, text, {"entities": entities, "relations": relations})


def read(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    """Documents of each split folder (holding `txt/`, `concept/`, `rel/`; names via options)."""
    sub = {k: options.get(f"{k}_dir", k) for k in ("txt", "concept", "rel")}
    docs = []
    for split, folder in require(split_dirs(root, language, options, DEFAULT_SPLITS), root, language):
        paths = sorted((folder / sub["txt"]).glob("*.txt"))
        nonempty(paths, folder / sub["txt"], "documents (*.txt)")
        for txt in paths:
            con = folder / sub["concept"] / f"{txt.stem}.con"
            if not con.exists():
                raise ValueError(f"{txt}: no concept file {con}")
            docs.append(read_document(txt, con, folder / sub["rel"] / f"{txt.stem}.rel", language, split))
    return docs
