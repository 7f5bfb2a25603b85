"""`dabench source train`: train (or find in the cache) a source model; dabench.run.source_model and the runner
import torch, so they are imported inside the command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dabench.cli.presets import preset_option
from dabench.errors import DabenchError
from dabench.host.registry import Registry, get_registry
from dabench.store import paths

if TYPE_CHECKING:
    from dabench.run.source_model import SourceSpec


@click.group("source")
def source_group() -> None:
    """Source models."""


@source_group.command("train")
@click.option("--dataset", default=None, help="Source dataset id: train on all of its canonical classes.")
@click.option("--pair", "-p", default=None,
              help="SOURCE:TARGET: train the source model a run of this pair uses (the pair's shared classes, "
                   "its image size and settings), so `dabench run --pair` reuses it from the cache.")
@click.option("--backbone", default=None, help="Backbone id (default: the dataset's, or the pair's).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--image-size", default=None, type=click.IntRange(8, 1024),
              help="Input size in px (default: the backbone's, else the data's).")
@click.option("-c", "--config", "config_files", multiple=True, type=click.Path(path_type=Path),
              help="With --pair: YAML file(s) of run settings, as for `dabench run`.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="With --pair: a run setting, as for `dabench run` (e.g. --set source.epochs=10).")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), show_default=True)
@preset_option
def source_train(dataset: str | None, pair: str | None, backbone: str | None, seed: int, image_size: int | None,
                 config_files: tuple[Path, ...], sets: tuple[str, ...], device: str, preset: str | None) -> None:
    """Train (or find in the cache) a source model: of a dataset on its canonical classes (--dataset), or
    the one a run of a pair uses, on the classes both sides share (--pair; fer2013:ckplus has 6)."""
    from dabench.run.source_model import artifact_folder, fetch_source_model, with_data_key
    from dabench.train.device import resolve_device

    paths.check_home()
    registry = get_registry()
    if (dataset is None) == (pair is None):
        raise DabenchError("give one of --dataset NAME (all of its classes) or --pair SOURCE:TARGET (the pair's "
                           "shared classes, the source model `dabench run` on that pair uses)")
    if pair is not None:
        spec = _pair_source_spec(registry, pair, seed, backbone, image_size, config_files, sets, preset)
    else:
        if config_files or sets:
            raise DabenchError("-c and --set go with --pair (they are run settings, resolved as `dabench run` "
                               "resolves them); with --dataset use --backbone, --seed and --image-size")
        spec = _dataset_source_spec(registry, dataset, seed, backbone, image_size, preset)
    spec = with_data_key(spec, registry)
    fetched = fetch_source_model(spec, registry, resolve_device(device))
    meta = fetched.value[1]
    classes = f"{len(spec.classes)} classes" + (f" of {pair}" if pair else "")
    how = "trained now" if fetched.built else "reused from the cache"
    click.echo(f"source model {spec.dataset}/{spec.backbone}/{spec.image_size}px seed {seed} ({classes}, {how}): source "
               f"val accuracy {100 * meta['source_val_accuracy']:.2f}%, source test accuracy "
               f"{100 * (meta['source_test_accuracy'] or 0):.2f}%; checkpoint {artifact_folder(spec) / 'model.pt'}")


def _dataset_source_spec(registry: Registry, dataset: str, seed: int, backbone: str | None,
                         image_size: int | None, preset: str | None = None) -> SourceSpec:
    """With --preset: its backbone, image size and source recipe (an explicit --backbone / --image-size wins)."""
    import dataclasses

    from dabench.labels import CANONICAL_CLASSES
    from dabench.run.source_model import SourceSpec
    from dabench.settings import presets
    from dabench.settings.config import build_dataclass
    from dabench.train.supervised import SupervisedRecipe

    ds = registry.dataset(dataset)
    layer = presets.load(preset).settings if preset is not None else {}
    backbone = backbone or layer.get("backbone") or ds.default_backbone
    size = image_size or layer.get("image_size") or registry.backbone(backbone).default_image_size or ds.native_size
    recipe = build_dataclass(SupervisedRecipe, {**dataclasses.asdict(SupervisedRecipe()), **layer.get("source", {})},
                             f"source recipe of preset {preset}")
    classes = tuple(name for name in CANONICAL_CLASSES if name in ds.classes)
    return SourceSpec(ds.id, classes, backbone, size, dataclasses.asdict(recipe), seed, {})


def _pair_source_spec(registry: Registry, pair: str, seed: int, backbone: str | None, image_size: int | None,
                      config_files: tuple[Path, ...], sets: tuple[str, ...], preset: str | None = None) -> SourceSpec:
    """The SourceSpec a `dabench run` of ``pair`` uses: its config resolved by the run's own plan_run
    (for source_only, whose run settings are the defaults), then the run's own source_spec."""
    from dabench.run.plan import plan_run, source_spec

    if image_size is not None:
        sets = (*sets, f"image_size={image_size}")
    return source_spec(plan_run(registry, "source_only", pair, seed, backbone, config_files, sets, preset=preset))
