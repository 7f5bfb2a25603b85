"""Everything the plugins registered, keyed by id, with the provider of each; lookups that fail
name every valid choice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dabench.errors import DabenchError, did_you_mean
from dabench.labels import pair_classes
from dabench.plugins import PluginHost

MIN_SHARED_CLASSES = 2


@dataclass(frozen=True)
class Suite:
    """A named list of pairs, e.g. ``paper`` or ``synthetic``."""

    id: str
    pairs: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Pair:
    source: str
    target: str

    def __str__(self) -> str:
        return f"{self.source}:{self.target}"


@dataclass
class Registry:
    """Id -> registered object for each kind, plus id -> providing plugin name."""

    datasets: dict[str, Any] = field(default_factory=dict)
    methods: dict[str, Any] = field(default_factory=dict)
    backbones: dict[str, Any] = field(default_factory=dict)
    suites: dict[str, Suite] = field(default_factory=dict)
    validators: dict[str, Any] = field(default_factory=dict)
    providers: dict[tuple[str, str], str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)  # duplicate-id errors, kept only when asked (build_registry)

    def add(self, kind: str, item: Any, provider: str) -> None:
        table: dict[str, Any] = getattr(self, kind)
        item_id = item.id
        names = [item_id, *getattr(item, "aliases", ())]
        for name in names:
            if name in table or (kind == "methods" and name in self.aliases):
                owner = self.providers.get((kind, name)) or self.providers[(kind, self.aliases[name])]
                raise DabenchError(
                    f"duplicate {kind[:-1]} id '{name}': registered by plugin '{owner}' and again by "
                    f"plugin '{provider}'; uninstall one of them or rename the id")
        table[item_id] = item
        self.providers[(kind, item_id)] = provider
        for alias in names[1:]:
            self.aliases[alias] = item_id

    # lookups -------------------------------------------------------------------------------
    def dataset(self, name: str) -> Any:
        return self._get("datasets", "dataset", name)

    def method(self, name: str) -> Any:
        return self._get("methods", "method", self.aliases.get(name, name))

    def backbone(self, name: str) -> Any:
        return self._get("backbones", "backbone", name)

    def suite(self, name: str) -> Suite:
        return self._get("suites", "suite", name)

    def validator(self, name: str) -> Any:
        return self._get("validators", "validator", name)

    def _get(self, kind: str, word: str, name: str) -> Any:
        table = getattr(self, kind)
        if name not in table:
            raise did_you_mean(word, name, list(table))
        return table[name]

    def provider(self, kind: str, item_id: str) -> str:
        return self.providers[(kind, item_id)]

    # pairs ---------------------------------------------------------------------------------
    def pair(self, text: str) -> Pair:
        """Parse and check ``SRC:TGT``: both datasets exist and share at least 2 classes."""
        parts = text.split(":")
        if len(parts) != 2 or not all(parts):
            raise DabenchError(f"bad pair '{text}': write it as SOURCE:TARGET, e.g. synth-lab:synth-wild")
        source, target = self.dataset(parts[0]), self.dataset(parts[1])
        if source.id == target.id:
            raise DabenchError(f"bad pair '{text}': source and target are the same dataset")
        shared = pair_classes(source.classes, target.classes)
        if len(shared) < MIN_SHARED_CLASSES:
            raise DabenchError(
                f"pair '{text}' shares {len(shared)} canonical class(es) ({', '.join(shared) or 'none'}); "
                f"a pair needs at least {MIN_SHARED_CLASSES}")
        return Pair(source.id, target.id)

    def all_pairs(self) -> list[str]:
        """Every ordered pair of registered datasets that share at least 2 classes."""
        pairs = []
        for source in sorted(self.datasets):
            for target in sorted(self.datasets):
                if source != target and len(pair_classes(self.datasets[source].classes,
                                                         self.datasets[target].classes)) >= MIN_SHARED_CLASSES:
                    pairs.append(f"{source}:{target}")
        return pairs


HOOK_KINDS = {
    "register_datasets": "datasets",
    "register_methods": "methods",
    "register_backbones": "backbones",
    "register_suites": "suites",
    "register_validators": "validators",
}


def build_registry(host: PluginHost, collect_conflicts: bool = False) -> Registry:
    """Call every ``register_*`` hook once, recording the plugin behind each registration.

    Each plugin's hooks run in isolation: one that raises is listed as broken (``host.broken``) and
    none of its registrations are kept, so a bug in one plugin cannot break every command. A duplicate
    id between plugins is a hard error; with ``collect_conflicts`` (for `dabench plugins`, which must
    still list everything so the user can see the clash) the first provider keeps the id and the
    message is added to ``registry.conflicts`` instead.
    """
    registry = Registry()
    staged: dict[str, list[tuple[str, Any]]] = {}  # plugin -> (kind, item), in hook order
    failed: dict[str, str] = {}
    for hook_name, kind in HOOK_KINDS.items():
        for plugin_name, function in host.implementations(hook_name):
            if plugin_name in failed:
                continue
            items = staged.setdefault(plugin_name, [])
            try:
                function(register=lambda item, _kind=kind, _items=items: _items.append((_kind, _checked(item, _kind))))
            except Exception as exc:  # a plugin's hook may fail in any way; it must not take the others down
                failed[plugin_name] = f"{hook_name} raised {type(exc).__name__}: {exc}"
                staged.pop(plugin_name)
                host.mark_broken(host.info(plugin_name), failed[plugin_name], f"failed in {hook_name}", exc,
                                 registered=True)
    for plugin_name, items in staged.items():  # dicts keep insertion order: plugins in load order
        for kind, item in items:
            try:
                registry.add(kind, item, plugin_name)
            except DabenchError as exc:
                if not collect_conflicts:
                    raise
                registry.conflicts.append(str(exc))
    return registry


def _checked(item: Any, kind: str) -> Any:
    """What ``register`` accepts: an object with a non-empty string ``id`` (caught as the plugin's own bug)."""
    item_id = getattr(item, "id", None)
    if not isinstance(item_id, str) or not item_id:
        raise TypeError(f"register() in the {kind} hook got {item!r}, which has no string id")
    return item


_HOST: PluginHost | None = None
_REGISTRY: Registry | None = None


def default_host() -> PluginHost:
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
        _HOST.load_entry_points()
    return _HOST


def get_registry() -> Registry:
    """The process-wide registry (built on first use from the installed plugins)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = build_registry(default_host())
    return _REGISTRY


def reset() -> None:
    """Forget the loaded plugins (tests register their own and reset after)."""
    global _HOST, _REGISTRY
    _HOST = None
    _REGISTRY = None
