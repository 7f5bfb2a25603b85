"""A run in progress: the ``running`` marker in its folder (pid, host, start time) that `dabench status`
reads, and the per-run lock that keeps two processes of one machine from executing the same run."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from dabench import atomic, paths
from dabench.errors import DabenchError

MARKER = "running"
ERROR = "error.txt"


class RunBusy(DabenchError):
    """Another process is executing this run right now."""


def lock_path(run_id: str) -> Path:
    return paths.home() / "locks" / f"{run_id}.lock"


@contextmanager
def claim(folder: Path) -> Iterator[None]:
    """Hold the run's lock for the block (released by the OS if the process dies); RunBusy if it is held."""
    path = lock_path(folder.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        info = read_marker(folder) or {}
        raise RunBusy(f"run {folder.name} is being executed by another process "
                      f"(pid {info.get('pid', '?')} on {info.get('host', '?')}); wait for it or stop that process") from None
    try:
        yield
    finally:
        (folder / MARKER).unlink(missing_ok=True)
        lock.release()


def write_marker(folder: Path) -> None:
    atomic.write_json(folder / MARKER, {"pid": os.getpid(), "host": socket.gethostname(),
                                        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                        "proc_start": _proc_start(os.getpid())})


def read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def marker_alive(info: dict[str, Any]) -> bool:
    """Whether the process named by a marker still runs. A marker from another host is trusted (its pid
    cannot be checked from here); on this host a dead, zombie or reused pid means the run was interrupted."""
    if info.get("host") != socket.gethostname():
        return True
    pid = int(info.get("pid", -1))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, start = stat
    return state != "Z" and (info.get("proc_start") is None or info["proc_start"] == start)


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
