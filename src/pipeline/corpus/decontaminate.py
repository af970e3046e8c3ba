"""Find training texts that share a long word n-gram with any evaluation test example.

Texts are compared as lower-cased word tokens (punctuation and spacing ignored), so a
test passage re-punctuated or re-cased in a corpus is still found. Test texts shorter
than n words contribute no n-gram and so are never matched on their own.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline.corpus.dedup import words
from pipeline.io import read_jsonl, strings_in, write_json


def ngrams(text: str, n: int) -> Iterator[str]:
    tokens = words(text)
    for i in range(len(tokens) - n + 1):
        yield " ".join(tokens[i : i + n])


class Decontaminator:
    """The n-grams of a set of test texts, and a membership test for training texts."""

    def __init__(self, test_texts: Iterable[str], n: int) -> None:
        if n < 1:
            raise ValueError(f"n-gram length must be >= 1, got {n}")
        self.n = n
        self.test_ngrams: set[str] = set()
        for text in test_texts:
            self.test_ngrams.update(ngrams(text, n))

    def is_contaminated(self, text: str) -> bool:
        return bool(self.test_ngrams) and any(g in self.test_ngrams for g in ngrams(text, self.n))


def find_contaminated(texts: Iterable[str], test_texts: Iterable[str], n: int = 13) -> list[bool]:
    """For each text, whether it shares an `n`-word n-gram with any of `test_texts`."""
    decontaminator = Decontaminator(test_texts, n)
    return [decontaminator.is_contaminated(t) for t in texts]


def read_test_texts(paths: Iterable[str | Path]) -> list[str]:
    """The texts of every test-split Example in task files, with QA questions, choices and contexts."""
    texts: list[str] = []
    for path in paths:
        for lineno, record in enumerate(read_jsonl(path), start=1):
            if not isinstance(record, dict) or "split" not in record or "text" not in record:
                raise ValueError(f"{path}:{lineno}: not an Example record (needs 'split' and 'text')")
            if record["split"] != "test":
                continue
            texts.append(record["text"])
            gold = record.get("gold") or {}
            if record.get("task") == "qa":
                texts.extend(s for s in (gold.get("question"), gold.get("context")) if isinstance(s, str))
                texts.extend(c for c in gold.get("choices") or [] if isinstance(c, str))
    return texts


def decontamination_report(inputs: list[Path], tasks: list[Path], field: str, n: int) -> dict[str, Any]:
    """Which records of training-mix JSONL files share an n-gram with a test example."""
    decontaminator = Decontaminator(read_test_texts(tasks), n)
    files = []
    for path in inputs:
        flagged = []
        records = read_jsonl(path)
        for lineno, record in enumerate(records, start=1):
            if not isinstance(record, dict) or field not in record:
                raise ValueError(f"{path}:{lineno}: record has no field {field!r}")
            if any(decontaminator.is_contaminated(s) for s in strings_in(record[field])):
                flagged.append(lineno)
        files.append({"path": str(path), "records": len(records), "contaminated_lines": flagged})
    return {
        "ngram": n,
        "field": field,
        "tasks": [str(t) for t in tasks],
        "test_ngrams": len(decontaminator.test_ngrams),
        "records": sum(f["records"] for f in files),
        "contaminated": sum(len(f["contaminated_lines"]) for f in files),
        "files": files,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inputs", type=Path, nargs="+", required=True, help="training-mix JSONL files")
    parser.add_argument("--tasks", type=Path, nargs="+", required=True, help="task files (Example JSONL)")
    parser.add_argument("--field", required=True, help="the record field holding the training text")
    parser.add_argument("--ngram", type=int, default=13, help="n-gram length in words (default 13)")
    parser.add_argument("--output", type=Path, required=True, help="report (.json)")
    args = parser.parse_args(argv)
    write_json(args.output, decontamination_report(args.inputs, args.tasks, args.field, args.ngram))


if __name__ == "__main__":
    main()
