"""Figures with matplotlib's Agg canvas (no pyplot state), sized for a paper and saved byte-stable.

Every figure is written as PNG (300 dpi), PDF (TrueType fonts, editable) and SVG (text kept as text),
with the software and date metadata left out so the bytes depend only on the content. Sizes follow
a two-column paper: `COLUMN` (one column) and `FULL` (both) wide, fonts at 7 pt, readable when
printed at that width.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 300
COLUMN = 3.4  # inches: one column of an ACL/LREC two-column page
FULL = 7.0  # inches: the full text width
FORMATS = ("png", "pdf", "svg")
STYLE = {
    "font.size": 7,
    "axes.titlesize": 7.5,
    "axes.labelsize": 7,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "legend.fontsize": 6.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.markersize": 3.5,
    "lines.linewidth": 1.1,
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
    "svg.hashsalt": "medadapt",
}
_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
    "svg": {"Creator": None, "Date": None},
}


@contextmanager
def paper_style() -> Iterator[None]:
    """The report's matplotlib settings, for building figures and for saving them."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure with its own Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Write `fig` as `stem`.png/.pdf/.svg; returns the paths."""
    paths = []
    with paper_style():
        for fmt in FORMATS:
            path = stem.with_name(f"{stem.name}.{fmt}")
            fig.savefig(path, dpi=DPI, format=fmt, metadata=_METADATA[fmt])
            paths.append(path)
    return paths


def heatmap(
    matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str], title: str, label: str
) -> Figure:
    """An annotated heatmap; NaN cells are blank. One column wide up to 5 columns, full width beyond."""
    width = COLUMN if len(columns) <= 5 else min(FULL, 1.4 + 0.55 * len(columns))
    fig = new_figure(width, 0.9 + 0.2 * len(rows) + 0.08 * max(map(len, columns), default=0))
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(np.asarray(matrix, dtype=float))
    image = ax.imshow(masked, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(columns)), labels=list(columns), rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), labels=list(rows))
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    finite = masked.compressed()
    middle = float(finite.min() + finite.max()) / 2 if finite.size else 0.0
    for (i, j), value in np.ndenumerate(np.asarray(matrix, dtype=float)):
        if np.isfinite(value):
            colour = "black" if value > middle else "white"
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", color=colour, fontsize=5.5)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label=label, shrink=0.9)
    return fig


def panels(count: int, width: float = COLUMN, height: float = 2.3) -> tuple[Figure, list]:
    """`count` axes, one column-wide panel each, two per row beyond one (the figure then spans both)."""
    columns = min(count, 2)
    rows = -(-count // columns)
    fig = new_figure(width * columns if columns > 1 else width, height * rows)
    axes = fig.subplots(rows, columns, squeeze=False).ravel().tolist()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def legend_below(fig: Figure, ax: object, columns: int = 3) -> None:
    """One legend for the figure, below the axes (never over the data or another label)."""
    handles, labels = ax.get_legend_handles_labels()  # type: ignore[attr-defined]
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(columns, len(labels)))


def forest(rows: Sequence[tuple[str, str, float, float, float, bool]], xlabel: str, title: str) -> Figure:
    """Differences with their intervals, one line per (group, label); filled markers: significant.

    `rows` are (group, label, delta, ci_low, ci_high, significant), drawn top to bottom in order,
    groups apart by a gap and named on the left.
    """
    positions, y, previous = [], 0.0, None
    for group, *_ in rows:
        if previous is not None and group != previous:
            y += 0.6
        positions.append(y)
        previous, y = group, y + 1
    fig = new_figure(COLUMN, 0.9 + 0.14 * y)
    ax = fig.add_subplot()
    for (_, _, delta, low, high, significant), pos in zip(rows, positions, strict=True):
        ax.errorbar(
            delta,
            pos,
            xerr=[[delta - low], [high - delta]],
            fmt="o",
            color="black",
            markerfacecolor="black" if significant else "white",
            elinewidth=0.8,
            capsize=1.5,
        )
    ax.axvline(0, color="grey", linewidth=0.6, linestyle="--")
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_yticks(positions, labels=[f"{group} · {label}" for group, label, *_ in rows])
    ax.set_ylim(max(positions, default=0) + 0.8, -0.8)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return fig
