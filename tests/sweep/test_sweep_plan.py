"""Sweep expansion (bad names all at once, per-method --set), run states and `dabench status`, and a
hand-edited result detected by its checksum and run again."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import PAIR, TINY, requests_for

from dabench import cli
from dabench.errors import DabenchError
from dabench.run import execute as runner
from dabench.run.execute import execute, plan_run
from dabench.store import results
from dabench.store import run_lock as running
from dabench.sweep import execute as sweep_module
from dabench.sweep.execute import parse_seeds, plan_sweep, run_state, run_sweep, sweep_status


def test_every_bad_name_is_listed_before_anything_runs(sweep_home: Path, registry, capsys) -> None:
    with pytest.raises(DabenchError) as caught:
        plan_sweep(registry, ["source_only", "nope", "zzz"], [PAIR, "foo:synth-wild", "synth-lab"], [0])
    message = str(caught.value)
    assert message.startswith("the sweep names 4 unknown or invalid item(s): method 'nope'; method 'zzz'; "
                              "pair 'foo:synth-wild' (unknown dataset 'foo'; valid datasets: ")
    assert "pair 'synth-lab' (bad pair 'synth-lab': write it as SOURCE:TARGET" in message
    assert "Nothing was run; valid methods: " in message and "source_only" in message.split("valid methods:")[1]
    with pytest.raises(SystemExit) as exited:
        cli.main(["sweep", "--pairs", f"{PAIR},foo:bar", "--methods", "nope,source_only", "--seeds", "0"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "method 'nope'" in err and "pair 'foo:bar'" in err and "Traceback" not in err
    assert not (sweep_home / "runs").exists()


def test_a_method_key_applies_only_to_methods_that_have_it(registry) -> None:
    planned = plan_sweep(registry, ["source_only", "target_oracle"], [PAIR], [0, 1], sets=(*TINY, "epochs=2"))
    configs = {(plan.method.id, plan.seed): plan.config for plan, _ in planned}
    assert len(configs) == 4 and configs[("target_oracle", 1)]["epochs"] == 2
    assert "epochs" not in configs[("source_only", 0)] and configs[("source_only", 0)]["source"]["epochs"] == 1
    with pytest.raises(DabenchError, match="--set bogus=1: no method of this sweep has that key, nor is it a run "
                                           "setting; run settings: amp, backbone"):
        plan_sweep(registry, ["source_only"], [PAIR], [0], sets=("bogus=1",))


def test_parse_seeds() -> None:
    assert parse_seeds("0,1,2") == [0, 1, 2] and parse_seeds("0-3,7,2") == [0, 1, 2, 3, 7]
    with pytest.raises(DabenchError, match="--seeds 'a': write seeds as 0,1,2 or 0-4"):
        parse_seeds("a")


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_status_counts_every_state(sweep_home: Path, registry, capsys) -> None:
    requests = requests_for(registry, ["source_only"], [0, 1, 2, 3, 4])
    run_sweep(requests[:1], echo=lambda line: None)  # seed 0 really runs
    failed, stale, live = (results.run_dir(r.run_id) for r in requests[1:4])
    failed.mkdir(parents=True)
    (failed / running.ERROR).write_text("Traceback (most recent call last):\n  ...\nValueError: bad thing\n")
    stale.mkdir(parents=True)
    running.write_marker(stale)
    marker = json.loads((stale / running.MARKER).read_text())
    (stale / running.MARKER).write_text(json.dumps({**marker, "pid": _dead_pid(), "proc_start": None}))
    live.mkdir(parents=True)
    running.write_marker(live)  # this very process
    states = [(entry.state, entry.detail) for entry in sweep_status(requests)]
    assert [state for state, _ in states] == ["done", "failed", "interrupted", "running", "pending"]
    assert states[1][1] == "ValueError: bad thing" and "is gone" in states[2][1]
    code = _cli(["status", "--pairs", PAIR, "--methods", "source_only", "--seeds", "0-4", *_sets()])
    out = capsys.readouterr().out
    assert code == 0 and "5 runs: 1 done, 1 running, 1 failed, 1 interrupted, 1 pending" in out
    assert f"source_only {PAIR} seed 1 (run {requests[1].run_id}): ValueError: bad thing" in out
    code = _cli(["sweep", "--pairs", PAIR, "--methods", "source_only", "--seeds", "0-4", *_sets(), "--dry-run"])
    assert code == 0 and "dry run, nothing started:\n5 runs: 1 done, 1 running" in capsys.readouterr().out
    assert run_state(results.run_dir(requests[4].run_id)) == ("pending", "")


def _sets() -> list[str]:
    return [item for s in TINY for item in ("--set", s)]


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        cli.main(args)
    return exited.value.code


def test_hand_edited_result_is_detected_and_run_again(sweep_home: Path, registry, capsys) -> None:
    requests = requests_for(registry, ["source_only"], [0])
    run_sweep(requests, echo=lambda line: None)
    folder = results.run_dir(requests[0].run_id)
    original = json.loads((folder / "result.json").read_text())
    edited = dict(original, accuracy=0.99)
    (folder / "result.json").write_text(json.dumps(edited))
    lines: list[str] = []
    summary = run_sweep(requests, echo=lines.append)
    err = capsys.readouterr().err
    assert f"warning: run {folder} was edited or truncated after it finished" in err
    assert err.count("was edited or truncated") == 1
    assert lines[0] == "sweep: 1 runs; 0 already done, 1 to run" and summary.exit_code == 0
    again = json.loads((folder / "result.json").read_text())
    assert again["accuracy"] == original["accuracy"] and results.read_done(folder) is not None
    rows = sqlite3.connect(sweep_home / "results.sqlite").execute("SELECT run_id, accuracy FROM runs").fetchall()
    assert rows == [(requests[0].run_id, original["accuracy"])]



def test_a_run_finished_by_a_concurrent_sweep_keeps_its_done_marker(sweep_home: Path, registry,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Another sweep finishes a run between this sweep's look at the folders and its launch: its done
    marker stays and the run is not executed again (execute re-checks under the run's lock)."""
    requests = requests_for(registry, ["source_only"], [0])
    real_status = sweep_module.sweep_status

    def finished_meanwhile(reqs):
        entries = real_status(reqs)  # what this sweep sees: the run is pending ...
        execute(plan_run(registry, "source_only", PAIR, 0, sets=TINY), registry, "cpu")  # ... and then is done
        monkeypatch.setattr(sweep_module, "sweep_status", real_status)
        monkeypatch.setattr(runner, "_execute", lambda *a, **k: pytest.fail("the finished run was executed again"))
        return entries

    monkeypatch.setattr(sweep_module, "sweep_status", finished_meanwhile)
    summary = run_sweep(requests, echo=lambda line: None)
    assert summary.ran == 1 and summary.exit_code == 0
    assert results.read_done(results.run_dir(requests[0].run_id)) is not None
