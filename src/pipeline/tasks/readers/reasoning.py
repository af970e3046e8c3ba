"""Reasoning traces (question, reasoning, answer) for the RoT mix, from the thesis's sources.

Formats, by suffix: CSV (UTF-8, BOM ok, fields may span lines), JSONL (one object a line), JSON
(a list of objects, or an object holding one list). Column sets (`FIELDS`, by reader name):

* `reasoning_csv`: the HuatuoGPT-o1 translated CSV `original_question_en, complex_cot, response`;
* `reasoning_jsonl`, `medical_o1`: FreedomIntelligence/medical-o1-reasoning-SFT `Question,
  Complex_CoT, Response` (its `medical_o1_sft*.json` files as published, or JSONL);
* `medreason`: UCSC-VLAA/MedReason `question, options, reasoning, answer` (the options, a text
  block, join the question: a trace's options are part of its question).

A `language` column, where present, wins over the `language` argument.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.io import read_jsonl
from pipeline.tasks.readers.base import nonempty, read_text

CSV_FIELDS = {"question": "original_question_en", "reasoning": "complex_cot", "answer": "response"}
JSONL_FIELDS = {"question": "Question", "reasoning": "Complex_CoT", "answer": "Response"}
MEDREASON_FIELDS = {k: k for k in ("question", "options", "reasoning", "answer")}
FIELDS = {
    "reasoning_csv": CSV_FIELDS,
    "reasoning_jsonl": JSONL_FIELDS,
    "medical_o1": JSONL_FIELDS,
    "medreason": MEDREASON_FIELDS,
}
REQUIRED = ("question", "reasoning", "answer")


def _csv_rows(path: Path, columns: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""), strict=True)
    try:
        header = reader.fieldnames or []
        absent = [col for col in columns if col not in header]
        if absent:
            raise ValueError(f"{path}:1: header lacks column(s) {absent} (header: {header})")
        for row in reader:
            at = f"{path}:{reader.line_num}"
            if None in row or None in row.values():
                raise ValueError(f"{at}: row has {len(header)} columns expected, got a different count")
            yield at, row
    except csv.Error as err:
        raise ValueError(f"{path}:{reader.line_num}: broken CSV ({err})") from None


def _json_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        obj = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: not JSON ({err.msg})") from None
    if isinstance(obj, dict):
        lists = [v for v in obj.values() if isinstance(v, list)]
        obj = lists[0] if len(lists) == 1 else None
    if not isinstance(obj, list):
        raise ValueError(f"{path}: expected a list of trace objects (or an object holding one list)")
    for n, row in enumerate(obj):
        if not isinstance(row, dict):
            raise ValueError(f"{path}: record {n}: not an object")
        yield f"{path}: record {n}", row


def _rows(path: Path, columns: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    if path.suffix == ".csv":
        return _csv_rows(path, columns)
    if path.suffix == ".json":
        return _json_rows(path)
    return ((f"{path}: record {n}", row) for n, row in enumerate(read_jsonl(path)))


def read_traces(
    path: str | os.PathLike[str], language: str = "en", fields: dict[str, str] | None = None
) -> list[dict[str, str]]:
    """Traces `{id, language, question, reasoning, answer}` in file order.

    `fields` maps our keys (question, reasoning, answer; optional options, language) to the
    file's columns (default: the HuatuoGPT CSV columns for .csv, medical-o1's otherwise).
    """
    path = Path(path)
    fields = {"language": "language", **(fields or (CSV_FIELDS if path.suffix == ".csv" else JSONL_FIELDS))}
    traces = []
    for n, (at, row) in enumerate(_rows(path, [fields[k] for k in REQUIRED])):
        values = {k: row.get(fields[k]) for k in REQUIRED}
        missing = [fields[k] for k, v in values.items() if not isinstance(v, str) or not v.strip()]
        if missing:
            raise ValueError(f"{at}: missing or empty field(s) {missing}")
        options = row.get(fields["options"]) if "options" in fields else None
        question = values["question"].strip()
        if isinstance(options, str) and options.strip():
            question = f"{question}\n{options.strip()}"
        traces.append(
            {
                "id": f"trace-{n:05d}",
                "language": row.get(fields["language"]) or language,
                "question": question,
                "reasoning": values["reasoning"].strip(),
                "answer": values["answer"].strip(),
            }
        )
    nonempty(traces, path, "traces")
    return traces
