"""AdaBN changes only BatchNorm running statistics, to the target set's."""

from __future__ import annotations

import torch
from sfuda_tiny import tiny_context, tiny_model, tiny_target

from dabench.train.batches import to_float
from dabench.train.batchnorm import _covering_chunks, reestimate_statistics
from dabench_methods.adabn import AdaBN, AdaBNHparams


def test_adabn_changes_running_statistics_only():
    model = tiny_model()
    params = {name: p.detach().clone() for name, p in model.named_parameters()}
    target = tiny_target(n=40)
    adapted = AdaBN(AdaBNHparams(batch_size=10)).adapt(model, target, tiny_context())
    for name, p in adapted.named_parameters():
        assert torch.equal(p, params[name]), name
    # The first BN layer sees conv1's output: its statistics are that output's exact per-channel
    # mean and unbiased variance over all 40 images.
    with torch.no_grad():
        x = (to_float(target.images) - adapted.input_mean) / adapted.input_std
        conv_out = adapted.backbone[0][0](x)
    first_bn = adapted.backbone[0][1]
    assert torch.allclose(first_bn.running_mean, conv_out.mean(dim=(0, 2, 3)), atol=1e-5)
    assert torch.allclose(first_bn.running_var, conv_out.var(dim=(0, 2, 3)), rtol=1e-4)
    assert first_bn.momentum == 0.1
    assert not adapted.training


def test_statistics_of_a_class_sorted_target_keep_the_spread_between_batches():
    # 20 black then 20 white images, as a folder dataset read class by class: per channel the true
    # mean is 0.5 and the unbiased variance 0.25 * 640/639 (40 images x 16 pixels). Averaging per-batch
    # statistics over the sorted batches of 10 gave 0 (every batch is constant).
    images = torch.cat([torch.zeros(20, 1, 4, 4), torch.full((20, 1, 4, 4), 255.0)]).to(torch.uint8)
    layer = torch.nn.BatchNorm2d(3)
    reestimate_statistics(torch.nn.Sequential(layer), images, torch.Generator().manual_seed(0), batch_size=10)
    assert torch.allclose(layer.running_mean, torch.full((3,), 0.5, dtype=torch.float32), atol=1e-6)
    assert torch.allclose(layer.running_var, torch.full((3,), 0.25 * 640 / 639), atol=1e-6)


def test_one_image_tail_joins_the_previous_chunk():
    assert _covering_chunks(21, 10) == [(0, 10), (10, 21)]
    assert _covering_chunks(22, 10) == [(0, 10), (10, 20), (20, 22)]
    assert _covering_chunks(1, 10) == [(0, 1)]
