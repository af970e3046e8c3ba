"""Stage: reasoning traces from their native files into `{id, question, reasoning, answer, language}` JSONL.

    python -m pipeline.tasks.traces --spec JSON --output TRACES.jsonl

`--spec` is a `traces` entry of the config: `{"path": file or folder, "reader": "medical_o1",
"language": "en", "languages": ["en"], "fields": {...}}`. A folder contributes every `.csv`,
`.json` and `.jsonl` file in it, in name order; `reader` names the column set
(`pipeline.tasks.readers.reasoning.FIELDS`), `fields` overrides columns, `language` is the
language of rows without a language column and `languages` keeps only traces in those languages.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipeline.io import write_jsonl
from pipeline.paths import resolve
from pipeline.tasks.readers.reasoning import FIELDS, read_traces

SUFFIXES = (".csv", ".json", ".jsonl")


def trace_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"traces: no file or folder at {path}")
    files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES)
    if not files:
        raise ValueError(f"traces: no .csv, .json or .jsonl files in {path}")
    return files


def load_traces(spec: dict[str, Any]) -> list[dict[str, str]]:
    """Every trace of a spec in the wanted languages, ids prefixed by their file's name (unique)."""
    if spec.get("reader") not in FIELDS:
        raise ValueError(f"traces.reader: unknown reader {spec.get('reader')!r} (known: {sorted(FIELDS)})")
    fields = {**FIELDS[spec["reader"]], **(spec.get("fields") or {})}
    wanted = {lang.lower() for lang in spec["languages"]} if spec.get("languages") else None
    traces = []
    for path in trace_files(resolve(spec["path"])):
        for trace in read_traces(path, language=spec.get("language", "en"), fields=fields):
            if wanted is None or trace["language"].lower() in wanted:
                traces.append({**trace, "id": f"{path.stem}/{trace['id']}"})
    if not traces:
        raise ValueError(f"traces at {spec['path']}: no trace in languages {sorted(wanted or [])}")
    return traces


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="the config's traces entry, as JSON")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    write_jsonl(args.output, load_traces(json.loads(args.spec)))


if __name__ == "__main__":
    main()
