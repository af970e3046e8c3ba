"""One log-likelihood job: load a model once, score the multiple-choice cells it is given.

For each cell (dataset/language/sub-task) the test items are scored with lm-evaluation-harness
semantics (`pipeline.evaluate.loglik`), k-shot from the cell's `fewshot_split` (default `train`,
which for MMLU is its `dev` folder: lm-eval's few-shot split), at most `max_items_per_cell` test
items per cell, drawn with the run's seed and stratified by subject. Writes per-item
results and, per cell, score rows (`loglik_acc`, `loglik_acc_norm`) in the layout of
`pipeline.evaluate.score`, so the summary reads them like any other score file.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from pipeline.evaluate.settings import LoglikSettings
from pipeline.evaluate.stats import estimate
from pipeline.examples import Cell, Example, parse_cell, read_examples
from pipeline.io import write_json, write_jsonl
from pipeline.progress import Progress, setup_job_logging

log = logging.getLogger(__name__)


def stratified_sample(tests: list[Example], limit: int | None, seed: int, cell: Cell) -> list[Example]:
    """At most `limit` of `tests`, sorted by id: a seeded sample stratified by ``metadata.subject``.

    Each subject gets a share proportional to its size (largest remainders, ties to the larger
    subject then the name), so a capped cell keeps the cell's mix of subjects instead of the
    alphabetically first one; the draw depends only on the seed, the cell and the item ids.
    """
    tests = sorted(tests, key=lambda e: e.id)
    if limit is None or len(tests) <= limit:
        return tests
    by_subject: dict[str, list[Example]] = {}
    for example in tests:
        by_subject.setdefault(example.metadata["subject"], []).append(example)
    exact = {s: limit * len(items) / len(tests) for s, items in by_subject.items()}
    quota = {s: math.floor(x) for s, x in exact.items()}
    spare = limit - sum(quota.values())
    for subject in sorted(exact, key=lambda s: (quota[s] - exact[s], -len(by_subject[s]), s))[:spare]:
        quota[subject] += 1
    chosen = []
    for subject, items in sorted(by_subject.items()):
        rng = random.Random(":".join([str(seed), *cell, subject]))
        chosen += rng.sample(items, quota[subject])
    return sorted(chosen, key=lambda e: e.id)


def cell_items(
    task_files: list[Path], cells: list[Cell], fewshot_split: str, max_items: int | None, seed: int = 0
) -> dict[Cell, list[Example]]:
    """Per cell: its shot pool and its test items (a seeded sample of `max_items`, stratified by
    subject, when capped), every item with a ``metadata.subject`` (the dataset's name by default)."""
    wanted = set(cells)
    found: dict[Cell, list[Example]] = {c: [] for c in cells}
    for example in read_examples(task_files):
        if example.cell in wanted and example.split in (fewshot_split, "test"):
            subject = example.metadata.get("subject") or example.dataset.replace("-", "_")
            found[example.cell].append(replace(example, metadata={**example.metadata, "subject": subject}))
    result = {}
    for cell, examples in found.items():
        tests = stratified_sample([e for e in examples if e.split == "test"], max_items, seed, cell)
        if not tests:
            files = ", ".join(map(str, task_files))
            raise ValueError(f"no test items for cell {'/'.join(cell)} in {files}")
        result[cell] = [e for e in examples if e.split == fewshot_split] + tests
    return result


def score_rows(results: list[dict[str, Any]], cell: Cell, meta: dict[str, Any], seed: int) -> list[dict]:
    """Score rows for one cell: accuracy and length-normalised accuracy with Wilson intervals."""
    dataset, language, subtask = cell
    rows = []
    for metric, key in (("loglik_acc", "acc"), ("loglik_acc_norm", "acc_norm")):
        est = estimate("accuracy", [[r[key]] for r in results], seed=seed)
        rows.append(
            {
                **meta,
                "dataset": dataset,
                "language": language,
                "task": "qa",
                "subtask": subtask,
                "metric": metric,
                "value": est.value,
                "n": est.n,
                "stderr": est.stderr,
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "parse_failure_rate": 0.0,
                "item_fields": ["correct"],
                "items": [[r["id"], r[key]] for r in results],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    from pipeline.evaluate.generate import add_identity_arguments
    from pipeline.evaluate.loglik import LoglikelihoodScorer, score_multiple_choice

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--tasks", type=Path, nargs="+", required=True)
    parser.add_argument("--cells", nargs="+", required=True, help="dataset/language/subtask")
    parser.add_argument("--items-dir", type=Path, required=True, help="writes <dataset>/<lang>/<sub>.jsonl")
    parser.add_argument("--scores-dir", type=Path, required=True, help="writes <dataset>/<lang>/<sub>.json")
    parser.add_argument("--settings", required=True, help="JSON of evaluate.settings.LoglikSettings")
    add_identity_arguments(parser)
    args = parser.parse_args(argv)
    setup_job_logging()
    settings = LoglikSettings.from_json(args.settings)
    seed = settings.seed
    meta: dict[str, Any] = {
        "model": args.model_name,
        "arm": args.arm,
        "decoding": {"method": "loglik", "k_shot": settings.k_shot, "template": settings.template},
    }

    cells = [parse_cell(c) for c in args.cells]
    items = cell_items(args.tasks, cells, settings.fewshot_split, settings.max_items_per_cell, seed=seed)
    scorer = LoglikelihoodScorer(args.model)
    progress = Progress(len(items), "log-likelihood cells", log, every=0)
    for cell, examples in items.items():
        results = [
            {**asdict(r), "model": meta["model"], "arm": meta["arm"]}
            for r in score_multiple_choice(
                args.model,
                examples,
                settings.k_shot,
                settings.batch_size,
                settings.fewshot_split,
                scorer=scorer,
                template=settings.template,
            )
        ]
        relative = Path(*cell)
        write_jsonl(args.items_dir / relative.with_suffix(".jsonl"), results)
        write_json(args.scores_dir / relative.with_suffix(".json"), score_rows(results, cell, meta, seed))
        progress.advance(1)


if __name__ == "__main__":
    main()
