"""The corpus statistics table (PARCOMED Table 1 layout), as Markdown or parquet.

One row per corpus, source, language and licence class: documents, words and the token
count under each tokenizer; a total row closes each corpus.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipeline.io import atomic_path, write_text

KEY = ("corpus", "source", "language", "licence_class")


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err.msg})") from err
    for key in ("corpus", "table"):
        if key not in data:
            raise ValueError(f"{path}: missing key {key!r}")
    return data


def corpus_table(reports: list[Path], blocks_stats: list[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of the table and the tokenizer names, in the order given."""
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for path in reports:
        report = _load(path)
        for row in report["table"]:
            key = (report["corpus"], row["source"], row["language"], row["licence_class"])
            rows[key] = dict(zip(KEY, key, strict=True), documents=row["documents"], words=row["words"])
    tokenizers: list[str] = []
    for path in blocks_stats:
        stats = _load(path)
        name = stats.get("tokenizer")
        if not name:
            raise ValueError(f"{path}: missing key 'tokenizer'")
        if name not in tokenizers:
            tokenizers.append(name)
        for row in stats["table"]:
            key = (stats["corpus"], row["source"], row["language"], row["licence_class"])
            if key not in rows:
                raise ValueError(f"{path}: row {key} has no match in the build reports")
            if f"tokens_{name}" in rows[key]:
                raise ValueError(f"{path}: tokens of {name!r} for {key} given twice")
            rows[key][f"tokens_{name}"] = row["tokens"]
    table: list[dict[str, Any]] = []
    for corpus in dict.fromkeys(k[0] for k in rows):
        members = [r for k, r in rows.items() if k[0] == corpus]
        table.extend(members)
        total: dict[str, Any] = {"corpus": corpus, "source": "total", "language": "", "licence_class": ""}
        for column in ["documents", "words", *(f"tokens_{t}" for t in tokenizers)]:
            values = [r.get(column) for r in members]
            total[column] = None if None in values else sum(values)
        table.append(total)
    for row in table:
        for t in tokenizers:
            row.setdefault(f"tokens_{t}", None)
    return table, tokenizers


def to_markdown(table: list[dict[str, Any]], tokenizers: list[str]) -> str:
    columns = [*KEY, "documents", "words", *(f"tokens_{t}" for t in tokenizers)]
    header = ["corpus", "source", "language", "licence class", "documents", "words"]
    header += [f"tokens ({t})" for t in tokenizers]

    def cell(value: Any) -> str:
        return "–" if value is None else f"{value:,}" if isinstance(value, int) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 4 + "---:|" * (len(header) - 4)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in table]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=Path, nargs="+", required=True, help="corpus build reports (.json)")
    parser.add_argument("--blocks-stats", type=Path, nargs="*", default=[], help="blocks statistics (.json)")
    parser.add_argument("--output", type=Path, required=True, help="table (.md or .parquet)")
    args = parser.parse_args(argv)
    table, tokenizers = corpus_table(args.reports, args.blocks_stats)
    if args.output.suffix == ".md":
        write_text(args.output, to_markdown(table, tokenizers))
    elif args.output.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        with atomic_path(args.output) as tmp:
            pq.write_table(pa.Table.from_pylist(table), tmp)
    else:
        raise ValueError(f"{args.output}: output must end in .md or .parquet")


if __name__ == "__main__":
    main()
