"""The plugin host and registry: duplicates, unknown names, pairs, broken plugins."""

from __future__ import annotations

import textwrap
import types
from pathlib import Path

import pytest

from dabench.errors import DabenchError
from dabench.plugins import PluginHost
from dabench.registry import build_registry


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(textwrap.dedent(source), module.__dict__)
    return module


SUITE_PLUGIN = """
import dabench
from dabench.registry import Suite

@dabench.hookimpl
def register_suites(register):
    register(Suite("mine", ("synth-lab:synth-wild",)))
"""


def test_duplicate_id_names_both_providers() -> None:
    host = PluginHost()
    host.register_module(_module("first_plugin", SUITE_PLUGIN), "first_plugin")
    host.register_module(_module("second_plugin", SUITE_PLUGIN), "second_plugin")
    with pytest.raises(DabenchError) as info:
        build_registry(host)
    assert str(info.value) == ("duplicate suite id 'mine': registered by plugin 'first_plugin' and again by "
                               "plugin 'second_plugin'; uninstall one of them or rename the id")


def test_builtins_come_through_entry_points(registry) -> None:
    assert registry.provider("methods", "source_only") == "source_only"
    assert registry.provider("datasets", "synth-wild") == "synthetic"
    assert {"small_cnn", "resnet18"} <= set(registry.backbones)
    assert registry.suite("synthetic").pairs == ("synth-lab:synth-wild", "synth-wild:synth-lab")


def test_unknown_names_list_the_valid_ones(registry) -> None:
    with pytest.raises(DabenchError, match=r"unknown method 'nope'; valid methods: .*source_only.*target_oracle"):
        registry.method("nope")
    with pytest.raises(DabenchError, match=r"unknown dataset 'nope'; valid datasets: .*synth-lab, synth-wild"):
        registry.pair("nope:synth-wild")
    with pytest.raises(DabenchError, match=r"unknown backbone 'vgg'; valid backbones: .*resnet18, small_cnn"):
        registry.backbone("vgg")
    with pytest.raises(DabenchError, match="write it as SOURCE:TARGET"):
        registry.pair("synth-lab")


def test_pair_needs_two_shared_classes(registry) -> None:
    from dabench.data import Dataset

    class OnlyContempt(Dataset):
        id = "contempt-only"
        classes = ("contempt", "happiness")

    registry.add("datasets", OnlyContempt(), "test")
    with pytest.raises(DabenchError) as info:
        registry.pair("synth-lab:contempt-only")
    assert str(info.value) == ("pair 'synth-lab:contempt-only' shares 1 canonical class(es) (happiness); "
                               "a pair needs at least 2")
    assert "synth-lab:contempt-only" not in registry.all_pairs()


def _fake_distribution(root: Path, module_source: str) -> None:
    """An installed-looking distribution 'dabench-broken' whose entry point module raises on import."""
    dist_info = root / "dabench_broken-0.3.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: dabench-broken\nVersion: 0.3\n")
    (dist_info / "entry_points.txt").write_text("[dabench]\nbroken = dabench_broken_mod\n")
    (root / "dabench_broken_mod.py").write_text(module_source)


def test_broken_plugin_is_listed_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _fake_distribution(tmp_path, "raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("DABENCH_LOAD_PLUGINS", raising=False)
    host = PluginHost()
    host.load_entry_points()
    assert [(b.name, b.distribution, b.version, b.error) for b in host.broken] == [
        ("broken", "dabench-broken", "0.3", "RuntimeError: boom at import")]
    assert "plugin 'broken' (dabench-broken 0.3) failed to load" in capsys.readouterr().err
    registry = build_registry(host)
    assert "source_only" in registry.methods

    monkeypatch.setenv("DABENCH_STRICT_PLUGINS", "1")
    with pytest.raises(DabenchError, match="plugin 'broken' .* failed to load: RuntimeError: boom at import"):
        PluginHost().load_entry_points()


def test_load_plugins_selects_third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_distribution(tmp_path, "raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DABENCH_LOAD_PLUGINS", "")
    host = PluginHost()
    host.load_entry_points()
    assert host.broken == []
    assert any(info.name == "source_only" for info in host.loaded)  # built-ins always load
