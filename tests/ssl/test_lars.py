"""LARS as official SwAV runs it (apex LARC, clip=False), against steps computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from dabench.train.ssl import SSLRecipe
from dabench.train.ssl.lars import LARS
from dabench.train.ssl.pretrain import make_optimizer

LR, DECAY, ETA, MOMENTUM, EPS = 0.1, 0.01, 0.001, 0.9, 1e-8


def _params() -> tuple[torch.nn.Parameter, torch.nn.Parameter]:
    weight = torch.nn.Parameter(torch.tensor([[3.0, 0.0], [0.0, 4.0]], dtype=torch.float64))  # ||w|| = 5
    bias = torch.nn.Parameter(torch.tensor([1.0, -1.0], dtype=torch.float64))
    return weight, bias


def _set_grads(weight: torch.nn.Parameter, bias: torch.nn.Parameter) -> None:
    weight.grad = torch.tensor([[0.6, 0.0], [0.0, 0.8]], dtype=torch.float64)  # ||g|| = 1
    bias.grad = torch.tensor([0.5, 0.5], dtype=torch.float64)


def test_lars_scales_the_weights_step_by_its_trust_ratio_and_gives_the_bias_plain_sgd() -> None:
    weight, bias = _params()
    optimizer = LARS([weight, bias], lr=LR, momentum=MOMENTUM, weight_decay=DECAY, trust_coefficient=ETA)
    _set_grads(weight, bias)
    optimizer.step()
    ratio = ETA * 5 / (1 + DECAY * 5 + EPS)  # eta ||w|| / (||g|| + wd ||w||)
    expected_weight = [3 - LR * ratio * (0.6 + DECAY * 3), 0.0, 0.0, 4 - LR * ratio * (0.8 + DECAY * 4)]
    assert weight.detach().flatten().tolist() == pytest.approx(expected_weight, rel=1e-12)
    assert bias.detach().tolist() == pytest.approx([1 - LR * 0.5, -1 - LR * 0.5], rel=1e-12)  # no decay either
    assert optimizer.param_groups[0]["weight_decay"] == DECAY  # handed back after the step

    # second step: the momentum runs over the scaled gradients (buffer = 0.9 buffer + scaled gradient)
    first_scaled = [(0.6 + DECAY * 3) * ratio, (0.8 + DECAY * 4) * ratio]
    w00, w11 = expected_weight[0], expected_weight[3]
    _set_grads(weight, bias)
    optimizer.step()
    norm = math.hypot(w00, w11)
    ratio2 = ETA * norm / (1 + DECAY * norm + EPS)
    second = [w00 - LR * (MOMENTUM * first_scaled[0] + (0.6 + DECAY * w00) * ratio2),
              w11 - LR * (MOMENTUM * first_scaled[1] + (0.8 + DECAY * w11) * ratio2)]
    assert [weight[0, 0].item(), weight[1, 1].item()] == pytest.approx(second, rel=1e-12)
    assert bias.detach().tolist() == pytest.approx([1 - LR * 0.5 * (2 + MOMENTUM), -1 - LR * 0.5 * (2 + MOMENTUM)])


def test_larc_adapts_the_bias_too_as_official_swav_does() -> None:
    weight, bias = _params()
    optimizer = LARS([weight, bias], lr=LR, momentum=MOMENTUM, weight_decay=DECAY, trust_coefficient=ETA,
                     exclude_1d=False)
    _set_grads(weight, bias)
    optimizer.step()
    norm, grad_norm = math.sqrt(2), math.sqrt(0.5)
    ratio = ETA * norm / (grad_norm + DECAY * norm + EPS)
    assert bias.detach().tolist() == pytest.approx([1 - LR * ratio * (0.5 + DECAY), -1 - LR * ratio * (0.5 - DECAY)],
                                                   rel=1e-12)


def test_a_zero_parameter_gets_plain_sgd_without_decay_as_in_apex() -> None:
    zero = torch.nn.Parameter(torch.zeros(2, 2, dtype=torch.float64))
    optimizer = LARS([zero], lr=LR, momentum=MOMENTUM, weight_decay=DECAY, trust_coefficient=ETA)
    zero.grad = torch.full((2, 2), 0.5, dtype=torch.float64)
    optimizer.step()
    assert zero.detach().flatten().tolist() == pytest.approx([-0.05] * 4, rel=1e-12)


def test_a_resumed_lars_takes_the_same_steps() -> None:
    def run(split: bool) -> torch.Tensor:
        torch.manual_seed(0)
        layer = torch.nn.Linear(4, 3)
        optimizer = LARS(layer.parameters(), lr=0.5, weight_decay=DECAY)
        inputs = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
        for step in range(4):
            if split and step == 2:  # a checkpoint round trip half-way
                state = {"layer": layer.state_dict(), "optimizer": optimizer.state_dict()}
                layer = torch.nn.Linear(4, 3)
                layer.load_state_dict(state["layer"])
                optimizer = LARS(layer.parameters(), lr=0.5, weight_decay=DECAY)
                optimizer.load_state_dict(state["optimizer"])
            optimizer.zero_grad()
            layer(inputs).square().mean().backward()
            optimizer.step()
        return layer.weight.detach()

    assert torch.equal(run(split=False), run(split=True))


def test_the_recipe_picks_the_optimizer() -> None:
    modules = torch.nn.Linear(2, 2)
    assert type(make_optimizer(modules, SSLRecipe(), 0.1)) is torch.optim.SGD
    assert make_optimizer(modules, SSLRecipe(optimizer="lars"), 0.1).exclude_1d
    assert not make_optimizer(modules, SSLRecipe(optimizer="larc"), 0.1).exclude_1d
    with pytest.raises(ValueError, match="ssl.optimizer must be one of sgd, lars, larc, got 'adam'"):
        SSLRecipe(optimizer="adam")
