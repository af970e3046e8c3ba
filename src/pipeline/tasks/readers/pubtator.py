"""PubTator (BC5CDR, NCBI disease): `pmid|t|title`, `pmid|a|abstract`, mention lines
`pmid<TAB>start<TAB>end<TAB>text<TAB>type<TAB>id`, relation lines `pmid<TAB>CID<TAB>chem<TAB>disease`,
and a blank line between documents.

Text is title + " " + abstract (the PubTator offset convention); mentions are checked against it
(up to surrounding spaces, which NCBI mention columns sometimes carry).
Concept-level relations (CID) are kept in metadata, not as span relations.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.tasks.readers.base import Document, nonempty, read_lines, require, span, split_dirs, where

DEFAULT_SPLITS = {
    "train": "CDR_TrainingSet.PubTator.txt",
    "dev": "CDR_DevelopmentSet.PubTator.txt",
    "test": "CDR_TestSet.PubTator.txt",
}


def parse(path: Path) -> list[tuple[str, str, list[dict[str, Any]], list[list[str]]]]:
    """(pmid, text, mentions, relations) per document, in file order."""
    docs: list[tuple[str, str, list[dict[str, Any]], list[list[str]]]] = []
    title = abstract = pmid = None
    mentions: list[tuple[int, list[str]]] = []
    relations: list[list[str]] = []

    def close() -> None:
        nonlocal title, abstract, pmid
        if pmid is None:
            return
        text = f"{title} {abstract}" if abstract is not None else title or ""
        spans = []
        for lineno, cols in mentions:
            start, end = int(cols[1]), int(cols[2])
            if not 0 <= start < end <= len(text) or text[start:end].strip() != cols[3].strip():
                raise ValueError(
                    f"{where(path, lineno)}: mention {cols[3]!r} at {start}-{end} does not match the text"
                )
            spans.append(span(text, start, end, cols[4]))
        docs.append((pmid, text, spans, list(relations)))
        title = abstract = pmid = None
        mentions.clear()
        relations.clear()

    for lineno, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            close()
            continue
        head, sep, rest = line.partition("|")
        if sep and rest[:2] in ("t|", "a|") and "\t" not in head:
            if pmid is not None and head != pmid:
                raise ValueError(
                    f"{where(path, lineno)}: pmid {head} inside document {pmid} (missing blank line?)"
                )
            pmid = head
            if rest[0] == "t":
                title = rest[2:]
            else:
                abstract = rest[2:]
            continue
        cols = line.split("\t")
        if pmid is None or cols[0] != pmid:
            raise ValueError(f"{where(path, lineno)}: annotation outside its document: {line!r}")
        if len(cols) >= 6 and cols[1].isdigit() and cols[2].isdigit():
            mentions.append((lineno, cols))
        elif len(cols) == 4:
            relations.append(cols[1:])
        else:
            raise ValueError(f"{where(path, lineno)}: not a PubTator mention or relation line: {line!r}")
    close()
    nonempty(docs, path, "documents")
    return docs


def read(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    """Every document of each split file; a pmid repeated within a file gets a `-2`, `-3` … suffix."""
    docs = []
    for split, path in require(split_dirs(root, language, options, DEFAULT_SPLITS), root, language):
        seen: Counter[str] = Counter()
        for pmid, text, spans, relations in parse(path):
            seen[pmid] += 1
            doc_id = pmid if seen[pmid] == 1 else f"{pmid}-{seen[pmid]}"
            spans.sort(key=lambda s: (s["start"], s["end"], s["label"]))
            meta = {"pmid": pmid, "relations": relations} if relations else {"pmid": pmid}
            docs.append(Document(doc_id, language, split, text, {"entities": spans}, meta))
    return docs
