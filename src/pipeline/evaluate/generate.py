"""One generation job: load a model once, answer every test example of its cells.

Writes one prediction file per evaluation cell (dataset/language/sub-task) and a
throughput record. Completions are looked up in a content-addressed cache first, so
only new or changed prompts reach the backend (a fully cached job never loads the
model), and every generated chunk is cached at once (a killed job resumes there).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.evaluate.backends import Completion, GenerationBackend, make_backend
from pipeline.evaluate.cache import CompletionCache
from pipeline.evaluate.settings import GenerationSettings
from pipeline.examples import Cell, Example, parse_cell, read_examples
from pipeline.io import write_json, write_jsonl
from pipeline.progress import Progress, setup_job_logging
from pipeline.tasks.answers import gold_answer

log = logging.getLogger(__name__)

# Fault injection for the resume tests: SIGKILL the job after this many cached chunks.
KILL_AFTER_CHUNKS_ENV = "MEDADAPT_FAULT_KILL_AFTER_CHUNKS"


def select_test_examples(
    task_files: list[Path], cells: list[Cell], max_per_cell: int | None
) -> dict[Cell, list[Example]]:
    """The test examples of each requested cell (first `max_per_cell` by id)."""
    wanted = set(cells)
    by_cell: dict[Cell, list[Example]] = defaultdict(list)
    for example in read_examples(task_files):
        if example.split == "test" and example.cell in wanted:
            by_cell[example.cell].append(example)
    missing = [c for c in cells if not by_cell.get(c)]
    if missing:
        names = ", ".join("/".join(c) for c in missing)
        raise ValueError(f"no test examples for cell(s) {names} in {', '.join(map(str, task_files))}")
    return {c: sorted(by_cell[c], key=lambda e: e.id)[:max_per_cell] for c in cells}


def model_for_task(model_dir: Path, task: str) -> Path:
    """The model that answers `task`: the task's own adapter when training wrote one per task."""
    index = model_dir / "adapters.json"
    if not index.exists():
        return model_dir
    adapters = json.loads(index.read_text(encoding="utf-8"))
    if task not in adapters:
        raise ValueError(f"{index}: no adapter for task {task!r} (has {sorted(adapters)})")
    return model_dir / adapters[task]


@dataclass(frozen=True)
class Request:
    """One prompt to answer: a test example of a cell, in a prompt style, with its k shots."""

    cell: Cell
    example: Example
    style: str
    shots: tuple[Example, ...] = ()


def generate_cells(
    model_dir: Path,
    requests: list[Request],
    settings: GenerationSettings,
    cache: CompletionCache,
    backend_factory: Callable[[Path], GenerationBackend],
    model: str | None = None,
    arm: str | None = None,
) -> tuple[dict[tuple[str, Cell], list[dict[str, Any]]], dict[str, Any]]:
    """Predictions per (style, cell), and the job's throughput record, both naming `model` and `arm`.

    Prompts not in the cache go to the backend longest first in chunks of `chunk_size` (default: one
    batch), with the stop sequences of their prompt style; each chunk's completions reach the cache
    before the next starts, so a killed job resumes where it stopped.
    """
    from pipeline.models.chat import encode, format_prompt, load_tokenizer, split_thinking
    from pipeline.tasks.prompts import CUED_STYLES, render, stop_sequences

    tokenizer = load_tokenizer(model_dir)
    decoding, language, backend_name = settings.decoding, settings.prompt_language, settings.backend
    decodings = {s: decoding.with_stop(stop_sequences(s)) for s in sorted({r.style for r in requests})}

    texts = [
        format_prompt(
            tokenizer,
            render(r.example, r.style, prompt_language=language, shots=r.shots),
            header=r.style not in CUED_STYLES,
            thinking=settings.thinking,
        )
        for r in requests
    ]
    ids = [encode(tokenizer, t) for t in texts]
    folders = [model_for_task(model_dir, r.example.task) for r in requests]
    fingerprints = {m: cache.fingerprint(m) for m in set(folders)}
    keys = [
        cache.key(backend_name, fingerprints[m], p, decodings[r.style])
        for m, p, r in zip(folders, ids, requests, strict=True)
    ]
    cached: dict[str, Completion] = {}
    for fingerprint in set(fingerprints.values()):
        cached.update(cache.load(fingerprint))
    todo_by_group = {
        (folder, style): sorted(
            {
                k: i
                for i, k in enumerate(keys)
                if folders[i] == folder and requests[i].style == style and k not in cached
            }.values(),
            key=lambda i: -len(ids[i]),
        )
        for folder in sorted(set(folders))
        for style in decodings
    }
    total = sum(map(len, todo_by_group.values()))
    log.info("%d prompts, %d cached, %d to generate", len(requests), len(requests) - total, total)

    started = time.perf_counter()
    progress = Progress(total, "generated", log)
    fresh: dict[str, Completion] = {}
    chunk_size = settings.chunk
    kill_after_chunks, chunks_cached = int(os.environ.get(KILL_AFTER_CHUNKS_ENV) or 0), 0
    backend, loaded = None, None  # one model in memory at a time (groups come model by model)
    for (folder, style), todo in todo_by_group.items():
        if not todo:
            continue
        if folder != loaded:
            backend, loaded = backend_factory(folder), folder
        assert backend is not None
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            answers = backend.generate([ids[i] for i in chunk], decodings[style])
            done = dict(zip([keys[i] for i in chunk], answers, strict=True))
            cache.put(fingerprints[folder], done)
            fresh.update(done)
            progress.advance(len(chunk))
            chunks_cached += 1
            if chunks_cached == kill_after_chunks:
                os.kill(os.getpid(), signal.SIGKILL)
    elapsed = time.perf_counter() - started
    completions = {**cached, **fresh}

    predictions: dict[tuple[str, Cell], list[dict[str, Any]]] = defaultdict(list)
    for request, text, key in zip(requests, texts, keys, strict=True):
        c, ex = completions[key], request.example
        thought, answer = split_thinking(c.text)
        predictions[(request.style, request.cell)].append(
            {
                "id": ex.id,
                "dataset": ex.dataset,
                "task": ex.task,
                "language": ex.language,
                "subtask": ex.subtask,
                "style": request.style,
                "shots": [shot.id for shot in request.shots],
                "prompt": text,
                "completion": answer,
                "thinking": thought,
                "finish_reason": c.finish_reason,
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "gold": gold_answer(ex),
                "example_gold": ex.gold,
                "model": model,
                "arm": arm,
                "decoding": decodings[request.style].to_dict(),
            }
        )
    new_tokens = sum(c.completion_tokens for c in fresh.values())
    throughput = {
        "model": model,
        "arm": arm,
        "backend": backend_name,
        "prompts": len(requests),
        "generated": len(fresh),
        "cached": len(requests) - len(fresh),
        "seconds": elapsed,
        "prompts_per_second": len(fresh) / elapsed if fresh and elapsed > 0 else None,
        "tokens_per_second": new_tokens / elapsed if fresh and elapsed > 0 else None,
        # This job's prompts only: the cache holds every job's completions of the model.
        "prompt_tokens": sum(completions[k].prompt_tokens for k in set(keys)),
        "completion_tokens": sum(completions[k].completion_tokens for k in set(keys)),
    }
    log.info("generation %s/%s: %s", model, arm, throughput)
    return predictions, throughput


def run_job(
    model_dir: Path,
    requests: list[Request],
    settings: GenerationSettings,
    cache_dir: Path,
    model: str | None = None,
    arm: str | None = None,
) -> tuple[dict[tuple[str, Cell], list[dict[str, Any]]], dict[str, Any]]:
    """`generate_cells` with the configured backend and the completion cache under `cache_dir`."""
    return generate_cells(
        model_dir,
        requests,
        settings,
        CompletionCache(cache_dir),
        lambda folder: make_backend(settings.backend, folder, settings.batch_size),
        model,
        arm,
    )


def add_identity_arguments(parser: argparse.ArgumentParser) -> None:
    """--model-name and --arm: what the records and the throughput name (not settings)."""
    parser.add_argument("--model-name", help="the grid's name of the model (in every record)")
    parser.add_argument("--arm", help="the grid's name of the arm (in every record)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--tasks", type=Path, nargs="+", required=True, help="task files (Example JSONL)")
    parser.add_argument("--cells", nargs="+", required=True, help="dataset/language/subtask")
    parser.add_argument("--output-dir", type=Path, required=True, help="writes <dataset>/<lang>/<sub>.jsonl")
    parser.add_argument("--throughput", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True, help="the completion cache's folder")
    parser.add_argument(
        "--settings", required=True, help="JSON of pipeline.evaluate.settings.GenerationSettings"
    )
    add_identity_arguments(parser)
    args = parser.parse_args(argv)
    setup_job_logging()

    settings = GenerationSettings.from_json(args.settings)
    cells = [parse_cell(c) for c in args.cells]
    examples = select_test_examples(args.tasks, cells, settings.max_test_per_cell)
    requests = [Request(cell, ex, settings.style) for cell, exs in examples.items() for ex in exs]
    predictions, throughput = run_job(args.model, requests, settings, args.cache, args.model_name, args.arm)
    for (_, (dataset, language, subtask)), records in predictions.items():
        write_jsonl(args.output_dir / dataset / language / f"{subtask}.jsonl", records)
    write_json(args.throughput, throughput)


if __name__ == "__main__":
    main()
