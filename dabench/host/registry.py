"""Everything the plugins registered, keyed by id, with the provider of each; lookups that fail
name every valid choice."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dabench.errors import DabenchError, did_you_mean
from dabench.host.loading import PluginHost
from dabench.labels import pair_classes

if TYPE_CHECKING:  # annotations only: the registry is built without importing torch
    from dabench.data.dataset import Dataset
    from dabench.methods import Method
    from dabench.models import Backbone
    from dabench.validators import Validator

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

    datasets: dict[str, Dataset] = field(default_factory=dict)
    methods: dict[str, type[Method]] = field(default_factory=dict)
    backbones: dict[str, Backbone] = field(default_factory=dict)
    suites: dict[str, Suite] = field(default_factory=dict)
    validators: dict[str, Validator] = field(default_factory=dict)
    providers: dict[tuple[str, str], str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)  # duplicate-id errors, kept only when asked (build_registry)
    withdrawn: dict[tuple[str, str], str] = field(default_factory=dict)  # ids of broken plugins -> why

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
    def dataset(self, name: str) -> Dataset:
        return self._get("datasets", "dataset", name)

    def method(self, name: str) -> type[Method]:
        return self._get("methods", "method", self.aliases.get(name, name))

    def backbone(self, name: str) -> Backbone:
        return self._get("backbones", "backbone", name)

    def suite(self, name: str) -> Suite:
        return self._get("suites", "suite", name)

    def validator(self, name: str) -> Validator:
        return self._get("validators", "validator", name)

    def _get(self, kind: str, word: str, name: str) -> Any:
        table = getattr(self, kind)
        if name not in table:
            if (kind, name) in self.withdrawn:
                raise DabenchError(self.withdrawn[(kind, name)])
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

    Each plugin's hooks run in isolation: one that raises, or that registers a method whose hyperparameter
    defaults fail their checks (:func:`method_problem`), is listed as broken (``host.broken``) and none of
    its registrations are kept, so a bug in one plugin cannot break every command; looking up one of the
    ids it registered names the plugin and its error (``host.withdrawn``). A duplicate
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
                _withdraw(host, plugin_name, staged.pop(plugin_name), failed[plugin_name], f"failed in {hook_name}", exc)
    for plugin_name, items in list(staged.items()):
        problems = [problem for kind, item in items if kind == "methods" for problem in [method_problem(item)] if problem]
        if problems:
            _withdraw(host, plugin_name, staged.pop(plugin_name), "; ".join(problems))
    registry.withdrawn = dict(host.withdrawn)
    for plugin_name, items in staged.items():  # dicts keep insertion order: plugins in load order
        for kind, item in items:
            try:
                registry.add(kind, item, plugin_name)
            except DabenchError as exc:
                if not collect_conflicts:
                    raise
                registry.conflicts.append(str(exc))
    return registry


def _withdraw(host: PluginHost, plugin_name: str, items: list[tuple[str, Any]], error: str,
              what: str = "cannot be used", cause: BaseException | None = None) -> None:
    """List the plugin as broken (fatal under DABENCH_STRICT_PLUGINS) and drop what it registered, each of
    whose ids then names the plugin and ``error`` when looked up."""
    label = host.info(plugin_name).label  # before mark_broken takes it out of the listing
    host.mark_broken(host.info(plugin_name), error, what, cause, registered=True)
    for kind, item in items:
        for name in (item.id, *getattr(item, "aliases", ())):
            host.withdrawn[(kind, name)] = (f"{kind[:-1]} '{name}' is unavailable: {label} is broken (a bug in the "
                                            f"plugin, not in your settings): {error}")


def method_problem(method_cls: Any) -> str | None:
    """What is wrong with a method's declared hyperparameters, naming the method and the field, or None: a
    default that does not fit its field's annotation (``epochs: int = 0.5``), a field without a default,
    or defaults that fail the class's own checks (``Hparams()`` raises in ``__post_init__``). Checked when
    the method registers, so that the plugin is blamed, not a value the user sets on top."""
    from dabench.settings.config import field_types, type_mismatch  # a few imports more, only once plugins load

    name = f"method '{method_cls.id}'"
    hparams = getattr(method_cls, "Hparams", None)
    if not (isinstance(hparams, type) and dataclasses.is_dataclass(hparams)):
        return f"{name}: its Hparams is {hparams!r}, not a dataclass"
    hints = field_types(hparams)
    for f in dataclasses.fields(hparams):
        if not f.init:
            continue
        declared = f"{name} declares {f.name}: {annotation_text(f.type)}"
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            try:
                default = f.default_factory()
            except Exception as exc:  # the plugin's own code
                return f"{declared} whose default_factory raises {type(exc).__name__}: {exc}"
        else:
            return f"{declared} without a default"
        if type_mismatch(hints.get(f.name, Any), default) is not None:
            return f"{declared} but its default is {default!r}"
    try:
        hparams()
    except Exception as exc:  # __post_init__ checks may raise anything
        return f"{name}: its default hyperparameters fail their own checks: Hparams() raises {type(exc).__name__}: {exc}"
    return None


def annotation_text(annotation: Any) -> str:
    """A field's annotation as written (a string under ``from __future__ import annotations``)."""
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


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
