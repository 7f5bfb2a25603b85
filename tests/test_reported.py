"""Reported (published) rows: the shipped CD-FER file, user files, validation, and the leaderboard."""

from __future__ import annotations

from pathlib import Path

import pytest

from dabench.cli import main
from dabench.errors import DabenchError
from dabench.report import published as reported


def test_shipped_cdfer_numbers() -> None:
    rows = {row.method: row for row in reported.load_reported([reported.PACKAGED])}
    agra = rows["AGRA"]
    assert agra.results["rafdb:fer2013"] == 54.94 and agra.results["rafdb:expw"] == 69.70
    assert agra.results["rafdb:sfew"] == 52.75 and agra.results["afe:fer2013"] == 51.95
    assert agra.results["afe:expw"] == 65.03
    assert len(rows) == 10 and all(len(row.results) == 10 for row in rows.values())
    assert agra.label == "AGRA (reported, CD-FER TPAMI 2022, resnet18)"


def test_rows_follow_columns_with_own_mean_and_gaps() -> None:
    rows = reported.load_reported([reported.PACKAGED])
    table = reported.leaderboard_rows(["rafdb:fer2013", "rafdb:expw", "fer2013:ckplus"], "accuracy", rows)
    agra = next(row for row in table if row[0].startswith("AGRA"))
    assert agra[1:] == ["54.94", "69.70", "— (not reported)", "— (1 pair(s) not reported)"]
    table = reported.leaderboard_rows(["rafdb:fer2013", "rafdb:expw"], "accuracy", rows)
    agra = next(row for row in table if row[0].startswith("AGRA"))
    assert agra[-1] == f"{(54.94 + 69.70) / 2:.2f}"
    assert reported.leaderboard_rows(["fer2013:ckplus"], "accuracy", rows) == []  # nothing to show
    assert reported.leaderboard_rows(["rafdb:fer2013"], "macro_f1", rows) == []


def test_user_files_in_home_are_loaded(fresh_home: Path) -> None:
    (fresh_home / "reported").mkdir(parents=True)
    (fresh_home / "reported" / "mine.yaml").write_text(
        "source: Doe 2024\nmetric: accuracy\nrows:\n  - method: X\n    results: {fer2013:ckplus: 61.5}\n")
    labels = [row.label for row in reported.load_reported()]
    assert "X (reported, Doe 2024)" in labels and "AGRA (reported, CD-FER TPAMI 2022, resnet18)" in labels


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("source: Doe\nmetric: accuracy\nrows:\n  - method: X\n    results: {fer2013: 61.5}\n")
    with pytest.raises(DabenchError, match=r"row 1 \(X\): 'fer2013: 61.5' must be 'source:target: percent'"):
        reported.load_file(path)
    path.write_text("source: Doe\nmetric: accuracy\nrows:\n  - method: X\n    results: {a:b: 615}\n")
    with pytest.raises(DabenchError, match="is not a percentage"):
        reported.load_file(path)


def test_leaderboard_shows_reported_rows_after_measured_and_no_reported_hides_them(
        fresh_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "leaderboard", "--suite", "paper", "--format", "csv"])
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "\"method (accuracy %, last epoch)\",afe:expw,afe:fer2013,rafdb:expw,rafdb:fer2013,Avg"
    assert "\"AGRA (reported, CD-FER TPAMI 2022, resnet18)\",65.03,51.95,69.70,54.94,60.41" in lines
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "leaderboard", "--suite", "paper", "--no-reported"])
    assert exit_info.value.code == 2
    assert "no finished runs" in capsys.readouterr().err
