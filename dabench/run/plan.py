"""Planning one run: resolve its config layer by layer, check every key and value before anything is
written, and name it by the hash of what it reads (``RunPlan.run_id``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dabench.data.identity import folder_identity
from dabench.errors import DabenchError
from dabench.host.registry import Pair, Registry
from dabench.labels import pair_classes
from dabench.methods import Method
from dabench.models import check_image_size
from dabench.run.source_model import SourceSpec, inspect_source_file
from dabench.run.start import normalization_of, resolve_start
from dabench.settings import config as cfg
from dabench.settings import presets
from dabench.store import atomic, paths
from dabench.train.distil import DistilRecipe
from dabench.train.ssl import SSLRecipe, check_backbone

MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class RunPlan:
    """A fully resolved run; ``run_id`` is the hash of ``config``."""

    method: type[Method]
    pair: Pair
    seed: int
    classes: tuple[str, ...]
    config: dict[str, Any]
    hparams: Any
    run_id: str
    source_file: dict[str, Any] | None = None  # --source-model: the checked checkpoint's metadata and path


def default_backbone(registry: Registry, pair: Pair) -> str:
    choices = {registry.dataset(name).default_backbone for name in (pair.source, pair.target)}
    return "resnet18" if "resnet18" in choices else "small_cnn"


def plan_run(registry: Registry, method: str, pair: str, seed: int = 0, backbone: str | None = None,
             config_files: tuple[Path, ...] = (), sets: tuple[str, ...] = (),
             source_model: Path | None = None, preset: str | None = None) -> RunPlan:
    """Resolve defaults <- method per-pair YAML <- preset <- files <- --set, and check every key and value."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise DabenchError(f"seed must be an integer in 0..{MAX_SEED} (NumPy's seed range), got {seed!r}")
    method_cls = registry.method(method)
    parsed_pair = registry.pair(pair)
    hparam_defaults = method_cls.hparam_defaults()
    chosen = presets.load(preset) if preset is not None else None
    layered, user_changes, standard = _layered_config(registry, method_cls, hparam_defaults, parsed_pair, config_files,
                                                      sets, backbone, chosen)
    resolved = _resolve_sizes(registry, parsed_pair, layered)
    if resolved["backbone_weights"]:  # a file is the same run from any working directory
        resolved["backbone_weights"] = str(Path(resolved["backbone_weights"]).expanduser().resolve())
    backbone_spec = registry.backbone(resolved["backbone"])
    check_image_size(backbone_spec, resolved["image_size"])
    if resolved["protocol"] not in cfg.PROTOCOLS:
        raise DabenchError(f"config key 'protocol' must be one of {', '.join(cfg.PROTOCOLS)}, got {resolved['protocol']!r}")
    resolved["init"] = resolved["init"] or method_cls.inits[0]
    started = resolve_start(registry, parsed_pair, resolved)  # normalization, source.init, the weights' sha256
    if backbone_spec.packaged_weights is not None:  # weights the backbone's plugin loads from a package
        started["backbone_package_weights"] = backbone_spec.packaged_weights()
    # a setting given its default value is no change: the same run, the same leaderboard row
    user_changes = _changed_only(user_changes, resolved, standard)
    _check_init(registry, method_cls, resolved, backbone_spec)
    splits = _split_identities(registry, parsed_pair, resolved)
    cfg.build_dataclass(cfg.SupervisedRecipe, resolved["source"], "source recipe")
    cfg.build_dataclass(DistilRecipe, resolved["distil"], "distil recipe")
    for section in unused_sections(method_cls, resolved["init"]):  # what the run never reads is not its identity
        del resolved[section]
        user_changes.pop(section, None)
    hparams = cfg.build_dataclass(method_cls.Hparams, {k: resolved[k] for k in hparam_defaults},
                                  f"hyperparameters for method '{method_cls.id}'")
    source_ds, target_ds = registry.dataset(parsed_pair.source), registry.dataset(parsed_pair.target)
    classes = pair_classes(source_ds.classes, target_ds.classes)
    source_file = None
    if source_model is not None:  # checked now, before any data is prepared; identified by its content
        source_file = inspect_source_file(source_model, resolved["backbone"], classes, resolved["image_size"],
                                          (parsed_pair.source, parsed_pair.target))
    config = {"method": method_cls.id, "pair": str(parsed_pair), "seed": seed,
              "source_model": {"sha256": source_file["sha256"]} if source_file else None,
              "variant": cfg.describe_changes(user_changes), "splits": splits, **started, **resolved}
    data_files = data_identities(registry, parsed_pair, with_source=source_file is None)
    if any(data_files.values()):  # generated data is named by its generator's version (in splits) alone
        config["data_files"] = data_files
    if chosen is not None:  # its name and version in the run id; a -c/--set that contradicts it is listed
        config["preset"] = presets.record(chosen, method_cls.id, str(parsed_pair), user_changes)
        config["variant"] = presets.variant_label(config["preset"], config["variant"])
    return RunPlan(method_cls, parsed_pair, seed, classes, config, hparams, atomic.sha256_json(config)[:16],
                   source_file)


def unused_sections(method_cls: type[Method], init: str) -> tuple[str, ...]:
    """The stage recipes a run of ``method_cls`` from ``init`` never reads: ``ssl`` unless init=ssl, and
    ``distil`` unless the method adapts the network it is handed from an init other than the source
    model. They are left out of its config, so a changed SSL default does not rename every run."""
    unused = [] if init == "ssl" else ["ssl"]
    if init == "source" or method_cls.builds_network:
        unused.append("distil")
    return tuple(unused)


def source_spec(plan: RunPlan, data_key: str = "") -> SourceSpec:
    """The source model a run of ``plan`` trains or reuses (``dabench source train --pair`` builds the same)."""
    config = plan.config
    return SourceSpec(plan.pair.source, plan.classes, config["backbone"], config["image_size"], config["source"],
                      plan.seed, config["data"].get("source", {}), config["backbone_weights"], data_key,
                      config.get("backbone_weights_sha256"), normalization_of(config), config.get("source_ssl"))


def _layered_config(registry: Registry, method_cls: type[Method], hparam_defaults: dict[str, Any], pair: Pair,
                    config_files: tuple[Path, ...], sets: tuple[str, ...],
                    backbone: str | None, preset: presets.Preset | None = None,
                    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(the run settings and hyperparameters with every layer merged in, what the user changed on top of the
    defaults (it names the variant), this pair's default run with its sizes resolved)."""
    clash = sorted(set(hparam_defaults) & set(cfg.RUN_DEFAULTS))
    if clash:
        raise DabenchError(f"method '{method_cls.id}' has hyperparameter(s) named like run settings: {', '.join(clash)}")
    defaults = {**cfg.RUN_DEFAULTS, **hparam_defaults}
    defaults["ssl"] = {**defaults["ssl"], **registry.dataset(pair.target).ssl_defaults}
    overrides = method_cls.overrides_for(pair.source, pair.target)
    user_changes: dict[str, Any] = {}
    cfg.check_against(defaults, overrides)
    defaults = cfg.deep_merge(defaults, overrides)
    if preset is not None:  # a reference's recipe: over the method's YAML, under -c and --set
        preset_layer = preset.layer(method_cls.id, str(pair))
        cfg.check_against(defaults, preset_layer)
        defaults = cfg.deep_merge(defaults, preset_layer)
    standard = _resolve_sizes(registry, pair, copy.deepcopy(defaults))  # this pair's default run
    standard["init"] = standard["init"] or method_cls.inits[0]
    for layer in [*(cfg.load_file(path) for path in config_files), *(cfg.parse_set(s) for s in sets)]:
        cfg.check_against(defaults, layer)
        defaults = cfg.deep_merge(defaults, layer)
        user_changes = cfg.deep_merge(user_changes, layer)
    if backbone is not None:
        defaults["backbone"] = backbone
        user_changes["backbone"] = backbone
    return defaults, user_changes, standard


def _resolve_sizes(registry: Registry, pair: Pair, config: dict[str, Any]) -> dict[str, Any]:
    """Fill the backbone (the datasets' default) and image size in place: the backbone's default size, else
    the smaller of the two datasets' native sizes (the resolution both sides really have: upscaling
    FER2013's 48 px faces to ExpW's 112 would add no detail and cost five times the compute)."""
    config["backbone"] = config["backbone"] or default_backbone(registry, pair)
    native = min(registry.dataset(pair.source).native_size, registry.dataset(pair.target).native_size)
    config["image_size"] = config["image_size"] or registry.backbone(config["backbone"]).default_image_size or native
    return config


def _changed_only(changes: dict[str, Any], resolved: dict[str, Any], standard: dict[str, Any]) -> dict[str, Any]:
    """The leaves of ``changes`` whose resolved value differs from the pair's standard run."""
    kept: dict[str, Any] = {}
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(resolved.get(key), dict):
            inner = _changed_only(value, resolved[key], standard.get(key) or {})
            if inner:
                kept[key] = inner
        elif resolved.get(key) != standard.get(key):
            kept[key] = value
    return kept


def _check_init(registry: Registry, method_cls: type[Method], resolved: dict[str, Any], backbone_spec: Any) -> None:
    """``init`` is a known init the method honours (it honours only those it lists); init=ssl also needs a
    valid recipe and an SSL-capable backbone."""
    init = resolved["init"]
    if init not in cfg.INITS:
        raise DabenchError(f"config key 'init' must be one of {', '.join(cfg.INITS)}, got {init!r}")
    if init not in method_cls.inits:
        able = sorted(name for name, m in registry.methods.items() if init in m.inits)
        raise DabenchError(f"method '{method_cls.id}' does not support init={init!r} (it supports: "
                           f"{', '.join(method_cls.inits)}); methods that do: {', '.join(able) or 'none'}")
    if init == "ssl":
        check_backbone(backbone_spec, cfg.build_dataclass(SSLRecipe, resolved["ssl"], "ssl recipe"),
                       resolved["image_size"])


def data_identities(registry: Registry, pair: Pair, with_source: bool = True) -> dict[str, str | None]:
    """What each side's dataset folder holds (:func:`dabench.data.identity.folder_identity`; None for a
    generated dataset, and for the source when a --source-model file stands in for its data): the same
    command on another copy of a dataset with other files is another run, never the old one reused."""
    identities: dict[str, str | None] = {}
    for side in ("source", "target"):
        dataset = registry.dataset(getattr(pair, side))
        if dataset.generated or (side == "source" and not with_source):
            identities[side] = None
            continue
        try:
            folder = paths.dataset_folder(dataset)
        except DabenchError:  # planned without its data (a dry run, a listing); preparing it says what is missing
            identities[side] = "folder not found"
            continue
        identities[side] = folder_identity(folder)
    return identities


def _split_identities(registry: Registry, pair: Pair, resolved: dict[str, Any]) -> dict[str, Any]:
    """Which images are train and test on each side (each dataset's options checked here): a new split
    rule is a new run."""
    splits = {}
    for side in ("source", "target"):
        dataset = registry.dataset(getattr(pair, side))
        options = dataset.options({**resolved["data"].get(side, {}), "resolution": resolved["image_size"]},
                                  where=f"data.{side}.")
        splits[side] = dataset.split_identity(options)
    return splits
