"""Find training texts that share a long word n-gram with any evaluation test example.

Texts are compared as lower-cased word tokens (punctuation and spacing ignored), so a
test passage re-punctuated or re-cased in a corpus is still found. Test texts shorter
than n words contribute no n-gram and so are never matched on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.corpus.dedup import words
from pipeline.examples import Example, read_examples


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


def example_texts(example: Example) -> list[str]:
    """The texts of an example that training text must not overlap: its text and, for QA, the
    question, context and choices."""
    texts = [example.text]
    if example.task == "qa":
        gold = example.gold
        found = (gold.get("question"), gold.get("context"), *(gold.get("choices") or []))
        texts += [t for t in found if isinstance(t, str)]
    return texts


def read_test_texts(paths: Iterable[str | Path]) -> list[str]:
    """The texts (`example_texts`) of every test-split Example in task files."""
    return [text for e in read_examples(paths) if e.split == "test" for text in example_texts(e)]
