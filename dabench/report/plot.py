"""PNG figures: the leaderboard as grouped bars with std error bars, and a confusion-matrix heat map.
matplotlib is optional (``pip install 'dabench[plots]'``) and imported only here, lazily."""

from __future__ import annotations

import io
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dabench.errors import DabenchError
from dabench.report.leaderboard import leaderboard_cells, row_label
from dabench.report.per_class import mean_confusion
from dabench.report.selection import LAST, criterion_label
from dabench.store import atomic

if TYPE_CHECKING:
    from dabench.validators import Validator


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise DabenchError("`dabench report plot` needs matplotlib, which is not installed; install it with "
                           "pip install 'dabench[plots]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    return plt


def plot_leaderboard(records: list[dict[str, Any]], out: Path, pairs: list[str] | None = None,
                     metric: str = "accuracy", selection: str = LAST,
                     validators: Mapping[str, Validator] | None = None) -> Path:
    """Pairs on the x axis, one bar per method (mean over seeds), error bars one std."""
    plt = _pyplot()
    return _save(leaderboard_figure(plt, records, pairs, metric, selection, validators), out, plt)


def leaderboard_figure(plt: Any, records: list[dict[str, Any]], pairs: list[str] | None = None,
                       metric: str = "accuracy", selection: str = LAST,
                       validators: Mapping[str, Validator] | None = None) -> Any:
    """The bar chart's figure. A cell without runs gets no bar (a 0 % bar would read as a result) but an
    "n/a" where its bar would stand; a single run gets no error bar (it has no spread)."""
    columns, cells = leaderboard_cells(records, pairs, metric, selection, validators)
    labels = sorted(cells)
    if not labels:
        raise DabenchError("nothing to plot: no finished runs match")
    width = 0.8 / len(labels)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(columns) + 0.4 * len(labels) + 2.0), 3.8), dpi=150)
    positions = np.arange(len(columns))
    for offset, label in enumerate(labels):
        colour = colours[offset % len(colours)]
        where = positions + (offset - (len(labels) - 1) / 2) * width
        values = [cells[label].get(pair, []) for pair in columns]
        drawn = [i for i, v in enumerate(values) if v]
        axes.bar(where[drawn], [statistics.fmean(values[i]) for i in drawn], width, color=colour, label=label,
                 yerr=[statistics.stdev(values[i]) if len(values[i]) > 1 else np.nan for i in drawn], capsize=3)
        for i in sorted(set(range(len(columns))) - set(drawn)):
            axes.text(where[i], 1.0, "n/a", ha="center", va="bottom", rotation=90, fontsize=7, color=colour)
    axes.set_xticks(positions, columns)
    axes.set_ylabel(f"{metric.replace('_', '-')} (%)")
    axes.set_ylim(0, 100)
    axes.set_title(f"{metric.replace('_', '-')} by pair, mean ± std over seeds (n/a: no runs)\n"
                   f"selection: {criterion_label(selection)}", fontsize=9)
    axes.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes.grid(axis="y", alpha=0.3)
    return figure


def plot_confusion(runs: list[dict[str, Any]], out: Path, title: str = "") -> Path:
    """Row-normalised mean confusion matrix (true rows, predicted columns), each cell annotated in %."""
    plt = _pyplot()
    return _save(confusion_figure(plt, runs, title), out, plt)


def confusion_figure(plt: Any, runs: list[dict[str, Any]], title: str = "") -> Any:
    """The heat map's figure; the default title names the runs as their leaderboard row does (variant too)."""
    matrix = 100 * mean_confusion(runs, normalise=True)
    classes = runs[0]["classes"]
    figure, axes = plt.subplots(figsize=(1.0 + 0.7 * len(classes), 0.8 + 0.6 * len(classes)), dpi=150)
    image = axes.imshow(matrix, cmap="Blues", vmin=0, vmax=100)
    for row in range(len(classes)):
        for column in range(len(classes)):
            value = matrix[row, column]
            axes.text(column, row, f"{value:.0f}", ha="center", va="center", fontsize=7,
                      color="white" if value > 60 else "black")
    axes.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(classes)), classes, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title or f"{row_label(runs[0])} on {runs[0]['pair']} ({len(runs)} run(s)), % of row", fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    return figure


def _save(figure: Any, out: Path, plt: Any) -> Path:
    """Drawn in memory, then written whole (atomic.write_bytes): a full disk leaves no half PNG behind."""
    out = Path(out)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic.write_bytes(out, buffer.getvalue())
    return out
