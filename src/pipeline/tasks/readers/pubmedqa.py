"""PubMedQA PQA-L: `ori_pqal.json` (pmid → {QUESTION, CONTEXTS, final_decision, LONG_ANSWER, …})
and `test_ground_truth.json` (pmid → yes/no/maybe). Each item is a 3-way MCQ (yes, no, maybe)
with its abstract contexts; the ground-truth pmids are the test split, the rest train.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.tasks.readers.base import Document, load_json, nonempty, read_text
from pipeline.tasks.readers.mcq import field, question

CHOICES = ["yes", "no", "maybe"]


def _load(path: Path) -> dict[str, Any]:
    """A JSON object keyed by pmid; a pmid given twice is an error (JSON would keep the last)."""
    obj = load_json(read_text(path), str(path))
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by pmid")
    nonempty(obj, path, "pmids")
    return obj


def read(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    items = _load(root / options.get("items", "ori_pqal.json"))
    truth = _load(root / options.get("test_labels", "test_ground_truth.json"))
    missing = sorted(set(truth) - set(items))
    if missing:
        raise ValueError(f"{root}: test pmids {missing[:5]} are not in the items file")
    docs = []
    for pmid, rec in items.items():
        at = f"{root / options.get('items', 'ori_pqal.json')}: pmid {pmid}"
        label = field(rec, "final_decision", at)
        if label not in CHOICES:
            raise ValueError(f"{at}: final_decision {label!r} is not one of {CHOICES}")
        if pmid in truth and truth[pmid] != label:
            raise ValueError(f"{at}: test label {truth[pmid]!r} differs from final_decision {label!r}")
        contexts = field(rec, "CONTEXTS", at)
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise ValueError(f"{at}: CONTEXTS must be a list of strings, got {type(contexts).__name__}")
        context = "\n".join(contexts)
        split = "test" if pmid in truth else "train"
        meta = {"long_answer": rec.get("LONG_ANSWER")}
        docs.append(
            question(
                pmid,
                language,
                split,
                field(rec, "QUESTION", at),
                CHOICES,
                CHOICES.index(label),
                at,
                context,
                meta,
            )
        )
    return docs
