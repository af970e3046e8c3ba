"""Command line of the merge stage (see docs/merging.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.merge.merge import merge_models
from pipeline.merge.settings import MergeSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.merge",
        description="Merge models over a common base (SLERP, linear, task arithmetic, TIES, DARE).",
    )
    parser.add_argument("--base", type=Path, required=True, help="base model folder (SLERP: t = 0)")
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="models merged into the base")
    parser.add_argument("--output", type=Path, required=True, help="merged model folder (written atomically)")
    parser.add_argument("--settings", required=True, help='JSON, e.g. {"method": "slerp", "t": 0.5}')
    args = parser.parse_args(argv)
    settings = MergeSettings.from_json(args.settings, n_models=len(args.models))
    merge_models(args.base, args.models, args.output, settings)


if __name__ == "__main__":
    main()
