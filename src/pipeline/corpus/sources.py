"""Corpus sources declared in config, and streaming readers for each input format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

from pipeline.io import iter_jsonl
from pipeline.paths import resolve

FORMATS = ("e3c_json", "jsonl", "parquet", "text", "hf")


class RawDocument(NamedTuple):
    """One document as read from a source, before cleaning."""

    id: str
    text: str
    licence: str


@dataclass(frozen=True)
class Source:
    """A corpus source: where it is, its format, language, document type and licence.

    `licence` None means every document carries its own licence in `licence_field`.
    `split` and `config` are used by the `hf` format only.
    """

    name: str
    path: str
    format: str
    language: str
    doc_type: str
    licence: str | None
    text_field: str = "text"
    id_field: str = "id"
    licence_field: str = "licence"
    split: str = "train"
    config: str | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(
                f"source {self.name!r}: unknown format {self.format!r} (expected one of {FORMATS})"
            )

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Source:
        known = {f.name for f in fields(cls)}
        unknown = set(record) - known
        if unknown:
            raise ValueError(f"source {record.get('name')!r}: unknown keys {sorted(unknown)}")
        missing = {"name", "path", "format", "language", "doc_type", "licence"} - set(record)
        if missing:
            raise ValueError(f"source {record.get('name')!r}: missing keys {sorted(missing)}")
        return cls(**record)


def iter_documents(source: Source) -> Iterator[RawDocument]:
    """Stream the documents of `source`; bad input raises ValueError naming file and record."""
    readers = {
        "e3c_json": _read_json_files,
        "jsonl": _read_jsonl,
        "parquet": _read_parquet,
        "text": _read_text_files,
        "hf": _read_hf,
    }
    return readers[source.format](source)


def _files(source: Source, suffix: str) -> list[Path]:
    path = resolve(source.path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"source {source.name!r}: {path} does not exist")
    files = sorted(p for p in path.rglob(f"*{suffix}") if p.is_file())
    if not files:
        raise ValueError(f"source {source.name!r}: no *{suffix} files under {path}")
    return files


def _document(source: Source, record: Any, where: str, default_id: str) -> RawDocument:
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    text = record.get(source.text_field)
    if not isinstance(text, str):
        raise ValueError(f"{where}: field {source.text_field!r} missing or not a string")
    licence = source.licence
    if licence is None:
        licence = record.get(source.licence_field)
        if not isinstance(licence, str) or not licence.strip():
            raise ValueError(
                f"{where}: source {source.name!r} takes per-document licences, "
                f"but field {source.licence_field!r} is missing or empty"
            )
    doc_id = record.get(source.id_field, default_id)
    return RawDocument(str(doc_id), text, licence)


def _read_json_files(source: Source) -> Iterator[RawDocument]:
    """One JSON object per file (the E3C layer-3 layout)."""
    for path in _files(source, ".json"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: invalid JSON document ({err})") from err
        yield _document(source, record, str(path), path.stem)


def _read_jsonl(source: Source) -> Iterator[RawDocument]:
    for path in _files(source, ".jsonl"):
        for lineno, record in iter_jsonl(path):
            yield _document(source, record, f"{path}:{lineno}", f"{path.stem}:{lineno}")


def _read_parquet(source: Source, batch_size: int = 1024) -> Iterator[RawDocument]:
    import pyarrow.parquet as pq

    for path in _files(source, ".parquet"):
        pf = pq.ParquetFile(path)
        wanted = [source.text_field, source.id_field] + (
            [source.licence_field] if source.licence is None else []
        )
        columns = [c for c in wanted if c in pf.schema_arrow.names]
        row = 0
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            for record in batch.to_pylist():
                row += 1
                yield _document(source, record, f"{path}: row {row}", f"{path.stem}:{row}")


def _read_text_files(source: Source) -> Iterator[RawDocument]:
    """One document per .txt file; its id is the path relative to the source folder."""
    if source.licence is None:
        raise ValueError(f"source {source.name!r}: plain-text sources need a source-level licence")
    root = Path(source.path)
    for path in _files(source, ".txt"):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: not UTF-8 text ({err})") from err
        doc_id = str(path.relative_to(root)) if root.is_dir() else path.name
        yield RawDocument(doc_id, text, source.licence)


def _read_hf(source: Source) -> Iterator[RawDocument]:
    """A dataset saved locally with `save_to_disk`, else a Hub id streamed with `load_dataset`."""
    import datasets

    if (Path(source.path) / "dataset_info.json").exists() or (
        Path(source.path) / "dataset_dict.json"
    ).exists():
        loaded = datasets.load_from_disk(source.path)
        if isinstance(loaded, datasets.DatasetDict):
            if source.split not in loaded:
                raise ValueError(f"{source.path}: no split {source.split!r} (has {sorted(loaded)})")
            loaded = loaded[source.split]
        dataset = loaded.to_iterable_dataset()
    else:
        dataset = datasets.load_dataset(source.path, source.config, split=source.split, streaming=True)
    for index, record in enumerate(dataset):
        yield _document(source, record, f"{source.path} ({source.split}): record {index}", f"{index}")
