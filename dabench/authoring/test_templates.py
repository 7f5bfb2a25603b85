"""The tests ``dabench new-plugin`` writes into a new package (``str.format`` templates: doubled braces are
literal): the conformance checks of its kind, run by the package's own pytest."""

TEST = '''"""dabench's conformance checks for the {name} {kind} (run: pytest tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest{third_party}

import dabench_{name}
{first_party}from dabench_{name} import {export}

ROOT = Path(__file__).resolve().parents[1]


def test_entry_point_declared() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["dabench"] == {{"{name}": "dabench_{name}"}}
{checks}

def test_listed_by_dabench_plugins(tmp_path: Path) -> None:
    """Installed (pip install -e .), the entry point loads: `dabench plugins` lists it as ok."""
    try:
        metadata.distribution("dabench-{dist}")
    except metadata.PackageNotFoundError:
        pytest.skip("dabench-{dist} is not installed; run `pip install -e .` to check its entry point")
    env = {{**os.environ, "DABENCH_LOAD_PLUGINS": "{name}"}}  # this plugin alone beside the built-ins
    # -P and a neutral cwd: `python -m` puts the current folder first on sys.path, where a folder named
    # dabench (a checkout) would shadow the installed dabench (ImportError: cannot import name 'PluginHost')
    out = subprocess.run([sys.executable, "-P", "-m", "dabench", "plugins"], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    row = next((line for line in out.stdout.splitlines() if line.split()[:1] == ["{name}"]), "")
    assert " ok " in row and "{kind} {name}" in row, out.stdout + out.stderr
'''

# Per kind: the tests' third-party and dabench imports and their checks; below, the module's template,
# what __init__ imports and registers, and a README command.
CHECKS = {
    "method": ("", "from dabench.testing import check_method, check_plugin\n", """

def test_method_conforms() -> None:
    report = check_method({camel})  # registration, tiny CPU runs, output shape, determinism, no labels
    assert report.epochs_reported == [0]


def test_plugin_registers_the_method() -> None:
    assert list(check_plugin(dabench_{name}).methods) == ["{name}"]
"""),
    "dataset": ("", "from dabench.testing import check_dataset, check_plugin, write_image_folder\n", """

def test_dataset_conforms(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "{name}", per_class=2)
    assert check_dataset({camel}(), tmp_path) == {{"train": 14, "test": 14}}


def test_plugin_registers_the_dataset(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "{name}", per_class=1)
    assert list(check_plugin(dabench_{name}, data_roots={{"{name}": tmp_path}}).datasets) == ["{name}"]
"""),
    "backbone": ("\nimport torch", "from dabench.models import ClassifierNet\nfrom dabench.testing import check_plugin\n", """

@pytest.mark.parametrize("side", [32, 48])
def test_features_have_the_declared_width(side: int) -> None:
    with torch.no_grad():
        features = BACKBONE.build(None).eval()(torch.rand(2, 3, side, side))
    assert features.shape == (2, BACKBONE.feature_dim)


def test_every_layer_trains_under_a_classifier() -> None:
    torch.manual_seed(0)
    model = ClassifierNet(BACKBONE.build(None), BACKBONE.feature_dim, num_classes=7)
    logits = model(torch.rand(4, 3, 32, 32))
    assert logits.shape == (4, 7)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters())


def test_weights_file_is_loaded(tmp_path: Path) -> None:
    saved = BACKBONE.build(None)
    torch.save(saved.state_dict(), tmp_path / "weights.pt")
    loaded = BACKBONE.build(tmp_path / "weights.pt")
    assert all(torch.equal(a, b) for a, b in zip(saved.state_dict().values(), loaded.state_dict().values()))


def test_plugin_registers_the_backbone() -> None:
    assert list(check_plugin(dabench_{name}).backbones) == ["{name}"]
"""),
    "validator": ("\nimport torch", "from dabench.testing import check_plugin, check_validator\n", """

def test_validator_conforms() -> None:
    check_validator(VALIDATOR)  # a finite float, deterministic, independent of the order of the samples


def test_scores_on_hand_made_predictions() -> None:
    features = torch.zeros(4, 256)
    assert VALIDATOR.score(features, 50 * torch.eye(4, 7)) == pytest.approx(1.0)  # sure of every sample
    assert VALIDATOR.score(features, torch.zeros(4, 7)) == pytest.approx(1 / 7)  # uniform
    assert VALIDATOR.higher_is_better


def test_plugin_registers_the_validator() -> None:
    assert list(check_plugin(dabench_{name}).validators) == ["{name}"]
"""),
}
