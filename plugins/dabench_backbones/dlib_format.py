"""A pure-Python reader of dlib's serialisation format, as far as a ``loss_metric`` network of
``con``/``affine``/``relu``/pooling/``add_prev``/``fc`` layers needs it (dlib's face-recognition ResNet).

Written from dlib's public headers (``dlib/serialize.h``, ``dlib/dnn/{core,layers,input,loss,tensor}.h``):

- integers: one byte ``n | 0x80 if negative`` then ``n`` little-endian magnitude bytes; bools: ``'0'``/``'1'``;
  strings: their length (an integer) then the bytes; floating point values: ``mantissa`` (int64) and
  ``exponent`` (int16) as two integers, value ``mantissa * 2**exponent``;
- tensors (version 2): version, num_samples, k, nr, nc, then the values as 4-byte little-endian floats;
  alias tensors (version 1): only the four dimensions;
- a network serialises outside-in: ``add_loss_layer`` writes its version, the loss details, then its
  subnetwork; ``add_layer`` (version 2) writes its version, its subnetwork, its details, three bools and
  three tensors (x_grad, cached_output, params_grad); the bottom ``add_layer`` (over the input layer,
  version 2 or 3) writes the input layer instead of a subnetwork, then grad_final (and, at version 3,
  the sample expansion factor); ``add_tag_layer`` and ``add_skip_layer`` write a version and their
  subnetwork. A layer's details start with its name (``"con_4"``, ``"affine_"``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class DlibFormatError(ValueError):
    """The bytes are not the dlib network this reader expects (what was wrong, at which byte)."""


@dataclass
class Layer:
    """One computational layer as read from the file: its dlib name and what it holds."""

    name: str  # "con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2", "input_rgb_image_sized"
    params: np.ndarray | None = None  # the layer's parameter tensor, float32, flat
    info: dict = field(default_factory=dict)  # sizes, strides, paddings, mode, means: what the layer says of itself


class Reader:
    """A cursor over the bytes of a dlib file."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def fail(self, what: str) -> DlibFormatError:
        return DlibFormatError(f"{what} at byte {self.pos}")

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise self.fail(f"file ends early: {n} bytes wanted")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def integer(self) -> int:
        head = self.take(1)[0]
        size = head & 0x0F
        if size > 8 or head & 0x70:
            self.pos -= 1
            raise self.fail(f"not a dlib integer (control byte {head:#04x})")
        value = int.from_bytes(self.take(size), "little") if size else 0
        return -value if head & 0x80 else value

    def boolean(self) -> bool:
        byte = self.take(1)
        if byte not in (b"0", b"1"):
            raise self.fail(f"not a dlib bool ({byte!r})")
        return byte == b"1"

    def string(self) -> str:
        size = self.integer()
        if not 0 <= size <= 256:
            raise self.fail(f"implausible string length {size}")
        return self.take(size).decode("latin-1")

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        if exponent >= 32000:  # dlib's codes for inf, -inf, nan
            return {32000: float("inf"), 32001: float("-inf")}.get(exponent, float("nan"))
        return float(mantissa) * 2.0**exponent

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise self.fail(f"tensor version {version} (this reader knows version 2)")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        if min(shape) < 0 or count * 4 > len(self.data) - self.pos:
            raise self.fail(f"implausible tensor shape {shape}")
        return np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, ...]:
        if self.integer() != 1:
            raise self.fail("alias_tensor version is not 1")
        return tuple(self.integer() for _ in range(4))

    def expect(self, names: tuple[str, ...]) -> str:
        start = self.pos
        name = self.string()
        if name not in names:
            self.pos = start
            raise self.fail(f"layer {name!r} where {' or '.join(repr(n) for n in names)} was expected")
        return name


def _details(reader: Reader, name: str) -> Layer:
    """The details of one computational layer whose name string was just read."""
    if name == "con_4":
        params = reader.tensor().ravel()
        filters, nr, nc = reader.integer(), reader.integer(), reader.integer()
        info = {"filters": filters, "nr": nr, "nc": nc, "stride": (reader.integer(), reader.integer()),
                "padding": (reader.integer(), reader.integer()), "weights": reader.alias(), "biases": reader.alias()}
        for _ in range(4):  # learning-rate and weight-decay multipliers
            reader.real()
        return Layer(name, params, info)
    if name == "affine_":
        params = reader.tensor().ravel()
        info = {"gamma": reader.alias(), "beta": reader.alias(), "mode": reader.integer()}
        return Layer(name, params, info)
    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc = reader.integer(), reader.integer()
        info = {"nr": nr, "nc": nc, "stride": (reader.integer(), reader.integer()),
                "padding": (reader.integer(), reader.integer())}
        return Layer(name, None, info)
    if name == "fc_2":
        outputs, inputs = reader.integer(), reader.integer()
        params = reader.tensor().ravel()
        info = {"outputs": outputs, "inputs": inputs, "weights": reader.alias(), "biases": reader.alias(),
                "bias_mode": reader.integer()}
        for _ in range(4):
            reader.real()
        return Layer(name, params, info)
    if name in ("relu_", "add_prev_"):
        return Layer(name)
    raise reader.fail(f"layer {name!r}, which this reader does not know")


def read_network(data: bytes, wrappers: list[str], layer_names: list[str]) -> tuple[Layer, list[Layer], dict]:
    """Read a ``loss_metric`` network: (the input layer, its layers from the input up, the loss's settings).

    wrappers: what sits on top of the input, from the top down, one entry per level: ``"layer"`` (an
    ``add_layer``) or ``"tag"``/``"skip"`` (which write only a version). layer_names: the dlib names of
    the ``add_layer`` levels from the input up. Both come from the network's definition, as in dlib,
    where the C++ type says what to read; the file's names and versions are checked against them."""
    reader = Reader(data)
    if reader.integer() != 1:
        raise reader.fail("add_loss_layer version is not 1")
    reader.expect(("loss_metric_2",))
    loss = {"margin": reader.real(), "distance_threshold": reader.real()}
    for depth, kind in enumerate(wrappers):
        version = reader.integer()
        allowed = (1,) if kind != "layer" else ((2, 3) if depth == len(wrappers) - 1 else (2,))
        if version not in allowed:
            raise reader.fail(f"level {depth} from the top ({kind}) has version {version}, not {allowed}")
    bottom_version = version
    reader.expect(("input_rgb_image_sized",))
    means = tuple(reader.real() for _ in range(3))
    source = Layer("input_rgb_image_sized", None, {"mean_rgb": means, "size": (reader.integer(), reader.integer())})
    layers = []
    for index, expected in enumerate(layer_names):
        layers.append(_details(reader, reader.expect((expected,))))
        for _ in range(3):  # this_layer_setup_called, gradient_input_is_stale, get_output_and_gradient_input_disabled
            reader.boolean()
        for _ in range(3):  # x_grad, cached_output, then params_grad (grad_final at the bottom)
            reader.tensor()
        if index == 0 and bottom_version == 3:
            reader.integer()  # the sample expansion factor
    if reader.pos != len(data):
        raise reader.fail(f"{len(data) - reader.pos} bytes left after the network")
    return source, layers, loss


def unpack(layer: Layer) -> dict[str, np.ndarray]:
    """A layer's parameters split as dlib lays them out: con (weights (out, in, kh, kw), biases), affine
    (gamma, beta), fc (weights (in, out) as dlib multiplies x @ W, and biases when it has them)."""
    flat = layer.params
    if layer.name == "con_4":
        shape = layer.info["weights"]
        size = int(np.prod(shape))
        return {"weight": flat[:size].reshape(shape), "bias": flat[size:size + layer.info["filters"]]}
    if layer.name == "affine_":
        half = flat.size // 2
        return {"gamma": flat[:half], "beta": flat[half:]}
    if layer.name == "fc_2":
        inputs, outputs = layer.info["inputs"], layer.info["outputs"]
        weights = flat[:inputs * outputs].reshape(inputs, outputs)
        return {"weight": weights, "bias": flat[inputs * outputs:]} if flat.size > inputs * outputs else {"weight": weights}
    raise DlibFormatError(f"layer {layer.name!r} has no parameters")


def pack_int(value: int) -> bytes:
    """dlib's integer encoding (the writer's side, for tests that build a file by hand)."""
    magnitude = abs(value).to_bytes(8, "little").rstrip(b"\0")
    return bytes([len(magnitude) | (0x80 if value < 0 else 0)]) + magnitude


def pack_tensor(values: np.ndarray) -> bytes:
    shape = (values.shape + (1, 1, 1, 1))[:4] if values.ndim < 4 else values.shape
    return pack_int(2) + b"".join(pack_int(n) for n in shape) + np.asarray(values, dtype="<f4").tobytes()

