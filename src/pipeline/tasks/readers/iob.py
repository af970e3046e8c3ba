"""IOB/IOB2 tag sequences → character spans over text rebuilt from tokens."""

from __future__ import annotations

import re
from typing import Any

from pipeline.tasks.readers.base import span

TAG = re.compile(r"^(O|[BI]-\S+)$")


def check_tag(tag: str, at: str, labels: set[str] | None = None) -> str:
    """`tag` if it is `O` or `B-/I-<label>` (with the label in `labels` when given)."""
    if not TAG.match(tag) or (labels is not None and tag != "O" and tag[2:] not in labels):
        allowed = "O, B-/I-<label>" + (f" with label in {sorted(labels)}" if labels is not None else "")
        raise ValueError(f"{at}: unknown label {tag!r} (expected {allowed})")
    return tag


def build(sentences: list[list[tuple[str, str]]]) -> tuple[str, list[dict[str, Any]]]:
    """Join tokens with spaces and sentences with newlines; return the text and its entities.

    An `I-` tag that does not continue an entity of the same label starts a new one (the
    third-party conversions have such boundary noise).
    """
    text, entities = "", []
    for s, sentence in enumerate(sentences):
        if s:
            text += "\n"
        open_start, open_label, last_end = None, None, None
        for t, (token, tag) in enumerate(sentence):
            if t:
                text += " "
            start = len(text)
            text += token
            label = tag[2:] if tag != "O" else None
            continues = tag.startswith("I-") and label == open_label
            if open_label is not None and not continues:
                entities.append(span(text, open_start, last_end, open_label))
                open_label = None
            if label is not None and not continues:
                open_start, open_label = start, label
            last_end = len(text)
        if open_label is not None:
            entities.append(span(text, open_start, last_end, open_label))
    return text, entities
