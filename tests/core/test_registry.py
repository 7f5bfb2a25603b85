"""The plugin host and registry: duplicates, unknown names, pairs, broken plugins."""

from __future__ import annotations

import textwrap
import types
from importlib import metadata
from pathlib import Path

import pytest
from fake_dists import FAILING_HOOK_PLUGIN, fake_distribution, suite_plugin

from dabench.errors import DabenchError
from dabench.host.loading import PluginHost
from dabench.host.registry import build_registry


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(textwrap.dedent(source), module.__dict__)
    return module


SUITE_PLUGIN = """
import dabench
from dabench.host.registry import Suite

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
    with pytest.raises(DabenchError, match=r"unknown backbone 'vgg'; valid backbones: .*resnet18, resnet18_stem1, small_cnn"):
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
        ("broken", "dabench-broken", "0.3", "dabench_broken_mod.py:1: RuntimeError: boom at import")]
    assert "plugin 'broken' (dabench-broken 0.3) failed to load" in capsys.readouterr().err
    registry = build_registry(host)
    assert "source_only" in registry.methods

    monkeypatch.setenv("DABENCH_STRICT_PLUGINS", "1")
    with pytest.raises(DabenchError, match="plugin 'broken' .* failed to load: dabench_broken_mod.py:1: RuntimeError: boom"):
        PluginHost().load_entry_points()


def test_load_plugins_selects_third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_distribution(tmp_path, "raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DABENCH_LOAD_PLUGINS", "")
    host = PluginHost()
    host.load_entry_points()
    assert host.broken == []
    assert any(info.name == "source_only" for info in host.loaded)  # built-ins always load


# entry-point name collisions ----------------------------------------------------------------------
def test_entry_point_named_like_a_builtin_never_replaces_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys) -> None:
    # the impostor's module raises if imported: the collision is settled before any import
    fake_distribution(tmp_path, "dabench-shot", "0.2", {"shot": "dabench_shot_impostor"},
                      {"dabench_shot_impostor": "raise RuntimeError('the impostor was imported')\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("DABENCH_LOAD_PLUGINS", raising=False)
    host = PluginHost()
    host.load_entry_points()
    reason = (f"entry-point name 'shot' is already taken by dabench {metadata.version('dabench')} "
              "(dabench_methods.shot); rename the entry point in dabench-shot's [project.entry-points.dabench] "
              "or uninstall one of them")
    assert [(b.name, b.distribution, b.version, b.error) for b in host.broken] == [("shot", "dabench-shot", "0.2", reason)]
    assert f"plugin 'shot' (dabench-shot 0.2) cannot be used and is skipped: {reason}." in capsys.readouterr().err
    shot = [info for info in host.loaded if info.name == "shot"]
    assert [(info.distribution, info.module) for info in shot] == [("dabench", "dabench_methods.shot")]
    registry = build_registry(host)
    assert registry.provider("methods", "shot") == "shot" and registry.method("shot").__module__ == "dabench_methods.shot"

    monkeypatch.setenv("DABENCH_STRICT_PLUGINS", "1")
    with pytest.raises(DabenchError) as info:
        PluginHost().load_entry_points()
    assert str(info.value) == f"plugin 'shot' (dabench-shot 0.2) cannot be used: {reason} (DABENCH_STRICT_PLUGINS is set)"


def test_entry_point_collision_between_two_third_party_distributions(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # the first by distribution name keeps it, whatever order sys.path lists them in
    fake_distribution(tmp_path / "z", "dabench-zeta", "1.0", {"mine": "zeta_mod"}, {"zeta_mod": suite_plugin("zeta")})
    fake_distribution(tmp_path / "a", "dabench-alpha", "2.0", {"mine": "alpha_mod"}, {"alpha_mod": suite_plugin("alpha")})
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    monkeypatch.syspath_prepend(str(tmp_path / "z"))
    monkeypatch.setenv("DABENCH_LOAD_PLUGINS", "mine")
    host = PluginHost()
    host.load_entry_points()
    assert [(b.name, b.distribution, b.error) for b in host.broken] == [
        ("mine", "dabench-zeta", "entry-point name 'mine' is already taken by dabench-alpha 2.0 (alpha_mod); rename "
                                 "the entry point in dabench-zeta's [project.entry-points.dabench] or uninstall one of them")]
    registry = build_registry(host)
    assert "alpha" in registry.suites and "zeta" not in registry.suites


# hooks that raise ----------------------------------------------------------------------------------
def test_a_hook_that_raises_breaks_only_its_plugin(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DABENCH_STRICT_PLUGINS", raising=False)
    host = PluginHost()
    host.load_entry_points()
    host.register_module(_module("half_plugin", FAILING_HOOK_PLUGIN), "half_plugin", "dabench-half", "0.1")
    host.register_module(_module("fine_plugin", SUITE_PLUGIN), "fine_plugin")
    registry = build_registry(host)
    error = "register_methods raised RuntimeError: boom in register_methods"
    assert [(b.name, b.distribution, b.version, b.error) for b in host.broken] == [
        ("half_plugin", "dabench-half", "0.1", error)]
    assert "half-registered" not in registry.datasets  # its register_datasets ran first: discarded too
    assert "half_plugin" not in {info.name for info in host.loaded} and not host.manager.has_plugin("half_plugin")
    assert "mine" in registry.suites and "source_only" in registry.methods and "synth-lab" in registry.datasets
    assert capsys.readouterr().err.count(f"plugin 'half_plugin' (dabench-half 0.1) failed in register_methods "
                                         f"and is skipped: {error}.") == 1
    build_registry(host)  # a second build calls the broken plugin no more and lists it once
    assert len(host.broken) == 1 and capsys.readouterr().err == ""


def test_a_hook_that_raises_is_fatal_when_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DABENCH_STRICT_PLUGINS", "1")
    host = PluginHost()
    host.register_module(_module("half_plugin", FAILING_HOOK_PLUGIN), "half_plugin", "dabench-half", "0.1")
    with pytest.raises(DabenchError) as info:
        build_registry(host)
    assert str(info.value) == ("plugin 'half_plugin' (dabench-half 0.1) failed in register_methods: register_methods "
                               "raised RuntimeError: boom in register_methods (DABENCH_STRICT_PLUGINS is set)")


def test_registering_something_without_an_id_breaks_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DABENCH_STRICT_PLUGINS", raising=False)
    host = PluginHost()
    host.register_module(_module("idless", """
        import dabench

        @dabench.hookimpl
        def register_suites(register):
            register("paper")
        """), "idless")
    build_registry(host)
    assert [b.error for b in host.broken] == [
        "register_suites raised TypeError: register() in the suites hook got 'paper', which has no string id"]


def test_duplicates_can_be_collected_for_the_listing() -> None:
    host = PluginHost()
    host.register_module(_module("first_plugin", SUITE_PLUGIN), "first_plugin")
    host.register_module(_module("second_plugin", SUITE_PLUGIN), "second_plugin")
    registry = build_registry(host, collect_conflicts=True)
    assert registry.conflicts == ["duplicate suite id 'mine': registered by plugin 'first_plugin' and again by "
                                  "plugin 'second_plugin'; uninstall one of them or rename the id"]
    assert registry.provider("suites", "mine") == "first_plugin"  # the first keeps it; nothing is overwritten
