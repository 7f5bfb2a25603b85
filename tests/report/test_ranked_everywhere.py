"""One rule decides what is ranked (dabench.report.rows.ranked), and every report command applies it: a run
with a NaN or inf anywhere in its metrics, a diverged run (finite accuracy, NaN validator scores) and a run
whose method reached for target labels are ranked by none of them, and the export says why, in strict JSON."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dabench.cli import cli
from dabench.cli.report import report_group
from dabench.errors import DabenchError
from dabench.host import registry as registry_module
from dabench.report import plot as plots
from dabench.report.rows import METRIC_FIELDS, non_finite, ranked, why_not_ranked
from dabench.store import searches

NAN, INF = float("nan"), float("inf")
RANKED_ON_AB = {"shot", "source_only", "aad", "target_oracle"}
NOT_RANKED_ON_AB = {"tent", "adabn", "cluster_pl", "nrc"}


def bad_runs(record) -> list[dict[str, Any]]:
    """Five runs no report may rank, each a different way; shot's is a third seed beside two good ones."""
    nan_accuracy = record("tent", "a:b", 0, 0.5)
    nan_accuracy["accuracy"] = NAN
    inf_f1 = record("adabn", "a:b", 0, 0.5)
    inf_f1["macro_f1"] = INF
    # a loss gone NaN: predictions all one class, accuracy finite, validator scores NaN
    diverged = record("cluster_pl", "a:b", 0, 0.34, [(0.34, NAN, NAN, NAN), (0.34, NAN, NAN, NAN)])
    cheat = record("nrc", "a:b", 0, 0.99)
    cheat["label_access"] = {"detected": True, "events": ["open target labels"]}
    damaged = record("shot", "a:b", 2, 0.64)
    damaged["per_class"]["neutral"] = -INF
    return [nan_accuracy, inf_f1, diverged, cheat, damaged]


@pytest.fixture
def home(fresh_home: Path, records, make_record, write_runs) -> Path:
    registry_module.reset()
    runs = [r for r in records if r["method"] != "nrc"] + bad_runs(make_record)
    write_runs(runs)
    searches.record_search([r["run_id"] for r in runs])  # every run a search point, so `report search` lists them
    yield fresh_home
    registry_module.reset()


def _invoke(*args: str):
    return CliRunner().invoke(cli, ["report", *args])


def _first_column(text: str) -> set[str]:
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return {row[0].split()[0] for row in rows if row and row[0] != "mean gap to oracle"}


def leaderboard_methods(pair: str) -> set[str]:
    out = _invoke("leaderboard", "--format", "csv", "--no-reported", "--pairs", pair)
    assert out.exit_code == 0, out.output
    return _first_column(out.stdout)


def selection_methods(pair: str) -> set[str]:
    out = _invoke("selection", "--format", "csv")
    assert out.exit_code == 0, out.output
    return {row[0].split()[0] for row in list(csv.reader(io.StringIO(out.stdout)))[1:] if row[1] == pair}


def search_methods(pair: str) -> set[str]:
    out = _invoke("search", "--by", "entropy", "--format", "csv")
    assert out.exit_code == 0, out.output
    return {row[0] for row in list(csv.reader(io.StringIO(out.stdout)))[1:] if row[1] == pair}


def _per_method(pair: str, *command: str) -> set[str]:
    """The methods whose runs on ``pair`` a per-method report (per-class, plot --confusion) shows; the others
    must be refused with the reason."""
    shown = set()
    for method in RANKED_ON_AB | NOT_RANKED_ON_AB:
        which = ("--method", method, "--pair", pair) if command[0] == "per-class" else ("--confusion", method, pair)
        out = _invoke(*command, *which)
        if out.exit_code == 0:
            shown.add(method)
        else:
            assert isinstance(out.exception, DabenchError), out.output
            assert "are not ranked, so no report shows them" in str(out.exception)
    return shown


def per_class_methods(pair: str) -> set[str]:
    return _per_method(pair, "per-class")


def plot_methods(pair: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    pytest.importorskip("matplotlib")
    drawn: list[list[str]] = []

    def keep(figure, out, plt):
        legend = figure.axes[0].get_legend()  # the bar chart's; a heat map has none
        if legend is not None:
            drawn.append([text.get_text() for text in legend.get_texts()])
        plt.close(figure)
        return out

    monkeypatch.setattr(plots, "_save", keep)
    out = _invoke("plot", "--out", str(tmp_path / "bars.png"))
    assert out.exit_code == 0, out.output
    bars = {label.split()[0] for label in drawn[0]}
    assert _per_method(pair, "plot", "--out", str(tmp_path / "heat.png")) == bars & (RANKED_ON_AB | NOT_RANKED_ON_AB)
    return bars


def export_methods(pair: str) -> set[str]:
    out = _invoke("export", "--format", "json")
    assert out.exit_code == 0, out.output

    def refuse(constant: str) -> None:
        raise AssertionError(f"the export is not strict JSON: it holds {constant}")

    exported = json.loads(out.stdout, parse_constant=refuse)
    assert "non-finite value(s) (NaN or inf) written as null" in out.stderr
    for run in exported:
        assert run["ranked"] == (run["not_ranked"] is None)
    return {run["method"] for run in exported if run["ranked"] and run["pair"] == pair}


def test_every_report_ranks_the_same_runs(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {
        "leaderboard": leaderboard_methods("a:b"),
        "selection": selection_methods("a:b"),
        "search": search_methods("a:b"),
        "per-class": per_class_methods("a:b"),
        "plot": plot_methods("a:b", tmp_path, monkeypatch),
        "export": export_methods("a:b"),
        "reindex": None,  # ranks nothing: it rebuilds the index
    }
    # a report command added later must join this walk
    assert set(report_group.commands) == set(seen)
    for command, methods in seen.items():
        if methods is not None:  # a search compares source-free methods' settings: the upper bound is no point
            assert methods == RANKED_ON_AB - ({"target_oracle"} if command == "search" else set()), command


def test_a_cell_keeps_its_ranked_seeds_and_the_notes_name_every_run_left_out(home: Path) -> None:
    out = _invoke("leaderboard", "--format", "csv", "--no-reported", "--pairs", "a:b")
    shot = next(row for row in csv.reader(io.StringIO(out.stdout)) if row[0] == "shot")
    assert shot[1] == "66.00 ± 1.41 (2)"  # seeds 0 and 1; seed 2's per-class -inf left it out
    notes = out.stderr.splitlines()
    assert sum(line.startswith("NOT RANKED, left out of the table: ") for line in notes) == 4
    assert sum(line.startswith("LABEL ACCESS DETECTED, left out of the table: nrc on a:b seed 0") for line in notes) == 1
    assert any("tent on a:b seed 0" in line and "non-finite metrics (accuracy)" in line for line in notes)
    assert any("cluster_pl on a:b seed 0" in line and "history[0].validators.entropy" in line for line in notes)
    text = _invoke("selection")
    assert "NOT RANKED, left out of the table: adabn on a:b seed 0" in text.stdout  # under the table, as the leaderboard


def test_export_csv_writes_non_finite_values_as_empty_cells(home: Path) -> None:
    out = _invoke("export", "--format", "csv")
    rows = {(r["method"], r["seed"]): r for r in csv.DictReader(io.StringIO(out.stdout)) if r["pair"] == "a:b"}
    assert rows[("tent", "0")]["accuracy"] == "" and rows[("tent", "0")]["ranked"] == "False"
    assert rows[("adabn", "0")]["macro_f1"] == ""
    assert rows[("shot", "0")]["ranked"] == "True" and rows[("shot", "0")]["not_ranked"] == ""
    assert "non-finite metrics (macro_f1)" in rows[("adabn", "0")]["not_ranked"]


def _float_paths(value: Any, where: str = "") -> list[str]:
    """The path of every float leaf of ``value``, as ``non_finite`` names it."""
    if isinstance(value, float):
        return [where]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _float_paths(item, f"{where}.{key}" if where else key)]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _float_paths(item, f"{where}[{index}]")]
    return []


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_every_metric_number_of_a_run_that_is_not_finite_unranks_it(bad: float, make_record) -> None:
    """The walk: every float a real record holds in its metrics (history, per-class, confusion...), set to
    NaN, inf or -inf in turn, is found, named by its path, and the run is not ranked."""
    base = make_record("shot", "a:b", 0, 0.65, [(0.60, 0.9, 0.5, 5.0), (0.71, 0.6, 0.8, 4.0)])
    base["confusion"] = [[float(v) for v in row] for row in base["confusion"]]
    base["source_macro_f1"] = 0.35  # as runs record it (the fixture's records predate it)
    assert why_not_ranked(base) is None
    walked = 0
    for field in METRIC_FIELDS:
        for path in _float_paths({field: base[field]}):
            run = copy.deepcopy(base)
            _set(run, path, bad)
            assert non_finite({f: run[f] for f in METRIC_FIELDS}) == [path]
            why = why_not_ranked(run)
            assert why is not None and path in why, path
            assert ranked([base, run]) == ([base], [(run, why)])
            walked += 1
    # accuracy, macro_f1, 3 per-class, 9 confusion cells, source accuracy and macro-F1, oracle accuracy, and
    # 2 epochs x (accuracy, macro_f1, 3 validators)
    assert walked == 2 + 3 + 9 + 3 + 10


def _set(run: dict[str, Any], path: str, value: float) -> None:
    """Set the leaf at ``path`` (``history[1].validators.snd``) of ``run``."""
    tokens = [t for part in path.split(".") for t in part.replace("]", "").split("[")]
    holder: Any = run
    for token in tokens[:-1]:
        holder = holder[int(token)] if isinstance(holder, list) else holder[token]
    last = tokens[-1]
    holder[int(last) if isinstance(holder, list) else last] = value


def test_non_finite_is_false_for_none_and_finite_numbers() -> None:
    assert non_finite({"a": [1.0, None, 2, "nan"], "b": {"c": 0.0}}) == []
    assert non_finite({"a": [1.0, math.nan]}) == ["a[1]"]
