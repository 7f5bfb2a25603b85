"""Per-class accuracy and the confusion matrix of one method on one pair, averaged over seeds
(the final model's, i.e. selection ``last``: only its confusion matrix is recorded)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from dabench.errors import DabenchError
from dabench.report.leaderboard import format_cell, newest_per_seed

DEFAULT_VARIANT = "default"  # what --variant calls the runs with no changed settings


def variant_of(record: dict[str, Any]) -> str:
    """The settings a run changed, as the leaderboard shows them in brackets; DEFAULT_VARIANT for none."""
    return record.get("variant") or DEFAULT_VARIANT


def left_out_of(left_out: Iterable[tuple[dict[str, Any], str]], method: str, pair: str,
                protocol: str = "inductive") -> list[tuple[dict[str, Any], str]]:
    """The runs of (method, pair, protocol) among those ``rows.ranked`` left out, with why."""
    return [(r, why) for r, why in left_out if r["method"] == method and r["pair"] == pair
            and r.get("protocol", "inductive") == protocol]


def runs_of(records: list[dict[str, Any]], method: str, pair: str, protocol: str = "inductive",
            variant: str | None = None, left_out: Iterable[tuple[dict[str, Any], str]] = ()) -> list[dict[str, Any]]:
    """The runs of (method, pair, protocol) in one leaderboard row: runs with other settings (variants) are
    never averaged together. ``variant`` None: the only variant there is, else an error listing them.
    ``records``: the ranked runs (``rows.ranked``); when the row's runs are all among ``left_out``, the error
    says why each is not ranked."""
    runs = [r for r in records if r["method"] == method and r["pair"] == pair
            and r.get("protocol", "inductive") == protocol]
    unranked = left_out_of(left_out, method, pair, protocol)
    if not runs and unranked:
        raise DabenchError(f"the {protocol} runs of '{method}' on '{pair}' are not ranked, so no report shows them: "
                           + "; ".join(f"seed {r['seed']} (run {r['run_id']}): {why}" for r, why in unranked))
    if not runs:
        have = sorted({f"{r['method']} on {r['pair']} ({r.get('protocol', 'inductive')})" for r in records})
        raise DabenchError(f"no finished {protocol} runs of method '{method}' on pair '{pair}'; runs found: "
                           f"{', '.join(have) or 'none'}. Start one with `dabench run --method {method} --pair {pair}`")
    variants = Counter(variant_of(r) for r in runs)
    listing = "; ".join(f"--variant {_quoted(name)} ({count} run(s))" for name, count in
                        sorted(variants.items(), key=lambda item: (item[0] != DEFAULT_VARIANT, item[0])))
    if variant is None and len(variants) > 1:
        raise DabenchError(f"the {protocol} runs of '{method}' on '{pair}' have {len(variants)} settings variants, "
                           f"which are never averaged together; choose one: {listing}")
    if variant is not None:
        runs = [r for r in runs if variant_of(r) == variant]
        if not runs:
            raise DabenchError(f"no {protocol} runs of '{method}' on '{pair}' with variant {_quoted(variant)}; "
                               f"variants found: {listing}")
    runs = newest_per_seed(runs)[0]  # one run per seed, as in the leaderboard's cell
    classes = {tuple(r["classes"]) for r in runs}
    if len(classes) > 1:
        raise DabenchError(f"runs of '{method}' on '{pair}' disagree on the class list: {sorted(classes)}")
    return runs


def _quoted(variant: str) -> str:
    """As a shell takes it after --variant."""
    return variant if re.fullmatch(r"[\w=.,:+-]+", variant) else f"'{variant}'"


def variant_suffix(runs: list[dict[str, Any]]) -> str:
    """`` [epochs=1]`` for runs with changed settings, as in their leaderboard row; "" for the defaults."""
    variant = runs[0].get("variant")
    return f" [{variant}]" if variant else ""


def per_class_table(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Rows: class, accuracy (recall) mean ± std (n) in percent over seeds, test samples of that class."""
    classes = runs[0]["classes"]
    confusion = np.asarray(runs[0]["confusion"])
    rows = []
    for index, name in enumerate(classes):
        values = [100 * r["per_class"][name] for r in runs if r["per_class"].get(name) is not None]
        cell = format_cell(values, "no test samples")
        rows.append([name, cell, str(int(confusion[index].sum()))])
    return ["class", "accuracy" + variant_suffix(runs), "test samples"], rows


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
    header = ["true \\ predicted" + variant_suffix(runs)
              + (" (% of row)" if normalise else f" (mean count, {len(runs)} run(s))"), *classes]
    return header, [[name, *(text(v) for v in matrix[i])] for i, name in enumerate(classes)]
