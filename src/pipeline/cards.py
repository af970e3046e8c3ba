"""Model cards with their evaluation rows, once the summary exists (the `model_cards` rule).

The training stages write each model folder's card and run record (`pipeline.provenance`); this
adds the summary's rows, in a folder of its own or in place.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pipeline.io import atomic_dir, write_text
from pipeline.provenance import CARD, DETAILS_END, DETAILS_START, RUN_RECORD, model_card, read_run_record


def evaluation_rows(summary: str | os.PathLike[str], name: str) -> list[dict[str, Any]]:
    """The summary's rows of model folder `name` (`model/arm`) on each cell's main metric."""
    import polars as pl

    from pipeline.summary import headline

    model, arm = name.split("/")
    frame = pl.read_parquet(summary).filter((pl.col("model") == model) & (pl.col("arm") == arm))
    rows = frame.sort(["evaluation", "style", "dataset", "language", "subtask", "metric"]).to_dicts()
    return [row for row in rows if headline(row)]


def _details(card: str) -> str:
    """The stage's own section of an existing card (between the details markers), if any."""
    if DETAILS_START not in card:
        return ""
    return card.split(DETAILS_START, 1)[1].split(DETAILS_END, 1)[0]


def evaluated_card(folder: str | os.PathLike[str], summary: str | os.PathLike[str]) -> tuple[str, str]:
    """(`model/arm`, the folder's card with the summary's evaluation rows)."""
    record = read_run_record(folder)
    if record is None:
        raise ValueError(f"{folder}: no {RUN_RECORD} (not a folder medadapt wrote)")
    old = Path(folder) / CARD
    details = _details(old.read_text(encoding="utf-8")) if old.is_file() else ""
    return record["name"], model_card(record, details, evaluation_rows(summary, record["name"]))


def refresh_card(folder: str | os.PathLike[str], summary: str | os.PathLike[str]) -> str:
    """Rewrite `folder`'s card in place with the summary's evaluation rows; returns the card."""
    _, card = evaluated_card(folder, summary)
    write_text(Path(folder) / CARD, card)
    return card


def write_cards(folders: list[Path], summary: str | os.PathLike[str], output: str | os.PathLike[str]) -> None:
    """`output/{model}/{arm}.md`: every folder's card with its evaluation rows (the model folders,
    Snakemake outputs of their own stages, are left untouched)."""
    with atomic_dir(output) as tmp:
        for folder in folders:
            name, card = evaluated_card(folder, summary)
            path = tmp / f"{name}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(card, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.cards", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    card = commands.add_parser("card", help="add the summary's evaluation rows to model cards, in place")
    card.add_argument("folders", type=Path, nargs="+", help="model folders (results/models/M/A)")
    card.add_argument("--summary", type=Path, required=True, help="results/summary.parquet")
    cards = commands.add_parser("cards", help="write every folder's evaluated card into one folder")
    cards.add_argument("folders", type=Path, nargs="+", help="model folders (results/models/M/A)")
    cards.add_argument("--summary", type=Path, required=True, help="results/summary.parquet")
    cards.add_argument("--output", type=Path, required=True, help="results/model_cards")
    args = parser.parse_args(argv)
    if args.command == "card":
        for folder in args.folders:
            refresh_card(folder, args.summary)
    else:
        write_cards(args.folders, args.summary, args.output)


if __name__ == "__main__":
    main()
