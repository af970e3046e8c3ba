"""Any lm-evaluation-harness task, by name, on one of our model folders.

The tasks come from lm-eval's own registry and YAML files (``TaskManager``), plus the folders of
``include_path`` (a study's own task YAMLs); the model is the arm's folder loaded by lm-eval's
``HFLM``. lm-eval's results JSON (without the per-document samples) is kept as it is, beside our
score rows: one row per task or group × metric × filter, with lm-eval's value and standard error,
and, where the value is the mean of per-document values (``acc``, ``acc_norm``, ``exact_match``...),
those values as items, so the summary can test arms against each other on the same documents.

    python -m pipeline.evaluate.harness --model MODEL_DIR --results RESULTS.json \\
        --scores SCORES.json --settings '{"tasks": ["medmcqa", "pubmedqa"], ...}' [--model-name M --arm A]
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from pipeline.evaluate.settings import LmEvalSettings
from pipeline.evaluate.stats import estimate
from pipeline.io import write_json

TASK = "lm_eval"  # the summary's `task` of harness rows


def task_manager(include_path: str | list[str] | None) -> Any:
    """lm-eval's task index: its own registry plus the YAML files under `include_path`."""
    from lm_eval.tasks import TaskManager

    paths = [include_path] if isinstance(include_path, str) else include_path
    for path in paths or []:
        if not Path(path).is_dir():
            raise ValueError(f"lm_eval.include_path: {path} is not a folder of task YAMLs")
    return TaskManager(include_path=paths)


def check_tasks(tasks: Sequence[str], manager: Any) -> None:
    """Every name is a task, group or tag lm-eval knows; raises naming the unknown ones."""
    known = set(manager.all_tasks)
    unknown = [t for t in tasks if t not in known]
    if unknown:
        import lm_eval

        raise ValueError(
            f"lm_eval.tasks: unknown task(s) {unknown}: not in lm-eval {lm_eval.__version__}'s registry "
            "nor under lm_eval.include_path"
        )


def run_tasks(model_dir: str | Path, settings: LmEvalSettings) -> dict[str, Any]:
    """lm-eval's `simple_evaluate` of the tasks on `model_dir` (samples logged, every seed the settings')."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    manager = task_manager(settings.include_path)
    check_tasks(settings.tasks, manager)  # before the model loads
    model = HFLM(
        pretrained=str(model_dir),
        device=settings.device or _default_device(),
        batch_size=settings.batch_size,
        dtype=settings.dtype,
    )
    seed = settings.seed
    results = lm_eval.simple_evaluate(
        model=model,
        tasks=list(settings.tasks),
        num_fewshot=settings.num_fewshot,
        limit=settings.limit,
        task_manager=manager,
        log_samples=True,
        apply_chat_template=settings.apply_chat_template,
        bootstrap_iters=settings.bootstrap_iters,
        random_seed=seed,
        numpy_random_seed=seed,
        torch_random_seed=seed,
        fewshot_random_seed=seed,
    )
    if results is None:
        raise RuntimeError("lm-eval returned no results (a non-zero rank of a distributed run?)")
    return results


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _document_values(samples: list[dict[str, Any]], metric: str, filter_name: str) -> list[list[Any]]:
    """[doc id, value] of each sample of one filter that carries `metric` as a number."""
    items = []
    for sample in samples:
        value = sample.get(metric)
        if sample.get("filter", "none") == filter_name and isinstance(value, int | float | bool):
            items.append([str(sample["doc_id"]), float(value)])
    return items


def score_rows(results: dict[str, Any], meta: dict[str, Any], confidence: float) -> list[dict[str, Any]]:
    """Our score rows of lm-eval's results: one per task or group, metric and filter."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    samples = results.get("samples") or {}
    rows = []
    for name, metrics in results["results"].items():
        for key, raw in metrics.items():
            metric, _, filter_name = key.partition(",")
            value = _number(raw)
            if not filter_name or metric.endswith("_stderr") or value is None:
                continue
            stderr = _number(metrics.get(f"{metric}_stderr,{filter_name}"))
            items = _document_values(samples.get(name, []), metric, filter_name)
            mean_of_items = bool(items) and abs(float(np.mean([v for _, v in items])) - value) < 1e-9
            row: dict[str, Any] = {
                **meta,
                "dataset": name,
                "language": None,
                "task": TASK,
                "subtask": filter_name,
                "metric": metric,
                "value": value,
                "n": (results.get("n-samples", {}).get(name) or {}).get("effective"),
                "stderr": stderr,
                "ci_low": None if stderr is None else value - z * stderr,
                "ci_high": None if stderr is None else value + z * stderr,
                "parse_failure_rate": None,
                "decoding": {**meta["decoding"], "num_fewshot": results.get("n-shot", {}).get(name)},
            }
            if mean_of_items:
                est = estimate("accuracy", [[v] for _, v in items], confidence=confidence)
                row.update(n=est.n, stderr=est.stderr, ci_low=est.ci_low, ci_high=est.ci_high)
                row.update(item_fields=["value"], items=items)
            rows.append(row)
    if not rows:
        raise ValueError(f"lm-eval reported no numeric metric for {list(results['results'])}")
    return rows


def main(argv: list[str] | None = None) -> None:
    from lm_eval.utils import handle_non_serializable

    from pipeline.evaluate.generate import add_identity_arguments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True, help="lm-eval's results JSON (no samples)")
    parser.add_argument("--scores", type=Path, required=True, help="our score rows (JSON list)")
    parser.add_argument("--settings", required=True, help="JSON of evaluate.settings.LmEvalSettings")
    add_identity_arguments(parser)
    args = parser.parse_args(argv)
    settings = LmEvalSettings.from_json(args.settings)
    results = run_tasks(args.model, settings)
    import lm_eval

    meta = {
        "model": args.model_name,
        "arm": args.arm,
        "decoding": {"method": "lm_eval", "lm_eval": lm_eval.__version__},
    }
    rows = score_rows(results, meta, settings.confidence)
    kept = {k: v for k, v in results.items() if k != "samples"}
    write_json(args.results, json.loads(json.dumps(kept, default=handle_non_serializable)))
    write_json(args.scores, rows)


if __name__ == "__main__":
    main()
