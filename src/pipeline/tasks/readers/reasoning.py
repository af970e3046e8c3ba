"""Reasoning traces (question, reasoning, answer) for the RoT mix: HuatuoGPT-o1 CSV or JSONL.

CSV: UTF-8 with BOM, header `original_question_en,translated_question_th,complex_cot,response`
and an optional `language` column; fields may span lines. JSONL: one object per line with
`Question`, `Complex_CoT`, `Response` (the medical-o1-reasoning-SFT keys) and optional `language`.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from pipeline.io import read_jsonl
from pipeline.tasks.readers.base import nonempty, read_text

CSV_FIELDS = {"question": "original_question_en", "reasoning": "complex_cot", "answer": "response"}
JSONL_FIELDS = {"question": "Question", "reasoning": "Complex_CoT", "answer": "Response"}


def _trace(row: dict[str, Any], fields: dict[str, str], at: str, n: int, language: str) -> dict[str, Any]:
    missing = [col for col in fields.values() if not isinstance(row.get(col), str) or not row[col].strip()]
    if missing:
        raise ValueError(f"{at}: missing or empty field(s) {missing}")
    lang = row.get("language") or language
    return {"id": f"trace-{n:05d}", "language": lang, **{k: row[col].strip() for k, col in fields.items()}}


def read_traces(
    path: str | os.PathLike[str], language: str = "en", fields: dict[str, str] | None = None
) -> list[dict[str, str]]:
    """Traces `{id, language, question, reasoning, answer}` in file order.

    `language` applies to rows without a `language` column; `fields` maps our keys to the
    file's column names (defaults per format above).
    """
    path = Path(path)
    if path.suffix == ".csv":
        fields = fields or CSV_FIELDS
        traces = []
        reader = csv.DictReader(io.StringIO(read_text(path), newline=""), strict=True)
        try:
            header = reader.fieldnames or []
            absent = [col for col in fields.values() if col not in header]
            if absent:
                raise ValueError(f"{path}:1: header lacks column(s) {absent} (header: {header})")
            for n, row in enumerate(reader):
                at = f"{path}:{reader.line_num}"
                if None in row or None in row.values():
                    raise ValueError(f"{at}: row has {len(header)} columns expected, got a different count")
                traces.append(_trace(row, fields, at, n, language))
        except csv.Error as err:
            raise ValueError(f"{path}:{reader.line_num}: broken CSV ({err})") from None
        nonempty(traces, path, "traces")
        return traces
    fields = fields or JSONL_FIELDS
    traces = [
        _trace(row, fields, f"{path}: record {n}", n, language) for n, row in enumerate(read_jsonl(path))
    ]
    nonempty(traces, path, "traces")
    return traces
