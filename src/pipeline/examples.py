"""The uniform task example every dataset reader yields.

`gold` depends on the task (all offsets are character offsets into `text`):

- ``ner``:        ``{"entities": [{"start", "end", "label", "text"}]}``
- ``re``:         ``{"entities": [...], "relations": [{"head": span, "relation": str, "tail": span}]}``
- ``qa``:         ``{"question": str, "choices": [str], "answer": int, "context": str | None}``
- ``crf``:        ``{"items": {item_name: value_or_null}}``
- ``argmining``:  ``{"entities": [{"start", "end", "label": "Claim" | "Premise", "text"}]}``

A span is ``{"start": int, "end": int, "label": str, "text": str}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pipeline.io import iter_jsonl

TASKS = ("ner", "re", "qa", "crf", "argmining")
Cell = tuple[str, str, str]  # an evaluation cell: (dataset, language, sub-task)


@dataclass
class Example:
    id: str
    dataset: str
    task: str
    language: str
    subtask: str
    split: str
    text: str
    gold: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"example {self.id}: unknown task {self.task!r} (expected one of {TASKS})")

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Example:
        return cls(**record)

    @property
    def cell(self) -> Cell:
        """The evaluation cell this example belongs to: (dataset, language, sub-task)."""
        return (self.dataset, self.language, self.subtask)


def parse_cell(text: str) -> Cell:
    """A cell from its ``dataset/language/subtask`` form (as rules pass cells to jobs)."""
    parts = text.split("/")
    if len(parts) != 3:
        raise ValueError(f"cell {text!r}: expected 'dataset/language/subtask'")
    return (parts[0], parts[1], parts[2])


_FIELDS = [f.name for f in fields(Example)]
_REQUIRED = [name for name in _FIELDS if name != "metadata"]


def _example(record: dict[str, Any], where: str) -> Example:
    """An Example from a task-file record whose keys and field types are checked."""
    missing = [k for k in _REQUIRED if k not in record]
    unknown = sorted(set(record) - set(_FIELDS))
    if missing or unknown:
        raise ValueError(f"{where}: example lacks key(s) {missing}, has unknown key(s) {unknown}")
    not_str = [k for k in _REQUIRED if k != "gold" and not isinstance(record[k], str)]
    if not_str or not isinstance(record["gold"], dict) or not isinstance(record.get("metadata", {}), dict):
        raise ValueError(f"{where}: ill-typed example fields (strings: {not_str}, gold/metadata: objects)")
    try:
        return Example.from_record(record)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{where}: bad example ({type(err).__name__}: {err})") from err


def read_examples(
    paths: Iterable[str | Path], check: Callable[[Example], None] | None = None
) -> Iterator[Example]:
    """Every Example of task files (Example JSONL, as the extract stage writes them), in file order.

    A malformed record, one that `check` rejects (ValueError, or the KeyError, TypeError or
    IndexError of a gold in the wrong layout) or a second example with the same (dataset, id)
    raises ValueError naming file and line.
    """
    seen: dict[tuple[str, str], str] = {}
    for path in paths:
        for lineno, record in iter_jsonl(path):
            where = f"{path}:{lineno}"
            example = _example(record, where)
            key = (example.dataset, example.id)
            if key in seen:
                raise ValueError(f"{where}: duplicate example {key} (first at {seen[key]})")
            seen[key] = where
            if check is not None:
                try:
                    check(example)
                except ValueError as err:
                    raise ValueError(f"{where}: {err}") from err
                except (KeyError, TypeError, IndexError) as err:
                    raise ValueError(f"{where}: bad example ({type(err).__name__}: {err})") from err
            yield example
