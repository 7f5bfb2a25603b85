"""The shape of the code: one training loop, a top level of plugin API only, no import circle, small modules
and functions, a context without private fields, old import paths that still work (with a warning), and
docs/architecture.md in step with the files."""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import pytest
import torch

import dabench
from dabench.methods import AdaptContext

PACKAGE = Path(dabench.__file__).parent
ROOT = PACKAGE.parent
PLUGINS = ROOT / "plugins"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_one_training_loop() -> None:
    """``for epoch in`` appears in the one loop (and in the progress iterator it uses), nowhere else."""
    found = {p.relative_to(ROOT).as_posix() for p in _modules(PACKAGE) + _modules(PLUGINS) if "for epoch in" in p.read_text()}
    assert found == {"dabench/train/loop.py", "dabench/store/progress.py"}
    assert "for epoch in progress(iterable" in (PACKAGE / "store" / "progress.py").read_text()  # the iterator itself


def test_top_level_holds_at_most_ten_modules() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 10, top


def test_no_module_over_300_lines_and_no_function_over_60() -> None:
    too_long = []
    for path in _modules(PACKAGE) + _modules(PLUGINS):
        text = path.read_text()
        if len(text.splitlines()) > 300:
            too_long.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 60:
                too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert too_long == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the dabench modules it imports, anywhere in its body (function-level imports count: they close
    a circle as surely, only later), except under ``if TYPE_CHECKING``."""
    modules = {_module_name(p): p for p in _modules(PACKAGE)}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                       for n in ast.walk(node)}
        imported = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_finds_a_planted_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle() -> None:
    assert circles(import_graph()) == []


def test_the_context_has_no_private_constructor_field() -> None:
    import dataclasses

    names = [f.name for f in dataclasses.fields(AdaptContext) if f.init]
    assert names == ["device", "seed", "generator", "class_names", "amp", "init", "run"]


@pytest.mark.parametrize("name, replacement", [("load_checkpoint", "ctx.fit"), ("checkpointer", "ctx.fit"),
                                               ("records", "ctx.record(key, value)"), ("timings", "ctx.stage")])
def test_removed_context_attributes_name_what_replaces_them(name: str, replacement: str) -> None:
    ctx = AdaptContext(device=torch.device("cpu"), seed=0, generator=torch.Generator(), class_names=("a",))
    with pytest.raises(AttributeError, match=f"AdaptContext.{name} was removed in dabench 0.2: .*{re.escape(replacement)}"):
        getattr(ctx, name)
    with pytest.raises(AttributeError, match="has no attribute 'nonsense'"):
        ctx.nonsense  # noqa: B018


@pytest.mark.parametrize("old, new", [("dabench.runner", "dabench.run.execute"), ("dabench.ssl.swav", "dabench.train.ssl.swav"),
                                      ("dabench.reports.selection", "dabench.report.selection"),
                                      ("dabench.config", "dabench.settings.config")])
def test_an_old_import_path_still_imports_with_a_warning(old: str, new: str) -> None:
    import importlib
    import sys

    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__spec__.name == new and module.__name__ == new  # the alias never renames the real module
    said = [str(w.message) for w in caught if w.category is DeprecationWarning]
    assert f"{old} moved to {new} in dabench 0.2; the old path goes away in 0.3" in said  # (and its parent's, if old)
    sys.modules.pop(old, None)


def test_a_name_of_an_old_module_that_became_a_package_still_imports() -> None:
    from dabench.sweep.execute import run_sweep

    with pytest.warns(DeprecationWarning, match="dabench.sweep.run_sweep moved to dabench.sweep.execute.run_sweep"):
        from dabench.sweep import run_sweep as old
    assert old is run_sweep
    from dabench.report import leaderboard  # a submodule stays a submodule

    assert leaderboard.__name__ == "dabench.report.leaderboard"


def _architecture_table() -> str:
    text = ARCHITECTURE.read_text()
    return text[text.index("## The tree"):text.index("## One loop")]


def test_the_architecture_table_names_every_module_in_its_package_row() -> None:
    rows = [line for line in _architecture_table().splitlines() if line.startswith("| `")]
    missing = []
    for path in _modules(PACKAGE):
        relative = path.relative_to(PACKAGE).as_posix()
        if path.name == "__init__.py" and path.parent != PACKAGE:
            continue
        package = relative.rsplit("/", 1)[0] + "/" if "/" in relative else ""
        top = relative.split("/", 1)[0] + "/" if "/" in relative else ""
        below_top = relative.split("/", 1)[1] if "/" in relative else relative
        named = any(f"`{relative}`" in row
                    or (f"`{below_top}`" in row and top in row.split("|")[1])
                    or (f"`{path.name}`" in row and package in row.split("|")[1])
                    for row in rows)
        if not named:
            missing.append(relative)
    assert missing == []


def test_every_file_the_architecture_table_names_exists() -> None:
    rows = [line for line in _architecture_table().splitlines() if line.startswith("| `")]
    named = set(re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)`", "\n".join(rows)))
    assert len(named) > 60  # the table was read
    for name in named:
        row = next(r for r in rows if f"`{name}`" in r)
        packages = re.findall(r"`([a-z_/]+/)", row.split("|")[1]) or [""]
        assert any((PACKAGE / package / name).exists() or (PACKAGE / name).exists() for package in packages), (name, packages)
