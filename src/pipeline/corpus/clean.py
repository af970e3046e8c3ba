"""Clean one corpus source into a parquet file, counting what every rule removed.

Rules, in order (each switchable in the settings): Unicode NFC normalisation, removal of
control/format characters, URL removal, whitespace normalisation, removal of characters
outside the language's alphabet (`alphabets.py`), collapsing repeated punctuation, then
dropping documents that are too short (`min_words`) or mostly non-text (`min_alpha_ratio`).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.corpus.alphabets import allowed_characters
from pipeline.corpus.parallel import batched, bounded_map
from pipeline.corpus.settings import CleanSettings
from pipeline.corpus.sources import RawDocument, Source, iter_documents
from pipeline.io import atomic_path, write_json

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("language", pa.string()),
        ("doc_type", pa.string()),
        ("licence", pa.string()),
        ("text", pa.string()),
        ("words", pa.int64()),
    ]
)

URL = re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>\"]+?(?=[.,;:!?)\]}>\"']*(?:\s|$))", re.IGNORECASE)
HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
SPACE_AROUND_NEWLINE = re.compile(r" ?\n ?")
MANY_NEWLINES = re.compile(r"\n{3,}")
LETTER = re.compile(r"[^\W\d_]")
SPACE = re.compile(r"\s")


ASTRAL = re.compile("[^\x00-\uffff]")


@functools.cache
def _control_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Control, format, private-use, surrogate and unassigned code points (not tab, CR, newline).

    Two patterns: one for the Basic Multilingual Plane (compiled to a fast bitmap) and one
    for the astral planes, which is slow and so only run on the rare texts that need it.
    """
    bad = [
        c
        for c in range(sys.maxunicode + 1)
        if unicodedata.category(chr(c)) in ("Cc", "Cf", "Co", "Cn", "Cs") and chr(c) not in "\t\r\n"
    ]
    bmp = re.compile("[" + _ranges(c for c in bad if c <= 0xFFFF) + "]+")
    astral = re.compile("[" + _ranges(c for c in bad if c > 0xFFFF) + "]+")
    return bmp, astral


def _ranges(codes: Iterable[int]) -> str:
    """A regex character-class body for sorted code points, merged into ranges."""
    spans: list[list[int]] = []
    for c in codes:
        if spans and spans[-1][1] == c - 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    return "".join(re.escape(chr(a)) + ("" if a == b else "-" + re.escape(chr(b))) for a, b in spans)


def remove_control_characters(text: str) -> str:
    bmp, astral = _control_patterns()
    text = bmp.sub("", text)
    return astral.sub("", text) if ASTRAL.search(text) else text


class Cleaner:
    """Apply the cleaning rules of one language; `counts` accumulates what each rule removed."""

    def __init__(self, language: str, settings: CleanSettings) -> None:
        self.settings = settings
        allowed = "".join(sorted(allowed_characters(language, settings.extra_characters)))
        self.outside_alphabet = re.compile("[^" + re.escape(allowed) + "]+")
        run = settings.max_punctuation_run
        if run < 1:
            raise ValueError(f"max_punctuation_run must be >= 1, got {run}")
        self.punctuation_run = re.compile(rf"([^\w\s])\1{{{run},}}")
        self.documents: Counter[str] = Counter()
        self.characters: Counter[str] = Counter()

    def _apply(self, rule: str, text: str, transform: Any) -> str:
        if not getattr(self.settings, rule):
            return text
        new = transform(text)
        if new != text:
            self.documents[rule] += 1
            self.characters[rule] += len(text) - len(new)
        return new

    def clean(self, text: str) -> str | None:
        """The cleaned text, or None when a document-level rule drops it."""
        text = self._apply("nfc", text, lambda t: unicodedata.normalize("NFC", t))
        text = self._apply("control_characters", text, remove_control_characters)
        text = self._apply("urls", text, lambda t: URL.sub("", t))
        text = self._apply("whitespace", text, normalise_whitespace)
        text = self._apply("charset", text, lambda t: self.outside_alphabet.sub("", t))
        text = self._apply("collapse_punctuation", text, lambda t: self.punctuation_run.sub(r"\1", t))
        text = self._apply("whitespace", text, normalise_whitespace)
        words = len(text.split())
        if words < self.settings.min_words:
            return self._drop("min_words", text)
        non_space = len(text) - len(SPACE.findall(text))
        letters = len(LETTER.findall(text))
        if non_space == 0 or letters / non_space < self.settings.min_alpha_ratio:
            return self._drop("min_alpha_ratio", text)
        return text

    def _drop(self, rule: str, text: str) -> None:
        self.documents[rule] += 1
        self.characters[rule] += len(text)


def normalise_whitespace(text: str) -> str:
    """One space for any run of horizontal whitespace, at most one blank line, no edge spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = HORIZONTAL_SPACE.sub(" ", text)
    text = SPACE_AROUND_NEWLINE.sub("\n", text)
    return MANY_NEWLINES.sub("\n\n", text).strip()


_worker: dict[str, Any] = {}


def _init_worker(language: str, settings: CleanSettings) -> None:
    _worker["language"] = language
    _worker["settings"] = settings


def _clean_batch(batch: list[RawDocument]) -> tuple[list[tuple[str, str, str, int]], dict[str, Any]]:
    """Clean a batch; return kept (id, licence, text, words) rows and this batch's counts."""
    cleaner = Cleaner(_worker["language"], _worker["settings"])
    rows = []
    characters_in = 0
    for doc in batch:
        characters_in += len(doc.text)
        text = cleaner.clean(doc.text)
        if text is not None:
            rows.append((doc.id, doc.licence, text, len(text.split())))
    counts = {
        "documents": cleaner.documents,
        "characters": cleaner.characters,
        "characters_in": characters_in,
    }
    return rows, counts


def clean_source(source: Source, settings: CleanSettings, output: Path) -> dict[str, Any]:
    """Clean every document of `source` into the parquet file `output`; return the statistics."""
    allowed_characters(source.language)  # fail before reading if the language is unknown
    documents: Counter[str] = Counter()
    characters: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    batches = batched(iter_documents(source), settings.batch_size)
    results = bounded_map(_clean_batch, batches, settings.workers, _init_worker, (source.language, settings))
    with atomic_path(output) as tmp, pq.ParquetWriter(tmp, SCHEMA) as writer:
        for rows, counts in results:
            documents.update(counts["documents"])
            characters.update(counts["characters"])
            totals["characters_in"] += counts["characters_in"]
            totals["documents_in"] += sum(counts["documents"][r] for r in ("min_words", "min_alpha_ratio"))
            totals["documents_in"] += len(rows)
            totals["documents_out"] += len(rows)
            totals["characters_out"] += sum(len(text) for _, _, text, _ in rows)
            totals["words_out"] += sum(words for *_, words in rows)
            if rows:
                writer.write_table(_table(source, rows))
    return {
        "source": source.name,
        "language": source.language,
        "doc_type": source.doc_type,
        **{k: totals[k] for k in ("documents_in", "documents_out", "characters_in", "characters_out")},
        "words_out": totals["words_out"],
        "rules": {r: {"documents": documents[r], "characters": characters[r]} for r in settings.rules},
        "settings": settings.to_dict(),
    }


def _table(source: Source, rows: list[tuple[str, str, str, int]]) -> pa.Table:
    ids, licences, texts, words = zip(*rows, strict=True)
    n = len(rows)
    return pa.table(
        [
            pa.array(ids, pa.string()),
            pa.array([source.name] * n, pa.string()),
            pa.array([source.language] * n, pa.string()),
            pa.array([source.doc_type] * n, pa.string()),
            pa.array(licences, pa.string()),
            pa.array(texts, pa.string()),
            pa.array(words, pa.int64()),
        ],
        schema=SCHEMA,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True, help="JSON: the source declaration from the config")
    parser.add_argument("--settings", default="{}", help="JSON of pipeline.corpus.settings.CleanSettings")
    parser.add_argument("--output", type=Path, required=True, help="cleaned documents (.parquet)")
    parser.add_argument("--stats", type=Path, required=True, help="cleaning statistics (.json)")
    args = parser.parse_args(argv)
    try:
        source = Source.from_dict(json.loads(args.source))
    except json.JSONDecodeError as err:
        raise ValueError(f"--source is not valid JSON ({err.msg})") from err
    settings = CleanSettings.from_json(args.settings)
    write_json(args.stats, clean_source(source, settings, args.output))


if __name__ == "__main__":
    main()
