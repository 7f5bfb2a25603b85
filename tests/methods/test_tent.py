"""Tent changes only the BatchNorm affine parameters."""

from __future__ import annotations

import pytest
import torch
from sfuda_tiny import tiny_context, tiny_model, tiny_target

from dabench.train.batchnorm import batchnorm_layers
from dabench_methods.tent import Tent, TentHparams


def test_tent_updates_only_batchnorm_affine_parameters():
    model = tiny_model()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    affine = {id(p) for layer in batchnorm_layers(model) for p in (layer.weight, layer.bias)}
    affine_names = {name for name, p in model.named_parameters() if id(p) in affine}
    ctx = tiny_context()
    adapted = Tent(TentHparams(batch_size=8, lr=1e-2)).adapt(model, tiny_target(), ctx)
    changed = {name for name, p in adapted.named_parameters() if not torch.equal(p, before[name])}
    assert changed, "tent changed nothing"
    assert changed <= affine_names, f"tent changed non-BN parameters: {sorted(changed - affine_names)}"
    assert any("bottleneck.1" in name for name in changed)  # the BatchNorm1d of the bottleneck too
    assert all(p.requires_grad for p in adapted.parameters())  # requires_grad restored
    assert len(ctx.run.records.values["epoch_loss"]) == 1


def test_tent_rejects_bad_values():
    with pytest.raises(ValueError, match="lr > 0"):
        TentHparams(lr=0)
