"""Label-free losses shared by SFUDA methods: entropy, SHOT's information maximisation and the
diversity term (KL of the mean prediction to the uniform distribution)."""

from __future__ import annotations

import math

import torch

EPS = 1e-5  # SHOT's and NRC's epsilon inside the logarithms


def entropy(probs: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """probs (B, C) -> per-sample entropy (B,), -sum p log(p + eps) as SHOT writes it."""
    return -(probs * torch.log(probs + eps)).sum(dim=1)


def diversity(probs: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """KL(mean prediction || uniform) = sum m log m + log C >= 0; minimising it spreads predictions
    over the classes. probs (B, C) -> scalar."""
    mean_probs = probs.mean(dim=0)
    return (mean_probs * torch.log(mean_probs + eps)).sum() + math.log(probs.shape[1])


def information_maximization(probs: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """SHOT's IM loss: mean per-sample entropy minus the entropy of the mean prediction. probs (B, C)."""
    mean_probs = probs.mean(dim=0)
    return entropy(probs, eps).mean() + (mean_probs * torch.log(mean_probs + eps)).sum()


def neighbour_attraction(probs: torch.Tensor, neighbour_scores: torch.Tensor,
                         weights: torch.Tensor | float = 1.0) -> torch.Tensor:
    """-mean_i sum_j w_ij <p_i, s_j>: pulls each prediction towards its neighbours' banked scores.

    probs (B, C) with gradient; neighbour_scores (B, M, C) from the score bank (no gradient);
    weights (B, M) or a scalar. NRC and AaD write it as KL(s_j || p_i), which differs by a constant.
    """
    dots = (probs.unsqueeze(1) * neighbour_scores).sum(dim=2)  # (B, M)
    return -(dots * weights).sum(dim=1).mean()


def batch_dispersion(probs: torch.Tensor) -> torch.Tensor:
    """AaD's dispersion: mean_i sum_{j != i} <p_i, p_j> over the batch (gradient through both sides)."""
    similarity = probs @ probs.T
    return (similarity.sum(dim=1) - similarity.diagonal()).mean()
