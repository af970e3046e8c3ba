"""Training mixes: the IT mix (instruction → JSON answer) and the RoT mix (question → reasoning → conclusion).

One record per training example: ``{"id", "prompt", "completion", "dataset", "task", "language",
"subtask", "kind"}``. Reasoning traces (``--traces``) are JSONL records ``{"id", "question",
"reasoning", "answer", "language"}`` (optional ``"dataset"``, default the file's stem; other keys
are ignored); the trace's options, if any, are part of its question.

A record whose prompt or completion shares a `decontamination_ngram`-word n-gram (13 by default)
with a test example of another evaluated dataset (``--test-tasks``, default the ``--tasks`` files;
`decontamination_scope: all` includes the record's own dataset) is removed
(`decontamination_action: drop`, the default) or kept and counted (`flag`); the contamination
report (``--contamination``) counts them by training and test dataset, e.g. E3C-ES training
documents that are PharmaCoNER or MEDDOCAN test documents.

    python -m pipeline.tasks.mix --kind it|rot --tasks T1.jsonl [...] [--traces TR.jsonl ...]
        [--test-tasks T.jsonl ...] --settings JSON --output MIX.jsonl --stats STATS.json
        [--contamination REPORT.json] [--vocab VOCAB.txt]
"""

from __future__ import annotations

import argparse
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pipeline.corpus.decontaminate import example_texts, ngrams
from pipeline.examples import Example, read_examples
from pipeline.io import iter_jsonl, write_json, write_jsonl, write_text
from pipeline.tasks.answers import gold_answer
from pipeline.tasks.prompts import (
    conclusion_completion,
    instruction_prompt,
    json_completion,
    reasoning_completion,
    reasoning_prompt,
    trace_prompt,
)
from pipeline.tasks.settings import MIX_SETTINGS, ITSettings, RoTSettings

KINDS = ("it", "rot")
TRAIN_SPLIT = "train"
TRACE_TASK = "reasoning"
TRACE_SUBTASK = "trace"
_WORD = re.compile(r"\w+")
T = TypeVar("T")


@dataclass(frozen=True)
class ReasoningTrace:
    """A reasoning trace: question (options included), reasoning, final answer (e.g. an option)."""

    id: str
    question: str
    reasoning: str
    answer: str
    language: str
    dataset: str

    @classmethod
    def from_record(cls, record: Any, where: str, default_dataset: str) -> ReasoningTrace:
        """Validate one JSONL record; `where` ("file:line") names it in errors."""
        if not isinstance(record, dict):
            raise ValueError(f"{where}: a trace must be a JSON object")
        keys = ("id", "question", "reasoning", "answer", "language")
        missing = [k for k in keys if k not in record]
        if missing:
            raise ValueError(f"{where}: trace lacks key(s) {missing}")
        values = {k: record[k] for k in keys}
        values["dataset"] = record.get("dataset", default_dataset)
        bad = [k for k, v in values.items() if not isinstance(v, str) or not v.strip()]
        if bad:
            raise ValueError(f"{where}: trace key(s) {bad} must be non-empty strings")
        return cls(**values)


def parse_settings(kind: str, settings: Mapping[str, Any]) -> ITSettings | RoTSettings:
    """The settings of a mix of `kind`; unknown keys and ill-typed values raise ValueError."""
    if kind not in KINDS:
        raise ValueError(f"unknown mix kind {kind!r} (expected one of {KINDS})")
    return MIX_SETTINGS[kind].from_mapping(settings)


def check_gold(example: Example) -> None:
    """The gold is in its task's layout (the answer a completion is built from); a QA answer
    indexes one of the choices."""
    gold_answer(example)
    gold = example.gold
    if example.task == "qa" and not 0 <= gold["answer"] < len(gold["choices"]):
        raise ValueError(f"qa answer index {gold['answer']} outside {len(gold['choices'])} choices")


def load_traces(paths: Sequence[str | Path]) -> list[ReasoningTrace]:
    """Every trace of the trace files; a bad or duplicate (dataset, id) record names file and line."""
    traces: list[ReasoningTrace] = []
    seen: dict[tuple[str, str], str] = {}
    for path in paths:
        for lineno, record in iter_jsonl(path):
            where = f"{path}:{lineno}"
            trace = ReasoningTrace.from_record(record, where, Path(path).stem)
            key = (trace.dataset, trace.id)
            if key in seen:
                raise ValueError(f"{where}: duplicate trace {key} (first at {seen[key]})")
            seen[key] = where
            traces.append(trace)
    return traces


def _permuted(items: Sequence[T], identity: Callable[[T], tuple[str, ...]], seed: str) -> list[T]:
    """A seeded permutation independent of the input order (items are sorted by identity first)."""
    ordered = sorted(items, key=identity)
    random.Random(seed).shuffle(ordered)
    return ordered


def _capped(
    items: Sequence[T],
    group: Callable[[T], Hashable],
    n: int,
    identity: Callable[[T], tuple[str, ...]],
    tag: str,
) -> list[T]:
    """At most `n` items per group: the first `n` of a seeded permutation (so smaller caps nest)."""
    groups: dict[Hashable, list[T]] = defaultdict(list)
    for item in items:
        groups[group(item)].append(item)
    return [
        x for key in sorted(groups, key=str) for x in _permuted(groups[key], identity, f"{tag}:{key}")[:n]
    ]


def _example_identity(example: Example) -> tuple[str, ...]:
    return (example.dataset, example.id)


def _record_identity(record: dict[str, Any]) -> tuple[str, ...]:
    return (record["dataset"], record["id"])


def _wanted_language(language: str, languages: tuple[str, ...] | None) -> bool:
    return languages is None or language.lower() in {lang.lower() for lang in languages}


def _record(example: Example, prompt: str, completion: str, kind: str) -> dict[str, Any]:
    return {
        "id": example.id,
        "prompt": prompt,
        "completion": completion,
        "dataset": example.dataset,
        "task": example.task,
        "language": example.language,
        "subtask": example.subtask,
        "kind": kind,
    }


def it_mix(examples: Sequence[Example], settings: ITSettings) -> list[dict[str, Any]]:
    """IT records of the train-split examples kept by the filters and caps, shuffled with the seed."""
    pool = [
        e
        for e in examples
        if e.split == TRAIN_SPLIT
        and _wanted_language(e.language, settings.languages)
        and (settings.tasks is None or e.task in settings.tasks)
    ]
    if settings.max_examples_per_cell is not None:
        tag = f"{settings.seed}:cell"
        pool = _capped(pool, lambda e: e.cell, settings.max_examples_per_cell, _example_identity, tag)
    if settings.max_examples_per_task is not None:
        tag = f"{settings.seed}:task"
        pool = _capped(pool, lambda e: e.task, settings.max_examples_per_task, _example_identity, tag)
    lang, strict = settings.prompt_language, settings.strict_language
    records = [_record(e, instruction_prompt(e, lang, strict), json_completion(e), "it") for e in pool]
    return _permuted(records, _record_identity, f"{settings.seed}:order")


def _trace_record(trace: ReasoningTrace) -> dict[str, Any]:
    return {
        "id": trace.id,
        "prompt": trace_prompt(trace.question),
        "completion": conclusion_completion(trace.reasoning, trace.answer),
        "dataset": trace.dataset,
        "task": TRACE_TASK,
        "language": trace.language,
        "subtask": TRACE_SUBTASK,
        "kind": "rot",
    }


def words(text: str) -> list[str]:
    """The word tokens of a text (Unicode ``\\w+`` runs): the unit of word counts and vocabularies."""
    return _WORD.findall(text)


def _record_words(record: dict[str, Any]) -> int:
    return len(words(record["prompt"])) + len(words(record["completion"]))


def rot_mix(
    traces: Sequence[ReasoningTrace], examples: Sequence[Example], settings: RoTSettings
) -> list[dict[str, Any]]:
    """RoT records: traces, plus train qa examples whose ``metadata["explanation"]`` is the reasoning.

    Shuffled with the seed, then cut to `max_examples` and to the longest prefix within
    `token_budget_words` (prompt + completion words), so smaller caps give nested mixes.
    """
    records = [_trace_record(t) for t in traces if _wanted_language(t.language, settings.languages)]
    if settings.qa_explanations:
        lang, strict = settings.prompt_language, settings.strict_language
        for e in examples:
            explanation = e.metadata.get("explanation")
            if (
                e.task == "qa"
                and e.split == TRAIN_SPLIT
                and isinstance(explanation, str)
                and explanation.strip()
                and _wanted_language(e.language, settings.languages)
            ):
                prompt = reasoning_prompt(e, lang, strict)
                records.append(_record(e, prompt, reasoning_completion(explanation, e), "rot"))
    records = _permuted(records, _record_identity, f"{settings.seed}:order")
    if settings.max_examples is not None:
        records = records[: settings.max_examples]
    if settings.token_budget_words is not None:
        kept, total = [], 0
        for record in records:
            total += _record_words(record)
            if total > settings.token_budget_words:
                break
            kept.append(record)
        records = kept
    return records


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of sorted values."""
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _summary(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "mean": round(sum(ordered) / len(ordered), 2),
        "median": round(_quantile(ordered, 0.5), 2),
        "p95": round(_quantile(ordered, 0.95), 2),
    }


def vocabulary(records: Sequence[dict[str, Any]]) -> set[str]:
    """Lower-cased word types of every prompt and completion."""
    return {w.lower() for r in records for field in ("prompt", "completion") for w in words(r[field])}


def mix_stats(records: Sequence[dict[str, Any]], kind: str) -> dict[str, Any]:
    """Size, composition and length profile of a (non-empty) mix, for the data-differences table."""
    if not records:
        raise ValueError("no statistics for an empty mix")
    prompt_words = [len(words(r["prompt"])) for r in records]
    completion_words = [len(words(r["completion"])) for r in records]
    total = sum(prompt_words) + sum(completion_words)
    return {
        "kind": kind,
        "examples": len(records),
        "by_task": dict(sorted(Counter(r["task"] for r in records).items())),
        "by_language": dict(sorted(Counter(r["language"] for r in records).items())),
        "by_dataset": dict(sorted(Counter(r["dataset"] for r in records).items())),
        "by_task_language": dict(sorted(Counter(f"{r['task']}/{r['language']}" for r in records).items())),
        "prompt_chars": _summary([len(r["prompt"]) for r in records]),
        "prompt_words": _summary(prompt_words),
        "completion_chars": _summary([len(r["completion"]) for r in records]),
        "completion_words": _summary(completion_words),
        "completion_word_share": round(sum(completion_words) / total, 4) if total else 0.0,
        "vocabulary_size": len(vocabulary(records)),
    }


def evaluation_ngrams(examples: Sequence[Example], n: int) -> dict[str, set[str]]:
    """Each `n`-word n-gram of the test examples (text, question, context, choices) -> its datasets."""
    found: dict[str, set[str]] = defaultdict(set)
    for example in examples:
        if example.split != "test":
            continue
        for text in example_texts(example):
            for gram in ngrams(text, n):
                found[gram].add(example.dataset)
    return found


def overlapping_datasets(record: dict[str, Any], grams: dict[str, set[str]], n: int) -> set[str]:
    """The test datasets one of whose n-grams the record's prompt or completion contains."""
    hits: set[str] = set()
    for field in ("prompt", "completion"):
        for gram in ngrams(record[field], n):
            hits |= grams.get(gram, set())
    return hits


def decontaminate(
    records: list[dict[str, Any]], test_examples: Sequence[Example], action: str, n: int, scope: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The records left after `action` (drop or flag) on those overlapping a test example, and the
    contamination report: how many overlap, by training dataset and by test dataset, and which.

    `scope` `other_datasets` (the default) looks only at other datasets' test sets, leaving each
    dataset's official split as published; `all` includes the record's own dataset.
    """
    grams = evaluation_ngrams(test_examples, n)
    kept, contaminated = [], []
    for record in records:
        hits = overlapping_datasets(record, grams, n) if grams else set()
        if scope == "other_datasets":
            hits.discard(record["dataset"])
        if hits:
            contaminated.append((record, sorted(hits)))
        if not hits or action == "flag":
            kept.append(record)
    pairs = Counter(f"{r['dataset']} -> {t}" for r, hits in contaminated for t in hits)
    report = {
        "action": action,
        "scope": scope,
        "ngram": n,
        "test_examples": sum(e.split == "test" for e in test_examples),
        "test_ngrams": len(grams),
        "records": len(records),
        "contaminated": len(contaminated),
        "removed": len(contaminated) if action == "drop" else 0,
        "kept_contaminated": len(contaminated) if action == "flag" else 0,
        "by_dataset": dict(sorted(Counter(r["dataset"] for r, _ in contaminated).items())),
        "by_test_dataset": dict(sorted(Counter(t for _, hits in contaminated for t in hits).items())),
        "by_pair": dict(sorted(pairs.items())),
        "items": [
            {"dataset": r["dataset"], "id": r["id"], "test_datasets": hits} for r, hits in contaminated
        ],
    }
    return kept, report


def build_mix(
    kind: str,
    task_paths: Sequence[str | Path],
    trace_paths: Sequence[str | Path],
    settings: Mapping[str, Any] | ITSettings | RoTSettings,
    test_paths: Sequence[str | Path] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The records of a mix from files, decontaminated against the test examples of `test_paths`
    (default `task_paths`), and the contamination report; an empty result raises ValueError."""
    parsed = settings if isinstance(settings, ITSettings | RoTSettings) else parse_settings(kind, settings)
    if not isinstance(parsed, MIX_SETTINGS[kind]):
        raise ValueError(f"{type(parsed).__name__} are not the settings of a {kind} mix")
    examples = list(read_examples(task_paths, check_gold))
    if isinstance(parsed, ITSettings):
        if trace_paths:
            raise ValueError("an it mix takes no --traces")
        records = it_mix(examples, parsed)
    else:
        records = rot_mix(load_traces(trace_paths), examples, parsed)
    tests = examples if test_paths is None else list(read_examples(test_paths, check_gold))
    records, report = decontaminate(
        records,
        tests,
        parsed.decontamination_action,
        parsed.decontamination_ngram,
        parsed.decontamination_scope,
    )
    if not records:
        raise ValueError(f"the {kind} mix is empty after its filters (settings {parsed.to_json()})")
    return records, report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--tasks", nargs="*", default=[], help="task files (Example JSONL)")
    parser.add_argument("--traces", nargs="*", default=[], help="reasoning-trace JSONL files (rot only)")
    parser.add_argument(
        "--test-tasks",
        nargs="*",
        help="task files whose test examples the mix must not overlap (default --tasks)",
    )
    parser.add_argument(
        "--settings", default="{}", help="JSON of pipeline.tasks.settings.ITSettings/RoTSettings"
    )
    parser.add_argument("--output", required=True, help="the mix (JSONL)")
    parser.add_argument("--stats", required=True, help="the mix statistics (JSON)")
    parser.add_argument("--contamination", help="optional: the contamination report (JSON)")
    parser.add_argument("--vocab", help="optional: the mix vocabulary, one lower-cased word type per line")
    args = parser.parse_args(argv)
    settings = MIX_SETTINGS[args.kind].from_json(args.settings)
    records, report = build_mix(args.kind, args.tasks, args.traces, settings, args.test_tasks)
    write_jsonl(args.output, records)
    write_json(args.stats, mix_stats(records, args.kind))
    if args.contamination:
        write_json(args.contamination, {**report, "test_tasks": args.test_tasks or args.tasks})
    if args.vocab:
        write_text(args.vocab, "".join(f"{w}\n" for w in sorted(vocabulary(records))))


if __name__ == "__main__":
    main()
