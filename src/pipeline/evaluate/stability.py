"""Explanation stability (Preferred-MedLLM): the same k-shot multiple-choice questions asked twice.

Once answer-only (``qa_answer_only``: the prompt ends in ``Answer:``) and once "explain, then
answer" (``qa_explain``: it ends in ``Explanation:``), with the same shots — the first `k_shot`
items of the cell's `fewshot_split` with the item's subject, as in the log-likelihood scoring.
One job per model × arm × dataset loads the model once and writes one prediction file per style
and cell, `<output-dir>/<style>/<dataset>/<language>/<subtask>.jsonl`, scored like any other
prediction.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.evaluate.generate import Request, add_identity_arguments, run_job
from pipeline.evaluate.loglik_cells import cell_items
from pipeline.evaluate.settings import StabilitySettings
from pipeline.examples import Cell, Example, parse_cell
from pipeline.io import write_json, write_jsonl
from pipeline.progress import setup_job_logging

STYLES = ("qa_answer_only", "qa_explain")


def stability_requests(items: dict[Cell, list[Example]], k_shot: int, fewshot_split: str) -> list[Request]:
    """Both styles of every test item, each with the same first `k_shot` shots of its subject."""
    requests = []
    for cell, examples in items.items():
        if any(e.task != "qa" for e in examples):
            raise ValueError(f"stability: cell {'/'.join(cell)} is not a multiple-choice (qa) cell")
        pool: dict[str, list[Example]] = {}
        for example in examples:
            if example.split == fewshot_split:
                pool.setdefault(example.metadata["subject"], []).append(example)
        for example in (e for e in examples if e.split != fewshot_split):
            shots = tuple(pool.get(example.metadata["subject"], [])[:k_shot])
            if len(shots) < k_shot:
                raise ValueError(
                    f"stability: item {example.id} of {'/'.join(cell)} needs {k_shot} shots, "
                    f"split {fewshot_split!r} has {len(shots)}"
                )
            requests += [Request(cell, example, style, shots) for style in STYLES]
    return requests


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--tasks", type=Path, nargs="+", required=True)
    parser.add_argument("--cells", nargs="+", required=True, help="dataset/language/subtask (qa cells)")
    parser.add_argument(
        "--output-dir", type=Path, required=True, help="writes <style>/<dataset>/<lang>/<sub>.jsonl"
    )
    parser.add_argument("--throughput", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--settings", required=True, help="JSON of evaluate.settings.StabilitySettings")
    add_identity_arguments(parser)
    args = parser.parse_args(argv)
    setup_job_logging()
    settings = StabilitySettings.from_json(args.settings)
    cells = [parse_cell(c) for c in args.cells]
    items = cell_items(args.tasks, cells, settings.fewshot_split, settings.max_items_per_cell)
    requests = stability_requests(items, settings.k_shot, settings.fewshot_split)
    predictions, throughput = run_job(
        args.model, requests, settings.generation, args.cache, args.model_name, args.arm
    )
    for (style, (dataset, language, subtask)), records in predictions.items():
        write_jsonl(args.output_dir / style / dataset / language / f"{subtask}.jsonl", records)
    write_json(args.throughput, throughput)


if __name__ == "__main__":
    main()
