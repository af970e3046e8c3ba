"""The report folder: one file per table (.md, .csv with intervals and marks, .tex with booktabs) and
figure (.png, .pdf, .svg), a caption (.rst) beside each, `captions.json`, and `index.md` + `index.html`
linking everything."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from pipeline.io import atomic_dir
from pipeline.report.figures import save_figure
from pipeline.report.tables import Table


@dataclass
class Artefact:
    """A table or a figure of a section; `name` is its file stem."""

    name: str
    caption: str
    table: Table | None = None
    figure: Figure | None = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.figure is None):
            raise ValueError(f"artefact {self.name!r} must hold exactly one table or one figure")

    @property
    def filename(self) -> str:
        return f"{self.name}.md" if self.table is not None else f"{self.name}.png"


@dataclass
class Section:
    """One analysis: a title, the question it answers, paragraphs, and its artefacts.

    `missing` (one sentence naming what the grid lacks) replaces the artefacts when set.
    """

    key: str
    title: str
    question: str
    text: list[str] = field(default_factory=list)
    artefacts: list[Artefact] = field(default_factory=list)
    missing: str | None = None


def _rst(caption: str) -> str:
    return caption.replace("*", "\\*") + "\n"


def _index_md(sections: list[Section], grid: list[str]) -> str:
    lines = ["# Report", "", *grid, "", "## Contents", ""]
    lines += [f"- [{s.title}](#{s.key})" for s in sections]
    for s in sections:
        lines += ["", f'<a id="{s.key}"></a>', "", f"## {s.title}", "", f"*{s.question}*", ""]
        if s.missing:
            lines += [f"**Not in this grid.** {s.missing}"]
            continue
        for paragraph in s.text:
            lines += [paragraph, ""]
        for a in s.artefacts:
            others = [f"{a.name}.{x}" for x in (("csv", "tex") if a.table is not None else ("pdf", "svg"))]
            links = ", ".join(f"[{name}]({name})" for name in [a.filename, *others])
            lines += [f"**{a.name}** — {a.caption} ({links})", ""]
            lines += [a.table.markdown() if a.table is not None else f"![{a.name}]({a.filename})", ""]
    return "\n".join(lines).rstrip() + "\n"


def _index_html(sections: list[Section], grid: list[str]) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Report</title>',
        "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}"
        "img{max-width:100%}</style></head><body>",
        "<h1>Report</h1>",
        *(f"<p>{e(line)}</p>" for line in grid),
        "<h2>Contents</h2><ul>",
        *(f'<li><a href="#{e(s.key)}">{e(s.title)}</a></li>' for s in sections),
        "</ul>",
    ]
    for s in sections:
        parts += [f'<h2 id="{e(s.key)}">{e(s.title)}</h2>', f"<p><em>{e(s.question)}</em></p>"]
        if s.missing:
            parts.append(f"<p><strong>Not in this grid.</strong> {e(s.missing)}</p>")
            continue
        parts += [f"<p>{e(p)}</p>" for p in s.text]
        for a in s.artefacts:
            link = f'<a href="{e(a.filename)}">{e(a.filename)}</a>'
            parts.append(f"<p><strong>{e(a.name)}</strong> — {e(a.caption)} ({link})</p>")
            if a.table is not None:
                parts.append(a.table.html())
            else:
                parts.append(f'<img src="{e(a.filename)}" alt="{e(a.name)}">')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(sections: list[Section], grid: list[str], output: Path) -> None:
    """Write every artefact, its caption and the indexes into `output`, atomically (all or nothing)."""
    names = [a.name for s in sections for a in s.artefacts]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"report artefact names used twice: {duplicates}")
    captions: dict[str, str] = {}
    with atomic_dir(output) as tmp:
        for s in sections:
            for a in s.artefacts:
                if a.table is not None:
                    (tmp / a.filename).write_text(a.table.markdown(), encoding="utf-8")
                    (tmp / f"{a.name}.csv").write_text(a.table.csv(), encoding="utf-8")
                    (tmp / f"{a.name}.tex").write_text(a.table.latex(a.caption, a.name), encoding="utf-8")
                else:
                    save_figure(a.figure, tmp / a.name)
                (tmp / f"{a.name}.rst").write_text(_rst(a.caption), encoding="utf-8")
                captions[a.filename] = a.caption
        (tmp / "captions.json").write_text(
            json.dumps(captions, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
        )
        (tmp / "index.md").write_text(_index_md(sections, grid), encoding="utf-8")
        (tmp / "index.html").write_text(_index_html(sections, grid), encoding="utf-8")
