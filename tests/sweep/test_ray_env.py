"""What the Ray launcher hands each task besides the run: the driver's plugin selection (which wins) and
its DABENCH_DATA / DABENCH_HOME, which a worker uses unless its machine has its own."""

from __future__ import annotations

import os

import pytest

from dabench.sweep.launchers import ray as ray_launcher


def test_path_defaults_fill_only_what_the_worker_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DABENCH_HOME", "/worker/own/home")
    monkeypatch.setenv("DABENCH_DATA", "")  # recorded here, so the variable is restored after the test
    monkeypatch.delenv("DABENCH_DATA")
    ray_launcher.apply_path_defaults({"DABENCH_HOME": "/driver/home", "DABENCH_DATA": "/driver/data"})
    assert os.environ["DABENCH_HOME"] == "/worker/own/home" and os.environ["DABENCH_DATA"] == "/driver/data"
    monkeypatch.setenv("DABENCH_DATA", "")  # set but empty counts as unset, as paths.data_root reads it
    ray_launcher.apply_path_defaults({"DABENCH_DATA": "/driver/data"})
    assert os.environ["DABENCH_DATA"] == "/driver/data"


def test_both_paths_travel_with_each_task() -> None:
    assert ray_launcher.PATH_ENV == ("DABENCH_DATA", "DABENCH_HOME")
    assert set(ray_launcher.FORWARDED_ENV) == {"DABENCH_LOAD_PLUGINS", "DABENCH_STRICT_PLUGINS"}
