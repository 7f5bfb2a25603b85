"""Cached artifacts (prepared datasets, source models, SSL backbones): looked up without a lock, built
once under it into a temp folder beside the artifact, published in one rename and verified."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from filelock import FileLock

from dabench.errors import DabenchError
from dabench.store import atomic

META = "meta.json"  # every artifact folder's metadata; a folder without it is absent, not corrupt
CORRUPT = (OSError, ValueError, KeyError, RuntimeError)  # what loading a damaged folder raises
T = TypeVar("T")


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """An artifact and how it was got: what a log line saying "reused" or "built" must come from."""

    value: T
    built: bool  # True: built by this call (it was absent or corrupt); False: loaded as it was


def cached_artifact(target: Path, kind: str, load: Callable[[Path], T], build: Callable[[Path], None], *,
                    remedy: str = "rebuilding it", checkpoint: Path | None = None) -> T:
    """The artifact in the folder ``target``, built first if it is absent or corrupt (see :func:`fetch_artifact`)."""
    return fetch_artifact(target, kind, load, build, remedy=remedy, checkpoint=checkpoint).value


def fetch_artifact(target: Path, kind: str, load: Callable[[Path], T], build: Callable[[Path], None], *,
                   remedy: str = "rebuilding it", checkpoint: Path | None = None) -> Fetched[T]:
    """The artifact in the folder ``target``, built first if it is absent or corrupt, and whether it was built.

    ``load(folder)`` checks a folder's checksums and returns what it holds (never None), raising one of
    ``CORRUPT`` when it is damaged. ``build(tmp)`` fills a fresh temp folder beside ``target``; what it
    raises propagates, and the temp folder goes. ``kind`` names the artifact in messages
    ("source model"); ``remedy`` says in the warning what is done about a corrupt copy. ``checkpoint``:
    the build's per-epoch checkpoint, deleted only once the artifact is published, so that a build
    killed before then resumes rather than starts over.

    One process builds; the others wait on the lock and load what it published. Only the lock holder
    warns about a corrupt copy, and it publishes over it in one rename without deleting it first: a
    reader without the lock that deleted it could remove a fresh artifact it caught mid-publish.
    """
    artifact = peek(target, load)
    if artifact is not None:
        return Fetched(artifact, built=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        artifact, problem = _load(target, load)  # another process may have built it meanwhile
        if artifact is not None:
            return Fetched(artifact, built=False)
        if problem is not None:
            print(f"dabench: warning: {kind} {target} is corrupt ({problem}); {remedy}", file=sys.stderr)
        _build_and_publish(target, build)
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
        artifact, problem = _load(target, load)
    if artifact is None:
        raise DabenchError(f"{kind} {target} failed its checksum right after it was written "
                           f"({problem or f'no {META}'}); check the disk holding DABENCH_HOME")
    return Fetched(artifact, built=True)


def peek(target: Path, load: Callable[[Path], T]) -> T | None:
    """The artifact in ``target`` if it is there and sound, else None: what a reader without the lock
    may do (it never warns, never deletes)."""
    return _load(target, load)[0]


def checkpoint_beside(target: Path) -> Path:
    """Where a build of ``target`` keeps its per-epoch checkpoint (written under the artifact's lock)."""
    return target.with_name(target.name + ".checkpoint.pt")


def checked_meta(folder: Path, checkpoint: str) -> dict[str, Any]:
    """``folder``'s metadata, once its file ``checkpoint`` matches the sha256 recorded there."""
    meta = json.loads((folder / META).read_text())
    if atomic.sha256_file(folder / checkpoint) != meta.get("sha256"):
        raise ValueError("the checkpoint does not match its checksum")
    return meta


def _load(target: Path, load: Callable[[Path], T]) -> tuple[T | None, Exception | None]:
    """(the artifact, None); (None, None) when absent; (None, what is wrong) when corrupt."""
    if not (target / META).exists():
        return None, None
    try:
        return load(target), None
    except CORRUPT as exc:  # JSONDecodeError is a ValueError
        return None, exc


def _build_and_publish(target: Path, build: Callable[[Path], None]) -> None:
    tmp = atomic.temp_dir_beside(target)  # which also removes what killed builds of ``target`` left
    try:
        with atomic.space_checked(target.parent, lambda: atomic.folder_size(tmp)):  # a full disk: one message
            build(tmp)
            atomic.publish_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
