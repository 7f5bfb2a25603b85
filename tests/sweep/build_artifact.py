"""Helper process for test_sweep_crash: waits for a start signal, then asks for two shared artifacts (a
source model, then an SSL backbone) and appends a line to a log each time it actually trains one."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import torch

from dabench.host.registry import get_registry
from dabench.labels import CANONICAL_CLASSES
from dabench.run import source_model as source
from dabench.train.ssl import SSLRecipe
from dabench.train.ssl import artifact as ssl_artifact
from dabench.train.supervised import SupervisedRecipe


def counted(function, log: Path, kind: str):
    def wrapper(*args, **kwargs):
        with open(log, "a") as handle:
            handle.write(f"{kind} {os.getpid()}\n")
        return function(*args, **kwargs)
    return wrapper


def main(log: Path, go: Path) -> None:
    torch.set_num_threads(1)
    registry = get_registry()
    source._train_into = counted(source._train_into, log, "source")
    ssl_artifact._pretrain_into = counted(ssl_artifact._pretrain_into, log, "ssl")
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.01)
    spec = source.SourceSpec("synth-lab", CANONICAL_CLASSES, "small_cnn", 32,
                             dataclasses.asdict(SupervisedRecipe(epochs=1)), 5, {"n_train": 120, "n_test": 40})
    print(source.get_source_model(spec, registry, torch.device("cpu"))[1]["sha256"], flush=True)
    recipe = SSLRecipe(epochs=1, batch_size=32, prototypes=16, hidden_dim=32, projection_dim=16, small_crops=0)
    ssl_spec = ssl_artifact.SSLSpec("synth-wild", {"test": "concurrent"}, "small_cnn", 32, recipe, 5)
    images = torch.randint(0, 256, (64, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    print(ssl_artifact.get_ssl_backbone(ssl_spec, registry, images, amp=False)[1]["sha256"], flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
