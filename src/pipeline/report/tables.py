"""Report tables: raw cell values kept for re-computation, rendered to Markdown, HTML, CSV and LaTeX."""

from __future__ import annotations

import csv
import html
import io
import math
import re
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
        """Raw values; a column of scores gains `<column> ci_low`, `… ci_high` and `… marks` beside it."""
        scored = [any(isinstance(row[i], Score) for row in self.rows) for i in range(len(self.columns))]
        header = []
        for name, has_scores in zip(self.columns, scored, strict=True):
            header += [name, f"{name} ci_low", f"{name} ci_high", f"{name} marks"] if has_scores else [name]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for row in self.rows:
            cells: list[Any] = []
            for value, has_scores in zip(row, scored, strict=True):
                if not has_scores:
                    cells.append("" if value is None else value)
                elif isinstance(value, Score):
                    cells += [value.value, _blank(value.low), _blank(value.high), value.marks]
                else:
                    cells += ["" if value is None else value, "", "", ""]
            writer.writerow(cells)
        return out.getvalue()

    def latex(self, caption: str, label: str) -> str:
        """A `table` float with a booktabs `tabular` (needs `booktabs` and `amssymb`)."""
        align = "".join("r" if self._numeric(i) else "l" for i in range(len(self.columns)))
        lines = [
            "\\begin{table}[t]",
            "\\centering\\small",
            f"\\begin{{tabular}}{{{align}}}",
            "\\toprule",
            " & ".join(latex_escape(c) for c in self.columns) + " \\\\",
            "\\midrule",
        ]
        lines += [" & ".join(_latex_cell(v) for v in row) + " \\\\" for row in self.rows]
        lines += [
            "\\bottomrule",
            "\\end{tabular}",
            f"\\caption{{{latex_escape(caption)}}}",
            f"\\label{{tab:{label}}}",
            "\\end{table}",
        ]
        return "\n".join(lines) + "\n"

    def _numeric(self, i: int) -> bool:
        values = [row[i] for row in self.rows if row[i] is not None]
        return bool(values) and all(
            isinstance(v, int | float | Score) and not isinstance(v, bool) for v in values
        )


def _blank(value: float | None) -> float | str:
    return "" if value is None else value


# LaTeX of the characters the report's text uses beyond ASCII (marks, symbols, arrows).
_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "◆": r"$\blacklozenge$",
    "▲": r"$\blacktriangle$",
    "▼": r"$\blacktriangledown$",
    "–": "--",
    "—": "---",
    "−": "$-$",
    "×": r"$\times$",
    "Δ": r"$\Delta$",
    "α": r"$\alpha$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "≈": r"$\approx$",
    "→": r"$\rightarrow$",
    "±": r"$\pm$",
    "√": r"$\surd$",
    "Σ": r"$\Sigma$",
    "²": r"\textsuperscript{2}",
    "·": r"$\cdot$",
    "✓": r"$\checkmark$",
}
_LATEX_PATTERN = re.compile("|".join(map(re.escape, _LATEX)))


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped and the report's symbols in math mode."""
    return _LATEX_PATTERN.sub(lambda m: _LATEX[m.group(0)], text)


def _latex_cell(value: Any) -> str:
    if isinstance(value, Score):
        text = f"{value.value:.3f}"
        if value.low is not None and value.high is not None:
            text += f"\\,{{\\scriptsize[{value.low:.3f}, {value.high:.3f}]}}"
        return text + (f"\\,{latex_escape(value.marks)}" if value.marks else "")
    return latex_escape(fmt(value))
