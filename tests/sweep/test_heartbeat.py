"""The running marker's heartbeat: a run keeps its marker fresh while it executes; a marker from another
machine that stopped beating (a lost Ray node, a SIGKILLed driver on a shared DABENCH_HOME) counts as
interrupted and is run again; a sweep that leaves runs unfinished exits 1 and says why."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from conftest import PAIR, TINY, requests_for

from dabench import cli
from dabench.errors import DabenchError
from dabench.store import results
from dabench.store import run_lock as running
from dabench.sweep.execute import run_state


def _foreign_marker(folder: Path, age: float, **fields) -> None:
    """A marker written by pid 4242 on another machine, last beating ``age`` seconds ago."""
    folder.mkdir(parents=True, exist_ok=True)
    info = {"pid": 4242, "host": "another-node", "started": "2026-01-01 00:00:00", "proc_start": 1,
            "heartbeat_seconds": 30.0, **fields}
    (folder / running.MARKER).write_text(json.dumps({k: v for k, v in info.items() if v is not None}))
    stamp = time.time() - age
    os.utime(folder / running.MARKER, (stamp, stamp))


def test_a_running_run_refreshes_its_own_marker(sweep_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(running.HEARTBEAT_ENV, "0.05")
    folder = results.run_dir("beating")
    folder.mkdir(parents=True)
    marker = folder / running.MARKER
    with running.claim(folder):
        running.write_marker(folder)
        assert json.loads(marker.read_text())["heartbeat_seconds"] == 0.05
        os.utime(marker, (time.time() - 1000, time.time() - 1000))
        time.sleep(0.5)
        assert running.heartbeat_age(folder) < 5
    assert not marker.exists()


def test_the_heartbeat_leaves_a_dead_processs_marker_alone(sweep_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between taking the lock and writing its own marker, a run must not make its dead predecessor's
    marker look alive."""
    monkeypatch.setenv(running.HEARTBEAT_ENV, "0.05")
    folder = results.run_dir("taken_over")
    _foreign_marker(folder, age=1000)
    with running.claim(folder):
        time.sleep(0.4)
        assert running.heartbeat_age(folder) > 900


def test_a_foreign_marker_is_alive_while_it_beats(sweep_home: Path) -> None:
    folder = results.run_dir("remote")
    _foreign_marker(folder, age=10)
    assert run_state(folder) == ("running", "pid 4242 on another-node since 2026-01-01 00:00:00")
    _foreign_marker(folder, age=running.STALE_BEATS * 30 - 5)  # late, but within a few beats
    assert run_state(folder)[0] == "running"
    _foreign_marker(folder, age=running.STALE_BEATS * 30 + 5)
    state, detail = run_state(folder)
    assert state == "interrupted"
    assert re.fullmatch(r"no heartbeat from pid 4242 on another-node for 12[5-9] s \(it beats every 30 s\): "
                        r"its machine or sweep was lost", detail), detail
    # the writer's own interval counts, not the reader's; a marker from before heartbeats uses the default
    _foreign_marker(folder, age=125, heartbeat_seconds=60.0)
    assert run_state(folder)[0] == "running"
    _foreign_marker(folder, age=125, heartbeat_seconds=None)
    assert run_state(folder)[0] == "interrupted"


def test_a_bad_heartbeat_setting_is_one_clear_error(sweep_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(running.HEARTBEAT_ENV, "soon")
    folder = results.run_dir("bad")
    folder.mkdir(parents=True)
    with pytest.raises(DabenchError, match="DABENCH_HEARTBEAT_SECONDS='soon': give the heartbeat interval in seconds"):
        with running.claim(folder):
            pass
    monkeypatch.setenv(running.HEARTBEAT_ENV, "30")
    with running.claim(folder):  # the failed attempt did not keep the lock
        pass


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        cli.main(args)
    return exited.value.code


def test_sweep_reruns_a_lost_nodes_run_and_exits_1_while_another_machine_runs_one(
        sweep_home: Path, registry, capsys) -> None:
    requests = requests_for(registry, ["source_only"], [0, 1])
    lost, elsewhere = (results.run_dir(request.run_id) for request in requests)
    _foreign_marker(lost, age=3600)
    _foreign_marker(elsewhere, age=1)
    args = ["sweep", "--pairs", PAIR, "--methods", "source_only", "--seeds", "0,1", "--device", "cpu",
            *[item for s in TINY for item in ("--set", s)]]
    code = _cli(args)
    captured = capsys.readouterr()
    assert "sweep: 2 runs; 0 already done, 1 to run, 1 running in another process" in captured.out
    assert code == 1 and results.read_done(lost) is not None and results.read_done(elsewhere) is None
    assert captured.err.strip().splitlines()[-1] == (
        "dabench: 1 of 2 runs not done: 1 run(s) still running in another process or on another machine "
        "(start the sweep again once they end, or see `dabench status`)")
    # the other machine dies too: the next start takes its run over and the sweep is complete
    _foreign_marker(elsewhere, age=3600)
    assert _cli(args) == 0
    assert results.read_done(elsewhere) is not None and not (elsewhere / running.MARKER).exists()
    assert "2 runs: 2 done, 0 running, 0 failed, 0 interrupted, 0 pending" in capsys.readouterr().out
