"""Score prediction files: parse completions, compute task metrics with uncertainty, write rows.

One prediction file holds one evaluation cell (model, arm, dataset, language, task, sub-task).
Its output is a JSON list of metric rows, main metric first, on the strict parse of the
completions; for the JSON-answer tasks the same metrics follow on the lenient parse (names ending
in `metrics.LENIENT_PARSE`, ``parse_mode: "lenient"``), so a model that writes a near-miss layout
is not scored zero for layout alone while the strict rows still show the format gain of IT.
Each row carries the per-item
statistics of its metric (``items``: ``[[id, *stats]]``, columns named by ``item_fields``) so
that the summary and the report can test two systems on the same items (paired bootstrap).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.evaluate.metrics import LENIENT_PARSE, item_matrix, metrics_for
from pipeline.evaluate.parse import PARSE_MODES, parse_record
from pipeline.evaluate.settings import ScoreSettings
from pipeline.evaluate.stats import estimate
from pipeline.examples import TASKS
from pipeline.io import read_jsonl, write_json

CELL_KEYS = ("model", "arm", "dataset", "language", "task", "subtask")
REQUIRED_KEYS = (*CELL_KEYS, "id", "completion", "gold")
_GOLD_KEYS = {
    "ner": ("entities",),
    "re": ("relations",),
    "qa": ("answer",),
    "crf": ("items",),
    "argmining": ("claims", "premises"),
}


def _check_records(records: list[dict[str, Any]], source: str) -> None:
    if not records:
        raise ValueError(f"{source}: no prediction records")
    first = records[0]
    seen: set[str] = set()
    for number, record in enumerate(records, start=1):
        where = f"{source}: record {number}"
        missing = [k for k in REQUIRED_KEYS if k not in record]
        if missing:
            raise ValueError(f"{where}: missing keys {missing}")
        if record["task"] not in TASKS:
            raise ValueError(f"{where}: unknown task {record['task']!r}")
        gold = record["gold"]
        if not isinstance(gold, dict) or any(k not in gold for k in _GOLD_KEYS[record["task"]]):
            raise ValueError(f"{where}: gold is not a {record['task']} answer ({_GOLD_KEYS[record['task']]})")
        other = [k for k in CELL_KEYS if record[k] != first[k]]
        if record.get("style", "json") != first.get("style", "json"):
            other.append("style")
        if other:
            raise ValueError(f"{where}: {other} differ from record 1 (one file must hold one cell)")
        if str(record["id"]) in seen:
            raise ValueError(f"{where}: duplicate id {record['id']!r}")
        seen.add(str(record["id"]))


def score_records(
    records: list[dict[str, Any]], settings: ScoreSettings | None = None, source: str = "<records>"
) -> list[dict[str, Any]]:
    """Metric rows (main metric first; strict parse, then lenient) for the prediction records of one cell."""
    settings = settings or ScoreSettings()
    _check_records(records, source)
    golds = [r["gold"] for r in records]
    ids = [str(r["id"]) for r in records]
    cell = {k: records[0][k] for k in CELL_KEYS}
    modes = PARSE_MODES if cell["task"] != "qa" else PARSE_MODES[:1]  # one reading of a letter
    rows = []
    for mode in modes:
        parsed = [parse_record(r, mode) for r in records]
        answers = [p.answer for p in parsed]
        failure_rate = sum(not p.ok for p in parsed) / len(parsed)
        suffix = LENIENT_PARSE if mode == "lenient" else ""
        for metric in metrics_for(cell["task"], golds):
            stats = item_matrix(metric, answers, golds)
            est = estimate(metric.name, stats, settings.bootstrap_samples, settings.seed, settings.confidence)
            rows.append(
                {
                    **cell,
                    "style": records[0].get("style", "json"),
                    "metric": metric.name + suffix,
                    "parse_mode": mode,
                    "value": est.value,
                    "n": est.n,
                    "stderr": est.stderr,
                    "ci_low": est.ci_low,
                    "ci_high": est.ci_high,
                    "parse_failure_rate": failure_rate,
                    "decoding": records[0].get("decoding"),
                    "item_fields": list(metric.fields),
                    "items": [[i, *row] for i, row in zip(ids, stats.tolist(), strict=True)],
                }
            )
    return rows


def score_file(predictions: Path, output: Path, settings: ScoreSettings | None = None) -> None:
    write_json(output, score_records(read_jsonl(predictions), settings, str(predictions)))


def score_pairs(predictions: Path, output: Path) -> list[tuple[Path, Path]]:
    """(prediction file, score file) pairs of one argument pair: two files, or two folders (every
    `*.jsonl` under the first, scored to the same relative path under the second as `.json`)."""
    if not predictions.is_dir():
        return [(predictions, output)]
    files = sorted(predictions.rglob("*.jsonl"))
    if not files:
        raise ValueError(f"{predictions}: no prediction files (*.jsonl) in the folder")
    return [(path, output / path.relative_to(predictions).with_suffix(".json")) for path in files]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--predictions", type=Path, nargs="+", required=True, help="prediction files, or folders of them"
    )
    parser.add_argument(
        "--outputs",
        type=Path,
        nargs="+",
        required=True,
        help="a score file (or folder) per prediction file (folder)",
    )
    parser.add_argument("--settings", default="{}", help="JSON of evaluate.settings.ScoreSettings")
    args = parser.parse_args(argv)
    if len(args.predictions) != len(args.outputs):
        parser.error(f"{len(args.predictions)} predictions but {len(args.outputs)} outputs")
    settings = ScoreSettings.from_json(args.settings)
    pairs = [pair for p, o in zip(args.predictions, args.outputs, strict=True) for pair in score_pairs(p, o)]
    for predictions, output in pairs:
        score_file(predictions, output, settings)


if __name__ == "__main__":
    main()
