"""The built-in backbones' shapes, resnet18_stem1's small-face stem, and image sizes refused at plan time."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torchvision.models import resnet18

from dabench.cli import cli
from dabench.errors import DabenchError
from dabench.host import registry as registry_module
from dabench.models import Backbone, check_image_size
from dabench.run.execute import plan_run
from dabench_backbones.resnet18 import build_stem1

STEM1_MESSAGE = ("backbone 'resnet18_stem1' does not take image_size={size}: it accepts 16..160 px; "
                 "use --set image_size=N with N in that range, or another --backbone")


@pytest.fixture(autouse=True)
def _fresh_registry():
    registry_module.reset()
    yield
    registry_module.reset()


def test_stem1_is_stride_1_without_max_pool_and_gives_512_features() -> None:
    net = build_stem1().eval()
    assert (net.conv1.kernel_size, net.conv1.stride, net.conv1.padding) == ((7, 7), (1, 1), (3, 3))
    assert net.conv1.out_channels == 64 and net.conv1.bias is None
    assert isinstance(net.maxpool, nn.Identity)
    assert not any(isinstance(module, nn.MaxPool2d) for module in net.modules())
    last_stage: list[torch.Size] = []
    net.layer4.register_forward_hook(lambda module, args, out: last_stage.append(out.shape))
    with torch.no_grad():
        features = net(torch.rand(2, 3, 48, 48))
    assert features.shape == (2, 512)
    assert last_stage == [torch.Size([2, 512, 6, 6])]  # overall stride 8: the default size's rule


def test_stem1_loads_a_resnet18_state_dict(tmp_path: Path) -> None:
    """conv1 keeps resnet18's (64, 3, 7, 7) shape, so a plain ResNet-18 file (ImageNet's too) loads."""
    source = resnet18(weights=None)
    torch.save(source.state_dict(), tmp_path / "r18.pt")
    net = build_stem1(tmp_path / "r18.pt")
    assert torch.equal(net.conv1.weight, source.conv1.weight) and net.conv1.stride == (1, 1)
    assert torch.equal(net.layer4[1].conv2.weight, source.layer4[1].conv2.weight)


def test_registered_with_its_range() -> None:
    registry = registry_module.get_registry()
    spec = registry.backbone("resnet18_stem1")
    assert (spec.feature_dim, spec.default_image_size, spec.min_image_size, spec.max_image_size) == (512, 48, 16, 160)
    plain = registry.backbone("resnet18")
    assert (plain.min_image_size, plain.max_image_size) == (None, None)


@pytest.mark.parametrize("size", [15, 8, 161, 224])
def test_check_image_size_refuses_out_of_range(size: int) -> None:
    spec = registry_module.get_registry().backbone("resnet18_stem1")
    with pytest.raises(DabenchError) as info:
        check_image_size(spec, size)
    assert str(info.value) == STEM1_MESSAGE.format(size=size)


def test_check_image_size_accepts_the_range_and_open_sides() -> None:
    spec = registry_module.get_registry().backbone("resnet18_stem1")
    for size in (16, 48, 112, 160):
        check_image_size(spec, size)
    check_image_size(registry_module.get_registry().backbone("resnet18"), 1024)  # no limits
    low_only = Backbone("wide", build_stem1, 512, None, min_image_size=32)
    check_image_size(low_only, 4096)
    with pytest.raises(DabenchError, match=r"^backbone 'wide' does not take image_size=31: it accepts >= 32 px; "):
        check_image_size(low_only, 31)
    high_only = Backbone("narrow", build_stem1, 512, None, max_image_size=64)
    with pytest.raises(DabenchError, match=r"^backbone 'narrow' does not take image_size=65: it accepts <= 64 px; "):
        check_image_size(high_only, 65)


def test_plan_takes_the_default_size() -> None:
    plan = plan_run(registry_module.get_registry(), "source_only", "synth-lab:synth-wild", backbone="resnet18_stem1")
    assert plan.config["backbone"] == "resnet18_stem1" and plan.config["image_size"] == 48


RUN = ["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--backbone", "resnet18_stem1",
       "--device", "cpu", "--set", "image_size=224"]


def test_cli_refuses_a_size_the_stem_cannot_take(fresh_home: Path) -> None:
    result = CliRunner().invoke(cli, RUN)
    assert result.exit_code != 0
    assert isinstance(result.exception, DabenchError) and str(result.exception) == STEM1_MESSAGE.format(size=224)
    assert not (fresh_home / "runs").exists() or not any((fresh_home / "runs").iterdir())
    assert not (fresh_home / "cache").exists()  # refused before any data was prepared


def test_main_prints_one_line_without_traceback(fresh_home: Path, capsys) -> None:
    """What a user sees: main() (the console script) turns the error into one line and exit status 2."""
    from dabench.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(RUN)
    captured = capsys.readouterr()
    assert (info.value.code, captured.err, captured.out) == (2, f"dabench: error: {STEM1_MESSAGE.format(size=224)}\n", "")
    assert not (fresh_home / "runs").exists() or not any((fresh_home / "runs").iterdir())
