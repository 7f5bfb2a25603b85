"""Per-class accuracy and the confusion matrix of one method on one pair, averaged over seeds
(the final model's, i.e. selection ``last``: only its confusion matrix is recorded)."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from dabench.errors import DabenchError


def runs_of(records: list[dict[str, Any]], method: str, pair: str, protocol: str = "inductive") -> list[dict[str, Any]]:
    """The runs of (method, pair, protocol); none is an error naming what exists."""
    runs = [r for r in records if r["method"] == method and r["pair"] == pair
            and r.get("protocol", "inductive") == protocol]
    if not runs:
        have = sorted({f"{r['method']} on {r['pair']} ({r.get('protocol', 'inductive')})" for r in records})
        raise DabenchError(f"no finished {protocol} runs of method '{method}' on pair '{pair}'; runs found: "
                           f"{', '.join(have) or 'none'}. Start one with `dabench run --method {method} --pair {pair}`")
    classes = {tuple(r["classes"]) for r in runs}
    if len(classes) > 1:
        raise DabenchError(f"runs of '{method}' on '{pair}' disagree on the class list: {sorted(classes)}")
    return runs


def per_class_table(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Rows: class, accuracy (recall) mean ± std (n) in percent over seeds, test samples of that class."""
    classes = runs[0]["classes"]
    confusion = np.asarray(runs[0]["confusion"])
    rows = []
    for index, name in enumerate(classes):
        values = [100 * r["per_class"][name] for r in runs if r["per_class"].get(name) is not None]
        if values:
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            cell = f"{statistics.fmean(values):.2f} ± {std:.2f} ({len(values)})"
        else:
            cell = "— (no test samples)"
        rows.append([name, cell, str(int(confusion[index].sum()))])
    return ["class", "accuracy", "test samples"], rows


def mean_confusion(runs: list[dict[str, Any]], normalise: bool = False) -> np.ndarray:
    """(K, K) mean over seeds; rows are true classes, columns predicted; ``normalise``: rows sum to 1."""
    matrix = np.mean([np.asarray(r["confusion"], dtype=np.float64) for r in runs], axis=0)
    if normalise:
        matrix = matrix / np.maximum(matrix.sum(1, keepdims=True), 1e-12)
    return matrix


def confusion_table(runs: list[dict[str, Any]], normalise: bool = False) -> tuple[list[str], list[list[str]]]:
    matrix = mean_confusion(runs, normalise)
    classes = runs[0]["classes"]
    text = (lambda v: f"{100 * v:.1f}") if normalise else (lambda v: f"{v:.1f}")
    header = ["true \\ predicted" + (" (% of row)" if normalise else f" (mean count, {len(runs)} run(s))"),
              *classes]
    return header, [[name, *(text(v) for v in matrix[i])] for i, name in enumerate(classes)]
