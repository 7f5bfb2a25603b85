"""Atomic file and folder writes (temp + rename, folders swapped whole), the cleanup of temps that
killed builds left behind, content checksums, and the one message of a full disk."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dabench.errors import DabenchError

CHUNK = 1 << 22
STALE_TEMP_HOURS = 6.0
AT_FDCWD = -100
RENAME_EXCHANGE = 2
SQLITE_FULL = 13  # the primary result code of "database or disk is full"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one. A full disk is
    one :class:`DabenchError` (:func:`no_space_error`), and leaves neither a temp nor a short file."""
    with space_checked(path.parent, len(data)):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# ---- a full disk ---------------------------------------------------------------------------------------
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_SHORT_WRITE = re.compile(r"(\d+) requested and (\d+) written")  # numpy's tofile/save on a full disk (no errno)


def is_no_space(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the user's quota) is full: ENOSPC, EDQUOT, numpy's short write,
    SQLite's SQLITE_FULL."""
    if isinstance(exc, OSError) and (exc.errno in NO_SPACE_ERRNOS or _SHORT_WRITE.search(str(exc))):
        return True
    return (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF == SQLITE_FULL


def no_space_error(folder: Path, needed: int | None = None) -> DabenchError:
    """The one message a full disk gets, wherever dabench writes."""
    about = f" (needed about {megabytes(needed)})" if needed else ""
    return DabenchError(f"no space left in {folder}{about}; free some space there, or point DABENCH_HOME (or the "
                        "output path) at a disk with room, and run the command again")


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 50_000 else f"{size / 1e6:.2g} MB"


@contextmanager
def space_checked(folder: Path, needed: int | Callable[[], int] | None = None) -> Iterator[None]:
    """Inside it, a full disk is :func:`no_space_error` naming ``folder`` and about how many bytes the write
    needed (``needed``: a count, or a function asked once the write failed, e.g. for a build whose size is
    known only as it goes; numpy's short-write message gives the rest)."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        if not is_no_space(exc):
            raise
        size = needed() if callable(needed) else needed
        short = _SHORT_WRITE.search(str(exc))
        if short:
            size = (size or 0) + int(short.group(1)) - int(short.group(2))
        raise no_space_error(folder, size) from None


def folder_size(folder: Path) -> int:
    """Bytes held by the files under ``folder`` (0 when it is gone)."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: Path, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def temp_dir_beside(final: Path) -> Path:
    """A fresh temp folder next to ``final``, to be filled and then renamed into place; named after its
    owner (pid and host) so that a later build can tell a dead builder's leftovers from a live one's.
    The stale leftovers of earlier builds of ``final`` are removed first."""
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(final)
    return Path(tempfile.mkdtemp(dir=final.parent, prefix=_owned_prefix(final), suffix=".tmp"))


def publish_dir(tmp: Path, final: Path) -> None:
    """Move a filled temp folder to ``final``, replacing an older one so that a reader (who takes no
    lock) finds the whole old folder or the whole new one, never a half-removed one: the two are swapped
    in one system call where the OS allows it, else the old one is renamed aside, the new one renamed
    in, and only then is the old one deleted."""
    if final.exists() and _exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old folder
        return
    aside = None
    if final.exists():
        aside = final.with_name(f"{_owned_prefix(final)}old-{os.urandom(4).hex()}.tmp")
        os.replace(final, aside)
    os.replace(tmp, final)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def clean_stale_temps(final: Path, max_age_hours: float = STALE_TEMP_HOURS) -> list[Path]:
    """Delete the temp folders and files that builds of ``final`` left behind when they were killed:
    those whose owner is a dead process of this host, and any older than ``max_age_hours`` (an owner on
    another host cannot be asked whether it lives; but only the holder of the artifact's lock builds,
    and calls this, so one that has lain there for hours is a leftover whoever made it).
    Call it under the artifact's lock. Returns what it removed."""
    removed = []
    cutoff = time.time() - max_age_hours * 3600
    for path in final.parent.glob(f".{glob.escape(final.name)}.*.tmp"):
        owner = _owner_of(path.name, final.name)
        try:
            old = path.lstat().st_mtime < cutoff
        except FileNotFoundError:
            continue
        dead = owner is not None and owner[1] == socket.gethostname() and not pid_alive(owner[0])
        if old or dead:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _owned_prefix(final: Path) -> str:
    return f".{final.name}.{os.getpid()}@{socket.gethostname()}."


def _owner_of(temp_name: str, final_name: str) -> tuple[int, str] | None:
    """(pid, host) from a name made with _owned_prefix; None for other names (a write_bytes temp file)."""
    rest = temp_name[len(final_name) + 2:]  # after ".<final>."
    pid, at, host_and_tail = rest.partition("@")
    if not at or not pid.isdigit():
        return None
    return int(pid), host_and_tail.rsplit(".", 2)[0]  # drop "<random>.tmp" (a host name may hold dots)


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine has ``pid`` (one we may not signal still counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where the C library, kernel or
    file system cannot, and then nothing has changed."""
    function = getattr(_libc(), "renameat2", None)
    if function is None:
        return False
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
