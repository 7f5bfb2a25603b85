"""The rows of every report: what a run's row is called (method, variant, protocol, upper bound), which
run of a seed counts (the newest), and the metrics a report can show. One module, so that the leaderboard,
selection, per-class and plot reports group runs the same way."""

from __future__ import annotations

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
