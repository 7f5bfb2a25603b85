"""SSL backbones as cached artifacts under ``$DABENCH_HOME/cache/ssl/``: keyed by the target images,
backbone, image size, recipe and seed; written atomically with a checksum, built once under a lock
(checkpointed each epoch beside the artifact, so a killed build resumes) and reused by every method
and every source that targets the same dataset."""

from __future__ import annotations

import dataclasses
import io
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dabench.host.registry import Registry
from dabench.models import ClassifierNet, build_model
from dabench.store import atomic, paths
from dabench.store.artifacts import META, cached_artifact, checked_meta, checkpoint_beside
from dabench.store.checkpoint import Checkpointer
from dabench.train.ssl import SSLRecipe
from dabench.train.ssl.pretrain import pretrain

FORMAT = 1
CHECKPOINT = "backbone.pt"


@dataclass(frozen=True)
class SSLSpec:
    """Everything that determines an SSL backbone. ``target_key`` identifies the images: the target
    dataset's prepared cache key (id + data options), the split, the kept classes and the images' checksum."""

    target: str
    target_key: dict[str, Any]
    backbone: str
    image_size: int
    recipe: SSLRecipe
    seed: int
    backbone_weights: str | None = None
    backbone_weights_sha256: str | None = None  # the file's content: a changed file is another artifact
    normalization: str = "dabench"

    def key(self) -> dict[str, Any]:
        # the recipe's ``seed`` setting is left out: ``seed`` holds the one it resolved to, so
        # ``ssl.seed: run`` at run seed 0 and ``ssl.seed: 0`` name the same artifact
        recipe = {k: v for k, v in dataclasses.asdict(self.recipe).items() if k != "seed"}
        key = {"format": FORMAT, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
               "recipe": recipe}
        # fields added later, left out at their neutral values so existing artifacts keep their names
        for name, neutral in (("backbone_weights_sha256", None), ("normalization", "dabench")):
            if key[name] == neutral:
                del key[name]
        return key


def ssl_target_key(prepared: Any, split: str, classes: tuple[str, ...]) -> dict[str, Any]:
    """What names the images an SSL backbone is pretrained on (``SSLSpec.target_key``): a prepared dataset's
    cache key, the split, the kept classes and the split's images checksum; the same for a run's target and,
    under source.init=ssl, for its source."""
    return {"prepared": prepared.key, "split": split, "classes": list(classes),
            "images_sha256": prepared.meta.get("files", {}).get(f"{split}_images.npy")}


def artifact_folder(spec: SSLSpec) -> Path:
    return paths.cache_dir("ssl") / f"{spec.target}-{spec.backbone}-{atomic.sha256_json(spec.key())[:16]}"


def checkpoint_path(spec: SSLSpec) -> Path:
    """The per-epoch checkpoint of a build in progress, beside the artifact."""
    return checkpoint_beside(artifact_folder(spec))


def get_ssl_backbone(spec: SSLSpec, registry: Registry, images: torch.Tensor,
                     amp: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """The pretrained backbone for ``spec`` on ``images``' device (pretrained first if absent or corrupt)."""
    return cached_artifact(artifact_folder(spec), "SSL backbone",
                           load=lambda folder: _load_verified(folder, registry, spec, images.device),
                           build=lambda tmp: _pretrain_into(spec, registry, images, amp, tmp),
                           remedy="pretraining it again", checkpoint=checkpoint_path(spec))


def _pretrain_into(spec: SSLSpec, registry: Registry, images: torch.Tensor, amp: bool, tmp: Path) -> None:
    checkpoint = Checkpointer(checkpoint_path(spec), owner=atomic.sha256_json(spec.key()))
    # seeded on its own and in a forked RNG, so the artifact does not depend on what the caller drew
    # before, and the caller's random state is the same whether the artifact was cached or not; Python's
    # and NumPy's states too, which a resumed checkpoint restores along with torch's
    cuda = [images.device] if images.device.type == "cuda" else []
    python_rng, numpy_rng = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(spec.seed)
            generator = torch.Generator().manual_seed(spec.seed)
            checkpoint.generator = generator
            backbone_spec = registry.backbone(spec.backbone)
            weights = Path(spec.backbone_weights) if spec.backbone_weights else None
            backbone = backbone_spec.build(weights).to(images.device).to(memory_format=torch.channels_last)
            started = time.perf_counter()
            outcome = pretrain(backbone, backbone_spec.feature_dim, images, spec.recipe, generator, amp,
                               desc=f"ssl {spec.recipe.method} {spec.target}", checkpoint=checkpoint,
                               normalization=spec.normalization)
    finally:
        random.setstate(python_rng)
        np.random.set_state(numpy_rng)
    meta = {"format": FORMAT, "spec": spec.key(), "train_seconds": round(time.perf_counter() - started, 3),
            "images": len(images), **outcome}
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "state_dict": backbone.state_dict()}, buffer)
    atomic.write_bytes(tmp / CHECKPOINT, buffer.getvalue())
    meta["sha256"] = atomic.sha256_file(tmp / CHECKPOINT)
    atomic.write_json(tmp / META, meta)


def _load_verified(folder: Path, registry: Registry, spec: SSLSpec, device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    """The artifact in ``folder``, once its checkpoint matches its checksum (else ValueError)."""
    meta = checked_meta(folder, CHECKPOINT)
    state = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=True)["state_dict"]
    backbone = registry.backbone(spec.backbone).build(None)
    backbone.load_state_dict(state)
    return backbone.to(device), dict(meta, path=str(folder))


def ssl_model(spec: SSLSpec, registry: Registry, num_classes: int, images: torch.Tensor,
              amp: bool = True) -> tuple[ClassifierNet, dict[str, Any]]:
    """A ClassifierNet whose backbone is the SSL artifact's and whose bottleneck and classifier are fresh."""
    backbone, meta = get_ssl_backbone(spec, registry, images, amp)
    model = build_model(registry.backbone(spec.backbone), num_classes,
                        normalization=spec.normalization).to(images.device)
    model.backbone.load_state_dict(backbone.state_dict())
    return model, meta
