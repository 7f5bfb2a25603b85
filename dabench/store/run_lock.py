"""A run in progress: the ``running`` marker in its folder (pid, host, start time) that `dabench status`
reads, kept fresh by a heartbeat while the run executes, and the per-run lock that keeps two processes
of one machine from executing the same run."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from dabench.errors import DabenchError
from dabench.store import atomic, paths

MARKER = "running"
ERROR = "error.txt"
HEARTBEAT_ENV = "DABENCH_HEARTBEAT_SECONDS"
DEFAULT_HEARTBEAT = 30.0
# a marker from another machine whose heartbeat is this many beats late belongs to a lost node or a
# killed driver: several beats, so that a busy file server or a little clock skew does not kill a run
STALE_BEATS = 4


class RunBusy(DabenchError):
    """Another process is executing this run right now."""


def lock_path(run_id: str) -> Path:
    return paths.home() / "locks" / f"{run_id}.lock"


def heartbeat_seconds() -> float:
    """How often a running run refreshes its marker (``DABENCH_HEARTBEAT_SECONDS``, default 30)."""
    text = os.environ.get(HEARTBEAT_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_HEARTBEAT
    except ValueError:
        raise DabenchError(f"{HEARTBEAT_ENV}={text!r}: give the heartbeat interval in seconds, e.g. 30") from None
    if value <= 0:
        raise DabenchError(f"{HEARTBEAT_ENV}={text!r}: the heartbeat interval must be > 0 seconds")
    return value


@contextmanager
def claim(folder: Path) -> Iterator[None]:
    """Hold the run's lock for the block (released by the OS if the process dies); RunBusy if it is held.

    While the block runs, a daemon thread refreshes the mtime of this process's ``running`` marker
    every heartbeat, so that a machine that cannot check our pid can still tell a live run from a
    dead one (see ``marker_alive``).
    """
    interval = heartbeat_seconds()  # a bad setting is refused before the lock is taken
    path = lock_path(folder.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        info = read_marker(folder) or {}
        raise RunBusy(f"run {folder.name} is being executed by another process "
                      f"(pid {info.get('pid', '?')} on {info.get('host', '?')}); wait for it or stop that process") from None
    heartbeat = _Heartbeat(folder / MARKER, interval)
    heartbeat.start()
    try:
        yield
    finally:
        heartbeat.stop()
        (folder / MARKER).unlink(missing_ok=True)
        lock.release()


class _Heartbeat(threading.Thread):
    """Touches the marker while it is this process's own: before ``write_marker`` the folder may still
    hold the marker of the dead process whose run this one takes over, and that one must not look alive."""

    def __init__(self, marker: Path, interval: float) -> None:
        super().__init__(daemon=True, name=f"dabench-heartbeat-{marker.parent.name}")
        self.marker, self.interval = marker, interval
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            info = read_marker(self.marker.parent)
            if info and info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
                try:
                    os.utime(self.marker)
                except OSError:  # removed between the read and the touch: the run is ending
                    pass

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def write_marker(folder: Path) -> None:
    atomic.write_json(folder / MARKER, {"pid": os.getpid(), "host": socket.gethostname(),
                                        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                        "proc_start": _proc_start(os.getpid()),
                                        "heartbeat_seconds": heartbeat_seconds()})


def read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def marker_alive(info: dict[str, Any], folder: Path | None = None) -> bool:
    """Whether the process named by a marker still runs.

    On this host a dead, zombie or reused pid means the run was interrupted. A pid on another host
    cannot be checked from here, so such a marker is alive while its heartbeat is fresh: its mtime is
    less than STALE_BEATS of the writer's heartbeat intervals old (a marker ``folder`` is needed for that;
    without one, a foreign marker is trusted).
    """
    if info.get("host") != socket.gethostname():
        age = heartbeat_age(folder) if folder is not None else None
        return age is None or age <= STALE_BEATS * _interval_of(info)
    pid = int(info.get("pid", -1))
    if pid <= 0 or not atomic.pid_alive(pid):
        return False
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, start = stat
    return state != "Z" and (info.get("proc_start") is None or info["proc_start"] == start)


def heartbeat_age(folder: Path) -> float | None:
    """Seconds since the marker in ``folder`` was last written or touched (None without a marker)."""
    try:
        return max(0.0, time.time() - (folder / MARKER).stat().st_mtime)
    except OSError:
        return None


def why_not_alive(info: dict[str, Any], folder: Path) -> str:
    """A status line for a marker that ``marker_alive`` rejects."""
    if info.get("host") != socket.gethostname():
        age = heartbeat_age(folder) or 0.0
        return (f"no heartbeat from pid {info.get('pid')} on {info.get('host')} for {age:.0f} s "
                f"(it beats every {_interval_of(info):g} s): its machine or sweep was lost")
    return f"its process (pid {info.get('pid')}) is gone"


def _interval_of(info: dict[str, Any]) -> float:
    """The writer's heartbeat interval (a marker written before heartbeats existed: the default)."""
    try:
        value = float(info.get("heartbeat_seconds") or DEFAULT_HEARTBEAT)
    except (TypeError, ValueError):
        value = DEFAULT_HEARTBEAT
    return value if value > 0 else DEFAULT_HEARTBEAT


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc on Linux; None elsewhere."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces
    return fields[0], int(fields[19])


def _proc_start(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def last_error_line(folder: Path) -> str:
    """The exception line that ends error.txt's traceback (``Type: message``, the message's first line
    when it has several), or its last line when the file holds no traceback."""
    try:
        lines = [line for line in (folder / ERROR).read_text().splitlines() if line.strip()]
    except OSError:
        return ""
    frames = [index for index, line in enumerate(lines) if line.startswith('  File "')]
    after = [line for line in lines[frames[-1]:] if not line.startswith(" ")] if frames else []
    if after:
        return after[0].strip()
    return lines[-1].strip() if lines else ""
