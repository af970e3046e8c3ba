"""Clinical report form (CRF) filling as JSONL — the input format for E3C-CRF and eCREAM.

One record per line: `{"id": str, "text": str, "items": {item name: value or null}}`, with an
optional `"split"` (train/dev/test) when all splits share one file. Files per split and
language via `options.splits` (default `{lang}/{split}.jsonl`), or a single file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.io import iter_jsonl
from pipeline.tasks.readers.base import SPLITS, UNSPLIT, Document, nonempty, require, split_dirs
from pipeline.tasks.readers.mcq import field

DEFAULT_SPLITS = {s: f"{{lang}}/{s}.jsonl" for s in SPLITS}


def read(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    files = (
        [(UNSPLIT, root)]
        if root.is_file()
        else require(split_dirs(root, language, options, DEFAULT_SPLITS), root, language)
    )
    docs = []
    for file_split, path in files:
        records = list(iter_jsonl(path))
        nonempty(records, path, "records")
        for lineno, rec in records:
            at = f"{path}:{lineno}"
            text, items = field(rec, "text", at), field(rec, "items", at)
            if not isinstance(text, str) or not isinstance(items, dict):
                raise ValueError(f"{at}: 'text' must be a string and 'items' a mapping")
            bad = [k for k, v in items.items() if v is not None and not isinstance(v, str)]
            if bad:
                raise ValueError(f"{at}: item value(s) {bad} must be a string or null")
            split = rec.get("split", file_split)
            if split not in (*SPLITS, UNSPLIT):
                raise ValueError(f"{at}: split {split!r} is not one of {SPLITS}")
            docs.append(Document(str(field(rec, "id", at)), language, split, text, {"items": dict(items)}))
    return docs
