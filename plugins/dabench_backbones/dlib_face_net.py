"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) as a PyTorch module, written
from the network's definition in dlib's ``examples/dnn_face_recognition_ex.cpp``, and the conversion of
the dlib file into its state dict.

The network: 150 px RGB, ``(pixel - mean_rgb) / 256``; a 7x7/2 convolution (32), affine, ReLU, 3x3/2
max-pool; residual stages of 3x3 convolution pairs at 32 (3 blocks), 64 (4), 128 (3), 256 (3) and 256
(1) channels, the first block of every stage but the first halving the size (a 3x3/2 convolution; the
shortcut is a 2x2/2 average pool); a global average pool and a 256 -> 128 fully connected layer without
bias (the 128-d face descriptor). dlib's defaults give a strided convolution or pool no padding and a
stride-1 one ``size // 2``; its residual sum (``add_prev``) adds tensors of different sizes as if the
smaller were zero-padded at the end of each dimension (channels, rows, columns).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dabench.models import INPUT_MEAN, INPUT_STD
from dabench_backbones.dlib_format import Layer, read_network, unpack

# (channels, blocks, first block halves the size) per stage, from the input up (alevel4 .. alevel0)
STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
EMBEDDING_DIM = 128
TRAINED_SIZE = 150


class FoldedBatchNorm(nn.BatchNorm2d):
    """dlib's ``affine`` layer (a batch norm folded into a per-channel scale and shift) as a BatchNorm2d.

    In eval mode it is exactly the affine map (running mean 0, running variance ``1 - eps``). The first
    forward in train mode re-expresses that same map around the statistics of the batch it sees (running
    mean and variance := the batch's; weight and bias rescaled so the eval output does not change), so that
    fine-tuning, AdaBN and Tent see an ordinary batch norm whose first train-mode output equals dlib's,
    instead of normalising a folded layer's input a second time."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.register_buffer("calibrated", torch.zeros((), dtype=torch.bool))

    def set_affine(self, gamma: torch.Tensor, beta: torch.Tensor) -> None:
        with torch.no_grad():
            self.weight.copy_(gamma)
            self.bias.copy_(beta)
            self.running_mean.zero_()
            self.running_var.fill_(1.0 - self.eps)
            self.calibrated.fill_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and not bool(self.calibrated):
            self._calibrate(x)  # the running statistics are now this batch's: normalise by them, unmoved
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)

    @torch.no_grad()
    def _calibrate(self, x: torch.Tensor) -> None:
        scale = self.weight / torch.sqrt(self.running_var + self.eps)  # the eval map is scale * x + shift
        shift = self.bias - self.running_mean * scale
        mean = x.detach().float().mean(dim=(0, 2, 3))
        var = x.detach().float().var(dim=(0, 2, 3), unbiased=False)
        self.running_mean.copy_(mean)
        self.running_var.copy_(var)
        self.weight.copy_(scale * torch.sqrt(var + self.eps))
        self.bias.copy_(shift + scale * mean)
        self.calibrated.fill_(True)


def add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: the sum at the larger size of each dimension, the smaller zero-padded at the end."""
    size = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]

    def grow(t: torch.Tensor) -> torch.Tensor:
        c, h, w = t.shape[1:]
        return t if [c, h, w] == size else F.pad(t, (0, size[2] - w, 0, size[1] - h, 0, size[0] - c))

    return grow(a) + grow(b)


class Residual(nn.Module):
    """dlib's ``ares`` (stride 1, identity shortcut) or ``ares_down`` (stride 2, 2x2/2 average-pool shortcut)."""

    def __init__(self, in_channels: int, channels: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.bn1 = FoldedBatchNorm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = FoldedBatchNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(add_padded(out, shortcut))


class FaceResNet(nn.Module):
    """(B, 3, H, W) normalised as dabench's ClassifierNet normalises -> (B, 128) face descriptors.

    The first step undoes dabench's normalisation (``INPUT_MEAN``, ``INPUT_STD``) and applies dlib's:
    ``(255 * x - mean_rgb) / 256`` for x in [0, 1]. ``embed_pixels`` takes 0..255 RGB as dlib does."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean_rgb", torch.tensor((122.782, 117.001, 104.298)))  # replaced by the file's
        self.stem = nn.Conv2d(3, 32, 7, stride=2, padding=0)
        self.stem_bn = FoldedBatchNorm(32)
        blocks, channels = [], 32
        for width, count, down in STAGES:
            for index in range(count):
                blocks.append(Residual(channels, width, down and index == 0))
                channels = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, EMBEDDING_DIM, bias=False)

    def embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB in 0..255 -> (B, 128), dlib's own input normalisation."""
        return self._trunk((pixels - self.mean_rgb.view(1, 3, 1, 1)) / 256.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = (torch.tensor(v, device=x.device, dtype=x.dtype).view(1, 3, 1, 1) for v in (INPUT_MEAN, INPUT_STD))
        return self.embed_pixels((x * std + mean) * 255.0)

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.stem_bn(self.stem(x))), 3, 2)
        x = self.blocks(x).mean(dim=(2, 3))
        return self.fc(x)


def min_input_size() -> int:
    """The smallest square input every layer accepts (the last stage's strided 3x3 convolution needs 3 px)."""
    size = 1
    while True:
        side = (size - 7) // 2 + 1 if size >= 7 else 0
        side = (side - 3) // 2 + 1 if side >= 3 else 0
        fits = side > 0
        for _, _, down in STAGES[1:]:
            fits = fits and side >= 3
            side = (side - 2) // 2 + 1 if down else side
        if fits:
            return size
        size += 1


def dlib_layout() -> tuple[list[str], list[str]]:
    """What the file holds per level, as dlib's C++ type says: (the wrappers from the top down, the
    ``add_layer`` names from the input up). See :func:`dabench_backbones.dlib_format.read_network`."""
    levels = ["con_4", "affine_", "relu_", "max_pool_2"]  # from the input up; "tag"/"skip" levels hold no details
    for width, count, down in STAGES:
        for index in range(count):
            block = ["tag", "con_4", "affine_", "relu_", "con_4", "affine_"]
            levels += block + (["tag", "skip", "avg_pool_2"] if down and index == 0 else []) + ["add_prev_", "relu_"]
    levels += ["avg_pool_2", "fc_2"]
    wrappers = ["layer" if name not in ("tag", "skip") else name for name in reversed(levels)]
    return wrappers, [name for name in levels if name not in ("tag", "skip")]


def convert(data: bytes) -> tuple[dict[str, torch.Tensor], dict]:
    """The bytes of ``dlib_face_recognition_resnet_model_v1.dat`` -> (a FaceResNet state dict, what the
    file says of itself). Raises DlibFormatError if the file is not this network."""
    wrappers, names = dlib_layout()
    source, layers, loss = read_network(data, wrappers, names)
    net = FaceResNet()
    convs = [net.stem] + [c for block in net.blocks for c in (block.conv1, block.conv2)]
    norms = [net.stem_bn] + [n for block in net.blocks for n in (block.bn1, block.bn2)]
    _fill(net, convs, norms, layers)
    net.mean_rgb.copy_(torch.tensor(source.info["mean_rgb"]))
    meta = {"input": source.info, "loss": loss, "layers": len(layers)}
    return net.state_dict(), meta


@torch.no_grad()
def _fill(net: FaceResNet, convs: list[nn.Conv2d], norms: list[FoldedBatchNorm], layers: list[Layer]) -> None:
    found = {name: [layer for layer in layers if layer.name == name] for name in ("con_4", "affine_", "fc_2")}
    for conv, layer in zip(convs, found["con_4"], strict=True):
        params = unpack(layer)
        _copy(conv.weight, params["weight"], "convolution")
        _copy(conv.bias, params["bias"], "convolution bias")
    for norm, layer in zip(norms, found["affine_"], strict=True):
        params = unpack(layer)
        norm.set_affine(torch.from_numpy(params["gamma"].copy()), torch.from_numpy(params["beta"].copy()))
    (fc,) = found["fc_2"]
    params = unpack(fc)
    if "bias" in params:
        raise ValueError("the fc layer has a bias; this network's has none")
    _copy(net.fc.weight, params["weight"].T, "fc")


def _copy(target: torch.Tensor, values, what: str) -> None:
    source = torch.from_numpy(values.copy())
    if tuple(source.shape) != tuple(target.shape):
        raise ValueError(f"{what}: the file holds shape {tuple(source.shape)}, the network wants {tuple(target.shape)}")
    target.copy_(source)
