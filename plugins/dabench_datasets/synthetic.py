"""The generated FER domains ``synth-lab`` and ``synth-wild`` (DESIGN.md section 9)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dabench
from dabench.data import DataOptions, Dataset, Split
from dabench.data.synth import generate_faces
from dabench.labels import CANONICAL_CLASSES


@dataclass(frozen=True)
class SynthOptions(DataOptions):
    n_train: int = field(default=3000, metadata={"help": "train images"})
    n_test: int = field(default=1000, metadata={"help": "test images"})
    seed: int = field(default=0, metadata={"help": "generator seed (the split seeds derive from it)"})

    def __post_init__(self) -> None:
        if self.n_train < 1 or self.n_test < 1:
            raise ValueError(f"n_train and n_test must be >= 1 (got {self.n_train}, {self.n_test})")


class _Synthetic(Dataset):
    classes = CANONICAL_CLASSES
    generated = True
    native_size = 32
    default_backbone = "small_cnn"
    # 3,000 images at 32 px: SwAV with 100 prototypes (the set cannot fill 5,000), 20 epochs, and two
    # 16 px small crops (small_cnn's four poolings need >= 16 px); about a minute on 2 CPU cores
    ssl_defaults = {"epochs": 20, "batch_size": 128, "prototypes": 100, "hidden_dim": 512, "warmup_epochs": 2,
                    "small_crops": 2, "small_crop_fraction": 0.5}
    version = "2"  # 2: milder wild clutter/pose/occlusion and class imbalance
    Options = SynthOptions
    style = ""

    def build(self, folder: Path | None, options: SynthOptions) -> dict[str, Split]:
        splits = {}
        for offset, (name, count) in enumerate((("train", options.n_train), ("test", options.n_test))):
            images, labels = generate_faces(count, self.style, options.resolution,
                                            seed=options.seed * 1000 + offset)
            if options.rgb and images.shape[3] == 1:
                images = images.repeat(3, axis=3)
            splits[name] = Split(images, labels)
        return splits


class SynthLab(_Synthetic):
    id = "synth-lab"
    style = "lab"
    description = "generated lab faces: frontal, grayscale, plain background, balanced, strong expressions"


class SynthWild(_Synthetic):
    id = "synth-wild"
    style = "wild"
    description = ("generated in-the-wild faces: colour, pose/scale jitter, clutter, lighting, blur, noise, "
                   "occluders, imbalanced classes, weaker expressions")


@dabench.hookimpl
def register_datasets(register) -> None:
    register(SynthLab())
    register(SynthWild())
