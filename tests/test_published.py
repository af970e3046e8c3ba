"""The published numbers (config/studies/published/) are the papers' own: each row is checked
against the seed text (../shared/seeds, skipped where absent)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from pipeline.report.published import load_published

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = sorted((ROOT / "config" / "studies" / "published").glob("*.yaml"))
SEEDS = Path(os.environ.get("MEDADAPT_SHARED_SEEDS", ROOT.parent / "shared" / "seeds"))
NUMBER = re.compile(r"\d+(?:\.\d+)?")
WINDOW = (45, 20)  # lines before and after a table's caption that may hold its rows


def numbers(row: dict) -> list[float | None]:
    """The row's numbers in printed order: each value, then its ± standard error when given."""
    if "stderr" not in row:
        return row["values"]
    return [x for pair in zip(row["values"], row["stderr"], strict=True) for x in pair]


def printed(line: str, label: str) -> list[float | None] | None:
    """The numbers of a seed line whose first cell is `label` (markup and row-group words dropped)."""
    text = re.sub(r"</?b>", "", line).replace("\\pm", " ")
    text = re.sub(r"^(Base|Instruct|BioMed) ", "", text)
    if not (text.startswith(label + " ") or text.startswith(label + "\t")):
        return None
    cells = re.split(r"[\t ]+", text[len(label) :].strip())
    return [
        None if cell == "-" else float(m.group())
        for cell in cells
        for m in [NUMBER.search(cell)]
        if m or cell == "-"
    ]


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.stem)
def test_every_transcribed_number_is_in_the_seed_text(path: Path) -> None:
    study = yaml.safe_load(path.read_text(encoding="utf-8"))
    seed = SEEDS / study["seed"]
    if not seed.is_file():
        pytest.skip(f"seed text {seed} absent (set MEDADAPT_SHARED_SEEDS)")
    lines = seed.read_text(encoding="utf-8").splitlines()
    for table in study["tables"]:
        at = next(i for i, line in enumerate(lines) if line.startswith(table["caption"][:40]))
        window = lines[max(0, at - WINDOW[0]) : at + WINDOW[1]]
        position = 0
        for row in table["rows"]:
            want = numbers(row)
            for offset, line in enumerate(window[position:]):
                if printed(line, row["label"]) == want:
                    position += offset + 1
                    break
            else:
                pytest.fail(f"{path.name} {table['id']}: row {row['label']} {want} is not in {seed.name}")


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.stem)
def test_published_files_load(path: Path) -> None:
    study = load_published(path)
    assert study.tables and all(t.rows for t in study.tables)
    for table in study.tables:
        assert all(len(r.values) == len(table.columns) for r in table.rows), table.id
