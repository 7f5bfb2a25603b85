"""The example third-party package (examples/dabench-example-plugin), installed as a user would:
`dabench plugins` lists it and `dabench run` runs its method, in a subprocess with entry points on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

import pytest

SMALL = ("--set", "data.source.n_train=300", "--set", "data.source.n_test=100", "--set", "data.target.n_train=300",
         "--set", "data.target.n_test=200", "--set", "source.epochs=2", "--set", "epochs=2")

try:
    metadata.distribution("dabench-example-plugin")
    INSTALLED = True
except metadata.PackageNotFoundError:
    INSTALLED = False

pytestmark = pytest.mark.skipif(not INSTALLED, reason="dabench-example-plugin is not installed; "
                                "run `pip install -e examples/dabench-example-plugin` (CI does)")


def dabench(*args: str) -> subprocess.CompletedProcess:
    """The CLI with third-party entry points ON (conftest turns them off for this test process)."""
    env = dict(os.environ)
    env.pop("DABENCH_LOAD_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "dabench", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_plugins_lists_the_example() -> None:
    out = dabench("plugins")
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith("example "))
    assert "dabench-example-plugin" in line and " ok " in line
    assert "method confident_entmin" in line and "dataset example_faces" in line


def test_run_the_example_method() -> None:
    out = dabench("run", "--method", "confident_entmin", "--pair", "synth-lab:synth-wild", "--device", "cpu",
                  "--json", *SMALL)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout.strip().splitlines()[-1])
    assert record["method"] == "confident_entmin" and 0.0 <= record["accuracy"] <= 1.0
    assert record["oracle_accuracy"] is not None  # it reported two epochs to the runner


def test_example_method_is_off_under_pytest() -> None:
    """Inside this test process (DABENCH_LOAD_PLUGINS=""), third-party plugins do not load."""
    from dabench.host import registry

    registry.reset()
    try:
        assert "confident_entmin" not in registry.get_registry().methods
    finally:
        registry.reset()
