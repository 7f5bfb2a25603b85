"""A leaderboard cell holds one run per seed (the newest) and says when its runs come from several code
versions."""

from __future__ import annotations

import pytest

from dabench.errors import DabenchError
from dabench.report import leaderboard as report


def run(seed: int, accuracy: float, version: str | None, finished_at: str, run_id: str) -> dict:
    made_by = {"settings_sha256": version, "code": {"method": {"source_sha256": version}}} if version else {}
    return {"run_id": run_id, "method": "shot", "pair": "a:b", "seed": seed, "accuracy": accuracy,
            "macro_f1": accuracy, "finished_at": finished_at, **made_by}


def test_two_runs_of_one_seed_count_once_the_newer() -> None:
    runs = [run(0, 0.50, "old", "2026-01-01T00:00:00+00:00", "r1"), run(0, 0.70, "new", "2026-02-01T00:00:00+00:00", "r2"),
            run(1, 0.72, "new", "2026-02-01T01:00:00+00:00", "r3")]
    header, rows, _ = report.leaderboard(runs)
    assert rows == [["shot", "71.00 ± 1.41 (2)", "71.00"]]  # not 64.00 ± 12.17 (3): two seeds, one version
    assert report.leaderboard_notes(runs, rows) == [
        "left out: 1 older run(s) of a seed that a newer run of the same cell replaces (shot on a:b: 1)"]


def test_a_cell_mixing_code_versions_says_so() -> None:
    runs = [run(0, 0.70, "new", "2026-02-01T00:00:00+00:00", "r1"), run(1, 0.50, "old", "2026-01-01T00:00:00+00:00", "r2"),
            run(2, 0.60, None, "2025-12-01T00:00:00+00:00", "r3")]  # made before code was recorded
    _, rows, _ = report.leaderboard(runs)
    assert rows[0][1] == "60.00 ± 10.00 (3, 3 code versions)"
    notes = report.leaderboard_notes(runs, rows)
    assert notes[0].startswith("(n, k code versions): the cell's seeds were run by k versions")
    table, aside = report.with_notes(report.render(*report.leaderboard(runs)[:2], "github"), notes, "github")
    assert table.endswith("|\n\n" + notes[0]) and aside == ""  # a blank line: markdown would take it as a row


def test_only_names_every_unknown_name_at_once() -> None:
    runs = [run(0, 0.7, None, "", "r1")]
    assert report.only(runs, ["shot"], ["a:b"]) == runs
    with pytest.raises(DabenchError, match=r"^no runs of --methods nrc \(methods with runs here: shot\); "
                                           r"--pairs b:a \(pairs with runs here: a:b\)$"):
        report.only(runs, ["shot", "nrc"], ["b:a"])
