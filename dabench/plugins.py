"""Loading plugins: built-ins and third-party packages alike come through the entry-point group
``dabench``; each loads inside its own try/except so one broken plugin never stops the others."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
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


class PluginHost:
    """The pluggy manager plus what was loaded, what broke, and who provides what."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager("dabench")
        self.manager.add_hookspecs(hookspecs)
        self.loaded: list[PluginInfo] = []
        self.broken: list[PluginInfo] = []

    def register_module(self, module: ModuleType, name: str | None = None,
                        distribution: str = "(registered in code)", version: str = "") -> None:
        name = name or module.__name__
        self.manager.register(module, name=name)
        self.loaded.append(PluginInfo(name, distribution, version, module.__name__))

    def unregister(self, name: str) -> None:
        self.manager.unregister(name=name)
        self.loaded = [info for info in self.loaded if info.name != name]

    def load_entry_points(self) -> None:
        """Import every entry point of the group, honouring DABENCH_LOAD_PLUGINS / _STRICT_PLUGINS."""
        selected = _selected_third_party()
        strict = os.environ.get("DABENCH_STRICT_PLUGINS", "") not in ("", "0")
        for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = entry_point.dist
            dist_name = dist.metadata["Name"] if dist is not None else "(unknown)"
            version = dist.version if dist is not None else ""
            builtin = dist_name == BUILTIN_DISTRIBUTION
            if not builtin and selected is not None and entry_point.name not in selected:
                continue
            if self.manager.has_plugin(entry_point.name):
                continue
            try:
                module = importlib.import_module(entry_point.value)
                self.register_module(module, entry_point.name, dist_name, version)
            except Exception as exc:  # a plugin may fail in any way; report it, keep going
                info = PluginInfo(entry_point.name, dist_name, version, entry_point.value,
                                  f"{type(exc).__name__}: {exc}")
                if strict:
                    raise DabenchError(
                        f"plugin '{info.name}' ({info.distribution} {info.version}) failed to load: "
                        f"{info.error} (DABENCH_STRICT_PLUGINS is set)") from exc
                self.broken.append(info)
                print(f"dabench: warning: plugin '{info.name}' ({info.distribution} {info.version}) "
                      f"failed to load and is skipped: {info.error}. `dabench plugins` lists it; "
                      "set DABENCH_STRICT_PLUGINS=1 to make this fatal.", file=sys.stderr)

    def implementations(self, hook_name: str) -> list[tuple[str, object]]:
        """(plugin name, hook function) for every plugin implementing ``hook_name``, in load order."""
        hook = getattr(self.manager.hook, hook_name)
        order = {info.name: i for i, info in enumerate(self.loaded)}
        impls = [(impl.plugin_name, impl.function) for impl in hook.get_hookimpls()]
        return sorted(impls, key=lambda item: order.get(item[0], len(order)))


def _selected_third_party() -> set[str] | None:
    """None means 'all'; DABENCH_LOAD_PLUGINS='' loads no third-party plugin."""
    raw = os.environ.get("DABENCH_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}
