"""`dabench report ...` end to end on run folders written from the fixed records (no training)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dabench.cli import cli
from dabench.host import registry as registry_module


@pytest.fixture
def home(fresh_home: Path, records, write_runs) -> Path:
    registry_module.reset()
    write_runs(records)
    yield fresh_home
    registry_module.reset()


def invoke(*args: str) -> str:
    out = CliRunner().invoke(cli, list(args))
    assert out.exit_code == 0, out.output
    return out.output


def test_leaderboard_selection_and_bold(home: Path) -> None:
    text = invoke("report", "leaderboard", "--format", "github", "--selection", "oracle", "--no-reported")
    lines = text.splitlines()
    assert lines[0].split("|")[1].strip() == "method (accuracy %, oracle: best epoch on target test)"
    assert "| shot " in text and "**70.00 ± 1.41 (2)**" in text
    assert "| 66.00 (1) " in text  # nrc's single run: no "± 0.00" that would read as zero variance
    f1 = invoke("report", "leaderboard", "--format", "github", "--metric", "macro_f1", "--no-reported")
    assert f1.splitlines()[0].split("|")[1].strip() == "method (macro-F1 %, last epoch)"


def test_selection_command(home: Path) -> None:
    text = invoke("report", "selection")
    assert "oracle: best epoch on target test" in text.splitlines()[0]
    assert text.splitlines()[-1].split()[:4] == ["mean", "gap", "to", "oracle"]


def test_per_class_command(home: Path) -> None:
    text = invoke("report", "per-class", "--method", "shot", "--pair", "a:b", "--format", "csv")
    assert text.splitlines()[:2] == ["class,accuracy,test samples", "surprise,1.47 ± 2.08 (2),34"]
    assert '"true \\ predicted (mean count, 2 run(s))",surprise,happiness,neutral' in text


def test_per_class_of_a_missing_run_names_what_exists(home: Path) -> None:
    out = CliRunner().invoke(cli, ["report", "per-class", "--method", "shot", "--pair", "b:c"])
    assert out.exit_code != 0
    assert "no finished inductive runs of method 'shot' on pair 'b:c'" in str(out.exception)


def test_export_csv_and_json(home: Path, tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(invoke("report", "export", "--format", "csv"))))
    assert len(rows) == 11  # export lists every run, the older run of a seed too
    shot = next(r for r in rows if (r["method"], r["pair"], r["seed"]) == ("shot", "a:b", "0"))
    assert shot["config.source.epochs"] == "30" and shot["selection.oracle.epoch"] == "1"
    assert shot["selection.snd.accuracy"] == "0.6"
    invoke("report", "export", "--format", "json", "--out", str(tmp_path / "runs.json"))
    loaded = json.loads((tmp_path / "runs.json").read_text())
    assert {r["run_id"] for r in loaded} == {r["run_id"] for r in rows}
    assert all(r["config"]["seed"] == r["seed"] for r in loaded)


def test_plot_writes_pngs(home: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    invoke("report", "plot", "--out", str(tmp_path / "board.png"))
    invoke("report", "plot", "--confusion", "shot", "a:b", "--out", str(tmp_path / "confusion.png"))
    for name in ("board.png", "confusion.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_plot_without_matplotlib_says_how_to_install(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    out = CliRunner().invoke(cli, ["report", "plot", "--out", "x.png"])
    assert out.exit_code != 0 and "pip install 'dabench[plots]'" in str(out.exception)



def test_per_class_and_confusion_plot_never_mix_variants(fresh_home: Path, records, tmp_path: Path,
                                                         write_runs) -> None:
    """Smoke runs with changed settings are their own leaderboard row; per-class reports refuse to
    average them with the default runs and take --variant to choose."""
    registry_module.reset()
    smoke = [dict(r, variant="backbone=resnet18, epochs=1", seed=r["seed"] + 10, accuracy=0.34,
                  per_class={"surprise": 0.0, "happiness": 0.0, "neutral": 1.0},
                  confusion=[[0, 0, 34], [0, 0, 33], [0, 0, 33]])
             for r in records if (r["method"], r["pair"]) == ("shot", "a:b")][:1]
    write_runs([*records, *smoke])
    for command in (["report", "per-class", "--method", "shot", "--pair", "a:b"],
                    ["report", "plot", "--confusion", "shot", "a:b", "--out", str(tmp_path / "c.png")]):
        out = CliRunner().invoke(cli, command)
        assert out.exit_code != 0
        assert str(out.exception) == (
            "the inductive runs of 'shot' on 'a:b' have 2 settings variants, which are never averaged together; "
            "choose one: --variant default (2 run(s)); --variant 'backbone=resnet18, epochs=1' (1 run(s))")
    default = invoke("report", "per-class", "--method", "shot", "--pair", "a:b", "--variant", "default",
                     "--format", "csv")
    assert default.splitlines()[:2] == ["class,accuracy,test samples", "surprise,1.47 ± 2.08 (2),34"]
    variant = invoke("report", "per-class", "--method", "shot", "--pair", "a:b", "--format", "csv",
                     "--variant", "backbone=resnet18, epochs=1")
    assert variant.splitlines()[:4] == ['class,"accuracy [backbone=resnet18, epochs=1]",test samples',
                                        "surprise,0.00 (1),34", "happiness,0.00 (1),33", "neutral,100.00 (1),33"]
    assert '"true \\ predicted [backbone=resnet18, epochs=1] (mean count, 1 run(s))"' in variant
    out = CliRunner().invoke(cli, ["report", "per-class", "--method", "shot", "--pair", "a:b", "--variant", "epochs=2"])
    assert out.exit_code != 0 and "no inductive runs of 'shot' on 'a:b' with variant epochs=2; variants found: " \
        "--variant default (2 run(s)); --variant 'backbone=resnet18, epochs=1' (1 run(s))" == str(out.exception)
    board = invoke("report", "leaderboard", "--no-reported", "--format", "csv")  # the same two rows
    assert "shot,66.00 ± 1.41 (2),55.00 (1),60.50" in board.splitlines()
    assert '"shot [backbone=resnet18, epochs=1]",34.00 (1),— (no runs),— (1 pair(s) missing)' in board.splitlines()
    registry_module.reset()


def test_leaderboard_filters_rows_and_columns(home: Path) -> None:
    text = invoke("report", "leaderboard", "--format", "csv", "--no-reported", "--methods", "shot,nrc",
                  "--pairs", "b:a,a:b")
    assert text.splitlines() == ['"method (accuracy %, last epoch)",b:a,a:b,Avg',
                                 "nrc,— (no runs),66.00 (1),— (1 pair(s) missing)", "shot,55.00 (1),66.00 ± 1.41 (2),60.50"]
    out = CliRunner().invoke(cli, ["report", "leaderboard", "--methods", "shot,bnm,tent", "--pairs", "a:b,c:d"])
    assert out.exit_code != 0 and str(out.exception) == (
        "no runs of --methods bnm, tent (methods with runs here: aad, nrc, shot, source_only, target_oracle); "
        "--pairs c:d (pairs with runs here: a:b, b:a)")
    out = CliRunner().invoke(cli, ["report", "leaderboard", "--suite", "synthetic", "--pairs", "a:b"])
    assert out.exit_code != 0 and str(out.exception) == "give --suite or --pairs, not both"


def test_runs_of_methods_not_installed_are_listed_apart(fresh_home: Path, records, write_runs) -> None:
    registry_module.reset()
    gone = [dict(records[0], method="bnm", seed=seed, code={"method": {"plugin": "bnm", "source_sha256": "x"}})
            for seed in range(4)]
    write_runs([*records, *gone])
    out = CliRunner().invoke(cli, ["report", "leaderboard", "--no-reported"])
    assert out.exit_code == 0, out.output
    assert "bnm" not in out.stdout.split("\n\n")[0]  # not in the table
    assert out.stdout.splitlines()[-1] == "runs of methods not installed here: bnm (4 runs)"
    csv_out = CliRunner().invoke(cli, ["report", "leaderboard", "--no-reported", "--format", "csv"])
    assert "bnm" not in csv_out.stdout and "runs of methods not installed here: bnm (4 runs)" in csv_out.stderr
    assert list(csv.reader(io.StringIO(csv_out.stdout)))[0][0] == "method (accuracy %, last epoch)"
    registry_module.reset()


def test_runs_whose_method_reached_for_labels_are_left_out_and_flagged(fresh_home: Path, records, write_runs,
                                                                        tmp_path: Path) -> None:
    registry_module.reset()
    event = "open /home/cache/datasets/b-0123/train_labels.npy"
    cheat = dict(records[5], accuracy=0.99, label_access={"detected": True, "events": [event]})  # nrc a:b seed 0
    write_runs([*records[:5], cheat, *records[6:]])
    out = CliRunner().invoke(cli, ["report", "leaderboard", "--no-reported", "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert "nrc" not in out.stdout  # its only run is the flagged one: no row
    assert out.stderr.splitlines()[0] == (f"LABEL ACCESS DETECTED, left out of the table: nrc on a:b seed 0 (run "
                                  f"{cheat['run_id']}; 99.00% is not a source-free result): {event}")
    exported = list(csv.DictReader(io.StringIO(invoke("report", "export"))))
    flags = {row["method"]: row["label_access.detected"] for row in exported if row["pair"] == "a:b" and row["seed"] == "0"}
    assert flags["nrc"] == "True" and flags["shot"] == ""
    registry_module.reset()
