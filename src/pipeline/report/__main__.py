"""Stage: the report folder from the summary and the grid's side files.

    python -m pipeline.report --summary results/summary.parquet --grid JSON --output results/report \
        [--scores-dir results/scores] [--stability-dir results/stability] \
        [--mix-stats M.stats.json ...] [--block-stats B.stats.json ...] \
        [--train-logs L.parquet ...] [--throughput T.json ...] [--benchmarks B.tsv ...] \
        [--loglik R.jsonl ...] [--model-dirs DIR ...] [--settings JSON] [--config-hash HASH]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pipeline.paths import resolve
from pipeline.report.build import build_report
from pipeline.report.document import write_report
from pipeline.report.inputs import (
    Inputs,
    load_benchmarks,
    load_block_stats,
    load_loglik,
    load_mix_stats,
    load_parameters,
    load_summary,
    load_throughput,
    load_train_logs,
    parse_grid,
)
from pipeline.report.published import load_published
from pipeline.report.settings import ReportSettings


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    files = {"nargs": "*", "type": Path, "default": []}
    parser.add_argument("--summary", type=Path, required=True, help="results/summary.parquet")
    parser.add_argument(
        "--grid", required=True, help="JSON: the config's models, arms, mixes, corpus, training"
    )
    parser.add_argument("--output", type=Path, required=True, help="the report folder")
    parser.add_argument(
        "--scores-dir", type=Path, help="results/scores (per-item stats for the paired tests)"
    )
    parser.add_argument(
        "--stability-dir",
        type=Path,
        help="results/stability (per-item stats of the explanation-stability cells)",
    )
    parser.add_argument("--mix-stats", **files, help="results/mixes/{mix}.stats.json")
    parser.add_argument("--block-stats", **files, help="results/corpus/blocks/{model}/{corpus}.stats.json")
    parser.add_argument("--train-logs", **files, help="results/train_logs/{model}/{arm}.parquet")
    parser.add_argument(
        "--throughput", **files, help="results/predictions/{model}/{arm}/{dataset}/throughput.json"
    )
    parser.add_argument("--benchmarks", **files, help="Snakemake benchmark TSVs named .../{model}/{arm}.tsv")
    parser.add_argument(
        "--loglik", **files, help="log-likelihood results .../{model}/{arm}/{benchmark}.jsonl"
    )
    parser.add_argument(
        "--model-dirs", **files, help="model folders results/models/{model}/base (parameters)"
    )
    parser.add_argument(
        "--published", **files, help="the seed papers' published numbers, config/studies/published/*.yaml"
    )
    parser.add_argument("--settings", default="{}", help="JSON of pipeline.report.settings.ReportSettings")
    parser.add_argument(
        "--config-hash", help="SHA-256 of the whole config's canonical JSON (stated in the index)"
    )
    args = parser.parse_args(argv)
    settings = ReportSettings.from_json(args.settings)
    grid = parse_grid(args.grid)
    inputs = Inputs(
        summary=load_summary(args.summary),
        grid=grid,
        scores_dir=args.scores_dir,
        stability_dir=args.stability_dir,
        mix_stats=load_mix_stats(args.mix_stats),
        block_stats=load_block_stats(args.block_stats),
        train_logs=load_train_logs(args.train_logs),
        throughput=load_throughput(args.throughput),
        benchmarks=load_benchmarks(args.benchmarks),
        loglik=load_loglik(args.loglik),
        parameters=load_parameters(args.model_dirs, grid.models),
        published=[load_published(resolve(path)) for path in args.published],
    )
    sections, statement = build_report(inputs, settings, args.config_hash)
    write_report(sections, statement, args.output)


if __name__ == "__main__":
    main()
