"""What code made a run: for its method, backbone and datasets, the plugin that registered each, that
plugin's distribution and version, and a sha256 of its source. Recorded in result.json, never in the
run id (an unchanged config keeps its id), so a reused run can say when its method has changed since."""

from __future__ import annotations

import hashlib
import socket
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, entry_points, packages_distributions, version
from pathlib import Path
from typing import Any

from dabench.host.loading import BUILTIN_DISTRIBUTION, ENTRY_POINT_GROUP

UNKNOWN, CHANGED = "unknown", "changed"
_NODE: dict[str, str] = {}  # where this process runs, beyond its host name, as its launcher said (set_node)


def set_node(**where: str) -> None:
    """Say where this process runs, for the runs it records: the Ray launcher's task gives ``ray_node_id`` and
    ``ray_node_name`` (several Ray nodes may share one host, and a host name says nothing of the cluster)."""
    _NODE.clear()
    _NODE.update(where)


def node_record() -> dict[str, str]:
    """result.json's ``node``: ``{"host": ...}`` plus what the launcher said with :func:`set_node`."""
    return {"host": socket.gethostname(), **_NODE}


def code_record(registry: Any, method: str, backbone: str, datasets: tuple[str, ...]) -> dict[str, Any]:
    """``{"method": {...}, "backbone": {...}, "datasets": {id: {...}}}``, each as :func:`unit_code` says."""
    return {"method": unit_code(registry, "methods", method), "backbone": unit_code(registry, "backbones", backbone),
            "datasets": {name: unit_code(registry, "datasets", name) for name in dict.fromkeys(datasets)}}


def unit_code(registry: Any, kind: str, item_id: str) -> dict[str, Any]:
    """{"id", "plugin", "distribution", "version", "source_sha256"} of one registered item. The source is the
    module that defines it (a method's class; a dataset or backbone: its plugin's module), or the whole
    package when that module lies in a plugin that is a package (e.g. ``dabench_methods.cluster_pl``)."""
    plugin = registry.providers.get((kind, item_id))
    item = getattr(registry, kind)[item_id]
    point = _entry_points().get(plugin or "")
    unit = point[0] if point else plugin
    defining = item.__module__ if isinstance(item, type) else unit
    distribution, dist_version = (point[1], point[2]) if point else _distribution_of(defining or "")
    return {"id": item_id, "plugin": plugin, "distribution": distribution, "version": dist_version,
            "source_sha256": _module_sha256(defining or "", unit or "")}


def method_change(previous: dict[str, Any], current: dict[str, Any]) -> str | None:
    """CHANGED when a finished run's method code differs from ``current`` (a :func:`unit_code` record),
    UNKNOWN when the run has no code record (made before dabench recorded code), None when it is the same."""
    then = ((previous.get("code") or {}).get("method") or {}).get("source_sha256")
    if then is None:
        return UNKNOWN
    return CHANGED if then != current.get("source_sha256") else None


def short(digest: str | None) -> str:
    return f"{digest[:12]}…" if digest else "unknown"


def change_message(method: str, changed: list[dict[str, Any]], current: dict[str, Any]) -> str:
    """``method 'shot' changed since run 1a2b… was made (code sha256 abc… then, def… now)``; several
    runs are named up to three, then counted."""
    ids = [run["run_id"] for run in changed]
    then = dict.fromkeys(short(run["code"]["method"]["source_sha256"]) for run in changed)
    named = ", ".join(ids[:3]) + (f" (+{len(ids) - 3} more)" if len(ids) > 3 else "")
    runs = f"run {named} was" if len(ids) == 1 else f"runs {named} were"
    return (f"method '{method}' changed since {runs} made (code sha256 {', '.join(then)} then, "
            f"{short(current.get('source_sha256'))} now)")


def installed_plugins() -> dict[str, str]:
    """Entry-point name -> distribution of every installed plugin, read from the package metadata
    without importing any plugin (a report must not pay for torch to know what is installed)."""
    return {name: point[1] for name, point in _entry_points().items()}


def _entry_points() -> dict[str, tuple[str, str, str]]:
    """name -> (module, distribution, version); for a name two distributions share, dabench's own first
    (the one the plugin host loads)."""
    found: dict[str, tuple[str, str, str]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        dist = point.dist
        name, ver = (dist.metadata["Name"], dist.version) if dist is not None else ("(unknown)", "")
        if point.name not in found or name == BUILTIN_DISTRIBUTION:
            found[point.name] = (point.value, name, ver)
    return found


def _distribution_of(module: str) -> tuple[str | None, str | None]:
    """The distribution holding a module registered in code (not through an entry point), if any."""
    names = packages_distributions().get(module.partition(".")[0], [])
    if not names:
        return None, None
    try:
        return names[0], version(names[0])
    except PackageNotFoundError:
        return names[0], None


@cache
def _module_sha256(module: str, unit: str) -> str | None:
    """sha256 of ``module``'s source file, or, when it lies in the package ``unit``, of that package's
    .py files (each file's path relative to the package, a NUL, its bytes, a NUL; in sorted path order).
    Cached per process: a long sweep records the code it imported at the start, not later edits."""
    package = sys.modules.get(unit)
    if package is not None and hasattr(package, "__path__") and (module == unit or module.startswith(unit + ".")):
        root = Path(next(iter(package.__path__)))
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()
    source = getattr(sys.modules.get(module), "__file__", None)
    if not source or not source.endswith(".py") or not Path(source).is_file():
        return None
    return hashlib.sha256(Path(source).read_bytes()).hexdigest()


def clear_cache() -> None:
    """Forget the cached source hashes (tests that edit a plugin's source in one process)."""
    _module_sha256.cache_clear()
