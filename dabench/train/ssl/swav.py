"""SwAV (Caron et al., NeurIPS 2020, arXiv 2006.09882): online codes from Sinkhorn-Knopp over the
batch (and optionally a queue of past batches), predicted from the other views of the same image
(swapped prediction) through prototypes."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def sinkhorn(scores: torch.Tensor, epsilon: float = 0.05, iterations: int = 3) -> torch.Tensor:
    """scores (B, K) prototype similarities -> codes Q (B, K), each row a distribution over prototypes.

    Q = diag(u) exp(scores / epsilon) diag(v), with rows summing to 1 (one unit of mass per sample) and
    columns pushed towards B / K (the equipartition constraint); exact for rows after every round,
    for columns as the iterations converge. Run in the log domain in float64: exp(s / 0.05)
    under- and overflows, and a prototype no sample is near would otherwise divide 0 by 0.
    """
    batch, prototypes = scores.shape
    log_codes = scores.double().T / epsilon  # (K, B)
    for _ in range(iterations):
        log_codes = log_codes - torch.logsumexp(log_codes, 1, keepdim=True) - math.log(prototypes)
        log_codes = log_codes - torch.logsumexp(log_codes, 0, keepdim=True) - math.log(batch)
    return (log_codes.exp() * batch).T.to(scores.dtype)


def swapped_prediction_loss(scores: list[torch.Tensor], codes: list[torch.Tensor], temperature: float) -> torch.Tensor:
    """scores: one (B, K) tensor per view; codes: Sinkhorn codes of the first len(codes) views.

    Mean over (code view i, other view v != i) of the cross-entropy between codes_i and
    softmax(scores_v / temperature).
    """
    losses = []
    for i, code in enumerate(codes):
        for v, view_scores in enumerate(scores):
            if v != i:
                losses.append(-(code * F.log_softmax(view_scores.float() / temperature, 1)).sum(1).mean())
    return torch.stack(losses).mean()


class ProjectionHead(nn.Module):
    """backbone features (B, F) -> L2-normalised projections (B, projection_dim); SwAV's and SimCLR's MLP."""

    def __init__(self, feature_dim: int, hidden_dim: int, projection_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(feature_dim, hidden_dim), nn.BatchNorm1d(hidden_dim),
                                 nn.ReLU(inplace=True), nn.Linear(hidden_dim, projection_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mlp(features), dim=1)


class Prototypes(nn.Module):
    """K unit-norm prototype vectors; scores are cosine similarities (B, K)."""

    def __init__(self, projection_dim: int, count: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(F.normalize(torch.randn(count, projection_dim), dim=1))

    @torch.no_grad()
    def normalise(self) -> None:
        """SwAV re-normalises the prototypes after every step (before the next forward)."""
        self.weight.copy_(F.normalize(self.weight, dim=1))

    def forward(self, projections: torch.Tensor) -> torch.Tensor:
        return projections @ self.weight.T


class ProjectionQueue:
    """SwAV's queue (official main_swav.py): the last ``length`` projections of each large crop, newest first.

    Its prototype scores join the batch's in Sinkhorn-Knopp once it is full (the official code's test,
    a non-zero last row, is this: pushed rows are unit vectors), so a batch far smaller than the
    prototype count is still spread over many of them; only the batch's codes are kept.
    ``filled`` is a host int, so asking ``full`` never waits for the GPU.
    """

    def __init__(self, crops: int, length: int, dim: int, device: torch.device | str = "cpu") -> None:
        self.projections = torch.zeros(crops, length, dim, device=device)  # (crops, length, D)
        self.filled = 0

    @property
    def full(self) -> bool:
        return self.filled >= self.projections.shape[1]

    @torch.no_grad()
    def push(self, projections: list[torch.Tensor]) -> None:
        """projections: one (B, D) tensor per large crop, B <= length; they go first, the oldest B drop off."""
        batch, length = projections[0].shape[0], self.projections.shape[1]
        if batch > length:
            raise ValueError(f"a batch of {batch} does not fit a queue of {length}")
        self.projections[:, batch:] = self.projections[:, :length - batch].clone()
        self.projections[:, :batch] = torch.stack(projections).float()
        self.filled = min(length, self.filled + batch)

    def state_dict(self) -> dict[str, Any]:
        return {"projections": self.projections, "filled": self.filled}

    @classmethod
    def from_state(cls, state: dict[str, Any], device: torch.device | str) -> ProjectionQueue:
        crops, length, dim = state["projections"].shape
        queue = cls(crops, length, dim, device)
        queue.projections.copy_(state["projections"])
        queue.filled = int(state["filled"])
        return queue


@torch.no_grad()
def swav_codes(scores: torch.Tensor, prototypes: Prototypes, queue: ProjectionQueue | None, crop: int,
               epsilon: float, iterations: int) -> torch.Tensor:
    """scores (B, K) of large crop ``crop`` -> its Sinkhorn codes (B, K); with a full ``queue``, computed
    over [queued scores (L, K); scores] and the batch's B rows kept (official SwAV's ``[-bs:]``)."""
    batch = len(scores)
    scores = scores.detach().float()
    if queue is not None and queue.full:
        scores = torch.cat([prototypes(queue.projections[crop]).float(), scores])
    return sinkhorn(scores, epsilon, iterations)[-batch:]
