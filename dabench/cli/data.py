"""`dabench data check|prepare`: dataset layouts and the cached arrays (data preparation is imported in
each command)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from dabench.host.registry import get_registry
from dabench.store import paths


def _use_data_roots(ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> None:
    """Checked against the registered datasets, then set in the environment until the command ends, so that
    every dataset lookup of the command (and of the workers it starts, which inherit it) sees them."""
    if values:
        every, own = paths.parse_data_roots(values, get_registry().datasets)
        ctx.with_resource(paths.data_roots_in_environment(every, own))


def data_root_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--data-root [ID=]PATH`` (repeatable) for a command that reads datasets; it takes no parameter."""
    return click.option(
        "--data-root", "data_roots", multiple=True, metavar="[ID=]PATH", expose_value=False, callback=_use_data_roots,
        help="PATH: the folder holding one folder per dataset (as DABENCH_DATA); ID=PATH: dataset ID's own folder "
             "(as DABENCH_DATA_<ID>). Repeatable; wins over the environment.")(function)


@click.group("data")
def data_group() -> None:
    """Datasets: check layouts, prepare the cached arrays."""


@data_group.command("prepare")
@click.argument("name")
@click.option("--resolution", default=None, type=click.IntRange(8, 1024),
              help="Side in px (default: the dataset's native size).")
@data_root_option
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="A dataset option, e.g. --set crop=haar --set rgb=true --set dedup=true.")
def data_prepare(name: str, resolution: int | None, sets: tuple[str, ...]) -> None:
    """Build the cached uint8 arrays of a dataset."""
    from dabench.data.pairs import prepare
    from dabench.settings.config import parse_set

    paths.check_home()
    dataset = get_registry().dataset(name)
    resolution = resolution or dataset.native_size
    options = {key: value for assignment in sets for key, value in parse_set(assignment).items()}
    prepared = prepare(dataset, options, resolution)
    counts = ", ".join(f"{split} {len(data)}" for split, data in prepared.splits.items())
    click.echo(f"{name}: prepared at {resolution} px ({counts}) in {paths.cache_dir('datasets') / prepared.key}")


@data_group.command("check")
@click.argument("name")
@data_root_option
def data_check(name: str) -> None:
    """Layout, counts, unreadable files, duplicates and leakage of a dataset read from a folder; exit 1 if a
    file is unreadable, 2 if the layout is wrong."""
    from dabench.data.check import check_dataset

    dataset = get_registry().dataset(name)
    report_ = check_dataset(dataset, paths.dataset_folder(dataset))
    click.echo("\n".join(report_.lines()))
    if report_.unreadable:
        sys.exit(1)
