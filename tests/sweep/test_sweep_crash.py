"""Crash safety: a sweep killed with SIGKILL part-way and started again ends with every run done once
in the index; two processes needing one source model (or SSL backbone) at once train it once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import PAIR, TINY, requests_for

from dabench.store import results
from dabench.store import run_lock as running
from dabench.sweep.execute import sweep_status

HERE = Path(__file__).parent


def _wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the sweep ended (rc {process.returncode}) before {what}:\n{process.stdout.read()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_sigkilled_sweep_restarts_and_finishes_each_run_once(sweep_home: Path, test_plugin) -> None:
    sets = [item for s in (*TINY, "ticks=30", "tick_seconds=0.2") for item in ("--set", s)]
    command = [sys.executable, "-m", "dabench", "sweep", "--pairs", PAIR, "--methods", "source_only,ticker",
               "--seeds", "0", "--device", "cpu", *sets]
    requests = requests_for(test_plugin, ["source_only", "ticker"], [0], sets=(*TINY, "ticks=30", "tick_seconds=0.2"))
    first, slow = (results.run_dir(r.run_id) for r in requests)
    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # kill once source_only is done and the ticker is running with a few epochs checkpointed
    _wait_for(lambda: (first / "done").exists(), sweep, "the first run finished")
    _wait_for(lambda: (slow / running.MARKER).exists() and (slow / "checkpoint.pt").exists(), sweep,
              "the second run was running and checkpointed")
    time.sleep(0.5)
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait()
    assert [e.state for e in sweep_status(requests)] == ["done", "interrupted"]
    assert not (slow / "done").exists() and not (slow / "result.json").exists()

    restarted = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "sweep: 2 runs; 1 already done, 1 to run" in restarted.stdout
    assert "2 runs: 2 done, 0 running, 0 failed, 0 interrupted, 0 pending" in restarted.stdout
    resumed = results.read_done(slow)
    assert resumed["method_records"]["first_epoch_in_this_process"] > 0  # resumed, not started over
    assert "resumed from the checkpoint of epoch" in (slow / "log.txt").read_text()
    assert not (slow / "checkpoint.pt").exists() and not (slow / running.MARKER).exists()
    rows = sqlite3.connect(sweep_home / "results.sqlite").execute("SELECT run_id, result FROM runs").fetchall()
    assert sorted(row[0] for row in rows) == sorted(r.run_id for r in requests)
    for run_id, stored in rows:
        assert json.loads(stored) == results.read_done(results.run_dir(run_id))
    # a third start finds nothing to do and leaves the index as it is
    third = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert third.returncode == 0 and "sweep: 2 runs; 2 already done, 0 to run" in third.stdout
    assert sqlite3.connect(sweep_home / "results.sqlite").execute("SELECT COUNT(*) FROM runs").fetchone() == (2,)


def test_two_processes_needing_one_artifact_build_it_once(fresh_home: Path, tmp_path: Path) -> None:
    log, go = tmp_path / "trainings.log", tmp_path / "go"
    command = [sys.executable, str(HERE / "build_artifact.py"), str(log), str(go)]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    go.touch()  # both ask for the source model at the same moment, then for the SSL backbone
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), [err for _, err in outputs]
    checksums = [out.split() for out, _ in outputs]
    assert checksums[0] == checksums[1] and [len(sha) for sha in checksums[0]] == [64, 64]
    trained = sorted(line.split()[0] for line in log.read_text().splitlines())
    assert trained == ["source", "ssl"]  # each trained by one process and loaded by the other
