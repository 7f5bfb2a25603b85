"""Entropy, information maximisation, diversity and the neighbour losses on hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from dabench.train.losses import batch_dispersion, diversity, entropy, information_maximization, neighbour_attraction

H08 = -(0.8 * math.log(0.8) + 0.2 * math.log(0.2))  # 0.500402


def test_entropy_values():
    probs = torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.8, 0.2]])
    assert entropy(probs, eps=1e-12).tolist() == pytest.approx([math.log(2), 0.0, H08], abs=1e-6)


@pytest.mark.parametrize("rows, expected", [
    ([[1.0, 0.0], [0.0, 1.0]], 0.0 - math.log(2)),  # confident and diverse: the minimum, -log C
    ([[0.5, 0.5], [0.5, 0.5]], math.log(2) - math.log(2)),  # uncertain: mean entropy cancels
    ([[0.8, 0.2], [0.2, 0.8]], H08 - math.log(2)),  # -0.192745
    ([[0.8, 0.2], [0.8, 0.2]], H08 - H08),  # collapsed onto one class: no diversity reward
])
def test_information_maximization(rows, expected):
    assert information_maximization(torch.tensor(rows), eps=1e-12).item() == pytest.approx(expected, abs=1e-6)


def test_shot_eps_inside_the_logarithm():
    # SHOT's Entropy(): -sum p log(p + 1e-5); for p = (1, 0): -log(1 + 1e-5)
    assert entropy(torch.tensor([[1.0, 0.0]])).item() == pytest.approx(-math.log(1 + 1e-5), rel=1e-2)  # float32 rounding of 1 + 1e-5


def test_diversity_is_kl_to_uniform():
    assert diversity(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), eps=1e-12).item() == pytest.approx(0.0, abs=1e-6)
    # mean (0.8, 0.2): KL to uniform = log 2 - H(0.8, 0.2) = 0.192745
    assert diversity(torch.tensor([[0.8, 0.2], [0.8, 0.2]]), eps=1e-12).item() == pytest.approx(
        math.log(2) - H08, abs=1e-6)


def test_neighbour_attraction_rewards_agreeing_neighbours():
    probs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    agree = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # (B=2, M=1, C=2)
    disagree = agree.flip(2)
    assert neighbour_attraction(probs, agree).item() == pytest.approx(-1.0)
    assert neighbour_attraction(probs, disagree).item() == pytest.approx(0.0)
    # weights scale each neighbour: (1 * 1 + 0.1 * 1) for row 0, (0.1 * 1) for row 1 -> -(1.1 + 0.1) / 2
    two = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]]])
    weights = torch.tensor([[1.0, 0.1], [0.1, 1.0]])
    assert neighbour_attraction(probs, two, weights).item() == pytest.approx(-0.6)


def test_batch_dispersion_counts_other_samples_only():
    assert batch_dispersion(torch.tensor([[1.0, 0.0], [1.0, 0.0]])).item() == pytest.approx(1.0)
    assert batch_dispersion(torch.tensor([[1.0, 0.0], [0.0, 1.0]])).item() == pytest.approx(0.0)
    # three rows (0.5, 0.5): each has 2 others with dot 0.5 -> 1.0
    assert batch_dispersion(torch.full((3, 2), 0.5)).item() == pytest.approx(1.0)
