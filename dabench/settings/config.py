"""Resolving a run's configuration: defaults <- method per-pair YAML <- ``-c`` files <- ``--set``.

Method hyperparameters sit at the top level (``--set epochs=5``); run settings are the reserved
keys of :data:`RUN_DEFAULTS` (``--set source.epochs=10``). Unknown keys and wrongly typed values are
errors that list the valid keys.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from dabench.errors import DabenchError
from dabench.settings.recipes import SOURCE_INITS, DistilRecipe, SSLRecipe, SupervisedRecipe, check_ssl_seed
from dabench.settings.settings_yaml import load_file, load_yaml, parse_set  # noqa: F401 -- the settings' readers

PROTOCOLS = ("inductive", "transductive")
INITS = ("source", "ssl", "scratch")  # what the trained network starts from; a method lists those it supports
# how images in [0, 1] are normalised before the backbone, per channel (mean, std): dabench's own (every
# network trained here from scratch), or ImageNet's (torchvision's pretrained weights and most FER
# checkpoints); the default follows the weights (dabench.run.start.resolve_start)
NORMALIZATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "dabench": ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}

RUN_DEFAULTS: dict[str, Any] = {
    "backbone": None,  # None: the datasets' default (small_cnn for small images, resnet18 otherwise)
    "backbone_weights": None,  # a local file of pretrained backbone weights
    "normalization": None,  # None: imagenet when backbone_weights is set, else dabench (see NORMALIZATIONS)
    "image_size": None,  # None: the backbone's default
    "protocol": "inductive",
    "init": None,  # None: the method's default (the first of its ``inits``); "ssl": a target-SSL backbone
    "amp": True,  # bf16 autocast + channels_last on CUDA
    "compile": False,  # torch.compile the backbone of the network a method adapts or trains
    "eval_batch_size": 512,
    "source": dataclasses.asdict(SupervisedRecipe()),
    "ssl": dataclasses.asdict(SSLRecipe()),  # the target self-supervised pretraining (init=ssl)
    "distil": dataclasses.asdict(DistilRecipe()),  # init=ssl for methods that adapt the network they are handed
    "data": {"source": {}, "target": {}},  # dataset options per side (e.g. n_train for synth)
}
FREE_FORM_SECTIONS = ("data",)  # checked by the dataset, not here
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 1024  # px; the range native datasets accept too


def _optional_str(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "str or null"


def _choice_or_null(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value is None or value in choices else f"one of {', '.join(choices)} or null"
    return check


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda value: None if value in choices else f"one of {', '.join(choices)}"


def _image_size(value: Any) -> str | None:
    ok = value is None or (_is_int(value) and MIN_IMAGE_SIZE <= value <= MAX_IMAGE_SIZE)
    return None if ok else f"int in {MIN_IMAGE_SIZE}..{MAX_IMAGE_SIZE} (px) or null"


def _existing_file(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        return "the path of a file of backbone weights (str) or null"
    return None if Path(value).expanduser().is_file() else "the path of an existing file of backbone weights or null"


def _positive_int(value: Any) -> str | None:
    return None if _is_int(value) and value >= 1 else "int >= 1"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# What a run setting accepts (by its dotted path), where its default's type says too little: a None default accepts
# anything otherwise, and a range is no type. A check returns None when the value is fine, else what
# the value must be. These run at plan time (check_against), so a bad value never starts a run.
RUN_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "backbone": _optional_str,  # the id itself is checked against the registry
    "backbone_weights": _existing_file,
    "image_size": _image_size,
    "protocol": _choice(PROTOCOLS),
    "init": _choice_or_null(INITS),
    "normalization": _choice_or_null(tuple(NORMALIZATIONS)),
    "source.init": _choice_or_null(SOURCE_INITS),
    "eval_batch_size": _positive_int,
    "ssl.seed": check_ssl_seed,
}


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
    """Every key of ``values`` exists in ``defaults`` with a compatible type; the top-level run
    settings of :data:`RUN_CHECKS` must pass their check instead."""
    for key, value in values.items():
        path = f"{where}{key}"
        if key not in defaults:
            valid = ", ".join(f"{where}{name}" for name in sorted(defaults))
            raise DabenchError(f"unknown config key '{path}'; valid keys: {valid}")
        default = defaults[key]
        if path in RUN_CHECKS:
            wanted = RUN_CHECKS[path](value)
            if wanted is not None:
                raise DabenchError(f"config key '{path}' must be {wanted}, got {value!r}")
            continue
        if key in FREE_FORM_SECTIONS and not where:
            if not isinstance(value, dict):
                raise DabenchError(f"config key '{path}' must be a mapping")
            # the sides are fixed even though their options are the dataset's: a typo such as
            # data.tgt.n_train would otherwise be ignored without a word
            if isinstance(default, dict) and default:
                for side, options in value.items():
                    if side not in default:
                        valid = ", ".join(f"{path}.{name}" for name in default)
                        raise DabenchError(f"unknown config key '{path}.{side}'; valid keys: {valid} "
                                           "(each a mapping of that side's dataset options)")
                    if not isinstance(options, dict):
                        raise DabenchError(f"config key '{path}.{side}' must be a mapping of dataset options")
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
    """Instantiate a frozen dataclass; a value of the wrong type for its field, and the class's own
    range checks, become user errors."""
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in names}
    for f in dataclasses.fields(cls):
        if f.name in kwargs and isinstance(f.default, float) and isinstance(kwargs[f.name], int):
            kwargs[f.name] = float(kwargs[f.name])
    hints = field_types(cls)
    for name, value in kwargs.items():
        wanted = type_mismatch(hints.get(name, Any), value)
        if wanted is not None:
            raise DabenchError(f"bad {what}: field '{name}' must be {wanted}, got {value!r}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise DabenchError(f"bad {what}: {exc}") from None


def field_types(cls: type) -> dict[str, Any]:
    """A dataclass's field annotations, resolved (``from __future__ import annotations`` leaves strings);
    {} where they cannot be resolved, which skips the type checks rather than failing on a plugin."""
    try:
        return typing.get_type_hints(cls)
    except Exception:  # a plugin's annotation may name anything; the checks are a help, not a gate
        return {}


def type_mismatch(hint: Any, value: Any) -> str | None:
    """None when ``value`` fits the annotation ``hint``, else the type it must have, in words
    (``int``, ``float or null``, ``a list of str``). Unfamiliar annotations accept anything."""
    return None if _fits(hint, value) else _describe(hint)


def _fits(hint: Any, value: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or isinstance(hint, typing.TypeVar):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_fits(arg, value) for arg in args)
    if origin is typing.Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is Path:
        return isinstance(value, (str, Path))
    if hint in (tuple, list) or origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        items = [arg for arg in args if arg is not Ellipsis]
        if origin is tuple and len(items) == len(args) and args:  # tuple[int, str]: one hint per item
            return len(value) == len(items) and all(_fits(a, v) for a, v in zip(items, value, strict=True))
        return all(_fits(items[0], v) for v in value) if items else True
    if hint is dict or origin is dict:
        return isinstance(value, dict)
    return True


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(str(arg) for arg in args)
    if hint is type(None):
        return "null"
    if hint in (tuple, list) or origin in (tuple, list):
        items = [arg for arg in args if arg is not Ellipsis]
        return f"a list of {_describe(items[0])}" if len(set(items)) == 1 else "a list"
    if hint is dict or origin is dict:
        return "a mapping"
    return getattr(hint, "__name__", str(hint))
