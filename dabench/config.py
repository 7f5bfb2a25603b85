"""Resolving a run's configuration: defaults <- method per-pair YAML <- ``-c`` files <- ``--set``.

Method hyperparameters sit at the top level (``--set epochs=5``); run settings are the reserved
keys of :data:`RUN_DEFAULTS` (``--set source.epochs=10``). Unknown keys and wrongly typed values are
errors that list the valid keys.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import yaml

from dabench.errors import DabenchError
from dabench.ssl import SSLRecipe
from dabench.train.supervised import SupervisedRecipe

PROTOCOLS = ("inductive", "transductive")
INITS = ("source", "ssl", "scratch")  # what the trained network starts from; a method lists those it supports

RUN_DEFAULTS: dict[str, Any] = {
    "backbone": None,  # None: the datasets' default (small_cnn for small images, resnet18 otherwise)
    "backbone_weights": None,  # a local file of pretrained backbone weights
    "image_size": None,  # None: the backbone's default
    "protocol": "inductive",
    "init": None,  # None: the method's default (the first of its ``inits``); "ssl": a target-SSL backbone
    "amp": True,  # bf16 autocast + channels_last on CUDA
    "compile": False,  # torch.compile the backbone of the network a method adapts or trains
    "eval_batch_size": 512,
    "source": dataclasses.asdict(SupervisedRecipe()),
    "ssl": dataclasses.asdict(SSLRecipe()),  # the target self-supervised pretraining (init=ssl)
    "data": {"source": {}, "target": {}},  # dataset options per side (e.g. n_train for synth)
}
FREE_FORM_SECTIONS = ("data",)  # checked by the dataset, not here


def parse_set(assignment: str) -> dict[str, Any]:
    """``a.b=v`` -> {"a": {"b": v}} with v parsed as YAML."""
    if "=" not in assignment:
        raise DabenchError(f"--set '{assignment}': write it as key=value, e.g. --set epochs=5")
    key, raw = assignment.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as exc:
        raise DabenchError(f"--set {key}: value '{raw}' is not valid YAML ({exc})") from None
    value = _yaml11_float(value)
    nested: dict[str, Any] = {}
    cursor = nested
    parts = key.strip().split(".")
    for part in parts[:-1]:
        cursor = cursor.setdefault(part, {})
    cursor[parts[-1]] = value
    return nested


def _yaml11_float(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` as a string; researchers mean a float."""
    if isinstance(value, dict):
        return {key: _yaml11_float(item) for key, item in value.items()}
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_file(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise DabenchError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise DabenchError(f"config file {path} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise DabenchError(f"config file {path} must hold a mapping of keys to values")
    return _yaml11_float(loaded)


def describe_changes(changes: dict[str, Any]) -> str:
    """``{"epochs": 5, "source": {"lr": 0.1}}`` -> ``"epochs=5, source.lr=0.1"`` (sorted; "" for none):
    the label that keeps runs with non-default settings apart from the default ones in reports."""
    flat: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key in sorted(value):
                walk(f"{prefix}.{key}" if prefix else str(key), value[key])
        else:
            flat.append(f"{prefix}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}")

    walk("", changes)
    return ", ".join(flat)


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def check_against(defaults: dict[str, Any], values: dict[str, Any], where: str = "") -> None:
    """Every key of ``values`` exists in ``defaults`` with a compatible type."""
    for key, value in values.items():
        path = f"{where}{key}"
        if key not in defaults:
            valid = ", ".join(f"{where}{name}" for name in sorted(defaults))
            raise DabenchError(f"unknown config key '{path}'; valid keys: {valid}")
        default = defaults[key]
        if key in FREE_FORM_SECTIONS and not where:
            if not isinstance(value, dict):
                raise DabenchError(f"config key '{path}' must be a mapping")
            continue
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise DabenchError(f"config key '{path}' must be a mapping of {', '.join(sorted(default))}")
            check_against(default, value, f"{path}.")
        elif not _type_ok(default, value):
            raise DabenchError(f"config key '{path}' must be {type(default).__name__} "
                               f"(like the default {default!r}), got {value!r}")


def _type_ok(default: Any, value: Any) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def build_dataclass(cls: type, values: dict[str, Any], what: str) -> Any:
    """Instantiate a frozen dataclass; its own range checks become user errors."""
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in names}
    for f in dataclasses.fields(cls):
        if f.name in kwargs and isinstance(f.default, float) and isinstance(kwargs[f.name], int):
            kwargs[f.name] = float(kwargs[f.name])
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise DabenchError(f"bad {what}: {exc}") from None
