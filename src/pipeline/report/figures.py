"""Figures with matplotlib's Agg canvas (no pyplot state), saved byte-stable as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110


def new_figure(width: float, height: float) -> Figure:
    """A figure with its own Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: Path) -> None:
    """Write `fig` without the software and date metadata, so the bytes depend only on the content."""
    fig.savefig(path, dpi=DPI, metadata={"Software": None})


def heatmap(
    matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str], title: str, label: str
) -> Figure:
    """An annotated heatmap; NaN cells are blank."""
    fig = new_figure(1.6 + 0.9 * len(columns), 1.0 + 0.35 * len(rows))
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(np.asarray(matrix, dtype=float))
    image = ax.imshow(masked, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(columns)), labels=list(columns), rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), labels=list(rows))
    finite = masked.compressed()
    middle = float(finite.min() + finite.max()) / 2 if finite.size else 0.0
    for (i, j), value in np.ndenumerate(np.asarray(matrix, dtype=float)):
        if np.isfinite(value):
            colour = "black" if value > middle else "white"
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", color=colour, fontsize=7)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label=label)
    return fig


def panels(count: int, width: float = 3.6, height: float = 2.8) -> tuple[Figure, list]:
    """A row (wrapped at 3) of `count` axes."""
    columns = min(count, 3)
    rows = -(-count // columns)
    fig = new_figure(width * columns, height * rows)
    axes = fig.subplots(rows, columns, squeeze=False).ravel().tolist()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]
