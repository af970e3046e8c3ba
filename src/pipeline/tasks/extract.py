"""Stage: read one registry dataset from its native files into Example records (JSONL).

    python -m pipeline.tasks.extract --name NAME --spec JSON --settings JSON --output FILE.jsonl

`--spec` is the dataset's registry entry as JSON; settings are `pipeline.tasks.settings.ExtractSettings`,
`{"seed": int, "max_train": int | null, "max_test": int | null}` (caps per language; the
spec's own `max_train`/`max_test` win). Relative data paths resolve by `pipeline.paths.resolve`
(or against `--base-dir`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipeline.io import write_jsonl
from pipeline.tasks.registry import load_examples, load_registry
from pipeline.tasks.settings import ExtractSettings


def extract(
    name: str, entry: dict[str, Any], settings: ExtractSettings, output: Path, base_dir: Path | None = None
) -> int:
    """Write the dataset's examples to `output`; returns how many."""
    spec = load_registry({"datasets": {name: entry}})[name]
    examples = load_examples(
        name,
        spec,
        base_dir,
        seed=settings.seed,
        max_train=settings.max_train,
        max_test=settings.max_test,
    )
    write_jsonl(output, (e.to_record() for e in examples))
    return len(examples)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="dataset name (registry key)")
    parser.add_argument("--spec", required=True, help="the dataset's registry entry, as JSON")
    parser.add_argument("--settings", default="{}", help="JSON: seed, max_train, max_test")
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--base-dir", type=Path, help="root for relative data paths (default: the checkout)")
    args = parser.parse_args(argv)
    settings = ExtractSettings.from_json(args.settings)
    n = extract(args.name, json.loads(args.spec), settings, args.output, args.base_dir)
    print(f"{args.name}: {n} examples -> {args.output}")


if __name__ == "__main__":
    main()
