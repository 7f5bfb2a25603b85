"""A finished run folder is intact only if every file matches the checksum its ``done`` marker holds and
its config hashes to the folder's name; the index follows the folders (a deleted run leaves the reports,
a copied-in run joins them, an edited one is dropped with a warning) and `dabench report reindex`
rebuilds it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import PAIR, TINY

from dabench.cli import cli
from dabench.run import execute as runner
from dabench.run.execute import execute, plan_run
from dabench.store import atomic, paths, results
from dabench.sweep.execute import run_state


def _store(seed: int, accuracy: float = 0.5, method: str = "shot") -> Path:
    """A finished run folder as the runner writes one (named by its config's hash), without training."""
    config = {"method": method, "pair": "a:b", "seed": seed}
    folder = results.run_dir(results.run_id_of(config))
    folder.mkdir(parents=True)
    results.write_config(folder, config)
    results.finish_run(folder, {"run_id": folder.name, "method": method, "pair": "a:b", "seed": seed,
                                "accuracy": accuracy}, [f"seed {seed}"])
    return folder


def _indexed() -> list[str]:
    connection = sqlite3.connect(paths.index_path())
    rows = connection.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()
    connection.close()
    return [row[0] for row in rows]


def test_done_marker_checksums_every_run_file(fresh_home: Path) -> None:
    folder = _store(0)
    marker = json.loads((folder / "done").read_text())
    assert marker == {"format": 2, "run_id": folder.name,
                      "sha256": {name: atomic.sha256_file(folder / name) for name in ("config.yaml", "result.json",
                                                                                      "log.txt")}}
    assert results.read_done(folder)["accuracy"] == 0.5


@pytest.mark.parametrize("damage,why", [
    (lambda f: (f / "log.txt").write_text("edited\n"), "log.txt does not match its checksum"),
    (lambda f: (f / "result.json").unlink(), "result.json is missing"),
    (lambda f: (f / "config.yaml").write_text((f / "config.yaml").read_text() + "extra: 1\n"),
     "config.yaml does not match its checksum"),
    (lambda f: (f / "done").write_text("not a marker\n"), "its done marker is not one dabench writes"),
])
def test_a_damaged_run_is_not_done_and_named_once(fresh_home: Path, capsys, damage, why) -> None:
    folder = _store(0)
    damage(folder)
    assert results.read_done(folder) is None and results.read_done(folder) is None
    err = capsys.readouterr().err
    assert err == (f"dabench: warning: run {folder} was edited or truncated after it finished ({why}); "
                   "treating it as not done\n")  # once, however often the folder is read
    assert run_state(folder) == ("interrupted", "started but not finished")  # so a sweep runs it again


def test_a_run_copied_under_another_name_is_not_done(fresh_home: Path, capsys) -> None:
    folder = _store(0)
    elsewhere = folder.with_name("0123456789abcdef")
    shutil.copytree(folder, elsewhere)
    assert results.read_done(elsewhere) is None and results.read_done(folder) is not None
    assert f"run {elsewhere} was edited or truncated after it finished (config.yaml does not hash to the " \
           "folder's run id 0123456789abcdef)" in capsys.readouterr().err


def test_a_format_1_done_marker_is_still_read(fresh_home: Path, capsys) -> None:
    folder = _store(0)
    (folder / "done").write_text(atomic.sha256_file(folder / "result.json") + "\n")  # written by dabench <= 0.1
    assert results.read_done(folder)["accuracy"] == 0.5
    (folder / "result.json").write_text(json.dumps({"run_id": folder.name, "accuracy": 0.99}))
    assert results.read_done(folder) is None and "result.json does not match its checksum" in capsys.readouterr().err


def test_the_index_follows_the_run_folders(fresh_home: Path, tmp_path: Path, capsys) -> None:
    kept, deleted, edited = _store(0), _store(1), _store(2)
    assert [r["seed"] for r in results.load_results()] == [0, 1, 2]
    shutil.rmtree(deleted)
    (edited / "result.json").write_text(json.dumps({"run_id": edited.name, "method": "shot", "pair": "a:b",
                                                    "seed": 2, "accuracy": 0.99}))
    assert [r["seed"] for r in results.load_results()] == [0]
    assert capsys.readouterr().err.count(f"run {edited} was edited") == 1
    results.load_results()
    assert capsys.readouterr().err == ""  # a broken folder is warned about when it changes, not every time
    # a run finished in another home and copied in joins the reports
    copied = tmp_path / "other_run"
    shutil.copytree(kept, copied)
    shutil.rmtree(kept)
    assert results.load_results() == []
    shutil.copytree(copied, kept)
    assert [r["seed"] for r in results.load_results()] == [0] and _indexed() == [kept.name]


def test_an_index_missing_a_run_or_written_by_an_older_dabench_is_reconciled(fresh_home: Path) -> None:
    first, second = _store(0), _store(1)
    results.load_results()
    connection = sqlite3.connect(fresh_home / "results.sqlite")
    with connection:
        connection.execute("DROP TABLE folders")  # an index from before folders were stamped
        connection.execute("DELETE FROM runs WHERE run_id = ?", (second.name,))
        connection.execute("INSERT INTO runs (run_id, method, pair, seed) VALUES ('gone', 'x', 'a:b', 9)")
    connection.close()
    assert [r["seed"] for r in results.load_results()] == [0, 1]
    assert _indexed() == sorted([first.name, second.name])


def test_an_unreadable_index_is_rebuilt(fresh_home: Path, capsys) -> None:
    _store(0)
    (fresh_home / "results.sqlite").write_bytes(b"not a database" * 100)
    assert [r["seed"] for r in results.load_results()] == [0]
    assert "results.sqlite is unreadable" in capsys.readouterr().err


def test_report_reindex_rebuilds_the_index(fresh_home: Path) -> None:
    _store(0), _store(1)
    results.load_results()
    connection = sqlite3.connect(fresh_home / "results.sqlite")
    with connection:
        connection.execute("UPDATE runs SET accuracy = 0.01")
    connection.close()
    out = CliRunner().invoke(cli, ["report", "reindex"])
    assert out.exit_code == 0, out.output
    assert out.output == f"indexed 2 finished run(s) from {fresh_home / 'runs'} in {fresh_home / 'results.sqlite'}\n"
    assert sqlite3.connect(fresh_home / "results.sqlite").execute("SELECT accuracy FROM runs").fetchall() == [(0.5,), (0.5,)]
    assert "reindex" in CliRunner().invoke(cli, ["report", "--help"]).output


def test_a_failed_forced_rerun_keeps_the_finished_run_in_the_index(sweep_home: Path, registry,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    plan = plan_run(registry, "source_only", PAIR, 0, sets=TINY)
    execute(plan, registry, "cpu")
    folder = results.run_dir(plan.run_id)
    assert results.read_done(folder) is not None and _indexed() == [plan.run_id]  # the runner's id is the config's hash

    def broken(*args, **kwargs):
        raise RuntimeError("crashed during the rerun")

    monkeypatch.setattr(runner, "_execute", broken)
    with pytest.raises(RuntimeError, match="crashed during the rerun"):
        execute(plan, registry, "cpu", force=True)
    # the rerun left nothing of its own in the index: the finished run it would have replaced is back
    assert _indexed() == [plan.run_id] and [r["run_id"] for r in results.load_results()] == [plan.run_id]
