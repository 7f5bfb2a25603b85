"""The SQLite index of the finished runs (``results.sqlite``): its tables, opening it (never leaving an empty
file behind), its rows, dropping a run from it, and telling "cannot be written here" (a read-only home, a
full disk) from "damaged". Keeping it in step with the run folders is ``dabench.store.results``' job."""

from __future__ import annotations

import errno
import json
import sqlite3
from pathlib import Path
from typing import Any

from dabench.store import atomic, paths

COLUMNS = ("run_id", "method", "pair", "seed", "protocol", "accuracy", "macro_f1", "source_accuracy",
           "seconds", "device")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, method TEXT, pair TEXT, seed INTEGER, "
    "protocol TEXT, accuracy REAL, macro_f1 REAL, source_accuracy REAL, seconds REAL, device TEXT, result TEXT)",
    # every folder with a done marker as the index last saw it: a cheap stat() stamp of its files, so a
    # report notices a folder added, removed or edited without reading or hashing every run
    "CREATE TABLE IF NOT EXISTS folders (run_id TEXT PRIMARY KEY, stamp TEXT, intact INTEGER)",
)
INSERT = (f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}, result) "
          f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))})")


def open_index(path: Path) -> sqlite3.Connection:
    """The index, made with its tables if new; an index this call made and could not finish (a full disk)
    is removed again, so that no empty file is left to be taken for an index."""
    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=60)
    try:
        for statement in SCHEMA:
            connection.execute(statement)
    except sqlite3.Error:
        connection.close()
        if not existed:
            remove_index_file(path)
        raise
    return connection


def remove_index_file(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + "-journal")):
        leftover.unlink(missing_ok=True)


# SQLite's primary result codes that mean "this index cannot be written here" (not "it is damaged")
UNWRITABLE_CODES = {3: "permission denied", 8: "read-only", 13: "no space left", 14: "cannot be opened for writing"}


class IndexUnwritable(Exception):
    """The index cannot be brought up to date here (a read-only home, a full disk); ``why`` says which."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def unwritable(exc: BaseException) -> str | None:
    if atomic.is_no_space(exc):
        return f"no space left in {paths.home()}"
    if isinstance(exc, sqlite3.Error):
        return UNWRITABLE_CODES.get((getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF)
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, *atomic.NO_SPACE_ERRNOS):
        return exc.strerror or str(exc)
    return None


def index_room(result: dict[str, Any]) -> int:
    """About what indexing ``result`` adds: its JSON twice (row and journal) and a few pages."""
    return 2 * len(json.dumps(result)) + 16_384


def index_row(run_id: str, result: dict[str, Any]) -> list[Any]:
    """The index row of a result, keyed by its folder's run id (the same as result["run_id"] for runs
    dabench wrote), so that a vanished folder's row can be found and removed."""
    return [run_id] + [result.get(column) for column in COLUMNS[1:]] + [json.dumps(result)]


def forget(run_id: str) -> None:
    """Remove a run from the index (a folder reset for a rerun); nothing to do without an index."""
    path = paths.index_path()
    if not path.exists():
        return
    with atomic.space_checked(paths.home(), 16_384):
        connection = open_index(path)
        try:
            with connection:
                connection.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
                connection.execute("DELETE FROM folders WHERE run_id = ?", (run_id,))
        finally:
            connection.close()


def index_rows(connection: sqlite3.Connection) -> list[tuple[str, str | None]]:
    return connection.execute("SELECT runs.result, folders.stamp FROM runs LEFT JOIN folders USING (run_id) "
                              "ORDER BY runs.method, runs.pair, runs.seed").fetchall()


def rows_if_current(path: Path, stamps: dict[str, str]) -> list[tuple[str, str | None]] | None:
    """The index's rows, opened read-only, when it has seen exactly the run folders ``stamps`` describes
    (nothing to reconcile); None when it is missing, unreadable or out of date."""
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
        try:
            seen = dict(connection.execute("SELECT run_id, stamp FROM folders").fetchall())
            indexed = {row[0] for row in connection.execute("SELECT run_id FROM runs")}
            return index_rows(connection) if seen == stamps and indexed <= set(stamps) else None
        finally:
            connection.close()
    except sqlite3.Error:
        return None
