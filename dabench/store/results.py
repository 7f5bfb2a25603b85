"""Run folders (``runs/<run_id>/``: config.yaml, result.json, log.txt, then ``done`` holding every file's
checksum) and the SQLite index built from them, which follows the folders and can always be rebuilt."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from dabench.errors import DabenchError
from dabench.store import atomic, index_db, paths

DONE = "done"
CONFIG = "config.yaml"
RESULT = "result.json"
LOG = "log.txt"
RUN_FILES = (CONFIG, RESULT, LOG)  # what a finished run holds; the done marker checksums each of them
DONE_FORMAT = 2
_LEGACY_DONE = re.compile(r"[0-9a-f]{64}")  # format 1: result.json's sha256 alone

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
    index_db.forget(folder.name)


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


def _stamps(root: Path) -> dict[str, str]:
    return {folder.name: stamp for folder in _run_folders(root) if (stamp := _stamp(folder)) is not None}


def index_result(result: dict[str, Any]) -> None:
    """Insert or replace one just-finished run in the index (a run id appears at most once)."""
    folder = run_dir(result["run_id"])
    try:
        with atomic.space_checked(paths.home(), index_db.index_room(result)):
            connection = index_db.open_index(paths.index_path())
            try:
                with connection:
                    connection.execute(index_db.INSERT, index_db.index_row(folder.name, result))
                    stamp = _stamp(folder)
                    if stamp is not None:
                        connection.execute("INSERT OR REPLACE INTO folders VALUES (?, ?, 1)", (folder.name, stamp))
            finally:
                connection.close()
    except DabenchError as exc:  # the run itself is saved; the index is a cache the next report brings up to date
        print(f"dabench: warning: run {folder.name} is finished and saved in {folder}, but the index could not "
              f"take it ({exc})", file=sys.stderr)


def _reconcile(connection: sqlite3.Connection, root: Path) -> int:
    """Bring the index in line with the folders under ``root``: rows of folders gone or no longer done
    leave, folders new or changed since last seen are verified (read_done) and indexed if intact.
    Returns how many folders it had to look at again."""
    stamps = _stamps(root)
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
                connection.execute(index_db.INSERT, index_db.index_row(run_id, result))
            # remembered even when broken, so that a broken folder is warned about when it changes, not on
            # every report; the stamp is the one taken before read_done, so an edit racing it is seen next time
            connection.execute("INSERT OR REPLACE INTO folders VALUES (?, ?, ?)",
                               (run_id, stamps[run_id], int(result is not None)))
    return len(gone) + len(changed)


def reconcile_index() -> int:
    """Update results.sqlite from runs/ where they differ (rebuilt from scratch if it is unreadable);
    :class:`~dabench.store.index_db.IndexUnwritable` when it cannot be written here (a read-only home, a full disk)."""
    try:
        connection = index_db.open_index(paths.index_path())
        try:
            return _reconcile(connection, paths.runs_dir())
        finally:
            connection.close()
    except (sqlite3.Error, OSError) as exc:
        why = index_db.unwritable(exc)
        if why is not None:
            raise index_db.IndexUnwritable(why) from exc
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
        with atomic.space_checked(paths.home(), lambda: 2 * sum(f.stat().st_size for f in paths.runs_dir().glob("*/" + RESULT))):
            connection = index_db.open_index(tmp)
            try:
                _reconcile(connection, paths.runs_dir())
                count = connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            finally:
                connection.close()
    except BaseException as exc:
        index_db.remove_index_file(tmp)
        why = index_db.unwritable(exc) if isinstance(exc, (sqlite3.Error, OSError)) else None
        if why is not None:  # a read-only home: reports read its folders without an index; this cannot help
            raise DabenchError(f"cannot rebuild the index {path} ({why}); reports read the run folders without it") from None
        raise
    tmp.replace(path)
    return count


def load_results() -> list[dict[str, Any]]:
    """Every finished, intact run's full result, from the index once it matches the run folders (a run made
    before results recorded ``finished_at`` gets its done marker's mtime as that). A home that cannot be
    written (a read-only archive of someone's runs, a full disk) is read without writing: from its index if
    that matches the folders, else from the folders themselves (each verified), with one note on stderr."""
    try:
        reconcile_index()
        connection = index_db.open_index(paths.index_path())
        try:
            rows = index_db.index_rows(connection)
        finally:
            connection.close()
    except index_db.IndexUnwritable as exc:
        rows = index_db.rows_if_current(paths.index_path(), _stamps(paths.runs_dir()))
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


def _read_folders(why: str) -> list[dict[str, Any]]:
    """Every finished, intact run read from its folder (no index), in the index's order."""
    root = paths.runs_dir()
    note = (f"dabench: note: the index {paths.index_path()} cannot be updated ({why}); reading the run folders "
            f"under {root} directly, writing nothing")
    if ("", note) not in _warned:  # once per process, as the warnings about a damaged folder
        _warned.add(("", note))
        print(note, file=sys.stderr)
    records = []
    for folder in _run_folders(root):
        result = read_done(folder)
        if result is None:
            continue
        if "finished_at" not in result:
            result["finished_at"] = datetime.fromtimestamp((folder / DONE).stat().st_mtime, UTC).isoformat("T", "seconds")
        records.append(result)
    return sorted(records, key=lambda r: (r.get("method") or "", r.get("pair") or "", r.get("seed") or 0))

