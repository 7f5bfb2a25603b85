"""PNG figures: the leaderboard as grouped bars with std error bars, and a confusion-matrix heat map.
matplotlib is optional (``pip install 'dabench[plots]'``) and imported only here, lazily."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dabench.errors import DabenchError
from dabench.report import leaderboard_cells
from dabench.reports.per_class import mean_confusion
from dabench.reports.selection import LAST, criterion_label
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
    columns, cells = leaderboard_cells(records, pairs, metric, selection, validators)
    labels = sorted(cells)
    if not labels:
        raise DabenchError("nothing to plot: no finished runs match")
    width = 0.8 / len(labels)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(columns) + 0.4 * len(labels) + 2.0), 3.8), dpi=150)
    positions = np.arange(len(columns))
    for offset, label in enumerate(labels):
        values = [cells[label].get(pair, []) for pair in columns]
        means = [statistics.fmean(v) if v else 0.0 for v in values]
        stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values]
        axes.bar(positions + (offset - (len(labels) - 1) / 2) * width, means, width, yerr=stds, capsize=3,
                 label=label)
    axes.set_xticks(positions, columns)
    axes.set_ylabel(f"{metric.replace('_', '-')} (%)")
    axes.set_ylim(0, 100)
    axes.set_title(f"{metric.replace('_', '-')} by pair, mean ± std over seeds\nselection: {criterion_label(selection)}",
                   fontsize=9)
    axes.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes.grid(axis="y", alpha=0.3)
    return _save(figure, out, plt)


def plot_confusion(runs: list[dict[str, Any]], out: Path, title: str = "") -> Path:
    """Row-normalised mean confusion matrix (true rows, predicted columns), each cell annotated in %."""
    plt = _pyplot()
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
    axes.set_title(title or f"{runs[0]['method']} on {runs[0]['pair']} ({len(runs)} run(s)), % of row", fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    return _save(figure, out, plt)


def _save(figure: Any, out: Path, plt: Any) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(out, format="png")
    plt.close(figure)
    return out
