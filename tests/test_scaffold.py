"""`dabench new-plugin NAME [--kind K]` writes a package of one kind (method, dataset, backbone or
validator) whose own tests pass as generated, several in one pytest call and from a folder holding a
dabench checkout, and refuses names that would clash with an installed plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from dabench.authoring.scaffold import KINDS, new_plugin, next_steps
from dabench.cli import cli
from dabench.errors import DabenchError
from dabench.host import registry as registry_module

REPO = Path(__file__).resolve().parents[1]


def _pytest(roots: list[Path], cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """pytest on the packages' tests in one call. -P: like the `pytest` script, `python -P -m pytest` does
    not put ``cwd`` on sys.path (the generated tests must not depend on the folder they are run from)."""
    tests = [str(root / "tests") for root in roots]
    return subprocess.run([sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests, *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _install_metadata(root: Path, site: Path) -> None:
    """What `pip install -e` leaves for importlib.metadata: the dist-info with the package's entry points
    (the package itself is importable from ``root`` on PYTHONPATH); pip would be slow and need a network."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    dist_info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = "".join(f"{name} = {module}\n" for name, module in project["entry-points"]["dabench"].items())
    (dist_info / "entry_points.txt").write_text(f"[dabench]\n{lines}")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_default_kind_is_a_method_alone(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["new-plugin", "my_method", "--dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    root = tmp_path / "dabench-my-method"
    assert _files(root) == ["README.md", "dabench_my_method/__init__.py", "dabench_my_method/method.py",
                            "pyproject.toml", "tests/test_dabench_my_method.py"]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == "dabench-my-method" and project["description"] == "dabench plugin: the my_method method"
    assert project["entry-points"]["dabench"] == {"my_method": "dabench_my_method"}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_writes_its_module_alone(tmp_path: Path, kind: str) -> None:
    name = f"my_{kind}"
    root = new_plugin(name, tmp_path, kind)
    assert root == tmp_path / f"dabench-my-{kind}"
    assert _files(root) == ["README.md", f"dabench_{name}/__init__.py", f"dabench_{name}/{kind}.py", "pyproject.toml",
                            f"tests/test_dabench_{name}.py"]
    init = (root / f"dabench_{name}" / "__init__.py").read_text()
    hooks = [line.split("(")[0] for line in init.splitlines() if line.startswith("def register_")]
    assert hooks == [f"def register_{kind}s"]
    assert f"registers the {name} {kind} with dabench" in init
    for path in root.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")  # every template formats to valid Python
    tests = (root / "tests" / f"test_dabench_{name}.py").read_text()
    assert f'"{kind} {name}" in row' in tests  # `dabench plugins` must list what this kind registers
    assert '"-P", "-m", "dabench", "plugins"' in tests and "cwd=tmp_path" in tests
    assert "pip install -e '.[test]'" in (root / "README.md").read_text()
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["test"] == ["pytest>=7.4"]


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DabenchError) as error:
        new_plugin("my_loss", tmp_path, "loss")
    assert str(error.value) == "plugin kind 'loss' must be one of method, dataset, backbone, validator"
    assert list(tmp_path.iterdir()) == []


def test_next_steps_install_the_test_extra() -> None:
    root = Path("/home/me/dabench-my-method")
    assert next_steps(root) == ("pip install -e '/home/me/dabench-my-method[test]' && "
                                "pytest /home/me/dabench-my-method/tests && dabench plugins")


def test_generated_packages_pass_their_own_tests(tmp_path: Path) -> None:
    """One package per kind; their tests in one pytest call (unique test module names, so no clash), run
    from a folder holding a dabench checkout: `python -m dabench` there used to import that checkout
    as a namespace package whose plugins/ folder shadowed dabench.host.loading (cannot import 'PluginHost')."""
    roots = [new_plugin(f"my_{kind}", tmp_path / "plugins", kind) for kind in KINDS]
    beside_checkout = tmp_path / "src"
    beside_checkout.mkdir()
    (beside_checkout / "dabench").symlink_to(REPO, target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, roots)), "DABENCH_HOME": str(tmp_path / "home")}
    # before they are installed, the `dabench plugins` tests say why they cannot run
    before = _pytest(roots, beside_checkout, env, "-rs", "-k", "listed_by_dabench_plugins")
    assert before.returncode == 0 and "4 skipped" in before.stdout, before.stdout[-3000:]
    assert "dabench-my-method is not installed; run `pip install -e .`" in before.stdout
    # installed: every test runs, `dabench plugins` lists each
    for root in roots:
        _install_metadata(root, tmp_path / "site")
    env["PYTHONPATH"] = os.pathsep.join([*map(str, roots), str(tmp_path / "site")])
    done = _pytest(roots, beside_checkout, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "20 passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-3000:]


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
    from dabench.host.registry import get_registry
    from dabench.methods import Method

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


@pytest.mark.usefixtures("_fresh_registry")
def test_ids_of_the_same_kind_are_refused(tmp_path: Path) -> None:
    """A name is checked against the ids of the kind the skeleton registers; another kind may share it."""
    from dabench.host.registry import get_registry
    from dabench.models import Backbone
    from dabench.validators import Validator

    registry = get_registry()
    registry.add("backbones", Backbone("wide_net", lambda weights: None, 8, None), "nets_plugin")
    registry.add("validators", Validator("calm", lambda features, logits: 0.0, True), "calm_plugin")
    with pytest.raises(DabenchError) as error:
        new_plugin("wide_net", tmp_path, "backbone")
    assert str(error.value) == ("plugin name 'wide_net' is taken: it is already the id of backbone 'wide_net' "
                                "(plugin 'nets_plugin'); choose another name, e.g. 'my_wide_net'")
    with pytest.raises(DabenchError, match="it is already the id of validator 'calm' \\(plugin 'calm_plugin'\\)"):
        new_plugin("calm", tmp_path, "validator")
    assert list(tmp_path.iterdir()) == []
    assert new_plugin("calm", tmp_path, "method").name == "dabench-calm"  # no method is called calm


def test_cli_kind_option_and_next_line_install_the_test_extra(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["new-plugin", "my_backbone", "--kind", "backbone", "--dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    root = tmp_path / "dabench-my-backbone"
    assert "dabench_my_backbone/backbone.py" in _files(root) and "dabench_my_backbone/method.py" not in _files(root)
    assert out.output.splitlines()[-1] == f"next: {next_steps(root)}"
    assert "[test]" in next_steps(root)
    bad = CliRunner().invoke(cli, ["new-plugin", "x_loss", "--kind", "loss", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "Invalid value for '--kind'" in bad.output
