"""Conformance checks a plugin author runs with one call in their own tests: ``check_method(MyMethod)``,
``check_dataset(MyDataset(), data_root)``, ``check_validator(MY_VALIDATOR)`` or ``check_plugin(module)``.
Each raises :class:`ConformanceError` saying what is wrong, or returns a small report."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from dabench.testing.common import ConformanceError, ConformanceWarning, _require
from dabench.testing.datasets import check_dataset, check_validator, write_image_folder
from dabench.testing.methods import (
    MethodReport,
    TinyData,
    check_method,
    check_registration,
    tiny_data,
    tiny_hparams,
    tiny_model,
    tiny_source_model,
)

__all__ = ["ConformanceError", "ConformanceWarning", "MethodReport", "TinyData", "check_dataset", "check_method", "check_plugin",
           "check_registration", "check_validator", "tiny_data", "tiny_hparams", "tiny_model",
           "tiny_source_model", "write_image_folder"]


def check_plugin(module: ModuleType, method_hparams: dict[str, dict[str, Any]] | None = None,
                 data_roots: dict[str, Path] | None = None) -> Any:
    """Register ``module`` beside nothing else and run every check on what it provides
    (``method_hparams``: per method id overrides; ``data_roots``: per dataset id a folder holding ``<id>/``).
    Returns the registry of what the module registered."""
    from dabench.host.loading import PluginHost
    from dabench.host.registry import build_registry

    host = PluginHost()
    host.register_module(module, module.__name__.split(".")[0])
    registry = build_registry(host)
    provided = [*registry.methods, *registry.datasets, *registry.validators, *registry.backbones, *registry.suites]
    _require(bool(provided), f"plugin {module.__name__} registers nothing; implement a register_* hook with @dabench.hookimpl")
    for method_id, method_cls in registry.methods.items():
        check_method(method_cls, (method_hparams or {}).get(method_id))
    for dataset_id, dataset in registry.datasets.items():
        check_dataset(dataset, (data_roots or {}).get(dataset_id))
    for validator in registry.validators.values():
        check_validator(validator)
    return registry
