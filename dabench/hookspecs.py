"""Hook specifications of the pluggy project ``dabench``: every hook is a ``register_*`` callback.

A plugin module implements any of these with ``@dabench.hookimpl`` and calls ``register`` once per
thing it provides; the host records which plugin registered what.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # annotations only: plugins are loaded without importing torch
    from dabench.data.dataset import Dataset
    from dabench.host.registry import Suite
    from dabench.methods import Method
    from dabench.models import Backbone
    from dabench.validators import Validator

hookspec = pluggy.HookspecMarker("dabench")


@hookspec
def register_datasets(register: Callable[[Dataset], None]) -> None:
    """Call ``register(dataset)`` with a :class:`dabench.data.Dataset` instance per dataset."""


@hookspec
def register_methods(register: Callable[[type[Method]], None]) -> None:
    """Call ``register(MethodClass)`` with a :class:`dabench.methods.Method` subclass per method. Its
    ``Hparams`` defaults are checked then (:func:`dabench.host.registry.method_problem`): one that fails breaks
    the plugin."""


@hookspec
def register_backbones(register: Callable[[Backbone], None]) -> None:
    """Call ``register(backbone)`` with a :class:`dabench.models.Backbone` per backbone."""


@hookspec
def register_suites(register: Callable[[Suite], None]) -> None:
    """Call ``register(suite)`` with a :class:`dabench.host.registry.Suite` per named list of pairs."""


@hookspec
def register_validators(register: Callable[[Validator], None]) -> None:
    """Call ``register(validator)`` with a :class:`dabench.validators.Validator` per label-free
    model-selection criterion."""
