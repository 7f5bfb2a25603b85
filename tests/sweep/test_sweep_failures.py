"""Failure isolation: a run that raises (a bug, a missing dataset) is recorded as failed with its
traceback, the sweep goes on and exits 1; failed runs are skipped until --retry-failed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import PAIR, requests_for

from dabench.store import results
from dabench.store import run_lock as running
from dabench.sweep.execute import run_sweep, sweep_status

# a plugin's exception is recorded naming the plugin, the exception and the plugin's line
FAILED_IN_PLUGIN = ("dabench.errors.PluginError: method 'always_fails' raised RuntimeError: deliberate failure "
                    "(dabench sweep tests) (at ")


def test_failures_are_recorded_and_the_sweep_goes_on(sweep_home: Path, test_plugin, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DABENCH_DATA", str(tmp_path / "no_data"))
    requests = requests_for(test_plugin, ["always_fails", "source_only"], [0])
    # fer2013's folder is missing: a user error, recorded in a sweep instead of ending it
    requests += requests_for(test_plugin, ["source_only"], [0], ("synth-lab:fer2013",),
                             ("data.source.n_train=200", "data.source.n_test=100", "source.epochs=1"))
    lines: list[str] = []
    summary = run_sweep(requests, device="cpu", echo=lines.append)
    assert summary.exit_code == 1 and summary.failed_now == [f"always_fails {PAIR} seed 0",
                                                             "source_only synth-lab:fer2013 seed 0"]
    assert [e.state for e in summary.entries] == ["failed", "done", "failed"]
    bug, missing = summary.entries[0], summary.entries[2]
    assert bug.detail.startswith(FAILED_IN_PLUGIN) and "dabench_sweep_test.py:" in bug.detail
    assert missing.detail == f"dabench.errors.DabenchError: dataset 'fer2013': folder not found in {tmp_path / 'no_data' / 'fer2013'}."
    traceback = (results.run_dir(bug.request.run_id) / running.ERROR).read_text()
    assert traceback.startswith("Traceback (most recent call last):") and "dabench_sweep_test.py" in traceback
    assert "2 failed" in lines[-1] or any("2 failed" in line for line in lines)
    stamp = (results.run_dir(bug.request.run_id) / running.ERROR).stat().st_mtime_ns

    lines.clear()
    again = run_sweep(requests, device="cpu", echo=lines.append)  # failed runs are skipped, not rerun
    assert lines[0] == ("sweep: 3 runs; 1 already done, 0 to run, 2 failed before (skipped; "
                        "--retry-failed reruns them)")
    assert again.exit_code == 1 and (results.run_dir(bug.request.run_id) / running.ERROR).stat().st_mtime_ns == stamp

    lines.clear()
    retried = run_sweep(requests, device="cpu", retry_failed=True, echo=lines.append)
    assert lines[0] == "sweep: 3 runs; 1 already done, 2 to run" and len(retried.failed_now) == 2
    assert (results.run_dir(bug.request.run_id) / running.ERROR).stat().st_mtime_ns != stamp
    rows = sqlite3.connect(sweep_home / "results.sqlite").execute("SELECT method, pair FROM runs").fetchall()
    assert rows == [("source_only", PAIR)]  # failed runs never reach the index


def test_local_launcher_with_two_worker_processes(sweep_home: Path, test_plugin) -> None:
    requests = requests_for(test_plugin, ["source_only", "always_fails"], [0])
    summary = run_sweep(requests, launcher="local", workers=2, device="cpu", echo=lambda line: None)
    assert [e.state for e in summary.entries] == ["done", "failed"] and summary.exit_code == 1
    assert summary.entries[1].detail.startswith(FAILED_IN_PLUGIN)
    rows = sqlite3.connect(sweep_home / "results.sqlite").execute("SELECT run_id FROM runs").fetchall()
    assert rows == [(requests[0].run_id,)]
    folder = results.run_dir(requests[0].run_id)
    assert results.read_done(folder)["accuracy"] >= 0 and not (folder / running.MARKER).exists()
    assert [e.state for e in sweep_status(requests)] == ["done", "failed"]
