"""The example plugin passes dabench's conformance checks (run: pytest examples/dabench-example-plugin/tests)."""

from __future__ import annotations

from pathlib import Path

import dabench_example
from dabench_example import ConfidentEntMin, ExampleFaces

from dabench.testing import check_dataset, check_method, check_plugin, write_image_folder


def test_method_conforms() -> None:
    report = check_method(ConfidentEntMin, {"threshold": 0.3})
    assert report.epochs_reported == [0]


def test_dataset_conforms(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "example_faces", per_class=2)
    assert check_dataset(ExampleFaces(), tmp_path) == {"train": 14, "test": 14}


def test_plugin_registers_both(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "example_faces", per_class=1)
    registry = check_plugin(dabench_example, data_roots={"example_faces": tmp_path})
    assert sorted(registry.methods) == ["confident_entmin"] and sorted(registry.datasets) == ["example_faces"]
