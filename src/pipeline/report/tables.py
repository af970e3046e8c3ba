"""Tables of the report: raw cell values kept for re-computation, rendered to Markdown, HTML and CSV."""

from __future__ import annotations

import csv
import html
import io
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Score:
    """A score with its interval and significance marks, rendered as ``0.532 [0.510, 0.554] *▲``."""

    value: float
    low: float | None = None
    high: float | None = None
    marks: str = ""

    def __str__(self) -> str:
        text = f"{self.value:.3f}"
        if self.low is not None and self.high is not None:
            text += f" [{self.low:.3f}, {self.high:.3f}]"
        return f"{text} {self.marks}" if self.marks else text


def fmt(value: Any) -> str:
    """One cell as text: 3 decimals, thousands separators, scientific notation for huge floats."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3e}" if abs(value) >= 1e6 else f"{value:.3f}"
    return str(value)


@dataclass
class Table:
    """A header and rows of raw values (numbers, strings, `Score`, None)."""

    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table row {row!r} has {len(row)} cells for columns {self.columns}")

    def markdown(self) -> str:
        def esc(text: str) -> str:
            return text.replace("|", "\\|")

        align = ["---:" if self._numeric(i) else "---" for i in range(len(self.columns))]
        lines = ["| " + " | ".join(esc(c) for c in self.columns) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(esc(fmt(v)) for v in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row) + "</tr>" for row in self.rows
        )
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table>\n"

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if v is None else v.value if isinstance(v, Score) else v for v in row])
        return out.getvalue()

    def _numeric(self, i: int) -> bool:
        values = [row[i] for row in self.rows if row[i] is not None]
        return bool(values) and all(
            isinstance(v, int | float | Score) and not isinstance(v, bool) for v in values
        )
