"""What a run will cost, before it starts: per stage (source training, SSL pretraining, distillation,
adaptation, evaluation) the image passes it does, from its resolved config and the datasets' split sizes.

A training pass is one image (one crop of it) through a training step; the loop drops each epoch's last
partial batch, so an epoch of N images at batch B trains ``(N // B) * B``. Inference passes (held-out checks,
pseudo-labelling, scoring) are counted apart. Stages carry the identity of what they build where it is a
cached artifact (the source model, the SSL backbone): a sweep pays for each once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dabench.errors import DabenchError
from dabench.host.registry import Registry
from dabench.settings import recipes
from dabench.store import paths

STAGES = ("source training", "SSL pretraining", "distillation", "adaptation", "evaluation")
VALIDATION_IMAGES = 2000  # dabench.validators.MAX_IMAGES: the label-free validators' per-epoch subsample
# Split sizes of datasets that are not on this machine, as released (7 classes): the paper suite's estimate
# needs them. ExpW has no official split: dabench's rule puts 20% of photos in test (splits/expw_v1.yaml),
# so its counts are approximate. AFE's size is not recorded here: unknown until its folder is present.
RELEASED_SIZES: dict[str, tuple[int, int, bool, str]] = {
    "rafdb": (12271, 3068, True, "RAF-DB basic list_patition_label.txt: 12,271 train / 3,068 test"),
    "fer2013": (28709, 3589, True, "fer2013.csv Usage: 28,709 Training / 3,589 PrivateTest"),
    "expw": (73434, 18359, False, "ExpW's 91,793 faces, ~80/20 by dabench's photo-name rule"),
}


@dataclass(frozen=True)
class Sizes:
    train: int
    test: int
    exact: bool
    source: str  # where the counts come from


@dataclass(frozen=True)
class Stage:
    name: str
    train_passes: int | None  # epochs x images x crops through a training step; None: unknown
    infer_passes: int  # forward-only passes
    detail: str  # how train_passes was counted, e.g. "100 ep x 11,008 img x 1 crop"
    steps: int = 0  # optimiser steps
    full_size_passes: float = 0.0  # train passes weighted by crop area (a 0.5-side crop counts 0.25)
    key: str | None = None  # the cached artifact it builds: a sweep pays for one key once
    exact: bool = True
    profile: str = "supervised"  # which measured per-step overhead applies (dabench.run.estimate)


def dataset_sizes(registry: Registry, dataset_id: str, options: dict[str, Any], classes: tuple[str, ...],
                  image_size: int) -> Sizes | None:
    """Train and test images of ``dataset_id`` in ``classes``: counted from the generator's options or the
    dataset's folder (its label lists; no image is read), else the released sizes, else None."""
    dataset = registry.dataset(dataset_id)
    opts = dataset.options({**options, "resolution": image_size})
    in_classes = set(classes) >= set(dataset.classes)
    if dataset.generated:  # counts from its options, when it has them (a plugin's generator may not)
        train, test = getattr(opts, "n_train", None), getattr(opts, "n_test", None)
        return Sizes(train, test, in_classes, "generated") if isinstance(train, int) and isinstance(test, int) else None
    try:
        folder = paths.dataset_folder(dataset)
        return _folder_sizes(registry, dataset_id, opts, tuple(classes), folder)
    except (DabenchError, NotImplementedError, AttributeError, OSError):
        pass
    if dataset_id in RELEASED_SIZES:
        train, test, exact, source = RELEASED_SIZES[dataset_id]
        return Sizes(train, test, exact and in_classes, source + ("" if in_classes else ", all classes counted"))
    return None


_FOLDER_SIZES: dict[tuple[Any, ...], Sizes] = {}  # a sweep lists each dataset folder once


def _folder_sizes(registry: Registry, dataset_id: str, opts: Any, classes: tuple[str, ...], folder: Any) -> Sizes:
    key = (dataset_id, repr(opts), classes, str(folder))
    if key not in _FOLDER_SIZES:
        dataset = registry.dataset(dataset_id)
        counts = {"train": 0, "test": 0}
        for item in dataset.items(folder, opts):
            if item.split in counts and dataset.classes[item.label] in classes:
                counts[item.split] += 1
        # dedup drops near-duplicates only once the images are read: the counts are an upper bound then
        _FOLDER_SIZES[key] = Sizes(counts["train"], counts["test"], not getattr(opts, "dedup", False),
                                   f"label lists in {folder}")
    return _FOLDER_SIZES[key]


def epoch_images(count: int, batch_size: int) -> int:
    """Images one epoch trains on: the last partial batch is dropped."""
    return (count // batch_size) * batch_size


def run_stages(plan: Any, registry: Registry) -> list[Stage]:
    """The stages of the run ``plan`` (a RunPlan), in order, each with its passes (None where unknown)."""
    config = plan.config
    size = config["image_size"]
    source = dataset_sizes(registry, plan.pair.source, config["data"].get("source", {}), plan.classes, size)
    target = dataset_sizes(registry, plan.pair.target, config["data"].get("target", {}), plan.classes, size)
    n_adapt = None if target is None else (target.test if config["protocol"] == "transductive" else target.train)
    stages = [source_stage(plan, source)]
    if "ssl" in config:
        stages.append(ssl_stage(plan, n_adapt, target))
    if "distil" in config:
        stages.append(distil_stage(config["distil"], n_adapt, target))
    stages.append(adaptation_stage(plan.method.id, config, n_adapt, target))
    stages.append(evaluation_stage(config, stages[-1], n_adapt, target, bool(registry.validators)))
    return stages


def _unknown(name: str, why: str, key: str | None = None) -> Stage:
    return Stage(name, None, 0, why, key=key, exact=False)


def source_stage(plan: Any, sizes: Sizes | None) -> Stage:
    config = plan.config
    if config.get("source_model"):
        return Stage("source training", 0, 0, "none: --source-model file", exact=True)
    recipe = config["source"]
    key = json.dumps(["source", plan.pair.source, list(plan.classes), config["backbone"], config["image_size"],
                      recipe, plan.seed, config["data"].get("source", {}), config["backbone_weights"]], sort_keys=True)
    if sizes is None:
        return _unknown("source training", f"unknown: no split sizes for '{plan.pair.source}' (its folder is absent)",
                        key)
    n_val = int(round(sizes.train * recipe["val_fraction"]))
    per_epoch = epoch_images(sizes.train - n_val, recipe["batch_size"])
    return Stage("source training", recipe["epochs"] * per_epoch, recipe["epochs"] * n_val + sizes.test,
                 f"{recipe['epochs']} ep x {per_epoch:,} img x 1 crop", recipe["epochs"] * (per_epoch // recipe["batch_size"]),
                 float(recipe["epochs"] * per_epoch), key, sizes.exact, "supervised")


def ssl_stage(plan: Any, n_adapt: int | None, sizes: Sizes | None) -> Stage:
    config, ssl = plan.config, plan.config["ssl"]
    if n_adapt is None or sizes is None:
        return _unknown("SSL pretraining", f"unknown: no split sizes for '{plan.pair.target}'")
    per_epoch = epoch_images(n_adapt, ssl["batch_size"])
    crops = ssl["large_crops"] + ssl["small_crops"]
    small_side = max(1, round(config["image_size"] * ssl["small_crop_fraction"])) / config["image_size"]
    area = ssl["large_crops"] + ssl["small_crops"] * small_side ** 2
    seed = plan.seed if ssl["seed"] == recipes.RUN_SEED else ssl["seed"]
    key = json.dumps(["ssl", plan.pair.target, config["protocol"], list(plan.classes), config["backbone"],
                      config["image_size"], ssl, seed, config["data"].get("target", {}), config["backbone_weights"]],
                     sort_keys=True)
    return Stage("SSL pretraining", ssl["epochs"] * per_epoch * crops, 0,
                 f"{ssl['epochs']} ep x {per_epoch:,} img x {crops} crops", ssl["epochs"] * (per_epoch // ssl["batch_size"]),
                 ssl["epochs"] * per_epoch * area, key, sizes.exact, "ssl")


def distil_stage(distil: dict[str, Any], n_adapt: int | None, sizes: Sizes | None) -> Stage:
    if n_adapt is None or sizes is None:
        return _unknown("distillation", "unknown: no target split sizes")
    per_epoch = epoch_images(n_adapt, distil["batch_size"])
    return Stage("distillation", distil["epochs"] * per_epoch, n_adapt, f"{distil['epochs']} ep x {per_epoch:,} img x 1 crop",
                 distil["epochs"] * (per_epoch // distil["batch_size"]), float(distil["epochs"] * per_epoch),
                 exact=sizes.exact, profile="cluster_pl")


# Built-in methods' adaptation work beyond ``epochs x images`` (by id; a method not listed gets the generic
# rule, marked approximate): labelling passes per epoch, a one-off pass (banks, statistics, clustering), the
# share of the target a method trains on.
PER_EPOCH_LABELLING = {"shot"}
ONE_PASS = {"adabn", "nrc", "aad", "cluster_pl", "tent"}
TRAINS_ON_SHARE = {"cluster_pl": "fraction"}  # kept images <= floor(fraction * N): an upper bound
NO_TRAINING = {"source_only", "adabn"}


def adaptation_stage(method: str, config: dict[str, Any], n_adapt: int | None, sizes: Sizes | None) -> Stage:
    if n_adapt is None or sizes is None:
        return _unknown("adaptation", "unknown: no target split sizes")
    one_pass = n_adapt if method in ONE_PASS else 0
    if method in NO_TRAINING:
        return Stage("adaptation", 0, one_pass, "no training" + (", 1 pass over the target" if one_pass else ""))
    if not isinstance(config.get("epochs"), int) or not isinstance(config.get("batch_size"), int):
        return _unknown("adaptation", f"unknown: method '{method}' has no epochs and batch_size")
    epochs, batch = config["epochs"], config["batch_size"]
    images, exact = n_adapt, sizes.exact and method in ONE_PASS | PER_EPOCH_LABELLING
    if method in TRAINS_ON_SHARE:
        images, exact = int(config[TRAINS_ON_SHARE[method]] * n_adapt), False
    per_epoch = epoch_images(images, batch)
    infer = one_pass + (epochs * n_adapt if method in PER_EPOCH_LABELLING else 0)
    detail = f"{epochs} ep x {'<=' if method in TRAINS_ON_SHARE else ''}{per_epoch:,} img x 1 crop"
    return Stage("adaptation", epochs * per_epoch, infer, detail, epochs * (per_epoch // batch),
                 float(epochs * per_epoch), exact=exact, profile=method)


def evaluation_stage(config: dict[str, Any], adaptation: Stage, n_adapt: int | None, sizes: Sizes | None,
                     validators: bool = True) -> Stage:
    """The target test split scored for the source model, after each adaptation epoch (history, for analysis)
    and at the end; the label-free validators on a subsample of the adapted images each epoch and at the end."""
    if n_adapt is None or sizes is None:
        return _unknown("evaluation", "unknown: no target split sizes")
    epochs = config.get("epochs") if adaptation.steps else 0
    epochs = epochs if isinstance(epochs, int) else 0
    infer = (2 + epochs) * sizes.test + (1 + epochs) * min(VALIDATION_IMAGES, n_adapt) * validators
    return Stage("evaluation", 0, infer, f"{2 + epochs} x {sizes.test:,} test img" + (" + validators" * validators),
                 exact=False)
