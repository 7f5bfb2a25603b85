"""`dabench new-plugin`: the skeleton of a plugin package."""

from __future__ import annotations

from pathlib import Path

import click

from dabench.authoring.scaffold import KINDS


@click.command("new-plugin")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), default="method", show_default=True,
              help="What the package provides.")
@click.option("--dir", "parent", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder in which dabench-NAME/ is created.")
def new_plugin(name: str, kind: str, parent: Path) -> None:
    """Write a plugin package skeleton of one kind, with its conformance tests, that passes them."""
    from dabench.authoring.scaffold import new_plugin as scaffold
    from dabench.authoring.scaffold import next_steps

    root = scaffold(name, parent, kind)
    click.echo(f"wrote {root}\nnext: {next_steps(root)}")
