"""Stage: reasoning traces from their native files into `{id, question, reasoning, answer, language}` JSONL.

    python -m pipeline.tasks.traces --settings JSON --output TRACES.jsonl

`--settings` is a `traces` entry of the config as `pipeline.tasks.settings.TracesSettings`:
`{"path": file or folder, "reader": "medical_o1", "language": "en", "languages": ["en"],
"fields": {...}}`. A folder contributes every `.csv`, `.json` and `.jsonl` file in it, in name
order; `reader` names the column set (`pipeline.tasks.readers.reasoning.FIELDS`), `fields` overrides
columns, `language` is the language of rows without a language column and `languages` keeps only
traces in those languages.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.io import write_jsonl
from pipeline.paths import resolve
from pipeline.tasks.readers.reasoning import FIELDS, read_traces
from pipeline.tasks.settings import TracesSettings

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


def load_traces(settings: TracesSettings) -> list[dict[str, str]]:
    """Every trace of a source in the wanted languages, ids prefixed by their file's name (unique)."""
    fields = {**FIELDS[settings.reader], **settings.fields}
    wanted = {lang.lower() for lang in settings.languages} if settings.languages else None
    traces = []
    for path in trace_files(resolve(settings.path)):
        for trace in read_traces(path, language=settings.language, fields=fields):
            if wanted is None or trace["language"].lower() in wanted:
                traces.append({**trace, "id": f"{path.stem}/{trace['id']}"})
    if not traces:
        raise ValueError(f"traces at {settings.path}: no trace in languages {sorted(wanted or [])}")
    return traces


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--settings", required=True, help="JSON object of pipeline.tasks.settings.TracesSettings"
    )
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    write_jsonl(args.output, load_traces(TracesSettings.from_json(args.settings)))


if __name__ == "__main__":
    main()
