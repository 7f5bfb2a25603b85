"""``dabench new-plugin NAME --kind method|dataset|backbone|validator``: write a pip-installable plugin
package of one kind (its module, and tests that run dabench.testing's conformance checks) that passes its
own tests as generated."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from dabench.authoring.templates import EXPORTS, INIT, MODULES, PYPROJECT, README, USAGE
from dabench.authoring.test_templates import CHECKS, TEST
from dabench.errors import DabenchError

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
KINDS = ("method", "dataset", "backbone", "validator")


def new_plugin(name: str, parent: Path, kind: str = "method") -> Path:
    """Write ``parent/dabench-<name>/`` holding one ``kind`` (one of KINDS) whose id is ``name``; returns
    that folder. Its tests are ``tests/test_dabench_<name>.py``: a name unique to the plugin, so several
    plugins' tests run in one pytest call under any import mode (two ``tests/test_plugin.py`` would clash)."""
    if kind not in KINDS:
        raise DabenchError(f"plugin kind '{kind}' must be one of {', '.join(KINDS)}")
    if not NAME.match(name):
        raise DabenchError(f"plugin name '{name}' must be lower_snake (letters, digits, _; e.g. 'my_{kind}'): "
                           f"it becomes the {kind} id and the module dabench_<name>")
    taken = _taken(name, kind)
    if taken:
        raise DabenchError(f"plugin name '{name}' is taken: {taken}; choose another name, e.g. 'my_{name}'")
    dist = name.replace("_", "-")
    root = parent / f"dabench-{dist}"
    if root.exists():
        raise DabenchError(f"{root} already exists; choose another name or --dir, or remove it")
    values = {"name": name, "dist": dist, "kind": kind, "camel": "".join(part.title() for part in name.split("_"))}
    export, registered = (template.format(**values) for template in EXPORTS[kind])
    third_party, first_party, checks = (template.format(**values) for template in CHECKS[kind])
    values.update(export=export, registered=registered, third_party=third_party, first_party=first_party, checks=checks,
                  usage=USAGE[kind].format(**values))
    files = {"pyproject.toml": PYPROJECT, "README.md": README, f"dabench_{name}/__init__.py": INIT,
             f"dabench_{name}/{kind}.py": MODULES[kind], f"tests/test_dabench_{name}.py": TEST}
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values))
    return root


def next_steps(root: Path) -> str:
    """The shell line that installs the package at ``root`` with its ``[test]`` extra and runs its tests."""
    return (f"pip install -e {shlex.quote(f'{root}[test]')} && pytest {shlex.quote(str(root / 'tests'))} "
            "&& dabench plugins")


def _taken(name: str, kind: str) -> str | None:
    """Why ``name`` cannot be a new plugin's name (the skeleton uses it as entry point and as the id of
    its ``kind``), or None. Entry points count whether DABENCH_LOAD_PLUGINS loads them or not."""
    from dabench.host.loading import installed_entry_points
    from dabench.host.registry import build_registry, default_host, get_registry

    owners = installed_entry_points()
    if name in owners:
        return f"it is already an entry-point name in group 'dabench' (of {owners[name]})"
    try:
        registry = get_registry()
    except DabenchError:  # two other plugins clash on some id: that must not hide a clash with this name
        registry = build_registry(default_host(), collect_conflicts=True)
    item_id = registry.aliases.get(name, name) if kind == "method" else name
    if item_id in getattr(registry, f"{kind}s"):
        alias = f"an alias of {kind} '{item_id}'" if item_id != name else f"the id of {kind} '{name}'"
        return f"it is already {alias} (plugin '{registry.provider(f'{kind}s', item_id)}')"
    return None
