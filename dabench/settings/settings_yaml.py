"""Reading settings text: ``--set key=value``, ``-c`` files, presets and a method's per-pair defaults, all as
YAML with two corrections researchers expect: booleans are ``true``/``false`` only (YAML 1.2), and ``1e-3``
is a float (YAML 1.1 reads it as a string)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from dabench.errors import DabenchError


class _SettingsLoader(yaml.SafeLoader):
    """YAML for settings: booleans are ``true`` and ``false`` only (YAML 1.2). PyYAML's YAML 1.1 also reads
    yes/no/on/off/y/n as booleans, so ``--set reweight=yes`` silently became True; here it stays the word
    ``yes``, which a bool setting refuses by name."""


_SettingsLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_SettingsLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                      list("tTfF"))


def load_yaml(text: str) -> Any:
    """Settings text (a --set value, a -c file, a preset, a method's per-pair defaults) as Python values."""
    return yaml.load(text, Loader=_SettingsLoader)  # noqa: S506 -- a SafeLoader subclass


def parse_set(assignment: str) -> dict[str, Any]:
    """``a.b=v`` -> {"a": {"b": v}} with v parsed as YAML."""
    if "=" not in assignment:
        raise DabenchError(f"--set '{assignment}': write it as key=value, e.g. --set epochs=5")
    key, raw = assignment.split("=", 1)
    try:
        value = load_yaml(raw) if raw != "" else ""
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
        loaded = load_yaml(Path(path).read_text())
    except OSError as exc:
        raise DabenchError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise DabenchError(f"config file {path} is not UTF-8 text (byte {exc.start}); -c takes a YAML file") from None
    except yaml.YAMLError as exc:
        raise DabenchError(f"config file {path} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise DabenchError(f"config file {path} must hold a mapping of keys to values")
    return _yaml11_float(loaded)
