"""Golden outputs of every report format on the fixed records (UPDATE_GOLDEN=1 rewrites them; read the diff)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dabench.report import leaderboard as report
from dabench.report.export import export_csv, export_json
from dabench.report.per_class import confusion_table, per_class_table, runs_of
from dabench.report.selection import selection_table

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text + "\n")
    assert path.exists(), f"{path} missing; run with UPDATE_GOLDEN=1 and review it"
    assert text + "\n" == path.read_text()


@pytest.mark.parametrize("fmt", report.FORMATS)
def test_leaderboard_formats(records, validators, fmt: str) -> None:
    header, rows, bold = report.leaderboard(records, None, "accuracy", "last", validators)
    suffix = {"github": "md", "latex": "tex", "html": "html", "csv": "csv", "json": "json"}.get(fmt, "txt")
    notes = report.leaderboard_notes(records, rows, None, {"bnm": 4})
    table, aside = report.with_notes(report.render(header, rows, fmt, bold), notes, fmt)
    check_golden(f"leaderboard.{suffix}", table)
    assert aside == ("\n".join(notes) if fmt in ("csv", "json") else "")  # stdout stays one table


@pytest.mark.parametrize(("selection", "metric"), [("oracle", "accuracy"), ("snd", "accuracy"),
                                                   ("info_max", "macro_f1"), ("entropy", "accuracy")])
def test_leaderboard_selections(records, validators, selection: str, metric: str) -> None:
    header, rows, bold = report.leaderboard(records, ["a:b", "b:a"], metric, selection, validators)
    check_golden(f"leaderboard-{selection}-{metric}.md", report.render(header, rows, "github", bold))


def test_selection_report(records, validators) -> None:
    check_golden("selection.txt", report.render(*selection_table(records, validators), "simple"))


def test_per_class_and_confusion(records) -> None:
    runs = runs_of(records, "shot", "a:b")
    text = report.render(*per_class_table(runs), "github") + "\n\n" + report.render(*confusion_table(runs), "github")
    check_golden("per-class.md", text + "\n\n" + report.render(*confusion_table(runs, normalise=True), "latex"))


def test_exports(records, validators) -> None:
    for r in records:
        r["config"] = {"method": r["method"], "seed": r["seed"], "source": {"epochs": 30}, "epochs": 15}
    check_golden("export.csv", export_csv(records, validators).rstrip("\n"))
    check_golden("export.json", export_json(records[:1], validators).rstrip("\n"))
