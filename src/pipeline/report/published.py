"""The seed papers' published numbers beside ours, in the papers' table layouts.

A study file (`config/studies/published/*.yaml`) transcribes a paper's tables: each table names its
caption and place in the paper, its columns (as printed, and how our summary's rows give the same
number: evaluation, subject or dataset, language, style, metric) and its rows (the printed label,
our model and arm when they correspond, the values and ± standard errors as printed).
`tests/test_published.py` checks every number against the seed text; the report's `published`
section (`pipeline.report.sections.published`) prints them beside ours.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCALES = {"percent": 100.0, "fraction": 1.0, "rank": None, "as printed": None}
OURS_KEYS = {"evaluation", "subject", "dataset", "language", "style", "metric"}


@dataclass(frozen=True)
class PublishedRow:
    label: str
    model: str
    arm: str | None
    values: list[float | None]
    stderr: list[float | None] | None


@dataclass(frozen=True)
class PublishedTable:
    id: str
    caption: str
    where: str
    unit: str
    decimals: int
    columns: list[dict[str, Any]]
    rows: list[PublishedRow]
    layout: str = ""  # the report table it matches: knowledge (group × language), stability, ...
    group: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class PublishedStudy:
    study: str
    paper: str
    note: str
    tables: list[PublishedTable]

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.study.lower()).strip("_")


def load_published(path: str | os.PathLike[str]) -> PublishedStudy:
    """A study file, checked: every row has one value per column; `ours` names known keys only."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: invalid YAML ({err})") from err
    tables = []
    for t in raw["tables"]:
        where = f"{path}: table {t['id']}"
        if t["unit"] not in SCALES:
            raise ValueError(f"{where}: unit {t['unit']!r} is not one of {list(SCALES)}")
        for column in t["columns"]:
            unknown = set(column.get("ours") or {}) - OURS_KEYS
            if unknown:
                raise ValueError(
                    f"{where}: column {column['name']!r}: unknown 'ours' key(s) {sorted(unknown)}"
                )
        rows = []
        for r in t["rows"]:
            for key in ("values", "stderr"):
                if key in r and len(r[key]) != len(t["columns"]):
                    raise ValueError(
                        f"{where}: row {r['label']!r} has {len(r[key])} {key} for {len(t['columns'])} columns"
                    )
            rows.append(
                PublishedRow(str(r["label"]), str(r["model"]), r.get("arm"), r["values"], r.get("stderr"))
            )
        tables.append(
            PublishedTable(
                t["id"],
                t["caption"],
                t["where"],
                t["unit"],
                t["decimals"],
                t["columns"],
                rows,
                t.get("layout", ""),
                t.get("group"),
                t.get("language"),
            )
        )
    return PublishedStudy(raw["study"], raw["paper"], raw.get("note", ""), tables)
