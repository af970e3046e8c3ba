"""The JSON answer a perfect model gives for an example: one layout per task.

Prompts teach this layout (IT completions), parsers read it back from model output,
and metrics compare parsed answers with `gold_answer(example)`:

- ``ner``:        ``{"entities": ["surface form", ...]}`` in text order; in a sub-task with several entity
                  types (``metadata["labels"]``), typed: ``{"entities": [{"text": str, "type": label}, ...]}``
- ``re``:         ``{"relations": [{"head": str, "relation": str, "tail": str}, ...]}``
- ``qa``:         ``{"answer": "B"}`` — the option letter (options are lettered A, B, C, ...)
- ``crf``:        ``{"items": {"item name": "value" | null, ...}}``
- ``argmining``:  ``{"claims": [str, ...], "premises": [str, ...]}``
"""

from __future__ import annotations

import string
from typing import Any

from pipeline.examples import Example

OPTION_LETTERS = string.ascii_uppercase


def option_letter(index: int) -> str:
    """0 → "A", 1 → "B", ..."""
    return OPTION_LETTERS[index]


def _in_order(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(spans, key=lambda s: (s["start"], s["end"]))


def is_typed(example: Example) -> bool:
    """Whether a NER answer names each entity's type: its sub-task has more than one label."""
    labels = example.metadata.get("labels")
    return example.task == "ner" and isinstance(labels, list) and len(set(labels)) > 1


def gold_answer(example: Example) -> dict[str, Any]:
    """The answer object for `example`, in the layout of its task."""
    gold = example.gold
    if example.task == "ner":
        spans = _in_order(gold["entities"])
        if is_typed(example):
            return {"entities": [{"text": s["text"], "type": s["label"]} for s in spans]}
        return {"entities": [s["text"] for s in spans]}
    if example.task == "re":
        return {
            "relations": [
                {"head": r["head"]["text"], "relation": r["relation"], "tail": r["tail"]["text"]}
                for r in sorted(gold["relations"], key=lambda r: (r["head"]["start"], r["tail"]["start"]))
            ]
        }
    if example.task == "qa":
        return {"answer": option_letter(gold["answer"])}
    if example.task == "crf":
        return {"items": dict(gold["items"])}
    spans = _in_order(gold["entities"])
    return {
        "claims": [s["text"] for s in spans if s["label"] == "Claim"],
        "premises": [s["text"] for s in spans if s["label"] == "Premise"],
    }
