"""`dabench report ...` end to end on run folders written from the fixed records (no training)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dabench import registry as registry_module
from dabench import results
from dabench.cli import cli


@pytest.fixture
def home(fresh_home: Path, records) -> Path:
    registry_module.reset()
    for record in records:
        folder = results.run_dir(record["run_id"])
        folder.mkdir(parents=True)
        results.write_config(folder, {"method": record["method"], "pair": record["pair"], "seed": record["seed"],
                                      "source": {"epochs": 30}})
        results.finish_run(folder, record, [])
    yield fresh_home
    registry_module.reset()


def invoke(*args: str) -> str:
    out = CliRunner().invoke(cli, list(args))
    assert out.exit_code == 0, out.output
    return out.output


def test_leaderboard_selection_and_bold(home: Path) -> None:
    text = invoke("report", "leaderboard", "--format", "github", "--selection", "oracle", "--no-reported")
    lines = text.splitlines()
    assert lines[0].split("|")[1].strip() == "method (oracle: best epoch on target test)"
    assert "| shot " in text and "**70.00 ± 1.41 (2)**" in text


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
    assert len(rows) == 8
    shot = next(r for r in rows if r["run_id"] == "shot-a_b-0")
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

