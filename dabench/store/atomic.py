"""Atomic file and folder writes (temp + rename, folders swapped whole), the cleanup of temps that
killed builds left behind, and content checksums."""

from __future__ import annotations

import ctypes
import glob
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHUNK = 1 << 22
STALE_TEMP_HOURS = 6.0
AT_FDCWD = -100
RENAME_EXCHANGE = 2


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
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
