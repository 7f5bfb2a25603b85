"""`dabench new-plugin NAME` writes a package whose own tests pass as generated, and refuses names
that would clash with an installed plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from dabench import registry as registry_module
from dabench.cli import cli


def _pytest(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", *args], cwd=root,
                          env=env, capture_output=True, text=True, timeout=600)


def _install_metadata(root: Path, site: Path) -> None:
    """What `pip install -e` leaves for importlib.metadata: the dist-info with the package's entry points
    (the package itself is importable from ``root`` on PYTHONPATH); pip would be slow and need a network."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    dist_info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = "".join(f"{name} = {module}\n" for name, module in project["entry-points"]["dabench"].items())
    (dist_info / "entry_points.txt").write_text(f"[dabench]\n{lines}")


def test_generated_package_passes_its_own_tests(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["new-plugin", "my_method", "--dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    root = tmp_path / "dabench-my-method"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "README.md", "dabench_my_method/__init__.py", "dabench_my_method/dataset.py", "dabench_my_method/method.py",
        "pyproject.toml", "tests/test_plugin.py"]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == "dabench-my-method"
    assert project["entry-points"]["dabench"] == {"my_method": "dabench_my_method"}
    env = {**os.environ, "PYTHONPATH": str(root), "DABENCH_HOME": str(tmp_path / "home")}
    # before it is installed, the `dabench plugins` test says why it cannot run
    before = _pytest(root, env, "-rs", "-k", "listed_by_dabench_plugins")
    assert before.returncode == 0 and "1 skipped" in before.stdout, before.stdout[-3000:]
    assert "dabench-my-method is not installed; run `pip install -e .`" in before.stdout
    # installed: every test runs, `dabench plugins` lists it
    _install_metadata(root, tmp_path / "site")
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(tmp_path / "site")])
    done = _pytest(root, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "5 passed" in done.stdout and "skipped" not in done.stdout


def test_bad_or_taken_names_are_refused(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["new-plugin", "My-Method", "--dir", str(tmp_path)])
    assert out.exit_code != 0 and "plugin name 'My-Method' must be lower_snake" in str(out.exception)
    (tmp_path / "dabench-taken").mkdir()
    out = CliRunner().invoke(cli, ["new-plugin", "taken", "--dir", str(tmp_path)])
    assert out.exit_code != 0 and "already exists" in str(out.exception)


@pytest.fixture
def _fresh_registry():
    registry_module.reset()
    yield
    registry_module.reset()


@pytest.mark.usefixtures("_fresh_registry")
@pytest.mark.parametrize("name,reason", [
    ("shot", "it is already an entry-point name in group 'dabench' (of dabench 0.1.0)"),  # a built-in's entry point
    ("synthetic", "it is already an entry-point name in group 'dabench' (of dabench 0.1.0)"),
    ("target_oracle", "it is already an entry-point name in group 'dabench' (of dabench 0.1.0)"),
])
def test_names_of_installed_entry_points_are_refused(name: str, reason: str, tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["new-plugin", name, "--dir", str(tmp_path)])
    assert out.exit_code != 0
    assert str(out.exception) == f"plugin name '{name}' is taken: {reason}; choose another name, e.g. 'my_{name}'"
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.usefixtures("_fresh_registry")
def test_method_ids_and_aliases_are_refused(tmp_path: Path) -> None:
    from dabench.methods import Method
    from dabench.registry import get_registry

    class Renamed(Method):
        id = "renamed_method"
        aliases = ("old_name",)

    registry = get_registry()
    registry.add("methods", Renamed, "some_plugin")  # a method whose id is not its plugin's entry-point name
    out = CliRunner().invoke(cli, ["new-plugin", "renamed_method", "--dir", str(tmp_path)])
    assert str(out.exception) == ("plugin name 'renamed_method' is taken: it is already the id of method "
                                  "'renamed_method' (plugin 'some_plugin'); choose another name, e.g. 'my_renamed_method'")
    out = CliRunner().invoke(cli, ["new-plugin", "old_name", "--dir", str(tmp_path)])
    assert "it is already an alias of method 'renamed_method' (plugin 'some_plugin')" in str(out.exception)
    assert list(tmp_path.iterdir()) == []
