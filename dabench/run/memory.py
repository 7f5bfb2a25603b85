"""What a run will hold in memory and write to disk, estimated before it prepares data or trains, and refused
with the numbers when it does not fit (``--set image_size=1024`` on a CPU once went past 6 GB in seconds).

Memory: the prepared images of both sides (uint8, as the runner holds them), the network's parameters with
their gradients and optimiser state (4 copies in float32), and the activations one training batch keeps for
the backward pass: the outputs of every layer of the network (measured by a forward pass of a copy on
PyTorch's ``meta`` device, which allocates nothing) times the largest batch any stage trains with, twice over for their
gradients, plus the float copy of the batch itself. Feature banks (NRC, AaD) and evaluation batches are small
beside these and are covered by a 25% margin. Disk: the prepared arrays written to the cache (twice, while the
new copy is published). The override is the environment variable ``DABENCH_MEMORY_CHECK=off``.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dabench.errors import DabenchError
from dabench.host.registry import Registry
from dabench.models import build_model
from dabench.run.cost import dataset_sizes
from dabench.store import paths

OVERRIDE = "DABENCH_MEMORY_CHECK"
MARGIN = 1.25
GB = 1024**3
_VIEWS = (nn.Flatten, nn.Identity, nn.Dropout)  # their outputs share their input's storage


@dataclass(frozen=True)
class Estimate:
    images: int  # bytes of prepared uint8 images both sides hold
    model: int  # parameters, gradients and optimiser state
    activations: int  # one training batch's stored activations, forward and backward
    batch_size: int
    image_size: int
    network_known: bool = True  # False: the backbone could not be built or measured

    @property
    def memory(self) -> int:
        return int(MARGIN * (self.images + self.model + self.activations))

    def describe(self) -> str:
        if not self.network_known:
            return f"images {self.images / GB:.2f} GB; the network's share is unknown, +{int(100 * (MARGIN - 1))}% margin"
        return (f"training activations {self.activations / GB:.1f} GB (batch {self.batch_size} at "
                f"{self.image_size} px), images {self.images / GB:.2f} GB, model {self.model / GB:.2f} GB, "
                f"+{int(100 * (MARGIN - 1))}% margin")


def activation_floats(module: nn.Module, channels: int, image_size: int) -> int:
    """The number of values the layers of ``module`` output for one image (what backward keeps), counted
    on the meta device; in-place layers and views add none."""
    try:
        return _count_outputs(_on_meta(module), channels, image_size, "meta")
    except RuntimeError:  # a layer that reads a value (``.item()``) cannot run on meta: two real images then
        return _count_outputs(copy.deepcopy(module).cpu(), channels, image_size, "cpu")


def _count_outputs(module: nn.Module, channels: int, image_size: int, device: str) -> int:
    total = 0

    def count(layer: nn.Module, _inputs: Any, output: Any) -> None:
        nonlocal total
        if isinstance(layer, _VIEWS) or getattr(layer, "inplace", False):
            return
        for tensor in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel()

    leaves = [layer for layer in module.modules() if not list(layer.children())]
    handles = [layer.register_forward_hook(count) for layer in leaves]
    try:
        module.train()
        with torch.no_grad():
            module(torch.zeros(2, channels, image_size, image_size, device=device))  # BatchNorm needs 2 to train
    finally:
        for handle in handles:
            handle.remove()
    return total // 2


def estimate(plan: Any, registry: Registry, image_counts: dict[str, int]) -> Estimate:
    """The run's memory estimate; ``image_counts``: images per side (source, target) it will prepare."""
    config = plan.config
    size = config["image_size"]
    batch = max([config["source"]["batch_size"], *(_batch_sizes(plan.hparams)),
                 *([config["ssl"]["batch_size"]] if "ssl" in config and "batch_size" in config["ssl"] else [])])
    images = sum(image_counts.values()) * size * size * 3
    try:
        parameters, per_image = _network_size(registry.backbone(config["backbone"]), len(plan.classes), size)
    except Exception:  # noqa: BLE001 -- a backbone that cannot be measured: only the images are known
        return Estimate(images=images, model=0, activations=0, batch_size=batch, image_size=size, network_known=False)
    return Estimate(images=images, model=4 * 4 * parameters, activations=2 * 4 * per_image * batch,
                    batch_size=batch, image_size=size)


@functools.lru_cache(maxsize=32)
def _network_size(backbone: Any, num_classes: int, size: int) -> tuple[int, int]:
    """(parameters, values stored per image: the layers' outputs and the float batch), once per process. Built
    for real (a plugin's build may cache what it loads: never under a meta default device), counted on meta."""
    model = build_model(backbone, num_classes)
    return sum(p.numel() for p in model.parameters()), activation_floats(model, 3, size) + 3 * size * size


def check_fits(plan: Any, registry: Registry, device: torch.device) -> None:
    """Refuse ``plan`` before it prepares data when its estimate exceeds the free memory of ``device`` or the
    cache's free disk; ``DABENCH_MEMORY_CHECK=off`` skips the check."""
    if os.environ.get(OVERRIDE, "").lower() in ("off", "0", "false", "no"):
        return
    counts = {side: expected_images(registry, plan, side) for side in ("source", "target")}
    found = estimate(plan, registry, counts)
    free = available_memory(device)
    where = "the GPU" if device.type == "cuda" else "this machine"
    if free is not None and found.memory > free:
        raise DabenchError(f"run {plan.run_id} needs about {found.memory / GB:.1f} GB of memory ({found.describe()}) "
                           f"and {where} has {free / GB:.1f} GB free; lower image_size or the batch size "
                           f"(--set image_size=..., --set batch_size=...), or set {OVERRIDE}=off to run it anyway")
    cache = paths.cache_dir("datasets")
    disk = shutil.disk_usage(_existing(cache)).free
    if 2 * found.images > disk:
        raise DabenchError(f"run {plan.run_id} prepares about {found.images / GB:.1f} GB of images and {cache} has "
                           f"{disk / GB:.1f} GB free; free space there, lower image_size, or move DABENCH_HOME")


def expected_images(registry: Registry, plan: Any, side: str) -> int:
    """How many images one side will prepare, as the dry run counts them (:func:`dabench.run.cost.dataset_sizes`:
    a generator's options, a folder's label lists, else the released sizes); 0 when unknown or not prepared
    (the source of a run given a --source-model file)."""
    if side == "source" and plan.source_file is not None:
        return 0
    dataset = registry.dataset(getattr(plan.pair, side))
    sizes = dataset_sizes(registry, dataset.id, plan.config["data"].get(side, {}), tuple(dataset.classes),
                          plan.config["image_size"])
    return sizes.train + sizes.test if sizes is not None else 0


def available_memory(device: torch.device) -> int | None:
    """Free bytes on ``device``: CUDA's own count, else Linux's MemAvailable; None where unknown."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _batch_sizes(hparams: Any) -> list[int]:
    return [value for key, value in dataclasses.asdict(hparams).items()
            if key.endswith("batch_size") and isinstance(value, int)] if dataclasses.is_dataclass(hparams) else []


def _on_meta(module: nn.Module) -> nn.Module:
    if all(p.device.type == "meta" for p in module.parameters()):
        return module
    return copy.deepcopy(module).to("meta")


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
