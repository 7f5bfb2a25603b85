"""The hyperparameter searches a sweep ran (``sweep --grid/--random``): one small file per search under
``$DABENCH_HOME/sweeps/searches/`` naming its runs, so that `report search` lists them and no other run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dabench.store import atomic, paths


def record_search(run_ids: list[str]) -> Path:
    """Remember that these runs are the points of one hyperparameter search (sweep --grid/--random), so that
    `report search` lists them and no other run; the file is named by its content, so a resumed sweep
    rewrites the same one."""
    ids = sorted(set(run_ids))
    path = paths.searches_dir() / f"{atomic.sha256_json(ids)[:16]}.json"
    if not path.exists():
        atomic.write_json(path, {"run_ids": ids})
    return path


def search_run_ids() -> set[str]:
    """Every run id any recorded search holds (an unreadable record is named on stderr and skipped)."""
    ids: set[str] = set()
    folder = paths.searches_dir()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            listed = json.loads(path.read_text())["run_ids"]
            ids.update(str(run_id) for run_id in listed)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"dabench: warning: search record {path} is unreadable ({type(exc).__name__}); skipped",
                  file=sys.stderr)
    return ids
