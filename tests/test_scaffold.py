"""`dabench new-plugin NAME` writes a package whose own tests pass as generated."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

from dabench.cli import cli


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
    # not pip-installed (slow): the package root on PYTHONPATH is what an editable install would add
    env = {**os.environ, "PYTHONPATH": str(root), "DABENCH_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "4 passed" in done.stdout


def test_bad_or_taken_names_are_refused(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["new-plugin", "My-Method", "--dir", str(tmp_path)])
    assert out.exit_code != 0 and "plugin name 'My-Method' must be lower_snake" in str(out.exception)
    (tmp_path / "dabench-taken").mkdir()
    out = CliRunner().invoke(cli, ["new-plugin", "taken", "--dir", str(tmp_path)])
    assert out.exit_code != 0 and "already exists" in str(out.exception)
