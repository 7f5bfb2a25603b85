"""AdaBN changes only BatchNorm running statistics, to the target set's."""

from __future__ import annotations

import torch
from sfuda_tiny import tiny_context, tiny_model, tiny_target

from dabench.train.batches import to_float
from dabench.train.batchnorm import _covering_chunks
from dabench_methods.adabn import AdaBN, AdaBNHparams


def test_adabn_changes_running_statistics_only():
    model = tiny_model()
    params = {name: p.detach().clone() for name, p in model.named_parameters()}
    target = tiny_target(n=40)
    adapted = AdaBN(AdaBNHparams(batch_size=10)).adapt(model, target, tiny_context())
    for name, p in adapted.named_parameters():
        assert torch.equal(p, params[name]), name
    # The first BN layer sees conv1's output; with equal batches its cumulative running mean is the
    # exact per-channel mean over all 40 images.
    with torch.no_grad():
        x = (to_float(target.images) - adapted.input_mean) / adapted.input_std
        conv_out = adapted.backbone[0][0](x)
    first_bn = adapted.backbone[0][1]
    assert torch.allclose(first_bn.running_mean, conv_out.mean(dim=(0, 2, 3)), atol=1e-5)
    assert first_bn.momentum == 0.1  # restored after the cumulative pass
    assert not adapted.training


def test_one_image_tail_joins_the_previous_chunk():
    assert _covering_chunks(21, 10) == [(0, 10), (10, 21)]
    assert _covering_chunks(22, 10) == [(0, 10), (10, 20), (20, 22)]
    assert _covering_chunks(1, 10) == [(0, 1)]
