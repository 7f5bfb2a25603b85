"""The CUDA data path without a GPU: random draws stay on the CPU generator and reach the device
asynchronously, batches go channels_last only on CUDA with amp, the run's amp and compile switches
reach the training loops; on the CPU every result is bit for bit what the blocking code gave."""

from __future__ import annotations

import contextlib
from typing import ClassVar

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torch.utils._triton
from torch import _dynamo

from dabench.errors import DabenchError
from dabench.methods import AdaptContext, Method
from dabench.models import build_model
from dabench.run.execute import execute, plan_run
from dabench.train import device as device_module
from dabench.train import loop
from dabench.train.batches import augment, augment_views, index_batches
from dabench.train.device import (
    compile_model,
    require_compile,
    to_device,
    to_model_layout,
)
from dabench.train.mixup import mix
from dabench.train.supervised import SupervisedRecipe, train_supervised

CUDA = torch.device("cuda")  # a device object only: nothing here allocates on it
SMALL = ("data.source.n_train=200", "data.source.n_test=50", "data.target.n_train=150", "data.target.n_test=60",
         "source.epochs=1")


# The code paths before the change (blocking ``.to(device)``, ``new_tensor`` per use), kept verbatim
# as the reference the new ones must match exactly on the CPU.
def _augment_before(batch, generator, flip=True, scale=(0.8, 1.0), max_rotation_deg=10.0, max_shift=0.05):
    size = batch.shape[0]
    draw = lambda: torch.rand(size, generator=generator)
    zoom = scale[0] + (scale[1] - scale[0]) * draw()
    angle = torch.deg2rad((2 * draw() - 1) * max_rotation_deg)
    sign = torch.where(draw() < 0.5, -1.0, 1.0) if flip else torch.ones(size)
    shift_x, shift_y = (2 * draw() - 1) * max_shift * 2, (2 * draw() - 1) * max_shift * 2
    cos, sin = torch.cos(angle) * zoom.sqrt(), torch.sin(angle) * zoom.sqrt()
    theta = torch.stack([torch.stack([cos * sign, -sin, shift_x], 1),
                         torch.stack([sin * sign, cos, shift_y], 1)], 1)
    theta = theta.to(device=batch.device, dtype=batch.dtype)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _augment_views_before(batch, generator, size, scale=(0.2, 1.0), jitter=0.4, jitter_p=0.8, grayscale_p=0.2,
                          flip=True):
    count = batch.shape[0]
    draw = lambda: torch.rand(count, generator=generator)
    area = scale[0] + (scale[1] - scale[0]) * draw()
    log_ratio = (2 * draw() - 1) * float(np.log(4 / 3))
    width = (area * torch.exp(log_ratio)).sqrt().clamp(max=1.0)
    height = (area / torch.exp(log_ratio)).sqrt().clamp(max=1.0)
    centre_x, centre_y = (2 * draw() - 1) * (1 - width), (2 * draw() - 1) * (1 - height)
    sign = torch.where(draw() < 0.5, -1.0, 1.0) if flip else torch.ones(count)
    zeros = torch.zeros(count)
    theta = torch.stack([torch.stack([width * sign, zeros, centre_x], 1),
                         torch.stack([zeros, height, centre_y], 1)], 1).to(device=batch.device, dtype=batch.dtype)
    grid = F.affine_grid(theta, [count, batch.shape[1], size, size], align_corners=False)
    views = F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    factors = 1 + jitter * (2 * torch.rand(count, 3, generator=generator) - 1)
    applied = (draw() < jitter_p).float()[:, None]
    factors = (1 + applied * (factors - 1)).to(device=batch.device, dtype=batch.dtype)
    brightness, contrast, saturation = (factors[:, i].view(-1, 1, 1, 1) for i in range(3))
    views = views * brightness
    grey = (views * views.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    views = (views - grey.mean((2, 3), keepdim=True)) * contrast + grey.mean((2, 3), keepdim=True)
    grey = (views * views.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    views = (views - grey) * saturation + grey
    to_grey = (draw() < grayscale_p).to(device=batch.device).view(-1, 1, 1, 1)
    grey = (views * views.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    views = torch.where(to_grey, grey.expand_as(views), views)
    return views.clamp_(0.0, 1.0)


def _batch(seed: int = 0, shape: tuple[int, ...] = (6, 3, 16, 16)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def _pair_of_generators(seed: int) -> tuple[torch.Generator, torch.Generator]:
    return torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("flip", [True, False])
def test_augment_matches_the_blocking_code_bit_for_bit(flip: bool) -> None:
    batch = _batch()
    new_gen, old_gen = _pair_of_generators(7)
    for _ in range(3):  # successive steps: the generators must stay in step too
        assert torch.equal(augment(batch, new_gen, flip=flip), _augment_before(batch, old_gen, flip=flip))
    assert torch.equal(new_gen.get_state(), old_gen.get_state())


def test_augment_views_matches_the_blocking_code_bit_for_bit() -> None:
    batch = _batch(1)
    new_gen, old_gen = _pair_of_generators(11)
    for size, scale in ((12, (0.2, 1.0)), (6, (0.05, 0.4))):
        assert torch.equal(augment_views(batch, new_gen, size, scale=scale),
                           _augment_views_before(batch, old_gen, size, scale=scale))
    assert torch.equal(new_gen.get_state(), old_gen.get_state())


def test_mix_and_index_batches_draw_as_before() -> None:
    batch, targets = _batch(2, (8, 3, 4, 4)), F.one_hot(torch.arange(8) % 3, 3).float()
    new_gen, old_gen = _pair_of_generators(5)
    mixed, mixed_targets = mix(batch, targets, 0.2, new_gen)
    gamma = torch._standard_gamma(torch.tensor([0.2, 0.2], dtype=torch.float64), generator=old_gen)
    lam = float(gamma[0] / gamma.sum())
    partner = torch.randperm(8, generator=old_gen)
    assert torch.equal(mixed, lam * batch + (1 - lam) * batch[partner])
    assert torch.equal(mixed_targets, lam * targets + (1 - lam) * targets[partner])
    order = torch.randperm(10, generator=old_gen)
    assert [b.tolist() for b in index_batches(10, 4, new_gen, drop_last=True)] == [order[:4].tolist(),
                                                                                   order[4:8].tolist()]


def test_to_device_is_a_plain_copy_on_the_cpu() -> None:
    values = torch.arange(6.0)
    assert to_device(values, torch.device("cpu")) is values and to_device(values, "cpu") is values


def test_to_device_pins_and_copies_without_blocking_on_cuda() -> None:
    calls: list[object] = []

    class Recorder:  # stands in for a CPU tensor: pinning and copying need a CUDA runtime
        def pin_memory(self) -> Recorder:
            calls.append("pin_memory")
            return self

        def to(self, device, non_blocking: bool = False) -> Recorder:
            calls.append(("to", torch.device(device).type, non_blocking))
            return self

    to_device(Recorder(), CUDA)
    to_device(Recorder(), "cuda")
    assert calls == ["pin_memory", ("to", "cuda", True)] * 2


def test_to_model_layout_is_channels_last_only_on_cuda_with_amp() -> None:
    batch = _batch(3)
    assert not batch.is_contiguous(memory_format=torch.channels_last)
    for device, amp in ((torch.device("cpu"), True), (torch.device("cpu"), False), (CUDA, False)):
        assert to_model_layout(batch, device, amp) is batch
    converted = to_model_layout(batch, CUDA, True)
    assert converted.is_contiguous(memory_format=torch.channels_last) and torch.equal(converted, batch)


class _Calls:
    """Records what a patched helper was called with."""

    def __init__(self) -> None:
        self.args: list[tuple] = []

    def layout(self, batch: torch.Tensor, device: torch.device, amp: bool) -> torch.Tensor:
        self.args.append(("layout", device.type, amp))
        return batch

    def autocast(self, device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
        self.args.append(("autocast", device.type, enabled))
        return contextlib.nullcontext()


@pytest.mark.parametrize("amp", [True, False])
def test_train_supervised_passes_the_runs_amp(amp: bool, registry, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _Calls()
    monkeypatch.setattr(loop, "to_model_layout", calls.layout)
    monkeypatch.setattr(loop, "autocast", calls.autocast)
    images = torch.randint(0, 256, (40, 1, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    model = build_model(registry.backbone("small_cnn"), 3)
    train_supervised(model, images, torch.arange(40) % 3, SupervisedRecipe(epochs=1, batch_size=16),
                     loop.Session(torch.Generator().manual_seed(0), torch.device("cpu"), amp))
    assert calls.args == [("layout", "cpu", amp), ("autocast", "cpu", amp)] * 2  # 36 train images: 2 batches


@pytest.mark.parametrize("amp", [True, False])
@pytest.mark.parametrize("step", ["loss", "soft_targets"])
def test_adaptation_steps_lay_out_batches_with_the_runs_switch(step: str, amp: bool, registry,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from dabench.train.soft_targets import SoftTargets, cosine_decay

    calls = _Calls()
    monkeypatch.setattr(loop, "to_model_layout", calls.layout)
    ctx = AdaptContext(device=torch.device("cpu"), seed=0, generator=torch.Generator().manual_seed(0),
                       class_names=tuple("abc"), amp=amp)
    model = build_model(registry.backbone("small_cnn"), 3)
    images = torch.randint(0, 256, (32, 3, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    if step == "loss":  # SHOT, NRC, AaD, Tent
        ctx.fit(model, images, optimizer, loop.LossStep(lambda net, batch: net(batch.images).logsumexp(1).mean()),
                loop.Schedule(1, 16, augmentation=augment))
    else:  # cluster_pl's training and the init=ssl distillation
        ctx.fit(model, images, optimizer, SoftTargets(F.one_hot(torch.arange(32) % 3, 3).float(), ctx.generator, 0.2),
                loop.Schedule(1, 16, lr=0.01, decay=loop.by_progress(cosine_decay)))
    assert calls.args == [("layout", "cpu", amp)] * 2


class _Probe(Method):
    """Records the model and the amp switch it is handed."""

    id = "probe_device"
    seen: ClassVar[list] = []

    def adapt(self, model, target, ctx):
        _Probe.seen.append((model, ctx.amp))
        return model


def test_compile_setting_is_a_checked_bool(registry) -> None:
    assert plan_run(registry, "source_only", "synth-lab:synth-wild", sets=SMALL).config["compile"] is False
    for raw, value in (("true", True), ("false", False)):
        plan = plan_run(registry, "source_only", "synth-lab:synth-wild", sets=(*SMALL, f"compile={raw}"))
        assert plan.config["compile"] is value
    for raw in ("maybe", "1"):
        with pytest.raises(DabenchError, match=rf"config key 'compile' must be bool \(like the default False\), "
                                               rf"got '?{raw}'?$"):
            plan_run(registry, "source_only", "synth-lab:synth-wild", sets=(*SMALL, f"compile={raw}"))


def test_runner_compiles_the_adapted_model_only_when_asked(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from dabench.run import execute as runner

    compiled: list = []
    sources: list = []
    monkeypatch.setattr(runner, "require_compile", lambda device: None)
    monkeypatch.setattr(runner, "compile_model", lambda model, device: compiled.append(model) or model)
    original = runner.fetch_source_model
    monkeypatch.setattr(runner, "fetch_source_model",
                        lambda *args, **kwargs: sources.append(kwargs) or original(*args, **kwargs))
    registry.add("methods", _Probe, "test")
    _Probe.seen.clear()
    execute(plan_run(registry, "probe_device", "synth-lab:synth-wild", sets=(*SMALL, "amp=false")), registry, "cpu")
    assert compiled == [] and _Probe.seen[-1][1] is False and sources[-1] == {"amp": False}
    execute(plan_run(registry, "probe_device", "synth-lab:synth-wild", sets=(*SMALL, "compile=true")), registry, "cpu")
    assert compiled == [_Probe.seen[-1][0]] and sources[-1] == {"amp": True}


def test_compile_false_leaves_a_run_unchanged(registry) -> None:
    sets = (*SMALL, "epochs=1")
    default = execute(plan_run(registry, "shot", "synth-lab:synth-wild", sets=sets), registry, "cpu")
    explicit = execute(plan_run(registry, "shot", "synth-lab:synth-wild", sets=(*sets, "compile=false")), registry,
                       "cpu")
    assert explicit["accuracy"] == default["accuracy"] and explicit["history"] == default["history"]


def test_compile_model_compiles_the_backbone_in_place_lazily(registry) -> None:
    if device_module.compile_unavailable(torch.device("cpu")) is not None:
        pytest.skip("torch.compile is unavailable on this machine")
    model = build_model(registry.backbone("small_cnn"), 3)
    keys = list(model.state_dict())
    assert compile_model(model, torch.device("cpu")) is model  # nothing is compiled until the first call
    assert model.backbone._compiled_call_impl is not None and list(model.state_dict()) == keys


def test_compile_is_refused_clearly_where_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_module, "compile_unavailable", lambda device: "no dynamo on this Python")
    with pytest.raises(DabenchError, match=r"^config key 'compile' is true but torch.compile is unavailable here: "
                                           r"no dynamo on this Python; run without --set compile=true$"):
        require_compile(torch.device("cpu"))
    monkeypatch.undo()
    monkeypatch.setattr(_dynamo, "is_dynamo_supported", lambda: False)
    assert "does not support torch.compile" in device_module.compile_unavailable(torch.device("cpu"))
    monkeypatch.undo()
    monkeypatch.setattr(torch.utils._triton, "has_triton", lambda: False)
    assert device_module.compile_unavailable(CUDA) == "inductor's GPU code needs triton, which is not installed"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_augment_and_mix_make_no_host_device_sync() -> None:
    batch = _batch(4).cuda()
    targets = F.one_hot(torch.arange(6, device="cuda") % 3, 3).float()
    generator = torch.Generator().manual_seed(0)
    augment(batch, generator), mix(batch, targets, 0.2, generator)  # warm-up: the pinned pool fills
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        augmented = augment(batch, generator)
        views = augment_views(batch, generator, 8)
        mixed, _ = mix(augmented, targets, 0.2, generator)
        laid_out = to_model_layout(mixed, batch.device, True)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert laid_out.is_contiguous(memory_format=torch.channels_last) and views.shape == (6, 3, 8, 8)
    cpu_gen, cuda_gen = _pair_of_generators(9)
    assert torch.allclose(augment(batch, cuda_gen).cpu(), augment(batch.cpu(), cpu_gen), atol=1e-4)
