"""Model selection from a run's per-epoch history: ``last`` (the default), ``oracle`` (best epoch on
target TEST, for analysis only, always labelled) and one criterion per label-free validator."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dabench.errors import DabenchError
from dabench.report.rows import METRIC_LABELS, newest_per_seed, row_label

if TYPE_CHECKING:  # validators.py scores models (torch); reports only read their scores
    from dabench.validators import Validator

LAST, ORACLE = "last", "oracle"
ORACLE_LABEL = "oracle: best epoch on target test"


def criteria(validators: Mapping[str, Validator]) -> list[str]:
    return [LAST, ORACLE, *sorted(validators)]


def check_criterion(criterion: str, validators: Mapping[str, Validator]) -> None:
    if criterion not in criteria(validators):
        raise DabenchError(f"unknown selection '{criterion}'; valid selections: {', '.join(criteria(validators))} "
                           "(validators come from plugins: dabench list validators)")


def criterion_label(criterion: str) -> str:
    """How a table names the criterion; the oracle always says what it is."""
    if criterion == LAST:
        return "last epoch"
    if criterion == ORACLE:
        return ORACLE_LABEL
    return f"epoch chosen by {criterion}"


def history_scores(history: list[dict[str, Any]], name: str) -> list[float] | None:
    """The per-epoch scores of validator ``name``, or None if some epoch lacks them."""
    scores = [entry.get("validators", {}).get(name) for entry in history]
    return None if any(score is None for score in scores) else scores


def select(record: dict[str, Any], criterion: str, validators: Mapping[str, Validator]) -> dict[str, Any] | None:
    """{"epoch", "accuracy", "macro_f1"} the criterion picks for one run, or None when it cannot choose
    (history without this validator's scores). A run without history has one candidate: its result."""
    history = record.get("history") or []
    if criterion == LAST or not history:
        return {"epoch": history[-1]["epoch"] if history else None,
                "accuracy": record["accuracy"], "macro_f1": record["macro_f1"]}
    if criterion == ORACLE:
        index = max(range(len(history)), key=lambda i: (history[i]["accuracy"], -i))
        if record["accuracy"] > history[index]["accuracy"]:
            # a run made before the runner closed its history with the model it scored (tent's final BN
            # statistics came after its last epoch): that model is a candidate too, or the best would be
            # below the last
            return {"epoch": history[-1]["epoch"], "accuracy": record["accuracy"], "macro_f1": record["macro_f1"]}
    else:
        scores = history_scores(history, criterion)
        if scores is None:
            return None
        index = validators[criterion].best(scores)
    chosen = history[index]
    return {"epoch": chosen["epoch"], "accuracy": chosen["accuracy"], "macro_f1": chosen.get("macro_f1")}


def selections(record: dict[str, Any], validators: Mapping[str, Validator]) -> dict[str, dict[str, Any] | None]:
    return {criterion: select(record, criterion, validators) for criterion in criteria(validators)}


def _mean_std(values: list[float]) -> str:
    """``mean ± std`` over seeds; one run has no spread, so just its value (the runs column gives n)."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def selection_table(records: list[dict[str, Any]], validators: Mapping[str, Validator],
                    metric: str = "accuracy") -> tuple[list[str], list[list[str]]]:
    """Per (method, pair): each criterion's mean ± std over seeds (percent; one run per seed, the newest)
    and, for the label-free ones, the mean gap to the oracle; a last row averages the gaps over every
    (method, pair)."""
    names = criteria(validators)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(row_label(record), record["pair"])].append(record)
    groups = {key: newest_per_seed(runs)[0] for key, runs in groups.items()}  # one run per seed, as the leaderboard
    header = [f"method ({METRIC_LABELS[metric]} %)", "pair", "runs",
              *(ORACLE_LABEL if name == ORACLE else name for name in names)]
    rows, gaps = [], defaultdict(list)
    for (label, pair), runs in sorted(groups.items()):
        row = [label, pair, str(len(runs))]
        chosen = [selections(run, validators) for run in runs]
        for name in names:
            picked = [(c[name][metric], c[ORACLE][metric]) for c in chosen if c[name] is not None]
            if not picked:
                row.append(f"— (runs lack {name} scores)")
                continue
            cell = _mean_std([100 * value for value, _ in picked])
            if name != ORACLE:
                gap = statistics.fmean(100 * (oracle - value) for value, oracle in picked)
                gaps[name].append(gap)
                cell += f" (gap {gap:.2f})"
            row.append(cell)
        rows.append(row)
    if rows:
        summary = ["mean gap to oracle", "", ""]
        for name in names:
            summary.append("0.00 (by definition)" if name == ORACLE
                           else f"{statistics.fmean(gaps[name]):.2f}" if gaps[name] else "—")
        rows.append(summary)
    return header, rows

