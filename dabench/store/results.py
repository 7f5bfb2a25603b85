"""Run folders (``runs/<run_id>/``: config.yaml, result.json, log.txt, then ``done`` holding every file's
checksum) and the SQLite index built from them, which follows the folders and can always be rebuilt."""

from __future__ import annotations

import errno
import json
import re
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from dabench.errors import DabenchError
from dabench.store import atomic, paths

DONE = "done"
CONFIG = "config.yaml"
RESULT = "result.json"
LOG = "log.txt"
RUN_FILES = (CONFIG, RESULT, LOG)  # what a finished run holds; the done marker checksums each of them
DONE_FORMAT = 2
_LEGACY_DONE = re.compile(r"[0-9a-f]{64}")  # format 1: result.json's sha256 alone

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
_warned: set[tuple[str, str]] = set()


def run_id_of(config: dict[str, Any]) -> str:
    """The run id of a resolved config (the runner's ``RunPlan.run_id``)."""
    return atomic.sha256_json(config)[:16]


def run_dir(run_id: str) -> Path:
    return paths.runs_dir() / run_id


def close_history(history: list[dict[str, Any]], final: dict[str, Any]) -> list[dict[str, Any]]:
    """``history`` (appended to in place, and returned) ending with the model the run scored. ``final``:
    that model's ``accuracy``, ``macro_f1`` and ``validators``. When they differ from the last epoch's, the
    model changed after the method's last ``ctx.end_epoch`` (tent's final BatchNorm statistics): it
    becomes the last entry, marked ``"final": true``, so that the oracle and every validator choose
    among all the states scored, the one reported included. A run without epochs keeps no history."""
    if history and {key: history[-1].get(key) for key in final} != final:
        history.append({"epoch": history[-1]["epoch"], "final": True, **final})
    return history


def finished_at(folder: Path, result: dict[str, Any]) -> str:
    """When a finished run finished, ``2026-12-01 23:40 UTC``: from its result, else (a run made before
    results recorded it) from its done marker's mtime."""
    when = result.get("finished_at")
    moment = (datetime.fromisoformat(when) if isinstance(when, str)
              else datetime.fromtimestamp((folder / DONE).stat().st_mtime, UTC))
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def write_config(folder: Path, config: dict[str, Any]) -> None:
    """Write a run's config.yaml. The folder is (re)starting, so it leaves the index until it is done
    again: a forced rerun that fails must not leave the old result in the reports."""
    atomic.write_text(folder / CONFIG, yaml.safe_dump(config, sort_keys=True))
    forget(folder.name)


def finish_run(folder: Path, result: dict[str, Any], log_lines: list[str]) -> None:
    """Write log (unless the run's live log already holds it) and result atomically, then the ``done``
    marker holding the checksum of every run file."""
    if not (folder / LOG).exists():
        atomic.write_text(folder / LOG, "\n".join(log_lines) + "\n")
    atomic.write_json(folder / RESULT, result)
    atomic.write_json(folder / DONE, {"format": DONE_FORMAT, "run_id": folder.name,
                                      "sha256": {name: atomic.sha256_file(folder / name) for name in RUN_FILES}})


def read_done(folder: Path) -> dict[str, Any] | None:
    """The result of a finished, intact run; None when the folder has no ``done`` marker, or has one but
    a file is missing, edited or truncated, or its config does not hash to the folder's name (a warning
    naming the folder goes to stderr, once per process and problem)."""
    try:
        marker = (folder / DONE).read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return _not_intact(folder, f"its done marker is unreadable ({exc.strerror})")
    expected = _expected_checksums(marker)
    if expected is None:
        return _not_intact(folder, "its done marker is not one dabench writes")
    for name, digest in ((name, expected[name]) for name in RUN_FILES if name in expected):
        try:
            actual = atomic.sha256_file(folder / name)
        except FileNotFoundError:
            return _not_intact(folder, f"{name} is missing")
        except OSError as exc:
            return _not_intact(folder, f"{name} is unreadable ({exc.strerror})")
        if actual != digest:
            return _not_intact(folder, f"{name} does not match its checksum")
    try:
        config = yaml.safe_load((folder / CONFIG).read_text())
        result = json.loads((folder / RESULT).read_text())
    except FileNotFoundError as exc:
        return _not_intact(folder, f"{Path(exc.filename).name} is missing")
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return _not_intact(folder, f"a run file is unreadable ({type(exc).__name__})")
    if not isinstance(config, dict) or run_id_of(config) != folder.name:
        # a folder copied or renamed by hand: its id no longer names its config, so a sweep would
        # skip the run it names and report this one under the wrong settings
        return _not_intact(folder, f"config.yaml does not hash to the folder's run id {folder.name}")
    if not isinstance(result, dict):
        return _not_intact(folder, "result.json holds no result")
    return result


def _expected_checksums(marker: str) -> dict[str, str] | None:
    """{file name: sha256} from a done marker, or None when it is not one dabench writes. A format-1 marker
    (result.json's checksum alone, written before every file was checksummed) is still read."""
    text = marker.strip()
    if _LEGACY_DONE.fullmatch(text):
        return {RESULT: text}
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or parsed.get("format") != DONE_FORMAT:
        return None
    checksums = parsed.get("sha256")
    if not isinstance(checksums, dict) or not set(RUN_FILES) <= set(checksums):
        return None
    return {str(name): str(digest) for name, digest in checksums.items()}


def _not_intact(folder: Path, why: str) -> None:
    if (str(folder), why) not in _warned:  # a sweep reads each folder several times; say it once
        _warned.add((str(folder), why))
        print(f"dabench: warning: run {folder} was edited or truncated after it finished ({why}); "
              "treating it as not done", file=sys.stderr)
    return None


def _run_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [folder for folder in sorted(root.iterdir()) if folder.is_dir() and not folder.name.startswith(".")]


# ---- the index ------------------------------------------------------------------------------------
def _stamp(folder: Path) -> str | None:
    """What the index remembers of a finished folder: inode, size and mtime of the done marker and of each
    run file (any edit, replacement or deletion changes it); None when there is no done marker."""
    parts = []
    for name in (DONE, *RUN_FILES):
        try:
            stat = (folder / name).stat()
        except FileNotFoundError:
            if name == DONE:
                return None
            parts.append(f"{name}:missing")
            continue
        parts.append(f"{name}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts)


def _open(path: Path) -> sqlite3.Connection:
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
            _remove_index_file(path)
        raise
    return connection


def _remove_index_file(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + "-journal")):
        leftover.unlink(missing_ok=True)


# SQLite's primary result codes that mean "this index cannot be written here" (not "it is damaged")
_UNWRITABLE_CODES = {3: "permission denied", 8: "read-only", 13: "no space left", 14: "cannot be opened for writing"}


class IndexUnwritable(Exception):
    """The index cannot be brought up to date here (a read-only home, a full disk); ``why`` says which."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _unwritable(exc: BaseException) -> str | None:
    if atomic.is_no_space(exc):
        return f"no space left in {paths.home()}"
    if isinstance(exc, sqlite3.Error):
        return _UNWRITABLE_CODES.get((getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF)
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, *atomic.NO_SPACE_ERRNOS):
        return exc.strerror or str(exc)
    return None


def _index_room(result: dict[str, Any]) -> int:
    """About what indexing ``result`` adds: its JSON twice (row and journal) and a few pages."""
    return 2 * len(json.dumps(result)) + 16_384


def _row(run_id: str, result: dict[str, Any]) -> list[Any]:
    """The index row of a result, keyed by its folder's run id (the same as result["run_id"] for runs
    dabench wrote), so that a vanished folder's row can be found and removed."""
    return [run_id] + [result.get(column) for column in COLUMNS[1:]] + [json.dumps(result)]


def index_result(result: dict[str, Any]) -> None:
    """Insert or replace one just-finished run in the index (a run id appears at most once)."""
    folder = run_dir(result["run_id"])
    try:
        with atomic.space_checked(paths.home(), _index_room(result)):
            connection = _open(paths.index_path())
            try:
                with connection:
                    connection.execute(INSERT, _row(folder.name, result))
                    stamp = _stamp(folder)
                    if stamp is not None:
                        connection.execute("INSERT OR REPLACE INTO folders VALUES (?, ?, 1)", (folder.name, stamp))
            finally:
                connection.close()
    except DabenchError as exc:  # the run itself is saved; the index is a cache the next report brings up to date
        print(f"dabench: warning: run {folder.name} is finished and saved in {folder}, but the index could not "
              f"take it ({exc})", file=sys.stderr)


def forget(run_id: str) -> None:
    """Remove a run from the index (a folder reset for a rerun); nothing to do without an index."""
    path = paths.index_path()
    if not path.exists():
        return
    with atomic.space_checked(paths.home(), 16_384):
        connection = _open(path)
        try:
            with connection:
                connection.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
                connection.execute("DELETE FROM folders WHERE run_id = ?", (run_id,))
        finally:
            connection.close()


def _reconcile(connection: sqlite3.Connection, root: Path) -> int:
    """Bring the index in line with the folders under ``root``: rows of folders gone or no longer done
    leave, folders new or changed since last seen are verified (read_done) and indexed if intact.
    Returns how many folders it had to look at again."""
    stamps = {folder.name: stamp for folder in _run_folders(root) if (stamp := _stamp(folder)) is not None}
    with connection:
        connection.execute("BEGIN IMMEDIATE")  # two reports reconciling at once: one after the other
        seen = dict(connection.execute("SELECT run_id, stamp FROM folders").fetchall())
        indexed = {row[0] for row in connection.execute("SELECT run_id FROM runs")}
        gone = (set(seen) | indexed) - set(stamps)
        changed = [run_id for run_id, stamp in stamps.items() if seen.get(run_id) != stamp]
        for run_id in gone:
            connection.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            connection.execute("DELETE FROM folders WHERE run_id = ?", (run_id,))
        for run_id in changed:
            result = read_done(root / run_id)
            if result is None:
                connection.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            else:
                connection.execute(INSERT, _row(run_id, result))
            # remembered even when broken, so that a broken folder is warned about when it changes, not on
            # every report; the stamp is the one taken before read_done, so an edit racing it is seen next time
            connection.execute("INSERT OR REPLACE INTO folders VALUES (?, ?, ?)",
                               (run_id, stamps[run_id], int(result is not None)))
    return len(gone) + len(changed)


def reconcile_index() -> int:
    """Update results.sqlite from runs/ where they differ (rebuilt from scratch if it is unreadable);
    :class:`IndexUnwritable` when it cannot be written here (a read-only home, a full disk)."""
    try:
        connection = _open(paths.index_path())
        try:
            return _reconcile(connection, paths.runs_dir())
        finally:
            connection.close()
    except (sqlite3.Error, OSError) as exc:
        why = _unwritable(exc)
        if why is not None:
            raise IndexUnwritable(why) from exc
        if not isinstance(exc, sqlite3.DatabaseError):
            raise
        print(f"dabench: warning: {paths.index_path()} is unreadable ({exc}); rebuilding it from "
              f"{paths.runs_dir()}", file=sys.stderr)
        return rebuild_index()


def rebuild_index() -> int:
    """Recreate the index from the run folders (written aside, then renamed over the old one); returns
    the number of finished runs indexed."""
    path = paths.index_path()
    tmp = path.with_name(path.name + ".rebuild")
    tmp.unlink(missing_ok=True)
    try:
        with atomic.space_checked(paths.home(), lambda: _runs_json_size(paths.runs_dir())):
            connection = _open(tmp)
            try:
                _reconcile(connection, paths.runs_dir())
                count = connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            finally:
                connection.close()
    except BaseException:
        _remove_index_file(tmp)
        raise
    tmp.replace(path)
    return count


def _runs_json_size(root: Path) -> int:
    """About the room an index of every run under ``root`` takes: their result.json sizes, twice."""
    return 2 * sum((folder / RESULT).stat().st_size for folder in _run_folders(root) if (folder / RESULT).exists())


def load_results() -> list[dict[str, Any]]:
    """Every finished, intact run's full result, from the index once it matches the run folders (a run made
    before results recorded ``finished_at`` gets its done marker's mtime as that).

    A home that cannot be written (a read-only archive of someone's runs, a full disk) is read without
    writing: from its index if that matches the folders, else from the folders themselves (slower: each is
    verified), with one note on stderr saying so."""
    try:
        reconcile_index()
        connection = _open(paths.index_path())
        try:
            rows = _index_rows(connection)
        finally:
            connection.close()
    except IndexUnwritable as exc:
        rows = _current_index_rows_read_only()
        if rows is None:
            return _read_folders(exc.why)
    records = []
    for text, stamp in rows:
        record = json.loads(text)
        if "finished_at" not in record and stamp:  # made before results recorded it: the done marker's mtime
            mtime_ns = int(stamp.split(";")[0].split(":")[-1])
            record["finished_at"] = datetime.fromtimestamp(mtime_ns / 1e9, UTC).isoformat(timespec="seconds")
        records.append(record)
    return records


def _index_rows(connection: sqlite3.Connection) -> list[tuple[str, str | None]]:
    return connection.execute("SELECT runs.result, folders.stamp FROM runs LEFT JOIN folders USING (run_id) "
                              "ORDER BY runs.method, runs.pair, runs.seed").fetchall()


def _current_index_rows_read_only() -> list[tuple[str, str | None]] | None:
    """The index's rows, opened read-only, when it matches every run folder (nothing to reconcile); None when
    it is missing, unreadable or out of date."""
    path = paths.index_path()
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
        try:
            seen = dict(connection.execute("SELECT run_id, stamp FROM folders").fetchall())
            stamps = {f.name: stamp for f in _run_folders(paths.runs_dir()) if (stamp := _stamp(f)) is not None}
            indexed = {row[0] for row in connection.execute("SELECT run_id FROM runs")}
            if seen != stamps or not indexed <= set(stamps):
                return None
            return _index_rows(connection)
        finally:
            connection.close()
    except sqlite3.Error:
        return None


def _read_folders(why: str) -> list[dict[str, Any]]:
    """Every finished, intact run read from its folder (no index), in the index's order."""
    root = paths.runs_dir()
    _say_once(f"dabench: note: the index {paths.index_path()} cannot be updated ({why}); reading the run folders "
              f"under {root} directly, writing nothing")
    records = []
    for folder in _run_folders(root):
        result = read_done(folder)
        if result is None:
            continue
        if "finished_at" not in result:
            result["finished_at"] = datetime.fromtimestamp((folder / DONE).stat().st_mtime, UTC).isoformat(
                timespec="seconds")
        records.append(result)
    return sorted(records, key=lambda r: (r.get("method") or "", r.get("pair") or "", r.get("seed") or 0))


def _say_once(line: str) -> None:
    if ("", line) not in _warned:
        _warned.add(("", line))
        print(line, file=sys.stderr)


# ---- searches ------------------------------------------------------------------------------------
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
