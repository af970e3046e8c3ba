"""Task metrics as per-item sufficient statistics plus an aggregate over their sums.

Every metric scores one item into a short vector of counts (e.g. ``tp, n_pred, n_gold``);
the corpus value is a function of the column sums. This makes micro F1 exact, and lets the
bootstrap and the paired test (`pipeline.evaluate.stats`) resample items cheaply.

Answers and golds are in the layouts of `pipeline.tasks.answers`:

- NER ``f1_strict`` (with ``precision_strict``/``recall_strict``): multiset match of surface
  forms after whitespace normalisation, case-sensitive; ``f1_lenient``: one-to-one matching
  where forms match case-insensitively or one contains the other.
- RE ``f1``/``precision``/``recall``: multiset match of (head, relation, tail), each
  whitespace-normalised and case-folded.
- QA ``accuracy``.
- CRF ``macro_f1``: F1 per CRF item over the cell (a filled value is a true positive when it
  equals the gold value, case-folded; a wrong value is both a false positive and a false
  negative), averaged over items with any gold or predicted value.
- Argument mining ``f1`` (micro over claims and premises), ``f1_claim``, ``f1_premise``:
  strict surface-form match per label.

`span_counts` is the offset-based strict match, for predictions that carry offsets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

PRF_FIELDS = ("tp", "n_pred", "n_gold")
ACCURACY = frozenset({"accuracy", "loglik_acc", "loglik_acc_norm"})  # means of one 0/1 item score
MAIN_METRIC = {"ner": "f1_strict", "re": "f1", "qa": "accuracy", "crf": "macro_f1", "argmining": "f1"}

Answer = dict[str, Any]


@dataclass(frozen=True)
class Metric:
    """One metric of a task: the names of its per-item statistics and how to compute them."""

    name: str
    fields: tuple[str, ...]
    item_stats: Callable[[Answer, Answer], tuple[int, ...]]


def normalize(text: str) -> str:
    """Collapse runs of whitespace and strip."""
    return " ".join(text.split())


def _forms(values: Iterable[Any], fold: bool = False) -> list[str]:
    forms = [normalize(v) for v in values if isinstance(v, str)]
    return [f.casefold() if fold else f for f in forms if f]


def multiset_counts(pred: list[Any], gold: list[Any]) -> tuple[int, int, int]:
    """(tp, n_pred, n_gold) of two multisets of hashable items."""
    tp = sum((Counter(pred) & Counter(gold)).values())
    return tp, len(pred), len(gold)


def _max_matching(pred: list[str], gold: list[str], match: Callable[[str, str], bool]) -> int:
    """Size of a maximum one-to-one matching between `pred` and `gold` (augmenting paths)."""
    owner: dict[int, int] = {}
    edges = [[j for j, g in enumerate(gold) if match(p, g)] for p in pred]

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in range(len(pred)))


def ner_strict(answer: Answer, gold: Answer) -> tuple[int, int, int]:
    return multiset_counts(_forms(answer.get("entities") or []), _forms(gold["entities"]))


def ner_lenient(answer: Answer, gold: Answer) -> tuple[int, int, int]:
    pred, ref = _forms(answer.get("entities") or [], fold=True), _forms(gold["entities"], fold=True)
    tp = _max_matching(pred, ref, lambda p, g: p in g or g in p)
    return tp, len(pred), len(ref)


def _triples(relations: Iterable[Any]) -> list[tuple[str, str, str]]:
    out = []
    for r in relations:
        if isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("head", "relation", "tail")):
            out.append(tuple(normalize(r[k]).casefold() for k in ("head", "relation", "tail")))
    return out  # type: ignore[return-value]


def re_counts(answer: Answer, gold: Answer) -> tuple[int, int, int]:
    return multiset_counts(_triples(answer.get("relations") or []), _triples(gold["relations"]))


def qa_correct(answer: Answer, gold: Answer) -> tuple[int]:
    return (int(answer.get("answer") is not None and answer.get("answer") == gold["answer"]),)


def _arg_counts(answer: Answer, gold: Answer, keys: tuple[str, ...]) -> tuple[int, int, int]:
    counts = [multiset_counts(_forms(answer.get(k) or []), _forms(gold[k])) for k in keys]
    return tuple(sum(c[i] for c in counts) for i in range(3))  # type: ignore[return-value]


def _crf_value(value: Any) -> str | None:
    if value is None:
        return None
    form = normalize(str(value)).casefold()
    return form or None


def crf_metric(item_names: list[str]) -> Metric:
    """Macro F1 over the CRF items `item_names`: per item, (tp, fp, fn) columns."""
    fields = tuple(f"{kind}:{name}" for name in item_names for kind in ("tp", "fp", "fn"))

    def stats(answer: Answer, gold: Answer) -> tuple[int, ...]:
        pred_items = answer.get("items") or {}
        out: list[int] = []
        for name in item_names:
            p, g = _crf_value(pred_items.get(name)), _crf_value(gold["items"].get(name))
            tp = int(p is not None and p == g)
            out += [tp, int(p is not None and not tp), int(g is not None and not tp)]
        return tuple(out)

    return Metric("macro_f1", fields, stats)


def metrics_for(task: str, golds: list[Answer]) -> list[Metric]:
    """The metrics of `task`, main metric first (`golds` give the CRF item names of the cell)."""
    if task == "ner":
        return [
            Metric("f1_strict", PRF_FIELDS, ner_strict),
            Metric("precision_strict", PRF_FIELDS, ner_strict),
            Metric("recall_strict", PRF_FIELDS, ner_strict),
            Metric("f1_lenient", PRF_FIELDS, ner_lenient),
        ]
    if task == "re":
        return [Metric(name, PRF_FIELDS, re_counts) for name in ("f1", "precision", "recall")]
    if task == "qa":
        return [Metric("accuracy", ("correct",), qa_correct)]
    if task == "crf":
        return [crf_metric(sorted({name for g in golds for name in g["items"]}))]
    if task == "argmining":
        return [
            Metric("f1", PRF_FIELDS, lambda a, g: _arg_counts(a, g, ("claims", "premises"))),
            Metric("f1_claim", PRF_FIELDS, lambda a, g: _arg_counts(a, g, ("claims",))),
            Metric("f1_premise", PRF_FIELDS, lambda a, g: _arg_counts(a, g, ("premises",))),
        ]
    raise ValueError(f"unknown task {task!r}")


def item_matrix(metric: Metric, answers: list[Answer], golds: list[Answer]) -> np.ndarray:
    """Per-item statistics of `metric`: an (n_items, n_fields) integer array."""
    rows = [metric.item_stats(a, g) for a, g in zip(answers, golds, strict=True)]
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), len(metric.fields))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (the seqeval / scikit-learn convention)."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def metric_value(name: str, sums: np.ndarray, n_items: int) -> np.ndarray:
    """A metric's value from column sums of its item statistics; `sums` is (..., n_fields)."""
    sums = np.asarray(sums, dtype=float)
    if name in ACCURACY:
        return sums[..., 0] / n_items
    if name == "macro_f1":
        tp, fp, fn = sums[..., 0::3], sums[..., 1::3], sums[..., 2::3]
        f1 = _ratio(2 * tp, 2 * tp + fp + fn)
        active = (tp + fp + fn) > 0
        return _ratio((f1 * active).sum(axis=-1), active.sum(axis=-1))
    tp, n_pred, n_gold = sums[..., 0], sums[..., 1], sums[..., 2]
    if name.startswith("precision"):
        return _ratio(tp, n_pred)
    if name.startswith("recall"):
        return _ratio(tp, n_gold)
    if name.startswith("f1"):
        return _ratio(2 * tp, n_pred + n_gold)
    raise ValueError(f"unknown metric {name!r}")


def span_counts(pred: Iterable[dict[str, Any]], gold: Iterable[dict[str, Any]]) -> tuple[int, int, int]:
    """Offset-based strict match: (tp, n_pred, n_gold) over spans equal in start, end and label."""

    def key(s: dict[str, Any]) -> tuple[int, int, str]:
        return (int(s["start"]), int(s["end"]), str(s["label"]))

    return multiset_counts([key(s) for s in pred], [key(s) for s in gold])


def span_f1(pred_docs: list[list[dict[str, Any]]], gold_docs: list[list[dict[str, Any]]]) -> float:
    """Micro strict F1 over documents of offset spans."""
    counts = [span_counts(p, g) for p, g in zip(pred_docs, gold_docs, strict=True)]
    sums = np.asarray(counts, dtype=np.int64).reshape(-1, 3).sum(axis=0)
    return float(metric_value("f1", sums, len(gold_docs)))
