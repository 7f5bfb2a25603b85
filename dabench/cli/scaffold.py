"""`dabench new-plugin`: the skeleton of a plugin package."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("new-plugin")
@click.argument("name")
@click.option("--dir", "parent", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder in which dabench-NAME/ is created.")
def new_plugin(name: str, parent: Path) -> None:
    """Write a plugin package skeleton (method, dataset, conformance test) that passes its own tests."""
    from dabench.scaffold import new_plugin as scaffold

    root = scaffold(name, parent)
    click.echo(f"wrote {root}\nnext: pip install -e {root} && pytest {root / 'tests'} && dabench plugins")
