"""`dabench report search`: the settings of a hyperparameter search (`sweep --grid/--random`) side by side
per method and pair, each with its final label-free validator score (mean over seeds), and the one the
validator picks. Test accuracy is shown, never used to pick."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dabench.errors import DabenchError

if TYPE_CHECKING:
    from dabench.validators import Validator

HEADER = ["method", "pair", "settings", "seeds", "{by} (final, mean)", "accuracy % (last epoch)", "picked by {by}"]


def final_score(record: dict[str, Any], by: str) -> float | None:
    """The validator's score of the model the run reported (its history's last entry)."""
    history = record.get("history") or []
    return (history[-1].get("validators") or {}).get(by) if history else None


def search_runs(records: list[dict[str, Any]], search_ids: set[str]) -> list[dict[str, Any]]:
    """The finished runs that a search ran (``search_ids``: ``dabench.store.searches.search_run_ids``); runs made
    outside any search (a plain run of other settings) are never listed as one of its points."""
    if not search_ids:
        raise DabenchError("no hyperparameter search was run with this DABENCH_HOME: `report search` lists the runs "
                           "of `dabench sweep --grid KEY=V1,V2` (or --random N). A search run before dabench recorded "
                           "searches is recorded by starting its sweep command again (its finished runs are skipped)")
    runs = [record for record in records if record["run_id"] in search_ids]
    if not runs:
        raise DabenchError(f"no run of the {len(search_ids)} recorded search run(s) has finished yet; "
                           "see `dabench status`")
    return runs


def search_table(records: list[dict[str, Any]], validators: Mapping[str, Validator], by: str,
                 ) -> tuple[list[str], list[list[str]]]:
    """One row per (method, pair, settings); per (method, pair), the settings with the best mean final
    ``by`` score are marked. Runs without that score are listed, never picked."""
    if by not in validators:
        raise DabenchError(f"--by '{by}': not a validator; valid: {', '.join(sorted(validators))}")
    validator = validators[by]
    groups: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record.get("source_free", True) and record.get("protocol", "inductive") == "inductive":
            groups[(record["method"], record["pair"])][record.get("variant") or "defaults"].append(record)
    rows = []
    for (method, pair), variants in sorted(groups.items()):
        means = {}
        for settings, runs in variants.items():
            scores = [score for score in (final_score(run, by) for run in runs) if score is not None]
            means[settings] = statistics.fmean(scores) if len(scores) == len(runs) else None
        ranked = [settings for settings in variants if means[settings] is not None]
        picked = ranked[validator.best([means[s] for s in ranked])] if len(ranked) > 1 else None
        for settings, runs in sorted(variants.items()):
            accuracy = statistics.fmean(100 * run["accuracy"] for run in runs)
            score = "—" if means[settings] is None else f"{means[settings]:.4f}"
            rows.append([method, pair, settings, str(len(runs)), score, f"{accuracy:.2f}",
                         "<- picked" if settings == picked else ""])
    header = [column.format(by=by) for column in HEADER]
    return header, rows
