"""Sweep test fixtures: a fresh DABENCH_HOME per test that shares the session's cache (source models
are trained once), and the test-only plugin (failing and slow methods) visible to worker processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from dabench.host import registry as registry_module
from dabench.sweep.execute import RunRequest, plan_sweep

PLUGIN_DIR = Path(__file__).parent / "plugin_src"
PAIR = "synth-lab:synth-wild"
TINY = ("data.source.n_train=200", "data.source.n_test=100", "data.target.n_train=150",
        "data.target.n_test=100", "source.epochs=1")


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch):
    """One torch thread here and in child processes: these runs are tiny, and two spinning OpenMP
    threads per process slow a shared 2-core machine down many times over."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def sweep_home(tmp_path: Path, shared_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (shared_home / "cache").mkdir(exist_ok=True)
    (home / "cache").symlink_to(shared_home / "cache")
    monkeypatch.setenv("DABENCH_HOME", str(home))
    return home


@pytest.fixture
def test_plugin(monkeypatch: pytest.MonkeyPatch):
    """The registry with the `sweep_test` plugin loaded as a third-party plugin; child processes inherit it."""
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGIN_DIR), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("DABENCH_LOAD_PLUGINS", "sweep_test")
    registry_module.reset()
    yield registry_module.get_registry()
    registry_module.reset()


def requests_for(registry, methods: list[str], seeds: list[int], pairs: tuple[str, ...] = (PAIR,),
                 sets: tuple[str, ...] = TINY) -> list[RunRequest]:
    return [request for _, request in plan_sweep(registry, methods, list(pairs), seeds, sets=sets)]
