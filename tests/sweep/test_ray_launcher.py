"""The Ray launcher on a local Ray instance (2 CPUs): tiny synthetic runs as Ray tasks, one failing on
purpose; the workers write their own DABENCH_HOME (as a remote machine would) and the driver writes and
indexes every result in its own, so the index is right whether or not the home is shared."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import PAIR, requests_for

from dabench.store import results
from dabench.store import run_lock as running
from dabench.sweep.execute import run_sweep

ray = pytest.importorskip("ray", reason="the Ray launcher needs the optional extra: pip install 'dabench[ray]'")


@pytest.fixture
def local_ray(tmp_path: Path, shared_home: Path):
    """Ray workers inherit this process's environment (the test plugin on PYTHONPATH) but get their own home."""
    worker_home = tmp_path / "worker_home"
    worker_home.mkdir()
    (worker_home / "cache").symlink_to(shared_home / "cache")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"DABENCH_HOME": str(worker_home), "OMP_NUM_THREADS": "1"}})
    yield worker_home
    ray.shutdown()


def test_ray_sweep_with_a_failing_run(sweep_home: Path, test_plugin, local_ray: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    requests = requests_for(test_plugin, ["source_only"], [0, 1]) + requests_for(test_plugin, ["always_fails"], [0])
    # a dataset missing from the driver's DABENCH_DATA, set after Ray started: the workers did not inherit
    # it, so the error naming that folder shows that the task received it
    monkeypatch.setenv("DABENCH_DATA", str(tmp_path / "driver_data"))
    requests += requests_for(test_plugin, ["source_only"], [0], ("synth-lab:fer2013",),
                             ("data.source.n_train=200", "data.source.n_test=100", "source.epochs=1"))
    lines: list[str] = []
    summary = run_sweep(requests, launcher="ray", device="cpu", echo=lines.append)
    assert summary.exit_code == 1 and sorted(summary.failed_now) == [f"always_fails {PAIR} seed 0",
                                                                     "source_only synth-lab:fer2013 seed 0"]
    assert [e.state for e in summary.entries] == ["done", "done", "failed", "failed"]
    assert summary.entries[2].detail.startswith("dabench.errors.PluginError: method 'always_fails' raised "
                                                "RuntimeError: deliberate failure (dabench sweep tests) (at ")
    assert summary.entries[3].detail.endswith(f"folder not found in {tmp_path / 'driver_data' / 'fer2013'}.")
    for request in requests[:2]:
        here = results.read_done(results.run_dir(request.run_id))  # written by the driver from the task's result
        there = results.read_done(local_ray / "runs" / request.run_id)  # written by the Ray worker
        assert here == there and here["accuracy"] >= 0
    failed = results.run_dir(requests[2].run_id)
    assert "deliberate failure" in (failed / running.ERROR).read_text()
    rows = sqlite3.connect(sweep_home / "results.sqlite").execute("SELECT run_id FROM runs ORDER BY seed").fetchall()
    assert [row[0] for row in rows] == [r.run_id for r in requests[:2]]
    # the rerun finds the finished runs in the driver's home and skips the failed one
    lines.clear()
    again = run_sweep(requests, launcher="ray", device="cpu", echo=lines.append)
    assert lines[0].startswith("sweep: 4 runs; 2 already done, 0 to run, 2 failed before") and again.ran == 0
