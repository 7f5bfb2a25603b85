"""Broken plugins are listed as such: an import that fails at a file and line, a method whose
hyperparameter defaults fail their own checks; `dabench run` of such a method is refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from fake_dists import fake_distribution

from dabench.errors import DabenchError
from dabench.host.loading import PluginHost
from dabench.host.registry import build_registry, method_problem

_MADE: list[str] = []


@pytest.fixture(autouse=True)
def _forget_modules():
    yield
    while _MADE:
        sys.modules.pop(_MADE.pop(), None)


def _module(name: str, source: str) -> types.ModuleType:
    """A plugin module made in process, in sys.modules until the test ends (dataclasses resolve string
    annotations there)."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    _MADE.append(name)
    exec(textwrap.dedent(source), module.__dict__)
    return module


def _method_plugin(method_id: str, fields: str, post_init: str = "") -> str:
    """A plugin registering one method with the given Hparams fields (and __post_init__ body), plus a suite."""
    check = f"\n        def __post_init__(self):\n            {post_init}\n" if post_init else ""
    return f"""
    from dataclasses import dataclass, field

    import dabench
    from dabench.methods import Method
    from dabench.host.registry import Suite


    @dataclass(frozen=True)
    class Hparams:
        {fields}{check}


    class Bad(Method):
        id = {method_id!r}
        aliases = ({method_id + "_alias"!r},)
        Hparams = Hparams

        def adapt(self, model, target, ctx):
            return model


    @dabench.hookimpl
    def register_methods(register):
        register(Bad)


    @dabench.hookimpl
    def register_suites(register):
        register(Suite("bad_suite", ("synth-lab:synth-wild",)))
    """


WRONG_TYPE = _method_plugin("half_epoch", 'epochs: int = field(default=0.5, metadata={"help": "passes"})')
POST_INIT = _method_plugin("no_epochs", 'epochs: int = field(default=0, metadata={"help": "passes"})',
                           'if self.epochs < 1: raise ValueError("epochs must be >= 1")')
WRONG_TYPE_ERROR = "method 'half_epoch' declares epochs: int but its default is 0.5"
POST_INIT_ERROR = ("method 'no_epochs': its default hyperparameters fail their own checks: Hparams() raises "
                   "ValueError: epochs must be >= 1")


def _unavailable(error: str, kind: str = "method", item: str = "half_epoch") -> str:
    return (f"{kind} '{item}' is unavailable: plugin 'bad' (dabench-bad 0.1) is broken (a bug in the plugin, not in "
            f"your settings): {error}")


# failed imports: file and line -------------------------------------------------------------------
def _load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, modules: dict[str, str], entry: str) -> PluginHost:
    fake_distribution(tmp_path, "dabench-bad", "0.1", {"bad": entry}, modules)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DABENCH_LOAD_PLUGINS", "bad")
    monkeypatch.delenv("DABENCH_STRICT_PLUGINS", raising=False)
    host = PluginHost()
    host.load_entry_points()
    return host


def test_an_import_error_names_the_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    host = _load(tmp_path, monkeypatch, {"bad_mod": "import os\n\n\nraise RuntimeError('boom at import')\n"}, "bad_mod")
    error = "bad_mod.py:4: RuntimeError: boom at import"
    assert [(b.name, b.error) for b in host.broken] == [("bad", error)]
    assert f"plugin 'bad' (dabench-bad 0.1) failed to load and is skipped: {error}." in capsys.readouterr().err


def test_an_import_error_deep_in_the_plugin_package_names_that_file(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "bad_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from bad_pkg import methods\n")
    (package / "methods.py").write_text("import dabench\nimport no_such_module_anywhere\n")
    host = _load(tmp_path, monkeypatch, {}, "bad_pkg")
    assert [b.error for b in host.broken] == [
        f"bad_pkg{os.sep}methods.py:2: ModuleNotFoundError: No module named 'no_such_module_anywhere'"]


def test_a_failure_inside_a_dependency_names_the_plugin_line_that_imported_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modules = {"bad_mod": "import dabench\nimport some_dependency\n",
               "some_dependency": "x = 1\nraise ImportError('some_dependency needs a newer numpy')\n"}
    host = _load(tmp_path, monkeypatch, modules, "bad_mod")
    assert [b.error for b in host.broken] == ["bad_mod.py:2: ImportError: some_dependency needs a newer numpy"]


def test_a_syntax_error_names_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = _load(tmp_path, monkeypatch, {"bad_mod": "import dabench\n\ndef broken(:\n    pass\n"}, "bad_mod")
    assert [b.error for b in host.broken] == ["bad_mod.py:3: SyntaxError: invalid syntax"]


# hyperparameter defaults that fail their checks ------------------------------------------------------
def _registered(source: str, monkeypatch: pytest.MonkeyPatch) -> tuple[PluginHost, object]:
    monkeypatch.delenv("DABENCH_STRICT_PLUGINS", raising=False)
    host = PluginHost()
    host.load_entry_points()
    host.register_module(_module("bad", source), "bad", "dabench-bad", "0.1")
    return host, build_registry(host)


@pytest.mark.parametrize("source, error", [(WRONG_TYPE, WRONG_TYPE_ERROR), (POST_INIT, POST_INIT_ERROR)],
                         ids=["wrong-type", "post-init"])
def test_bad_defaults_break_the_plugin_and_lookups_blame_it(source: str, error: str, monkeypatch: pytest.MonkeyPatch,
                                                            capsys) -> None:
    host, registry = _registered(source, monkeypatch)
    method_id = "half_epoch" if source is WRONG_TYPE else "no_epochs"
    assert [(b.name, b.distribution, b.error) for b in host.broken] == [("bad", "dabench-bad", error)]
    assert capsys.readouterr().err.count(f"plugin 'bad' (dabench-bad 0.1) cannot be used and is skipped: {error}.") == 1
    assert method_id not in registry.methods and "bad_suite" not in registry.suites  # none of its registrations kept
    assert "shot" in registry.methods  # the others are untouched
    for name in (method_id, f"{method_id}_alias"):
        with pytest.raises(DabenchError) as info:
            registry.method(name)
        assert str(info.value) == _unavailable(error, item=name)
    with pytest.raises(DabenchError) as info:
        registry.suite("bad_suite")
    assert str(info.value) == _unavailable(error, "suite", "bad_suite")
    assert build_registry(host).withdrawn == registry.withdrawn  # a second build still knows why


def test_bad_defaults_are_fatal_when_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DABENCH_STRICT_PLUGINS", "1")
    host = PluginHost()
    host.register_module(_module("bad", WRONG_TYPE), "bad", "dabench-bad", "0.1")
    with pytest.raises(DabenchError) as info:
        build_registry(host)
    assert str(info.value) == f"plugin 'bad' (dabench-bad 0.1) cannot be used: {WRONG_TYPE_ERROR} (DABENCH_STRICT_PLUGINS is set)"


@pytest.mark.parametrize("fields, problem", [
    ('epochs: int = True', "declares epochs: int but its default is True"),
    ('lr: float = "1e-3"', "declares lr: float but its default is '1e-3'"),
    ('sizes: tuple[int, ...] = (1, 2.5)', "declares sizes: tuple[int, ...] but its default is (1, 2.5)"),
    ('name: str | None = 3', "declares name: str | None but its default is 3"),
    ('epochs: int', "declares epochs: int without a default"),
    ('items: list[int] = field(default_factory=lambda: 1 / 0)',
     "declares items: list[int] whose default_factory raises ZeroDivisionError: division by zero"),
])
def test_method_problem_names_the_field(fields: str, problem: str) -> None:
    module = _module("one", _method_plugin("one", fields))
    assert method_problem(module.Bad) == f"method 'one' {problem}"


@pytest.mark.parametrize("fields", ['lr: float = 1', 'threshold: float | None = None', 'sizes: tuple[int, ...] = (1, 2)',
                                    'mode: "str" = "a"'])
def test_method_problem_accepts_defaults_that_fit(fields: str) -> None:
    assert method_problem(_module("one", _method_plugin("one", fields)).Bad) is None


def test_every_builtin_method_passes(registry) -> None:
    assert {method_id: method_problem(cls) for method_id, cls in registry.methods.items()} == dict.fromkeys(registry.methods)


# through the command line, with the plugin installed ------------------------------------------------
def _dabench(root: Path, *args: str) -> subprocess.CompletedProcess:
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "DABENCH_LOAD_PLUGINS": "bad", "DABENCH_STRICT_PLUGINS": ""}
    return subprocess.run([sys.executable, "-m", "dabench", *args], capture_output=True, text=True, env=env, timeout=600)


def _row(output: str, name: str) -> list[str]:
    return next((line.split(None, 4) for line in output.splitlines() if line.split()[:1] == [name]), [])


def test_plugins_lists_a_failed_import_with_file_and_line(tmp_path: Path) -> None:
    fake_distribution(tmp_path, "dabench-bad", "0.1", {"bad": "bad_mod"},
                      {"bad_mod": "import dabench\nraise RuntimeError('boom at import')\n"})
    listing = _dabench(tmp_path, "plugins")
    assert listing.returncode == 0, listing.stderr
    assert _row(listing.stdout, "bad") == ["bad", "dabench-bad", "0.1", "BROKEN", "bad_mod.py:2: RuntimeError: boom at import"]
    assert "Traceback" not in listing.stderr


def test_plugins_lists_a_bad_default_and_run_refuses_the_method(tmp_path: Path) -> None:
    fake_distribution(tmp_path, "dabench-bad", "0.1", {"bad": "bad_mod"}, {"bad_mod": WRONG_TYPE})
    listing = _dabench(tmp_path, "plugins")
    assert listing.returncode == 0, listing.stderr
    assert _row(listing.stdout, "bad") == ["bad", "dabench-bad", "0.1", "BROKEN", WRONG_TYPE_ERROR]
    # the user's value is right for the annotation: the refusal blames the plugin, not --set
    run = _dabench(tmp_path, "run", "--method", "half_epoch", "--pair", "synth-lab:synth-wild", "--set", "epochs=5")
    assert run.returncode == 2
    assert run.stderr.splitlines()[-1] == f"dabench: error: {_unavailable(WRONG_TYPE_ERROR)}"
    assert "Traceback" not in run.stderr and "--set" not in run.stderr
