"""CasiMedicos-Arg IOB2 TSV: one token per line, a blank line ends a sentence, a case
starts at the tokens `QUESTION` `TYPE:`; one document per case with Claim/Premise spans.

Columns: token, label, then optional quality flag (and IT's `corrected`). Separators are a
tab or a single space (the languages differ); CRLF line endings are accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.tasks.readers.base import Document, nonempty, read_lines, require, split_dirs, where
from pipeline.tasks.readers.iob import build, check_tag

DEFAULT_SPLITS = {s: f"{{LANG}}/{s}.tsv" for s in ("train", "dev", "test")}
LABELS = {"Claim", "Premise"}


def cases(path: Path) -> list[list[list[tuple[str, str]]]]:
    """The cases of a file, each a list of sentences of (token, tag)."""
    found: list[list[list[tuple[str, str]]]] = []
    sentence: list[tuple[str, str]] = []

    def close() -> None:
        if sentence:
            found[-1].append(list(sentence))
            sentence.clear()

    lines = read_lines(path)
    for lineno, line in enumerate(lines, start=1):
        at = where(path, lineno)
        if not line.strip():
            close()
            continue
        cols = line.split("\t") if "\t" in line else line.split(" ")
        if len(cols) < 2 or not cols[0]:
            raise ValueError(f"{at}: expected 'token<sep>label[<sep>quality]', got {line!r}")
        token, tag = cols[0], check_tag(cols[1].strip(), at, LABELS)
        if token == "QUESTION" and lineno < len(lines) and lines[lineno].split()[:1] == ["TYPE:"]:
            close()
            found.append([])
        if not found:
            raise ValueError(f"{at}: tokens before the first case header 'QUESTION TYPE:'")
        sentence.append((token, tag))
    close()
    nonempty(found, path, "cases")
    return found


def read(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    """Every case of each split file (`options.splits`: split → file pattern, `{LANG}` = EN)."""
    docs = []
    for split, path in require(split_dirs(root, language, options, DEFAULT_SPLITS), root, language):
        for i, case in enumerate(cases(path)):
            text, entities = build(case)
            docs.append(Document(f"{split}-{i:04d}", language, split, text, {"entities": entities}))
    return docs
