"""Find training texts that share a long word n-gram with any evaluation test example.

Texts are compared as lower-cased word tokens (punctuation and spacing ignored), so a
test passage re-punctuated or re-cased in a corpus is still found. Test texts shorter
than n words contribute no n-gram and so are never matched on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.corpus.dedup import words
from pipeline.io import read_jsonl


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
