"""Where dabench keeps things: DABENCH_HOME (cache, runs, index) and DABENCH_DATA (datasets)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("DABENCH_HOME") or Path.home() / ".dabench").expanduser()


def data_root() -> Path:
    return Path(os.environ.get("DABENCH_DATA") or home() / "data").expanduser()


def cache_dir(kind: str) -> Path:
    return home() / "cache" / kind


def runs_dir() -> Path:
    return home() / "runs"


def index_path() -> Path:
    return home() / "results.sqlite"
