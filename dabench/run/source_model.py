"""Source models as artifacts: trained once with the shared recipe, stored with metadata and a
checksum, reused by every run; or a checkpoint trained elsewhere (``--source-model PATH``)."""

from __future__ import annotations

import dataclasses
import io
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dabench.data.pairs import prepare, split_in_classes
from dabench.errors import DabenchError
from dabench.host.registry import Registry
from dabench.models import ClassifierNet, build_model
from dabench.settings.config import build_dataclass
from dabench.settings.recipes import recorded_source_recipe
from dabench.store import atomic, paths
from dabench.store.artifacts import META, Fetched, checked_meta, checkpoint_beside, fetch_artifact
from dabench.store.checkpoint import Checkpointer
from dabench.train.batches import images_to_device
from dabench.train.device import seed_everything
from dabench.train.features import predict
from dabench.train.loop import Session
from dabench.train.supervised import SupervisedRecipe, train_supervised

FORMAT = 1
CHECKPOINT = "model.pt"


@dataclass(frozen=True)
class SourceSpec:
    """Everything that determines a source model."""

    dataset: str
    classes: tuple[str, ...]
    backbone: str
    image_size: int
    recipe: dict[str, Any]
    seed: int
    data_options: dict[str, Any]
    backbone_weights: str | None = None
    data_key: str = ""  # the prepared source arrays' cache name (see with_data_key)
    backbone_weights_sha256: str | None = None
    normalization: str = "dabench"
    ssl: dict[str, Any] | None = None  # source.init=ssl: the SwAV recipe run on the source train images first

    def key(self) -> dict[str, Any]:
        key = {"format": FORMAT, **self.__dict__, "classes": list(self.classes),
               "recipe": recorded_source_recipe(self.recipe)}
        # fields added later, left out at their neutral values so existing source models keep their names
        for name, neutral in (("backbone_weights_sha256", None), ("normalization", "dabench"), ("ssl", None)):
            if key[name] == neutral:
                del key[name]
        return key

    @property
    def init(self) -> str:
        """scratch, ssl or weights (source.init; unset: weights when there is a file, else scratch)."""
        return self.recipe.get("init") or ("weights" if self.backbone_weights else "scratch")


def with_data_key(spec: SourceSpec, registry: Registry) -> SourceSpec:
    """``spec`` tied to the exact prepared arrays it trains on, so that a new generator version or changed
    dataset files train a new source model instead of silently reusing one trained on other images."""
    if spec.data_key:
        return spec
    prepared = prepare(registry.dataset(spec.dataset), spec.data_options, spec.image_size)
    return dataclasses.replace(spec, data_key=prepared.key)


def artifact_folder(spec: SourceSpec) -> Path:
    return paths.cache_dir("source_models") / f"{spec.dataset}-{spec.backbone}-{atomic.sha256_json(spec.key())[:16]}"


def checkpoint_path(spec: SourceSpec) -> Path:
    """The per-epoch checkpoint of a training in progress, beside the artifact."""
    return checkpoint_beside(artifact_folder(spec))


def get_source_model(spec: SourceSpec, registry: Registry, device: torch.device,
                     amp: bool = True) -> tuple[ClassifierNet, dict[str, Any]]:
    """The cached source model for ``spec`` and its meta, trained first if absent or corrupt."""
    return fetch_source_model(spec, registry, device, amp).value


def fetch_source_model(spec: SourceSpec, registry: Registry, device: torch.device,
                       amp: bool = True) -> Fetched[tuple[ClassifierNet, dict[str, Any]]]:
    """The cached source model for ``spec``, trained first if absent or corrupt (one process trains,
    the others wait on the lock and reuse it), and whether this call trained it. ``amp``: the run's
    bf16/channels_last switch, used when training on CUDA; like the device, it is not part of the cache key."""
    spec = with_data_key(spec, registry)
    return fetch_artifact(artifact_folder(spec), "source model",
                          load=lambda folder: _load_verified(folder, registry, device),
                          build=lambda tmp: _train_into(spec, registry, device, tmp, amp),
                          remedy="retraining it", checkpoint=checkpoint_path(spec))


def _train_into(spec: SourceSpec, registry: Registry, device: torch.device, tmp: Path, amp: bool = True) -> None:
    dataset = registry.dataset(spec.dataset)
    prepared = prepare(dataset, spec.data_options, spec.image_size)
    train = split_in_classes(prepared, "train", spec.classes)
    started = time.perf_counter()
    ssl_meta = None
    generator = seed_everything(spec.seed)
    if spec.init == "ssl":  # the SSL artifact runs in a forked RNG: the head is drawn the same, cached or not
        model, ssl_meta = _ssl_start(spec, registry, prepared, train.images, device, amp)
    else:
        weights = Path(spec.backbone_weights) if spec.init == "weights" and spec.backbone_weights else None
        model = build_model(registry.backbone(spec.backbone), len(spec.classes), weights,
                            spec.normalization).to(device)
    recipe = build_dataclass(SupervisedRecipe, spec.recipe, "source recipe")
    # beside the artifact and under its lock: a killed source training resumes after its last epoch
    checkpoint = Checkpointer(checkpoint_path(spec), generator, owner=atomic.sha256_json(spec.key()))
    session = Session(generator, device, amp, checkpoint=checkpoint)
    outcome = train_supervised(model, images_to_device(train.images, device),
                               torch.from_numpy(train.labels).to(device), recipe, session, stage=f"source {spec.dataset}")
    seconds = time.perf_counter() - started
    test_accuracy = None
    if "test" in prepared.splits:
        test = split_in_classes(prepared, "test", spec.classes)
        predictions = predict(model, images_to_device(test.images, device)).cpu().numpy()
        test_accuracy = float(np.mean(predictions == test.labels))
    meta = {"format": FORMAT, "spec": spec.key(), "source_val_accuracy": outcome["val_accuracy"],
            "source_test_accuracy": test_accuracy, "best_epoch": outcome["best_epoch"],
            "val_history": outcome["history"], "train_seconds": round(seconds, 3),
            "dataset_cache": prepared.key, "split_hash": prepared.meta.get("split_hash"), "init": spec.init}
    if ssl_meta is not None:
        meta["ssl"] = {"path": ssl_meta.get("path"), "sha256": ssl_meta.get("sha256"),
                       "train_seconds": ssl_meta.get("train_seconds"), "images": ssl_meta.get("images")}
    save_checkpoint(model, meta, tmp / CHECKPOINT)
    meta["sha256"] = atomic.sha256_file(tmp / CHECKPOINT)
    atomic.write_json(tmp / META, meta)


def _ssl_start(spec: SourceSpec, registry: Registry, prepared: Any, images: np.ndarray, device: torch.device,
               amp: bool) -> tuple[ClassifierNet, dict[str, Any]]:
    """source.init=ssl: a network whose backbone is SwAV-pretrained on the source train images (the cached
    SSL artifact a run targeting this dataset with the same recipe uses), bottleneck and classifier fresh."""
    from dabench.train.ssl import SSLRecipe, ssl_seed
    from dabench.train.ssl.artifact import SSLSpec, ssl_model, ssl_target_key

    recipe = build_dataclass(SSLRecipe, spec.ssl or {}, "source SSL recipe")
    ssl_spec = SSLSpec(spec.dataset, ssl_target_key(prepared, "train", spec.classes), spec.backbone,
                       spec.image_size, recipe, ssl_seed(recipe, spec.seed), spec.backbone_weights,
                       spec.backbone_weights_sha256, spec.normalization)
    model, meta = ssl_model(ssl_spec, registry, len(spec.classes), images_to_device(images, device), amp)
    return model.to(memory_format=torch.channels_last), meta


def save_checkpoint(model: ClassifierNet, meta: dict[str, Any], path: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "state_dict": model.state_dict(), "meta": meta}, buffer)
    atomic.write_bytes(path, buffer.getvalue())


def _load_verified(folder: Path, registry: Registry, device: torch.device) -> tuple[ClassifierNet, dict[str, Any]]:
    """The cached model and its meta, once the checkpoint matches its checksum (else ValueError)."""
    meta = checked_meta(folder, CHECKPOINT)
    spec = meta["spec"]
    return _restore(folder / CHECKPOINT, registry, spec["backbone"], tuple(spec["classes"]), device), meta


def _restore(path: Path, registry: Registry, backbone: str, classes: tuple[str, ...], device: torch.device) -> ClassifierNet:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(registry.backbone(backbone), len(classes))
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(device)


def _why_unreadable(exc: Exception) -> str:
    """One line on why a file is no source checkpoint, without torch's advice to load it with
    ``weights_only=False`` (which would run whatever code the file holds)."""
    if isinstance(exc, pickle.UnpicklingError):
        return "not a torch checkpoint of tensors and plain values"
    if isinstance(exc, (KeyError, TypeError)):
        return f"a torch file without dabench's metadata, no key {exc}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}"


def inspect_source_file(path: Path, backbone: str, classes: tuple[str, ...], image_size: int,
                        pair: tuple[str, str]) -> dict[str, Any]:
    """The metadata (with the file's sha256) of a source checkpoint trained elsewhere, checked against
    the run before any work: its backbone, label space, image size, and the dataset it was trained on,
    which must be the pair's source (``pair`` = (source, target)). Called when the run is planned."""
    if not path.is_file():
        raise DabenchError(f"--source-model {path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        spec = checkpoint["meta"]["spec"]
        trained_on = spec["dataset"]
    except Exception as exc:  # any unreadable or foreign file
        raise DabenchError(f"--source-model {path} is not a dabench source checkpoint ({_why_unreadable(exc)}); "
                           "make one with `dabench source train`") from None
    source, target = pair
    if trained_on == target:
        raise DabenchError(f"--source-model {path} was trained on '{target}', this pair's target: a model trained on "
                           "target labels is not a source model; train one on the source dataset")
    if trained_on != source:
        raise DabenchError(f"--source-model {path} was trained on '{trained_on}' but this pair's source is "
                           f"'{source}'; run --pair {trained_on}:{target}")
    if spec["backbone"] != backbone:
        raise DabenchError(f"--source-model {path} has backbone '{spec['backbone']}' but this run uses "
                           f"'{backbone}'; pass --backbone {spec['backbone']}")
    if tuple(spec["classes"]) != classes:
        raise DabenchError(f"--source-model {path} was trained on classes {', '.join(spec['classes'])} but this "
                           f"pair's label space is {', '.join(classes)}")
    if spec["image_size"] != image_size:
        raise DabenchError(f"--source-model {path} was trained at {spec['image_size']} px but this run uses "
                           f"{image_size} px; pass --set image_size={spec['image_size']}")
    return dict(checkpoint["meta"], sha256=atomic.sha256_file(path), path=str(path.resolve()))


def load_source_file(meta: dict[str, Any], registry: Registry, device: torch.device) -> ClassifierNet:
    """The model of a checkpoint that :func:`inspect_source_file` accepted; refused if the file changed since."""
    path = Path(meta["path"])
    if not path.is_file() or atomic.sha256_file(path) != meta["sha256"]:
        raise DabenchError(f"--source-model {path} changed (or vanished) after the run was planned; run it again")
    spec = meta["spec"]
    return _restore(path, registry, spec["backbone"], tuple(spec["classes"]), device)
