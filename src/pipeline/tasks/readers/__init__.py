"""Native-format readers, by name. Each is `read(root, language, options) -> list[Document]`.

Modules are imported on first use, so naming a reader costs nothing.
"""

from __future__ import annotations

from importlib import import_module

from pipeline.tasks.readers.base import Document, Reader

READERS: dict[str, str] = {
    "brat": "brat:read",
    "e3c_xmi": "e3c_xmi:read",
    "conll": "conll:read",
    "diann": "diann:read",
    "pubtator": "pubtator:read",
    "i2b2_2010": "i2b2_2010:read",
    "medqa_jsonl": "mcq:read_medqa",
    "medmcqa_json": "mcq:read_medmcqa",
    "admission_jsonl": "mcq:read_admission",
    "mmlu_csv": "mcq:read_mmlu",
    "casimedicos_rag": "mcq:read_casimedicos_rag",
    "medexpqa_jsonl": "mcq:read_medexpqa",
    "pubmedqa": "pubmedqa:read",
    "casimedicos_arg": "casimedicos_arg:read",
    "crf_jsonl": "crf_jsonl:read",
}


def reader_module(name: str) -> str:
    """The module that defines the reader registered as `name` (what a job reading it runs)."""
    if name not in READERS:
        raise ValueError(f"unknown reader {name!r} (known: {', '.join(sorted(READERS))})")
    return f"{__name__}.{READERS[name].split(':')[0]}"


def get_reader(name: str) -> Reader:
    """The reader registered as `name`."""
    return getattr(import_module(reader_module(name)), READERS[name].split(":")[1])


__all__ = ["READERS", "Document", "Reader", "get_reader", "reader_module"]
