"""The rows of every report: what a run's row is called (method, variant, protocol, upper bound), which
run of a seed counts (the newest), which runs are ranked at all, and the metrics a report can show. One module,
so that the leaderboard, selection, per-class, search, plot and export reports group and rank runs the same way."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

METRIC_LABELS = {"accuracy": "accuracy", "macro_f1": "macro-F1"}


def row_label(result: dict[str, Any]) -> str:
    """Rows never mix protocols or settings; the upper bound says it is not source-free."""
    label = result["method"]
    if result.get("variant"):  # non-default settings never share a row with the defaults
        label += f" [{result['variant']}]"
    if result.get("protocol", "inductive") != "inductive":
        label += f" [{result['protocol']}]"
    if result.get("source_free") is False:
        label += " (upper bound, not source-free)"
    return label


def code_version(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """What a run was made with beyond its row's settings: its settings hash and its method's source
    hash; (None, None) for a run made before dabench recorded them (one version of its own)."""
    method = (record.get("code") or {}).get("method") or {}
    return record.get("settings_sha256"), method.get("source_sha256")


def newest_per_seed(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """(one run per seed, the newest by ``finished_at``; how many older runs of a seed were left out).
    Two runs of one seed in one cell differ in settings the row does not name (a hyperparameter added
    with a default, a changed default): counting both would read as two seeds."""
    newest: dict[Any, dict[str, Any]] = {}
    for run in runs:
        kept = newest.get(run["seed"])
        if kept is None or (run.get("finished_at") or "", run["run_id"]) > (kept.get("finished_at") or "", kept["run_id"]):
            newest[run["seed"]] = run
    return list(newest.values()), len(runs) - len(newest)


# ---- what is ranked ---------------------------------------------------------------------------------
# The one rule every report applies (leaderboard, plot, selection, per-class, search; the export lists every
# run with this verdict): a run is ranked unless its method was seen reaching for target labels, or a number
# it would be ranked or selected by is not finite (a loss gone NaN leaves NaN validator scores and
# predictions of one class; a result written by hand or by older code may hold NaN or inf anywhere).
METRIC_FIELDS = ("accuracy", "macro_f1", "per_class", "confusion", "source_accuracy", "source_macro_f1",
                 "oracle_accuracy", "history")


def label_access_detected(record: dict[str, Any]) -> bool:
    """Whether the label watch saw the run's method reach for target labels during adapt (dabench.run.watch)."""
    return bool((record.get("label_access") or {}).get("detected"))


def non_finite(value: Any, where: str = "") -> list[str]:
    """Where ``value`` holds NaN or ±inf, as paths (``history[2].validators.entropy``); [] when none does."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [where or "value"]
    if isinstance(value, Mapping):
        return [spot for key, item in value.items() for spot in non_finite(item, f"{where}.{key}" if where else str(key))]
    if isinstance(value, (list, tuple)):
        return [spot for index, item in enumerate(value) for spot in non_finite(item, f"{where}[{index}]")]
    return []


def why_not_ranked(record: dict[str, Any]) -> str | None:
    """Why ``record`` is never ranked, or None when it is rankable."""
    if label_access_detected(record):
        return "its method reached for target labels"
    spots = [spot for field in METRIC_FIELDS for spot in non_finite(record.get(field), field)]
    if spots:
        shown = ", ".join(spots[:3]) + (f" and {len(spots) - 3} more" if len(spots) > 3 else "")
        return f"non-finite metrics ({shown}): the method diverged, or the result is damaged"
    return None


def ranked(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """(the runs a report may rank, [(each run it must leave out, why)])."""
    kept, left_out = [], []
    for record in records:
        why = why_not_ranked(record)
        if why is None:
            kept.append(record)
        else:
            left_out.append((record, why))
    return kept, left_out


def left_out_note(record: dict[str, Any], why: str) -> str:
    """The line a report prints for a run it left out: label access keeps its loud form (a cheat, not a fault)."""
    where = f"{row_label(record)} on {record['pair']} seed {record['seed']}"
    if label_access_detected(record):
        events = "; ".join((record.get("label_access") or {}).get("events") or ()) or "an event"
        accuracy = record.get("accuracy")
        shown = f"{100 * accuracy:.2f}%" if isinstance(accuracy, (int, float)) else "its score"
        return (f"LABEL ACCESS DETECTED, left out of the table: {where} (run {record['run_id']}; {shown} is not a "
                f"source-free result): {events}")
    return f"NOT RANKED, left out of the table: {where} (run {record['run_id']}): {why}"
