"""Installed-looking distributions for plugin tests: a ``*.dist-info`` folder (METADATA and
entry_points.txt) and its modules in one folder, which importlib.metadata finds once it is on sys.path
(``monkeypatch.syspath_prepend`` in process, PYTHONPATH for a subprocess) -- no pip install needed."""

from __future__ import annotations

import textwrap
from pathlib import Path


def fake_distribution(root: Path, dist: str, version: str, entry_points: dict[str, str],
                      modules: dict[str, str]) -> Path:
    """Write distribution ``dist`` with entry points (name -> module) of group ``dabench`` and the
    modules' sources (module -> source) under ``root``; returns ``root``."""
    dist_info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {module}\n" for name, module in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[dabench]\n{lines}")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


def suite_plugin(suite_id: str) -> str:
    """A plugin module registering one suite (the lightest thing to register)."""
    return f"""
    import dabench
    from dabench.host.registry import Suite

    @dabench.hookimpl
    def register_suites(register):
        register(Suite({suite_id!r}, ("synth-lab:synth-wild",)))
    """


# Registers a suite, then fails in register_methods: a hook that raises (after a partial registration).
FAILING_HOOK_PLUGIN = """
import dabench
from dabench.host.registry import Suite

@dabench.hookimpl
def register_datasets(register):
    from dabench_datasets.synthetic import SynthLab

    class Half(SynthLab):
        id = "half-registered"

    register(Half())

@dabench.hookimpl
def register_methods(register):
    raise RuntimeError("boom in register_methods")
"""
