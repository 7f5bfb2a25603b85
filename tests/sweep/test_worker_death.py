"""The local launcher when a worker process dies: the pool breaks and every run in flight loses its
outcome, but only the run that killed its worker is marked failed; the healthy ones are run again (and
resume from their checkpoints), and the rest of the sweep goes on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import PAIR, TINY, requests_for

from dabench.store import results
from dabench.store import run_lock as running
from dabench.sweep.execute import run_sweep


def test_a_run_that_kills_its_worker_fails_alone(sweep_home: Path, test_plugin, capsys) -> None:
    # the ticker starts ticking once the killer has checkpointed, and the killer dies once the ticker has:
    # the ticker is mid-run when its pool breaks, however slowly either spawned worker got going
    healthy_in_flight = requests_for(test_plugin, ["ticker"], [0],
                                     sets=(*TINY, "ticks=12", "tick_seconds=0.25", "wait_for=kills_worker"))
    killer = requests_for(test_plugin, ["kills_worker"], [0])
    queued = requests_for(test_plugin, ["source_only"], [0])
    requests = healthy_in_flight + killer + queued  # two workers: the ticker and the killer start together
    lines: list[str] = []
    summary = run_sweep(requests, launcher="local", workers=2, device="cpu", echo=lines.append)
    assert [entry.state for entry in summary.entries] == ["done", "failed", "done"], lines
    assert summary.failed_now == [f"kills_worker {PAIR} seed 0"] and summary.exit_code == 1
    assert summary.entries[1].detail.startswith("its worker process died while it ran alone")
    assert "a worker process died with 2 run(s) in flight; running each of them again alone" in capsys.readouterr().err
    ticker = results.read_done(results.run_dir(healthy_in_flight[0].run_id))
    # the ticker was in flight when the pool broke (its worker was stopped after an epoch), and resumed
    assert ticker["method_records"]["first_epoch_in_this_process"] > 0
    assert "resumed from the checkpoint of epoch" in (results.run_dir(ticker["run_id"]) / "log.txt").read_text()
    assert not (results.run_dir(killer[0].run_id) / "done").exists()
    assert "died while it ran alone" in (results.run_dir(killer[0].run_id) / running.ERROR).read_text()
    rows = sqlite3.connect(sweep_home / "results.sqlite").execute("SELECT run_id FROM runs").fetchall()
    assert sorted(row[0] for row in rows) == sorted([healthy_in_flight[0].run_id, queued[0].run_id])
