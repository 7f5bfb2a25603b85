"""Watching ``adapt`` for routes to labels: one process-wide PEP 578 audit hook, switched on only while a
watch is active, records opens of prepared label files and dataset folders, gc introspection, and calls
that build or prepare a dataset. Python cannot sandbox in-process code; this sees the known routes."""

from __future__ import annotations

import functools
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dabench.store import paths

MAX_EVENTS = 10  # distinct events kept, in the order first seen
GC_EVENTS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})
# audit event -> the verb its record starts with; the first argument of each is a path
PATH_EVENTS = {"open": "open", "os.listdir": "list", "os.scandir": "list", "os.link": "link", "os.rename": "rename"}
LABEL_SUFFIX = "_labels.npy"  # prepared labels: cache/datasets/<id>-<key>/<split>_labels.npy (dabench.data.cache)


@dataclass(eq=False)
class LabelWatch:
    """What one watch saw. ``label_roots``: folders whose ``*_labels.npy`` files, at any depth, are labels;
    ``dataset_folders``: folders any file or listing of which is label access (a dataset's native folder).
    Both hold each folder as written and with its symlinks resolved, each ending in ``os.sep``."""

    label_roots: tuple[str, ...]
    dataset_folders: tuple[str, ...]
    events: list[str] = field(default_factory=list)

    @property
    def detected(self) -> bool:
        return bool(self.events)

    def result(self) -> dict[str, Any]:
        """result.json's ``label_access``: ``{"detected": false}``, or true with the events seen."""
        return {"detected": True, "events": list(self.events)} if self.events else {"detected": False}

    def add(self, event: str) -> None:
        if len(self.events) < MAX_EVENTS and event not in self.events:
            self.events.append(event)

    def covers(self, path: str) -> bool:
        """Whether an absolute ``path`` is a prepared label file or lies in (or is) a dataset folder."""
        if (path + os.sep).startswith(self.dataset_folders):
            return True
        return path.endswith(LABEL_SUFFIX) and path.startswith(self.label_roots)


_watches: tuple[LabelWatch, ...] = ()  # the watches switched on; empty, the hook returns at once
_installed = False
_lock = threading.Lock()
_patched: list[tuple[Any, str, Any]] = []  # (owner, attribute, what it held before, or _ABSENT)
_ABSENT = object()


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _watches:  # every audit event of the process passes here: off, this is all it costs
        return
    try:
        _record(event, args)
    except Exception:  # noqa: BLE001 - a watch must never make the operation it watches fail
        pass


def _record(event: str, args: tuple[Any, ...]) -> None:
    if event in GC_EVENTS:
        _note(event)
        return
    verb = PATH_EVENTS.get(event)
    if verb is None or not args or isinstance(args[0], int):  # an int is a file descriptor: no path to judge
        return
    path = os.path.abspath(os.fsdecode(os.fspath("." if args[0] is None else args[0])))
    watches = _watches
    hit = [w for w in watches if w.covers(path)]
    if not hit:  # reached through a symlink or a different spelling of a watched folder?
        resolved = os.path.realpath(path)
        if resolved != path:
            hit = [w for w in watches if w.covers(resolved)]
    for watch in hit:
        watch.add(f"{verb} {path}")


def _note(event: str) -> None:
    for watch in _watches:
        watch.add(event)


def install() -> None:
    """Add the audit hook (once per process: hooks cannot be removed)."""
    global _installed
    with _lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True


def active() -> bool:
    return bool(_watches)


def _folder_forms(folders: Iterable[Path | str]) -> tuple[str, ...]:
    forms: list[str] = []
    for folder in folders:
        for form in (os.path.abspath(folder), os.path.realpath(folder)):
            form = form.rstrip(os.sep) + os.sep
            if form not in forms:
                forms.append(form)
    return tuple(forms)


@contextmanager
def watching(label_roots: Iterable[Path | str], dataset_folders: Iterable[Path | str] = ()) -> Iterator[LabelWatch]:
    """Watch the code run inside the block, in every thread of the process (a method's loader threads
    too). While any watch is on, every dataset class's ``build`` and the cache's read and build of prepared
    datasets record ``build dataset <id>`` / ``prepare dataset <id>`` before they run."""
    global _watches
    install()
    watch = LabelWatch(_folder_forms(label_roots), _folder_forms(dataset_folders))
    with _lock:
        if not _watches:
            _patch_dataset_entry_points()
        _watches = (*_watches, watch)
    try:
        yield watch
    finally:
        with _lock:
            _watches = tuple(w for w in _watches if w is not watch)
            if not _watches:
                _unpatch()


def run_roots(dataset_ids: Iterable[str] = ()) -> tuple[list[Path], list[Path]]:
    """What a run watches: the prepared-dataset cache (every dataset's labels, at every resolution and
    option), and the folder of each of ``dataset_ids`` and of every imported dataset class, found as a run
    finds it (``--data-root``, ``DABENCH_DATA_<ID>``, ``DABENCH_DATA``: :func:`dabench.store.paths.dataset_path`)."""
    from dabench.data.dataset import Dataset

    ids = set(dataset_ids) | {cls.id for cls in _subclasses(Dataset) if cls.id and not cls.generated}
    return [paths.cache_dir("datasets")], [paths.dataset_path(dataset_id) for dataset_id in sorted(ids)]


def watching_run(registry: Any) -> AbstractContextManager[LabelWatch]:
    """``watching`` with a run's roots: the cache, and the folders of ``registry``'s datasets."""
    ids = [name for name, dataset in registry.datasets.items() if not dataset.generated]
    return watching(*run_roots(ids))


def _subclasses(cls: type) -> list[type]:
    found, stack = [], [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                stack.append(sub)
    return found


def _recording(original: Callable[..., Any], describe: Callable[..., str]) -> Callable[..., Any]:
    @functools.wraps(original)
    def recorded(*args: Any, **kwargs: Any) -> Any:
        _note(describe(*args))
        return original(*args, **kwargs)

    return recorded


def _dataset_id(dataset: Any, *_: Any) -> str:
    return str(getattr(dataset, "id", type(dataset).__name__))


def _patch_dataset_entry_points() -> None:
    """Route every ``build`` of an imported dataset class, and the cache's ``_read_verified`` and
    ``_build_into`` (every call of ``load_prepared`` and ``dabench.data.pairs.prepare`` passes one), through
    a recorder. Done when the first watch starts and undone when the last ends: off, nothing is wrapped."""
    from dabench.data import cache
    from dabench.data.dataset import Dataset

    for cls in [Dataset, *_subclasses(Dataset)]:
        if isinstance(vars(cls).get("build"), types.FunctionType):
            _swap(cls, "build", _recording(vars(cls)["build"], lambda ds, *_: f"build dataset {_dataset_id(ds)}"))
    for name in ("_read_verified", "_build_into"):
        _swap(cache, name, _recording(getattr(cache, name), lambda ds, *_: f"prepare dataset {_dataset_id(ds)}"))


def _swap(owner: Any, name: str, replacement: Any) -> None:
    _patched.append((owner, name, vars(owner).get(name, _ABSENT)))
    setattr(owner, name, replacement)


def _unpatch() -> None:
    while _patched:
        owner, name, before = _patched.pop()
        if before is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, before)
