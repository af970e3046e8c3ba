"""Load and check the report's inputs; every error names the file (and the key or column).

Path conventions (the workflow's): mix stats `results/mixes/{mix}.stats.json`, block stats
`results/corpus/blocks/{model}/{corpus}.stats.json`, training logs `results/train_logs/{model}/{arm}.parquet`,
throughput `results/predictions/{model}/{arm}/{dataset}/throughput.json`, benchmark TSVs
`.../{model}/{arm}.tsv` (or `.../{model}/{arm}/{dataset}.tsv` for a job per dataset), log-likelihood
results `.../{model}/{arm}/{benchmark}.jsonl`, model folders `results/models/{model}/base`.
"""

from __future__ import annotations

import csv
import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.dag.grid import Grid
from pipeline.io import read_jsonl
from pipeline.report.published import PublishedStudy
from pipeline.summary import COLUMNS

SUMMARY_COLUMNS = tuple(COLUMNS)


@dataclass(frozen=True)
class TrainLog:
    """What the cost table and the training curves need from a training log."""

    tokens: int | None
    seconds: float | None
    steps: int | None
    losses: pl.DataFrame | None = None  # step, adapter, loss (train rows), eval_loss (validation rows)


@dataclass(frozen=True)
class Benchmark:
    """Snakemake `benchmark:` measurements of one model × arm, summed over its files."""

    seconds: float
    max_rss_mb: float | None


@dataclass
class Inputs:
    """Everything the report reads; only the summary and the grid are required."""

    summary: pl.DataFrame
    grid: Grid  # the workflow's models and arms
    scores_dir: Path | None = None
    stability_dir: Path | None = None
    mix_stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    block_stats: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    train_logs: dict[tuple[str, str], TrainLog] = field(default_factory=dict)
    throughput: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    benchmarks: dict[tuple[str, str], Benchmark] = field(default_factory=dict)
    loglik: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    parameters: dict[str, int] = field(default_factory=dict)
    published: list[PublishedStudy] = field(default_factory=list)


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err.msg})") from err


def _require(path: Path, data: Any, keys: tuple[str, ...]) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{path}: missing key(s) {missing}")


def load_summary(path: Path) -> pl.DataFrame:
    """The summary table; missing columns or a non-finite value raise ValueError."""
    frame = pl.read_parquet(path)
    missing = [c for c in SUMMARY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    if frame.is_empty():
        raise ValueError(f"{path}: no rows")
    bad = frame.filter(~pl.col("value").is_finite() | pl.col("value").is_null())
    if not bad.is_empty():
        raise ValueError(f"{path}: column 'value' has {bad.height} non-finite value(s)")
    return frame


def parse_grid(text: str) -> Grid:
    """The `--grid` JSON, the config's `models` and `arms` (required), `mixes`, `corpus` and `training`,
    as the workflow's `Grid` of those models and arms (which checks them as the workflow does)."""
    try:
        sections = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"--grid: invalid JSON ({err.msg})") from err
    if not isinstance(sections, dict):
        raise ValueError("--grid must be a JSON object")
    missing = [k for k in ("models", "arms") if not isinstance(sections.get(k), dict)]
    if missing:
        raise ValueError(f"--grid: missing section(s) {missing}")
    unknown = sorted(set(sections) - {"models", "arms", "mixes", "corpus", "training"})
    if unknown:
        raise ValueError(f"--grid: unknown section(s) {unknown}")
    for name, arm in sections["arms"].items():
        if not isinstance(arm, dict) or "method" not in arm:
            raise ValueError(f"--grid: arms.{name} needs a 'method'")
    return Grid({k: v for k, v in sections.items() if v is not None}, None)


def load_mix_stats(paths: list[Path]) -> dict[str, dict[str, Any]]:
    out = {}
    for path in paths:
        data = _json(path)
        _require(path, data, ("examples", "by_task", "by_language", "prompt_words", "completion_words"))
        out[path.name.removesuffix(".stats.json")] = data
    return out


def load_block_stats(paths: list[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path in paths:
        data = _json(path)
        _require(path, data, ("corpus", "documents", "words", "tokens", "blocks", "tokens_per_word"))
        out[(path.parent.name, data["corpus"])] = data
    return out


def _last(frame: pl.DataFrame, column: str) -> Any:
    values = frame.get_column(column).drop_nulls()
    return values.max() if len(values) else None


def load_train_logs(paths: list[Path]) -> dict[tuple[str, str], TrainLog]:
    out = {}
    for path in paths:
        frame = pl.read_parquet(path)
        missing = [c for c in ("step", "tokens_seen", "elapsed") if c not in frame.columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}")
        tokens, seconds, steps = (_last(frame, c) for c in ("tokens_seen", "elapsed", "step"))
        out[(path.parent.name, path.stem)] = TrainLog(
            None if tokens is None else int(tokens),
            None if seconds is None else float(seconds),
            None if steps is None else int(steps),
            _losses(frame),
        )
    return out


def _losses(frame: pl.DataFrame) -> pl.DataFrame:
    """The loss columns of a training log (absent ones null; `adapter` "joint" when not per task)."""
    columns = {"loss": pl.Float64, "eval_loss": pl.Float64, "adapter": pl.Utf8}
    present = [pl.col("step").cast(pl.Int64)]
    present += [
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, dtype=t).alias(c)
        for c, t in columns.items()
    ]
    return frame.select(present).with_columns(pl.col("adapter").fill_null("joint"))


THROUGHPUT_SUMS = ("prompts", "cached", "seconds", "prompt_tokens", "completion_tokens")


def load_throughput(paths: list[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    """Generation counts and seconds per model × arm, summed over its jobs (one per dataset)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in paths:
        data = _json(path)
        _require(path, data, THROUGHPUT_SUMS)
        # Records name their model and arm; else the path ends in .../{model}/{arm}/{dataset}/throughput.json.
        key = (data.get("model") or path.parents[2].name, data.get("arm") or path.parents[1].name)
        total = out.setdefault(key, {"model": key[0], "arm": key[1], **dict.fromkeys(THROUGHPUT_SUMS, 0)})
        for name in THROUGHPUT_SUMS:
            total[name] += data[name]
    return out


def benchmark_key(path: Path) -> tuple[str, str]:
    """(model, arm) of a benchmark file: `.../benchmarks/{rule}/{model}/{arm}.tsv`, or one folder
    deeper for a job per dataset (`.../{model}/{arm}/{dataset}.tsv`)."""
    parts = path.parts
    if "benchmarks" in parts:
        below = parts[len(parts) - parts[::-1].index("benchmarks") :]
        if len(below) == 4:
            return below[1], below[2]
    return path.parent.name, path.stem


def load_benchmarks(paths: list[Path]) -> dict[tuple[str, str], Benchmark]:
    """Sum `s` (and take the largest `max_rss`, MB) over the TSV files of each model × arm."""
    seconds: dict[tuple[str, str], float] = {}
    rss: dict[tuple[str, str], float | None] = {}
    for path in paths:
        with path.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if not rows or "s" not in rows[0]:
            raise ValueError(f"{path}: a benchmark TSV needs a header with column 's' and one row")
        key = benchmark_key(path)
        for row in rows:
            try:
                seconds[key] = seconds.get(key, 0.0) + float(row["s"])
                value = float(row["max_rss"]) if row.get("max_rss") not in (None, "", "-", "NA") else None
            except ValueError as err:
                raise ValueError(f"{path}: column 's' or 'max_rss' is not a number ({err})") from err
            if value is not None and math.isfinite(value):
                rss[key] = max(rss.get(key) or 0.0, value)
            else:
                rss.setdefault(key, None)
    return {k: Benchmark(seconds[k], rss[k]) for k in sorted(seconds)}


def load_loglik(paths: list[Path]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in paths:
        records = read_jsonl(path)
        for number, record in enumerate(records, start=1):
            missing = [k for k in ("subject", "acc", "acc_norm") if k not in record]
            if missing:
                raise ValueError(f"{path}: record {number} lacks key(s) {missing}")
        for record in records:
            # Records name their model and arm; else the path ends in .../{model}/{arm}/{bench}.jsonl.
            key = (record.get("model") or path.parent.parent.name, record.get("arm") or path.parent.name)
            out.setdefault(key, []).append(record)
    return out


def _safetensors_parameters(path: Path) -> int:
    with path.open("rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        try:
            header = json.loads(f.read(length))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: unreadable safetensors header ({err.msg})") from err
    return sum(math.prod(t["shape"]) for name, t in header.items() if name != "__metadata__")


def config_parameters(config: dict[str, Any], where: str) -> int:
    """Parameters of a decoder-only transformer from its config (norms and biases ignored)."""
    c = config.get("text_config", config)
    keys = ("hidden_size", "num_hidden_layers", "vocab_size", "intermediate_size", "num_attention_heads")
    missing = [k for k in keys if k not in c]
    if missing:
        raise ValueError(f"{where}: config lacks {missing} to count parameters")
    h, heads = c["hidden_size"], c["num_attention_heads"]
    kv = c.get("num_key_value_heads") or heads
    d = c.get("head_dim") or h // heads
    layer = 2 * h * heads * d + 2 * h * kv * d + 3 * h * c["intermediate_size"]
    embeddings = c["vocab_size"] * h * (1 if config.get("tie_word_embeddings", False) else 2)
    return c["num_hidden_layers"] * layer + embeddings


def model_parameters(folder: Path) -> int:
    """N from the safetensors headers of `folder`, else estimated from its config.json."""
    shards = sorted(folder.glob("*.safetensors"))
    if shards:
        return sum(_safetensors_parameters(p) for p in shards)
    config = folder / "config.json"
    if not config.exists():
        raise ValueError(f"{folder}: neither *.safetensors nor config.json to count parameters")
    return config_parameters(_json(config), str(config))


def load_parameters(folders: list[Path], models: list[str]) -> dict[str, int]:
    """N per model; a folder is named by the model or lies in the model's folder (`{model}/base`)."""
    out = {}
    for folder in folders:
        model = folder.name if folder.name in models else folder.parent.name
        if model not in models:
            raise ValueError(f"{folder}: names no model of the grid ({sorted(models)})")
        out[model] = model_parameters(folder)
    return out
