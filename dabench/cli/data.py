"""`dabench data check|prepare`: dataset layouts and the cached arrays (data preparation is imported in
each command)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dabench import paths
from dabench.registry import get_registry


@click.group("data")
def data_group() -> None:
    """Datasets: check layouts, prepare the cached arrays."""


@data_group.command("prepare")
@click.argument("name")
@click.option("--resolution", default=None, type=click.IntRange(8, 1024),
              help="Side in px (default: the dataset's native size).")
@click.option("--data-root", type=click.Path(path_type=Path), default=None, help="Folder holding NAME/ (default $DABENCH_DATA).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="A dataset option, e.g. --set crop=haar --set rgb=true --set dedup=true.")
def data_prepare(name: str, resolution: int | None, data_root: Path | None, sets: tuple[str, ...]) -> None:
    """Build the cached uint8 arrays of a dataset."""
    from dabench.config import parse_set
    from dabench.data.pairs import prepare

    dataset = get_registry().dataset(name)
    resolution = resolution or dataset.native_size
    options = {key: value for assignment in sets for key, value in parse_set(assignment).items()}
    prepared = prepare(dataset, options, resolution, data_root)
    counts = ", ".join(f"{split} {len(data)}" for split, data in prepared.splits.items())
    click.echo(f"{name}: prepared at {resolution} px ({counts}) in {paths.cache_dir('datasets') / prepared.key}")


@data_group.command("check")
@click.argument("name")
@click.option("--data-root", type=click.Path(path_type=Path), default=None, help="Folder holding NAME/ (default $DABENCH_DATA).")
def data_check(name: str, data_root: Path | None) -> None:
    """Layout, counts, unreadable files, duplicates and leakage of a dataset; exit 2 if the layout is wrong."""
    from dabench.data.check import check_dataset

    dataset = get_registry().dataset(name)
    report_ = check_dataset(dataset, dataset.locate(data_root or paths.data_root()))
    click.echo("\n".join(report_.lines()))
    if report_.unreadable:
        sys.exit(1)
