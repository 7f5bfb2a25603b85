"""SwAV's pieces: Sinkhorn-Knopp equipartition, the swapped-prediction loss, prototypes."""

from __future__ import annotations

import math

import pytest
import torch

from dabench.train.ssl.swav import Prototypes, sinkhorn, swapped_prediction_loss


def test_sinkhorn_rows_are_distributions_and_columns_equipartitioned() -> None:
    generator = torch.Generator().manual_seed(0)
    batch, prototypes = 64, 16
    scores = torch.nn.functional.normalize(torch.randn(batch, 8, generator=generator), dim=1) @ \
        torch.nn.functional.normalize(torch.randn(prototypes, 8, generator=generator), dim=1).T
    codes = sinkhorn(scores, epsilon=0.05, iterations=3)
    assert codes.shape == (batch, prototypes)
    assert torch.allclose(codes.sum(1), torch.ones(batch), atol=1e-5)  # exact after every round
    assert (codes >= 0).all()
    converged = sinkhorn(scores, epsilon=0.05, iterations=200)
    assert torch.allclose(converged.sum(1), torch.ones(batch), atol=1e-5)
    assert torch.allclose(converged.sum(0), torch.full((prototypes,), batch / prototypes), rtol=1e-3)
    # unconstrained softmax would pile mass on few prototypes; the codes spread it
    greedy = torch.softmax(scores / 0.05, 1).sum(0)
    assert (converged.sum(0).max() - converged.sum(0).min()) < 0.01 * (greedy.max() - greedy.min())


def test_sinkhorn_survives_scores_that_overflow_exp() -> None:
    codes = sinkhorn(torch.tensor([[1.0, -1.0], [1.0, -1.0]]) * 50, epsilon=0.05, iterations=3)
    assert torch.isfinite(codes).all()


def test_swapped_prediction_on_a_hand_computable_case() -> None:
    # two views, two prototypes; view 1's code is one-hot on prototype 0 and vice versa
    scores = [torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]])]
    codes = [torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]])]
    loss = swapped_prediction_loss(scores, codes, temperature=1.0)
    # code 0 predicts from view 1: -log softmax([1, 0])[1]; code 1 from view 0: -log(1/2)
    expected = (math.log(1 + math.e) + math.log(2)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_prototypes_stay_unit_norm_after_normalise() -> None:
    prototypes = Prototypes(4, 10)
    with torch.no_grad():
        prototypes.weight.mul_(3.0)
    prototypes.normalise()
    assert torch.allclose(prototypes.weight.norm(dim=1), torch.ones(10))
