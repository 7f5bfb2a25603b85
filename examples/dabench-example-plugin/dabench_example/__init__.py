"""dabench-example-plugin: one pluggy plugin module registering a method and a dataset."""

from __future__ import annotations

import dabench
from dabench_example.dataset import ExampleFaces
from dabench_example.method import ConfidentEntMin

__all__ = ["ConfidentEntMin", "ExampleFaces"]


@dabench.hookimpl
def register_methods(register) -> None:
    register(ConfidentEntMin)


@dabench.hookimpl
def register_datasets(register) -> None:
    register(ExampleFaces())
