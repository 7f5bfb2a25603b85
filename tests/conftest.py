"""Shared fixtures: every test runs against a temporary DABENCH_HOME; third-party plugins stay out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from dabench.host import registry as registry_module

# the real FER data the real-data tests read: $DABENCH_TEST_DATA, else ../shared/data beside the checkout
SHARED_DATA = Path(os.environ.get("DABENCH_TEST_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")

# Tests register what they need; installed third-party plugins are not auto-loaded (datasette's rule).
os.environ.setdefault("DABENCH_LOAD_PLUGINS", "")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One DABENCH_HOME for the whole session, so prepared datasets and source models are reused."""
    return tmp_path_factory.mktemp("dabench_home")


@pytest.fixture(autouse=True)
def _home(shared_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DABENCH_HOME", str(shared_home))
    return shared_home


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty DABENCH_HOME for tests that inspect what gets written."""
    home = tmp_path / "home"
    monkeypatch.setenv("DABENCH_HOME", str(home))
    return home


@pytest.fixture
def registry():
    registry_module.reset()
    yield registry_module.get_registry()
    registry_module.reset()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (real FER2013 and CK+); skips with a clear reason where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real FER data not found at {SHARED_DATA} (present in CI; absent on user machines)")
    return SHARED_DATA
