"""--force reruns a finished run without ever losing it: the old result waits aside until the new one is
done, comes back (folder and index) when the rerun fails, and stays aside while an interrupted rerun
waits to be resumed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dabench.run import execute as runner_module
from dabench.run.execute import execute, plan_run
from dabench.store import results

TINY = ("data.target.n_train=120", "data.target.n_test=40", "data.source.n_train=120", "data.source.n_test=40",
        "source.epochs=1")


def test_a_forced_rerun_that_fails_puts_the_finished_run_back(registry, fresh_home: Path, monkeypatch) -> None:
    plan = plan_run(registry, "source_only", "synth-lab:synth-wild", sets=TINY)
    first = execute(plan, registry, device_name="cpu")
    folder = results.run_dir(plan.run_id)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(runner_module, "_execute", broken)
    with pytest.raises(RuntimeError):
        execute(plan, registry, device_name="cpu", force=True)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    assert results.read_done(folder) == first
    assert [row["run_id"] for row in results.load_results()] == [plan.run_id]
    assert not any((fresh_home / "runs.previous").iterdir())


def test_a_forced_rerun_that_finishes_replaces_the_run_and_keeps_no_copy(registry, fresh_home: Path) -> None:
    plan = plan_run(registry, "source_only", "synth-lab:synth-wild", sets=TINY)
    first = execute(plan, registry, device_name="cpu")
    again = execute(plan, registry, device_name="cpu", force=True)
    assert again["accuracy"] == first["accuracy"] and again["seconds"] != first["seconds"]
    assert results.read_done(results.run_dir(plan.run_id)) == again
    assert not any((fresh_home / "runs.previous").iterdir())


def test_an_interrupted_forced_rerun_keeps_the_old_result_aside_until_it_is_resumed(registry, fresh_home: Path,
                                                                                   monkeypatch) -> None:
    plan = plan_run(registry, "source_only", "synth-lab:synth-wild", sets=TINY)
    first = execute(plan, registry, device_name="cpu")
    real_execute = runner_module._execute

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner_module, "_execute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        execute(plan, registry, device_name="cpu", force=True)
    aside = fresh_home / "runs.previous" / plan.run_id
    assert results.read_done(aside) == first  # not lost, while the folder holds the unfinished rerun
    assert results.read_done(results.run_dir(plan.run_id)) is None
    monkeypatch.setattr(runner_module, "_execute", real_execute)
    resumed = execute(plan, registry, device_name="cpu")
    assert resumed["accuracy"] == first["accuracy"] and not aside.exists()
