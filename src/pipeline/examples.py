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

from dataclasses import asdict, dataclass, field
from typing import Any

TASKS = ("ner", "re", "qa", "crf", "argmining")


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
    def cell(self) -> tuple[str, str, str]:
        """The evaluation cell this example belongs to: (dataset, language, sub-task)."""
        return (self.dataset, self.language, self.subtask)
