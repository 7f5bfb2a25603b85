"""What a dataset folder holds, as one digest: part of every run's identity and of the prepared cache key.

A run is named by what it reads, so the data it reads is part of its name: the same command pointed at
another copy of FER2013 with other images is another run, and a folder edited after ``data prepare`` is
prepared again. The digest is of the content (every file's relative path and sha256), so two copies
holding the same bytes are the same data wherever they live and whatever their timestamps. Hashing every
byte costs about a second per 100 MB; it is done once per state of the folder: the listing (every file's
path, size and mtime, read on each load in about 0.15 s for FER2013's 35,887 files) names a small record
under ``$DABENCH_HOME/cache/data-identity/`` that holds the content digest it was hashed to. An edit
changes a file's mtime, hence the listing, hence the digest is computed again. (A tool that edits a file
and puts its old size and mtime back defeats this; deleting ``cache/data-identity/`` makes it hash again.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from dabench.errors import DabenchError
from dabench.store import atomic, paths

Listing = list[tuple[str, int, int]]  # (path relative to the folder, size in bytes, mtime in ns), sorted
_remembered: dict[Path, str] | None = None  # inside remembered_identities(): each folder's digest, once


@contextlib.contextmanager
def remembered_identities() -> Iterator[None]:
    """Within this block each folder is listed once: a sweep plans hundreds of runs over the same folders
    in a moment, and each run checks its data again when it prepares it."""
    global _remembered
    outer, _remembered = _remembered, {} if _remembered is None else _remembered
    try:
        yield
    finally:
        _remembered = outer


def folder_listing(folder: Path) -> Listing:
    """Every regular file under ``folder`` (symbolic links followed, a loop refused), sorted by path."""
    entries: Listing = []
    seen_dirs: set[tuple[int, int]] = set()

    def walk(directory: Path) -> None:
        try:
            stat = directory.stat()
            key = (stat.st_dev, stat.st_ino)
            if key in seen_dirs:
                raise DabenchError(f"dataset folder {folder} holds a symbolic-link loop at {directory}; "
                                   "remove the link that points back into the folder")
            seen_dirs.add(key)
            with os.scandir(directory) as scan:
                children = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            raise _unreadable(directory, exc) from None
        for entry in children:
            path = Path(entry.path)
            try:
                if entry.is_dir():
                    walk(path)
                elif entry.is_file():
                    info = entry.stat()
                    entries.append((path.relative_to(folder).as_posix(), info.st_size, info.st_mtime_ns))
            except OSError as exc:
                raise _unreadable(path, exc) from None
        seen_dirs.discard(key)  # a folder linked twice (not a loop) is read twice, like any reader would

    walk(folder)
    return entries


def folder_identity(folder: Path) -> str:
    """``sha256:<hex>`` of ``folder``'s content: every file's relative path and the sha256 of its bytes.

    Computed once per listing and remembered in the cache (see the module docstring). A home whose cache
    cannot be written still gets the digest, hashed each time."""
    if _remembered is not None and folder in _remembered:
        return _remembered[folder]
    content = _identity(folder)
    if _remembered is not None:
        _remembered[folder] = content
    return content


def _identity(folder: Path) -> str:
    listing = folder_listing(folder)  # empty: the dataset's own layout check says what is missing
    record = paths.cache_dir("data-identity") / f"{atomic.sha256_json(listing)[:32]}.json"
    try:
        remembered = json.loads(record.read_text())
        if remembered.get("listing") == [list(entry) for entry in listing]:
            return remembered["content"]
    except (OSError, ValueError, KeyError, AttributeError):
        pass  # absent, unreadable or damaged: hash again
    content = _content_digest(folder, listing)
    try:
        atomic.write_json(record, {"folder": str(folder), "files": len(listing),
                                   "bytes": sum(size for _, size, _ in listing),
                                   "listing": listing, "content": content})
    except OSError:
        pass  # a read-only or full home: the digest is still right, only not remembered
    return content


def _content_digest(folder: Path, listing: Listing) -> str:
    digest = hashlib.sha256()
    for relative, _, _ in listing:
        path = folder / relative
        try:
            file_digest = atomic.sha256_file(path)
        except OSError as exc:
            raise _unreadable(path, exc) from None
        digest.update(f"{relative}\0{file_digest}\n".encode())
    return f"sha256:{digest.hexdigest()}"


def _unreadable(path: Path, exc: OSError) -> DabenchError:
    reason = exc.strerror or type(exc).__name__
    return DabenchError(f"cannot read {path} ({reason}); check its permissions, or move it out of the dataset folder")
