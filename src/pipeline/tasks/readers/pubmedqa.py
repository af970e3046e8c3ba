"""PubMedQA PQA-L: `ori_pqal.json` (pmid → {QUESTION, CONTEXTS, final_decision, LONG_ANSWER, …})
and `test_ground_truth.json` (pmid → yes/no/maybe). Each item is a 3-way MCQ (yes, no, maybe)
with its abstract contexts; the ground-truth pmids are the test split, the rest train.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.tasks.readers.base import Document
from pipeline.tasks.readers.mcq import field, question

CHOICES = ["yes", "no", "maybe"]


def _load(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from err
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by pmid")
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
        context = "\n".join(field(rec, "CONTEXTS", at))
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
