"""Loading plugins: built-ins and third-party packages alike come through the entry-point group
``dabench``; each loads inside its own try/except so one broken plugin never stops the others."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

import pluggy

from dabench import hookspecs
from dabench.errors import DabenchError

ENTRY_POINT_GROUP = "dabench"
BUILTIN_DISTRIBUTION = "dabench"


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as `dabench plugins` lists it."""

    name: str
    distribution: str
    version: str
    module: str
    error: str | None = None

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION

    @property
    def label(self) -> str:
        """``'shot' (dabench 0.1.0)``: how warnings and errors name a plugin."""
        return f"plugin '{self.name}' ({self.distribution} {self.version})".replace(" )", ")")


def strict_plugins() -> bool:
    """DABENCH_STRICT_PLUGINS=1: a plugin that fails to load or to register is fatal, not skipped."""
    return os.environ.get("DABENCH_STRICT_PLUGINS", "") not in ("", "0")


class PluginHost:
    """The pluggy manager plus what was loaded, what broke, and who provides what."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager("dabench")
        self.manager.add_hookspecs(hookspecs)
        self.loaded: list[PluginInfo] = []
        self.broken: list[PluginInfo] = []
        # (kind, id) a broken plugin had registered -> why it is unavailable (the registry's lookups say so)
        self.withdrawn: dict[tuple[str, str], str] = {}

    def register_module(self, module: ModuleType, name: str | None = None,
                        distribution: str = "(registered in code)", version: str = "") -> None:
        name = name or module.__name__
        self.manager.register(module, name=name)
        self.loaded.append(PluginInfo(name, distribution, version, module.__name__))

    def unregister(self, name: str) -> None:
        self.manager.unregister(name=name)
        self.loaded = [info for info in self.loaded if info.name != name]

    def load_entry_points(self) -> None:
        """Import every entry point of the group, honouring DABENCH_LOAD_PLUGINS / _STRICT_PLUGINS.

        Two distributions may not share an entry-point name: the first keeps it (dabench's own
        built-ins first, then distributions by name) and the later one is listed as broken, so
        installing a package with an entry point called ``shot`` never replaces the built-in SHOT."""
        selected = _selected_third_party()
        claimed: dict[str, PluginInfo] = {}
        for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=_load_order):
            dist_name, version = _distribution(entry_point)
            builtin = dist_name == BUILTIN_DISTRIBUTION
            if not builtin and selected is not None and entry_point.name not in selected:
                continue
            info = PluginInfo(entry_point.name, dist_name, version, entry_point.value)
            first = claimed.get(entry_point.name)
            if first is not None:
                if first.distribution != dist_name:  # one distribution found twice on sys.path is no clash
                    self.mark_broken(info, f"entry-point name '{info.name}' is already taken by {first.distribution} "
                                           f"{first.version} ({first.module}); rename the entry point in "
                                           f"{dist_name}'s [project.entry-points.dabench] or uninstall one of them")
                continue
            claimed[entry_point.name] = info
            try:
                module = importlib.import_module(entry_point.value)
                self.register_module(module, entry_point.name, dist_name, version)
            except Exception as exc:  # a plugin may fail in any way; report it, keep going
                self.mark_broken(info, import_error(exc, entry_point.value), "failed to load", exc)

    def mark_broken(self, info: PluginInfo, error: str, what: str = "cannot be used",
                    cause: BaseException | None = None, registered: bool = False) -> None:
        """List ``info`` as broken with ``error``, with one warning on stderr; fatal under
        DABENCH_STRICT_PLUGINS. ``registered``: it was loaded, so take it out of the manager and the
        listing too, and its hooks are never called again (a second registry build skips it)."""
        broken = PluginInfo(info.name, info.distribution, info.version, info.module, error)
        if strict_plugins():
            raise DabenchError(f"{broken.label} {what}: {error} (DABENCH_STRICT_PLUGINS is set)") from cause
        if registered:
            self.unregister(info.name)
        self.broken.append(broken)
        print(f"dabench: warning: {broken.label} {what} and is skipped: {error}. `dabench plugins` lists it; "
              "set DABENCH_STRICT_PLUGINS=1 to make this fatal.", file=sys.stderr)

    def implementations(self, hook_name: str) -> list[tuple[str, object]]:
        """(plugin name, hook function) for every plugin implementing ``hook_name``, in load order."""
        hook = getattr(self.manager.hook, hook_name)
        order = {info.name: i for i, info in enumerate(self.loaded)}
        impls = [(impl.plugin_name, impl.function) for impl in hook.get_hookimpls()]
        return sorted(impls, key=lambda item: order.get(item[0], len(order)))

    def info(self, name: str) -> PluginInfo:
        """The loaded plugin called ``name`` (a module registered without a listing gets a plain one)."""
        return next((info for info in self.loaded if info.name == name), PluginInfo(name, "(unknown)", "", name))


def import_error(exc: BaseException, module: str) -> str:
    """``dabench_x/plugin.py:3: ModuleNotFoundError: No module named 'foo'``: a failed import in one line,
    at the innermost line of the plugin's own files the failure passed through (else the innermost
    line outside the import machinery); a SyntaxError at the line it names."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{_short(exc.filename)}:{exc.lineno}: {type(exc).__name__}: {exc.msg}"
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith("<") and Path(frame.filename).resolve() != Path(__file__).resolve()
              and Path(frame.filename).parent.name != "importlib"]
    own = _plugin_files(module)
    inside = [frame for frame in frames if any(_within(frame.filename, place) for place in own)]
    frame = (inside or frames or [None])[-1]
    where = f"{_short(frame.filename)}:{frame.lineno}: " if frame is not None else ""
    return f"{where}{type(exc).__name__}: {exc}"


def _plugin_files(module: str) -> list[Path]:
    """The files of the entry point's top-level package (its folders) or module (its file)."""
    try:
        spec = importlib.util.find_spec(module.split(":")[0].split(".")[0])
    except Exception:  # finding it may fail the way importing it did
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(place) for place in spec.submodule_search_locations]
    return [Path(spec.origin)] if spec.origin else []


def _within(filename: str, place: Path) -> bool:
    path = Path(filename).resolve()
    return path == place.resolve() or place.resolve() in path.parents


def _short(filename: str) -> str:
    """``filename`` relative to the sys.path entry it sits under (``dabench_x/plugin.py``), else as given."""
    path = Path(filename).resolve()
    relative = [str(path.relative_to(Path(entry).resolve())) for entry in sys.path
                if entry and Path(entry).is_dir() and Path(entry).resolve() in path.parents]
    return min(relative, key=len) if relative else filename


def _distribution(entry_point: EntryPoint) -> tuple[str, str]:
    dist = entry_point.dist
    return (dist.metadata["Name"], dist.version) if dist is not None else ("(unknown)", "")


def _load_order(entry_point: EntryPoint) -> tuple[str, bool, str]:
    """By name; for one name dabench's own entry point first, then distributions alphabetically."""
    dist_name = _distribution(entry_point)[0]
    return entry_point.name, dist_name != BUILTIN_DISTRIBUTION, dist_name


def installed_entry_points() -> dict[str, str]:
    """Every entry-point name of the group -> ``'<distribution> <version>'``, whatever DABENCH_LOAD_PLUGINS says."""
    names: dict[str, str] = {}
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=_load_order):
        names.setdefault(entry_point.name, " ".join(part for part in _distribution(entry_point) if part))
    return names


def _selected_third_party() -> set[str] | None:
    """None means 'all'; DABENCH_LOAD_PLUGINS='' loads no third-party plugin."""
    raw = os.environ.get("DABENCH_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}
