"""One log-likelihood job: load a model once, score the multiple-choice cells it is given.

For each cell (dataset/language/sub-task) the test items are scored with lm-evaluation-harness
semantics (`pipeline.evaluate.loglik`), k-shot from the cell's `fewshot_split`. Writes per-item
results and, per cell, score rows (`loglik_acc`, `loglik_acc_norm`) in the layout of
`pipeline.evaluate.score`, so the summary reads them like any other score file.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from pipeline.evaluate.stats import estimate
from pipeline.examples import Example
from pipeline.io import read_jsonl, write_json, write_jsonl
from pipeline.progress import Progress, setup_job_logging

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {"k_shot": 0, "batch_size": 8, "fewshot_split": "dev", "max_items_per_cell": None}
Cell = tuple[str, str, str]


def cell_items(task_files: list[Path], cells: list[Cell], fewshot_split: str, max_items: int | None):
    """Per cell: its shot pool and its (first `max_items` by id) test items, with a subject set."""
    wanted = set(cells)
    found: dict[Cell, list[Example]] = {c: [] for c in cells}
    for path in task_files:
        for record in read_jsonl(path):
            example = Example.from_record(record)
            if example.cell in wanted and example.split in (fewshot_split, "test"):
                subject = example.metadata.get("subject") or example.dataset.replace("-", "_")
                found[example.cell].append(
                    replace(example, metadata={**example.metadata, "subject": subject})
                )
    result = {}
    for cell, examples in found.items():
        tests = sorted((e for e in examples if e.split == "test"), key=lambda e: e.id)[:max_items]
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
    from pipeline.evaluate.generate import parse_cell
    from pipeline.evaluate.loglik import LoglikelihoodScorer, score_multiple_choice

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--tasks", type=Path, nargs="+", required=True)
    parser.add_argument("--cells", nargs="+", required=True, help="dataset/language/subtask")
    parser.add_argument("--items-dir", type=Path, required=True, help="writes <dataset>/<lang>/<sub>.jsonl")
    parser.add_argument("--scores-dir", type=Path, required=True, help="writes <dataset>/<lang>/<sub>.json")
    parser.add_argument(
        "--settings", required=True, help=f"JSON over {json.dumps(DEFAULTS)} + model, arm, seed"
    )
    args = parser.parse_args(argv)
    setup_job_logging()
    raw = json.loads(args.settings)
    meta = {"model": raw.pop("model", None), "arm": raw.pop("arm", None)}
    seed = raw.pop("seed", 0)
    unknown = set(raw) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"loglik settings: unknown key(s) {sorted(unknown)} (known: {sorted(DEFAULTS)})")
    settings = {**DEFAULTS, **raw}
    meta["decoding"] = {"method": "loglik", "k_shot": settings["k_shot"]}

    cells = [parse_cell(c) for c in args.cells]
    items = cell_items(args.tasks, cells, settings["fewshot_split"], settings["max_items_per_cell"])
    scorer = LoglikelihoodScorer(args.model)
    progress = Progress(len(items), "log-likelihood cells", log, every=0)
    for cell, examples in items.items():
        results = [
            {**asdict(r), "model": meta["model"], "arm": meta["arm"]}
            for r in score_multiple_choice(
                args.model,
                examples,
                settings["k_shot"],
                settings["batch_size"],
                settings["fewshot_split"],
                scorer=scorer,
            )
        ]
        relative = Path(*cell)
        write_jsonl(args.items_dir / relative.with_suffix(".jsonl"), results)
        write_json(args.scores_dir / relative.with_suffix(".json"), score_rows(results, cell, meta, seed))
        progress.advance(1)


if __name__ == "__main__":
    main()
