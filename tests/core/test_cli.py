"""The command line end to end on small generated data, and its errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dabench import registry as registry_module
from dabench import report
from dabench.cli import cli
from dabench.reports.selection import LAST

SMALL = ("--set", "data.source.n_train=300", "--set", "data.source.n_test=100", "--set", "data.target.n_train=300",
         "--set", "data.target.n_test=200", "--set", "source.epochs=2")


def dabench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script the way a user does."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "dabench", *args], capture_output=True, text=True, env=full_env,
                          timeout=600)


@pytest.fixture(autouse=True)
def _fresh_registry():
    registry_module.reset()
    yield
    registry_module.reset()


def test_run_json_then_leaderboard(fresh_home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--seed", "0",
                                 "--device", "cpu", "--json", *SMALL])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.strip().splitlines()[-1])
    assert set(record) == {"run_id", "method", "pair", "seed", "accuracy", "macro_f1", "per_class",
                           "source_accuracy", "oracle_accuracy", "seconds", "device"}
    assert record["method"] == "source_only" and record["pair"] == "synth-lab:synth-wild"
    assert record["accuracy"] == record["source_accuracy"]  # source_only is the source model
    assert 0.0 <= record["accuracy"] <= 1.0
    folder = fresh_home / "runs" / record["run_id"]
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "done", "log.txt", "result.json"]

    board = runner.invoke(cli, ["report", "leaderboard", "--format", "github"])
    assert board.exit_code == 0, board.output
    lines = board.output.strip().splitlines()
    assert [cell.strip() for cell in lines[0].split("|")[1:-1]] == [report.first_column(LAST), "synth-lab:synth-wild",
                                                                   "Avg"]
    cell = report.format_cell([100 * record["accuracy"]])
    # the row names the settings changed from the defaults; the only measured row is the best of its
    # column, so it is in bold
    label = ("source_only [data.source.n_test=100, data.source.n_train=300, data.target.n_test=200, "
             "data.target.n_train=300, source.epochs=2]")
    assert lines[2].split("|")[1].strip() == label and lines[2].split("|")[2].strip() == f"**{cell}**"

    # the same run again is recognised, not duplicated; the index can be rebuilt from the folders
    again = runner.invoke(cli, ["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--seed", "0",
                                "--device", "cpu", "--json", *SMALL])
    assert json.loads(again.output.strip().splitlines()[-1])["run_id"] == record["run_id"]
    (fresh_home / "results.sqlite").unlink()
    board_again = runner.invoke(cli, ["report", "leaderboard", "--format", "csv"])
    assert board_again.output.splitlines()[1].startswith(f'"{label}",{cell}')


def test_list_and_plugins() -> None:
    runner = CliRunner()
    pairs = runner.invoke(cli, ["list", "pairs"])
    assert "synth-lab:synth-wild" in pairs.output.split()
    plugins = runner.invoke(cli, ["plugins"])
    assert plugins.exit_code == 0
    assert "dataset synth-lab, dataset synth-wild" in plugins.output
    assert "method source_only" in plugins.output


@pytest.mark.parametrize("args,message", [
    (["run", "--method", "nope", "--pair", "synth-lab:synth-wild"], "unknown method 'nope'; valid methods: "),
    (["run", "--method", "source_only", "--pair", "synth-lab:nowhere"], "unknown dataset 'nowhere'; valid datasets: "),
    (["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--backbone", "vgg"],
     "unknown backbone 'vgg'; valid backbones: "),
    (["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--set", "source.epochs=many"],
     "config key 'source.epochs' must be int"),
    (["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--set", "bogus=1"],
     "unknown config key 'bogus'; valid keys: "),
    (["report", "leaderboard"], "no finished runs in"),
])
def test_user_errors_exit_2_with_one_message(args: list[str], message: str, fresh_home: Path) -> None:
    completed = dabench(*args)
    assert completed.returncode == 2
    assert completed.stderr.startswith("dabench: error: " + message)
    assert "Traceback" not in completed.stderr
    assert not (fresh_home / "runs").exists()  # nothing half-written


def test_debug_shows_the_traceback(fresh_home: Path) -> None:
    completed = dabench("--debug", "run", "--method", "nope", "--pair", "synth-lab:synth-wild")
    assert completed.returncode != 0
    assert "Traceback" in completed.stderr and "unknown method 'nope'" in completed.stderr


def test_missing_dataset_folder_names_folder_and_layout(tmp_path: Path, registry) -> None:
    from dabench.data import Dataset
    from dabench.data.pairs import prepare
    from dabench.errors import DabenchError

    class OnDisk(Dataset):
        id = "ondisk"
        classes = ("happiness", "sadness")
        layout = "labels.txt and images/*.png"
        request = "https://example.org/ondisk"

    with pytest.raises(DabenchError) as info:
        prepare(OnDisk(), {}, 32, data_root=tmp_path)
    assert str(info.value) == (f"dataset 'ondisk': folder not found in {tmp_path / 'ondisk'}.\n"
                               f"Expected layout under {tmp_path / 'ondisk'}:\n  labels.txt and images/*.png\n"
                               "This dataset is licence-gated; request it from its owners: https://example.org/ondisk\n"
                               "Set DABENCH_DATA (or --data-root) to the folder that holds it.")
