"""Run folders (``runs/<run_id>/``: config.yaml, result.json, log.txt, then ``done``) and the SQLite
index built from them, which can always be rebuilt from the folders."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from dabench import atomic, paths

DONE = "done"
RESULT = "result.json"
COLUMNS = ("run_id", "method", "pair", "seed", "protocol", "accuracy", "macro_f1", "source_accuracy",
           "seconds", "device")
SCHEMA = ("CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, method TEXT, pair TEXT, seed INTEGER, "
          "protocol TEXT, accuracy REAL, macro_f1 REAL, source_accuracy REAL, seconds REAL, device TEXT, "
          "result TEXT)")
INSERT = (f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}, result) "
          f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))})")


def _row(result: dict[str, Any]) -> list[Any]:
    return [result.get(column) for column in COLUMNS] + [json.dumps(result)]


def run_dir(run_id: str) -> Path:
    return paths.runs_dir() / run_id


def write_config(folder: Path, config: dict[str, Any]) -> None:
    atomic.write_text(folder / "config.yaml", yaml.safe_dump(config, sort_keys=True))


def finish_run(folder: Path, result: dict[str, Any], log_lines: list[str]) -> None:
    """Write result and log atomically, then the ``done`` marker holding the result's checksum."""
    atomic.write_text(folder / "log.txt", "\n".join(log_lines) + "\n")
    atomic.write_json(folder / RESULT, result)
    atomic.write_text(folder / DONE, atomic.sha256_file(folder / RESULT) + "\n")


def read_done(folder: Path) -> dict[str, Any] | None:
    """The result of a finished run, or None when the folder is not a complete, intact run."""
    marker, result_path = folder / DONE, folder / RESULT
    if not marker.exists() or not result_path.exists():
        return None
    if marker.read_text().strip() != atomic.sha256_file(result_path):
        print(f"dabench: warning: run {folder} was edited or truncated after it finished "
              "(result.json does not match its checksum); treating it as not done", file=sys.stderr)
        return None
    return json.loads(result_path.read_text())


def iter_finished(root: Path | None = None) -> Iterator[dict[str, Any]]:
    root = root or paths.runs_dir()
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if folder.is_dir():
            result = read_done(folder)
            if result is not None:
                yield result


def _connect() -> sqlite3.Connection:
    path = paths.index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=60)
    connection.execute(SCHEMA)
    return connection


def index_result(result: dict[str, Any]) -> None:
    """Insert or replace one run in the index (a run id appears at most once)."""
    with _connect() as connection:
        connection.execute(INSERT, _row(result))
    connection.close()


def rebuild_index() -> int:
    """Recreate the index from the run folders; returns the number of runs indexed."""
    path = paths.index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".rebuild")
    tmp.unlink(missing_ok=True)
    results = list(iter_finished())
    connection = sqlite3.connect(tmp)
    connection.execute(SCHEMA)
    with connection:
        connection.executemany(INSERT, [_row(result) for result in results])
    connection.close()
    tmp.replace(path)
    return len(results)


def load_results() -> list[dict[str, Any]]:
    """Every indexed run's full result (the index is rebuilt first if it is missing)."""
    if not paths.index_path().exists():
        rebuild_index()
    connection = _connect()
    rows = connection.execute("SELECT result FROM runs ORDER BY method, pair, seed").fetchall()
    connection.close()
    return [json.loads(row[0]) for row in rows]
