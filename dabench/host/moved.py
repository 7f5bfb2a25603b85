"""Import paths of modules that moved in 0.2 (the flat top level grouped into packages). An old path still
imports, for one release, with a DeprecationWarning naming the new one; docs/architecture.md lists them."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings

MOVED = {
    "dabench.data.native": "dabench.data.folder",
    "dabench.artifacts": "dabench.store.artifacts",
    "dabench.atomic": "dabench.store.atomic",
    "dabench.checkpoint": "dabench.store.checkpoint",
    "dabench.paths": "dabench.store.paths",
    "dabench.results": "dabench.store.results",
    "dabench.running": "dabench.store.run_lock",
    "dabench.progress": "dabench.store.progress",
    "dabench.config": "dabench.settings.config",
    "dabench.recipes": "dabench.settings.recipes",
    "dabench.plugins": "dabench.host.loading",
    "dabench.registry": "dabench.host.registry",
    "dabench.planning": "dabench.run.plan",
    "dabench.runner": "dabench.run.execute",
    "dabench.evaluation": "dabench.run.evaluate",
    "dabench.initial_model": "dabench.run.networks",
    "dabench.record": "dabench.run.record",
    "dabench.provenance": "dabench.run.provenance",
    "dabench.watch": "dabench.run.watch",
    "dabench.source": "dabench.run.source_model",
    "dabench.sweep_planning": "dabench.sweep.plan",
    "dabench.search": "dabench.sweep.search",
    "dabench.launchers": "dabench.sweep.launchers",
    "dabench.launchers.local": "dabench.sweep.launchers.local",
    "dabench.launchers.ray": "dabench.sweep.launchers.ray",
    "dabench.reports": "dabench.report",
    "dabench.reports.search": "dabench.report.search_table",
    "dabench.reports.selection": "dabench.report.selection",
    "dabench.reports.per_class": "dabench.report.per_class",
    "dabench.reports.plot": "dabench.report.plot",
    "dabench.reports.export": "dabench.report.export",
    "dabench.reported": "dabench.report.published",
    "dabench.scaffold": "dabench.authoring.scaffold",
    "dabench.scaffold_templates": "dabench.authoring.templates",
    "dabench.docs_helpers": "dabench.authoring.docs_helpers",
    "dabench.ssl": "dabench.train.ssl",
    "dabench.ssl.pretrain": "dabench.train.ssl.pretrain",
    "dabench.ssl.artifact": "dabench.train.ssl.artifact",
    "dabench.ssl.swav": "dabench.train.ssl.swav",
    "dabench.ssl.simclr": "dabench.train.ssl.simclr",
    "dabench.ssl.lars": "dabench.train.ssl.lars",
    "dabench.ssl.views": "dabench.train.ssl.views",
}
# two old modules became packages of the same name: their old contents are reached through the package
PACKAGE_MODULES = {"dabench.sweep": "dabench.sweep.execute", "dabench.report": "dabench.report.leaderboard"}


def warn(old: str, new: str) -> None:
    warnings.warn(f"{old} moved to {new} in dabench 0.2; the old path goes away in 0.3",
                  DeprecationWarning, stacklevel=3)


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        warn(spec.name, self.new)
        module = importlib.import_module(self.new)
        self.spec = module.__spec__  # importlib stamps the old name's spec on the module next; put it back after
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """The module is the new one, already executed: only its own spec is restored."""
        module.__spec__ = self.spec


class MovedFinder(importlib.abc.MetaPathFinder):
    """Finds an old module path and hands back the module it moved to."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(new))


def install() -> None:
    if not any(isinstance(finder, MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedFinder())  # first: an old name must never load a second copy of a module


def package_getattr(package: str, name: str) -> object:
    """``from dabench.sweep import run_sweep`` (the 0.1 module): found in the package's old module, with a warning."""
    if importlib.util.find_spec(f"{package}.{name}") is not None:  # a submodule of the package itself
        return importlib.import_module(f"{package}.{name}")
    old_module = PACKAGE_MODULES[package]
    module = importlib.import_module(old_module)
    if not hasattr(module, name):
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    warn(f"{package}.{name}", f"{old_module}.{name}")
    return getattr(module, name)
