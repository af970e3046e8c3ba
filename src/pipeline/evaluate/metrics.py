"""Task metrics as per-item sufficient statistics plus an aggregate over their sums.

Every metric scores one item into a short vector of counts (e.g. ``tp, n_pred, n_gold``);
the corpus value is a function of the column sums. This makes micro F1 exact, and lets the
bootstrap and the paired test (`pipeline.evaluate.stats`) resample items cheaply.

Answers and golds are in the layouts of `pipeline.tasks.answers`. Every surface form is compared
after one normalisation (`normalize`): Unicode NFC, whitespace runs collapsed, case folded.

- NER ``f1_strict_typed`` (main; with ``precision_strict_typed``/``recall_strict_typed``): micro F1
  of the multiset of (form, type) pairs — seqeval's and nervaluate's strict match on surface forms.
  In a single-type sub-task (plain-string golds) the type is the sub-task's, so it equals the
  untyped score; in a multi-type one an entity without a type, or with another, is wrong.
  ``f1_strict_untyped``: the same on forms alone (nervaluate's "exact"). ``f1_lenient`` (untyped):
  one-to-one matching of forms whose word sequences overlap like spans in a text would (one
  contains the other, or one ends with the words the other begins with), on word boundaries.
- RE ``f1``/``precision``/``recall``: multiset match of normalised (head, relation, tail).
- QA ``accuracy``.
- CRF ``macro_f1``: F1 per CRF item over the cell (a filled value is a true positive when it
  equals the gold value; a wrong value is both a false positive and a false negative), averaged
  over items with any gold or predicted value.
- Argument mining ``f1`` (micro over claims and premises), ``f1_claim``, ``f1_premise``:
  strict surface-form match per label.

A metric name ending in `LENIENT_PARSE` is the same metric on the lenient parse of the
completions (`pipeline.evaluate.parse.PARSE_MODES`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

PRF_FIELDS = ("tp", "n_pred", "n_gold")
ACCURACY = frozenset({"accuracy", "loglik_acc", "loglik_acc_norm"})  # means of one 0/1 item score
MAIN_METRIC = {"ner": "f1_strict_typed", "re": "f1", "qa": "accuracy", "crf": "macro_f1", "argmining": "f1"}
LENIENT_PARSE = "@lenient_parse"  # suffix of the rows scored on the lenient parse

Answer = dict[str, Any]
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Metric:
    """One metric of a task: the names of its per-item statistics and how to compute them."""

    name: str
    fields: tuple[str, ...]
    item_stats: Callable[[Answer, Answer], tuple[int, ...]]


def normalize(text: str) -> str:
    """A surface form as metrics compare it: NFC, whitespace runs collapsed and stripped, case-folded."""
    nfc = unicodedata.normalize("NFC", " ".join(text.split()))
    return unicodedata.normalize("NFC", nfc.casefold())


def base_metric(name: str) -> str:
    """The metric a row's name denotes, without the `LENIENT_PARSE` suffix."""
    return name.removesuffix(LENIENT_PARSE)


def _forms(values: Iterable[Any]) -> list[str]:
    forms = [normalize(v) for v in values if isinstance(v, str)]
    return [f for f in forms if f]


def entity_pairs(values: Iterable[Any]) -> list[tuple[str, str | None]]:
    """(normalised form, normalised type or None) of NER answer entities (strings or text/type objects)."""
    out = []
    for value in values:
        kind = None
        if isinstance(value, dict):
            kind = normalize(value["type"]) if isinstance(value.get("type"), str) else None
            value = value.get("text")
        if isinstance(value, str) and (form := normalize(value)):
            out.append((form, kind))
    return out


def multiset_counts(pred: list[Any], gold: list[Any]) -> tuple[int, int, int]:
    """(tp, n_pred, n_gold) of two multisets of hashable items."""
    tp = sum((Counter(pred) & Counter(gold)).values())
    return tp, len(pred), len(gold)


def _max_matching(pred: list[Any], gold: list[Any], match: Callable[[Any, Any], bool]) -> int:
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


def ner_strict_untyped(answer: Answer, gold: Answer) -> tuple[int, int, int]:
    pred, ref = entity_pairs(answer.get("entities") or []), entity_pairs(gold["entities"])
    return multiset_counts([f for f, _ in pred], [f for f, _ in ref])


def ner_strict_typed(answer: Answer, gold: Answer) -> tuple[int, int, int]:
    """Strict match of (form, type) pairs: an entity without a type matches no typed gold entity."""
    return multiset_counts(entity_pairs(answer.get("entities") or []), entity_pairs(gold["entities"]))


def words_overlap(a: str, b: str) -> bool:
    """Whether two forms could be overlapping spans: one's words contain the other's, or one ends
    with the words the other starts with (whole words only: "CT" does not overlap "ACTH test")."""
    x, y = _WORD.findall(a), _WORD.findall(b)
    if not x or not y:
        return a == b
    if len(x) > len(y):
        x, y = y, x
    if any(y[i : i + len(x)] == x for i in range(len(y) - len(x) + 1)):
        return True
    return any(x[-k:] == y[:k] or y[-k:] == x[:k] for k in range(1, len(x)))


def ner_lenient(answer: Answer, gold: Answer) -> tuple[int, int, int]:
    pred = [f for f, _ in entity_pairs(answer.get("entities") or [])]
    ref = [f for f, _ in entity_pairs(gold["entities"])]
    return _max_matching(pred, ref, words_overlap), len(pred), len(ref)


def _triples(relations: Iterable[Any]) -> list[tuple[str, str, str]]:
    out = []
    for r in relations:
        if isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("head", "relation", "tail")):
            out.append(tuple(normalize(r[k]) for k in ("head", "relation", "tail")))
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
    form = normalize(str(value))
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
        # a single-type cell (plain-string golds): every entity has the cell's type
        typed = any(isinstance(e, dict) for g in golds for e in g["entities"])
        strict_typed = ner_strict_typed if typed else ner_strict_untyped
        return [
            Metric("f1_strict_typed", PRF_FIELDS, strict_typed),
            Metric("precision_strict_typed", PRF_FIELDS, strict_typed),
            Metric("recall_strict_typed", PRF_FIELDS, strict_typed),
            Metric("f1_strict_untyped", PRF_FIELDS, ner_strict_untyped),
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
    name = base_metric(name)
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
