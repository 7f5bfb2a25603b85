"""dabench.train.features: evaluation leaves every submodule's train/eval mode as it found it."""

from __future__ import annotations

import pytest
import torch

from dabench.testing import tiny_model
from dabench.train.features import extract, predict


def _modes(model: torch.nn.Module) -> dict[str, bool]:
    return {name: module.training for name, module in model.named_modules()}


def test_extract_restores_each_submodules_mode() -> None:
    model = tiny_model()
    model.train()
    frozen = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    frozen[0].eval()  # a method that freezes one BN layer while the rest trains
    before = _modes(model)
    assert before[""] is True and list(before.values()).count(False) == 1
    images = torch.randint(0, 256, (10, 3, 16, 16), dtype=torch.uint8)
    features, logits = extract(model, images, batch_size=4)
    assert features.shape == (10, 256) and logits.shape == (10, 7)
    assert _modes(model) == before
    assert frozen[0].training is False and model.bottleneck.training is True

    model.eval()  # and a model in eval mode stays there
    predict(model, images)
    assert not any(_modes(model).values())


def test_extract_restores_modes_when_the_forward_pass_fails() -> None:
    model = tiny_model()
    model.train()
    model.bottleneck.eval()
    before = _modes(model)

    def fail(*_):
        raise RuntimeError("out of memory, say")

    model.classifier.register_forward_pre_hook(fail)
    with pytest.raises(RuntimeError, match="out of memory, say"):
        extract(model, torch.zeros((2, 3, 16, 16), dtype=torch.uint8))
    assert _modes(model) == before
