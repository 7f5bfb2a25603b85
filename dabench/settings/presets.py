"""Presets: a reference implementation's recipe as one named, versioned config layer (``--preset NAME``).

A preset sits between the defaults (with the method's per-pair YAML) and ``-c`` files: defaults <- method
YAML <- preset <- ``-c`` <- ``--set``. Its file (``presets/<name>.yaml``, shipped in the wheel) holds run
settings for every method (``settings``), hyperparameters per method (``methods``) and per pair and method
(``pairs``), the reference it copies, and what it does not match (``not_matched``). A run made with a preset
records ``preset: {name, version, overridden}`` in its config (so in its run id); its values are in the
resolved config like any other. A ``-c``/``--set`` value that contradicts the preset wins and is listed in
``overridden``. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dabench.errors import DabenchError
from dabench.settings.config import deep_merge
from dabench.settings.settings_yaml import load_yaml

PRESET_DIR = Path(__file__).with_name("presets")
FIELDS = ("name", "version", "description", "reference", "settings", "methods", "pairs", "not_matched")


@dataclass(frozen=True)
class Preset:
    name: str
    version: int
    description: str
    reference: str
    settings: dict[str, Any]  # run settings, for every method
    methods: dict[str, dict[str, Any]]  # method id -> hyperparameters
    pairs: dict[str, dict[str, dict[str, Any]]]  # "S:T" -> method id -> hyperparameters
    not_matched: tuple[str, ...]
    path: Path

    def layer(self, method: str, pair: str) -> dict[str, Any]:
        """The config layer a run of ``method`` on ``pair`` gets: the settings, then the method's, then the pair's."""
        layer = deep_merge(self.settings, self.methods.get(method, {}))
        return deep_merge(layer, self.pairs.get(pair, {}).get(method, {}))

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def known() -> list[str]:
    return sorted(path.stem for path in PRESET_DIR.glob("*.yaml"))


def load(name: str) -> Preset:
    """The preset ``name``; an unknown name is an error listing the known ones."""
    path = PRESET_DIR / f"{name}.yaml"
    if not name or "/" in name or not path.is_file():
        raise DabenchError(f"unknown preset '{name}'; known presets: {', '.join(known())} "
                           "(dabench list presets; dabench preset show NAME)")
    try:
        data = load_yaml(path.read_text())  # YAML 1.2 booleans, as every settings layer
    except yaml.YAMLError as exc:
        raise DabenchError(f"preset file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or set(data) - set(FIELDS) or not {"name", "version", "settings"} <= set(data):
        raise DabenchError(f"preset file {path} must be a mapping with name, version and settings (allowed keys: "
                           f"{', '.join(FIELDS)})")
    if data["name"] != name or not isinstance(data["version"], int) or isinstance(data["version"], bool):
        raise DabenchError(f"preset file {path}: name must be '{name}' and version an int, got "
                           f"{data['name']!r}, {data['version']!r}")
    return Preset(name, data["version"], str(data.get("description") or ""), str(data.get("reference") or ""),
                  data.get("settings") or {}, data.get("methods") or {}, data.get("pairs") or {},
                  tuple(data.get("not_matched") or ()), path)


def record(preset: Preset, method: str, pair: str, changes: dict[str, Any]) -> dict[str, Any]:
    """What a run's config says of its preset: name, version, and each key the run's ``changes`` (the
    user's -c/--set values that differ from the preset run) set against the preset's own value."""
    layer = preset.layer(method, pair)
    overridden = {key: {"preset": value, "run": run_value}
                  for key, value, run_value in _contradictions(layer, changes, "")}
    return {"name": preset.name, "version": preset.version, "overridden": overridden}


def variant_label(recorded: dict[str, Any], changes_text: str) -> str:
    """The leaderboard's variant label of a run made with a preset: ``preset NAME vN`` and its other changes."""
    label = f"preset {recorded['name']} v{recorded['version']}"
    return f"{label}; {changes_text}" if changes_text else label


def override_lines(recorded: dict[str, Any] | None) -> list[str]:
    """One line per preset value a -c/--set replaced (for the CLI to say so)."""
    if not recorded:
        return []
    return [f"{key}={_text(values['run'])} overrides preset {recorded['name']} v{recorded['version']} "
            f"({key}={_text(values['preset'])})" for key, values in sorted(recorded["overridden"].items())]


def _contradictions(layer: dict[str, Any], changes: dict[str, Any], prefix: str):
    for key, value in changes.items():
        if key not in layer:
            continue
        if isinstance(value, dict) and isinstance(layer[key], dict):
            yield from _contradictions(layer[key], value, f"{prefix}{key}.")
        elif value != layer[key]:
            yield f"{prefix}{key}", layer[key], value


def _text(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
