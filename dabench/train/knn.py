"""Memory banks and chunked k-nearest-neighbour search for NRC and AaD.

The banks live on the run's device; a search compares at most ``chunk_size`` queries with the whole
bank at a time, so memory stays O(chunk_size x N) and no N x N matrix is ever built.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dabench.errors import DabenchError
from dabench.models import ClassifierNet
from dabench.train.features import extract

NON_RECIPROCAL_WEIGHT = 0.1  # NRC's affinity r for non-reciprocal and expanded neighbours


@dataclass(eq=False)
class MemoryBank:
    """features (N, D) L2-normalised bottleneck features; scores (N, C) softmax predictions."""

    features: torch.Tensor
    scores: torch.Tensor

    @classmethod
    def build(cls, model: ClassifierNet, images: torch.Tensor, batch_size: int = 512) -> MemoryBank:
        """Fill both banks with one clean (non-augmented) eval-mode pass over ``images``."""
        features, logits = extract(model, images, batch_size)
        return cls(F.normalize(features, dim=1), logits.softmax(dim=1))

    def update(self, indices: torch.Tensor, features: torch.Tensor, probs: torch.Tensor) -> None:
        """Overwrite rows ``indices`` (B,) with a batch's features (B, D) (normalised here) and probs (B, C)."""
        self.features[indices] = F.normalize(features.detach().float(), dim=1)
        self.scores[indices] = probs.detach().float()


def topk_neighbours(queries: torch.Tensor, bank: torch.Tensor, k: int, exclude: torch.Tensor | None = None,
                    chunk_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` most cosine-similar bank rows of each query, most similar first.

    queries (Q, D) and bank (N, D) L2-normalised; exclude (Q,) bank index to skip for each query (the
    query itself). Returns similarities (Q, k) and indices (Q, k) int64.
    """
    if k + (exclude is not None) > len(bank):
        raise ValueError(f"asked for {k} neighbours in a bank of {len(bank)} rows")
    similarities, indices = [], []
    for start in range(0, len(queries), chunk_size):
        block = queries[start:start + chunk_size] @ bank.T  # (chunk, N): the only large temporary
        if exclude is not None:
            rows = torch.arange(len(block), device=block.device)
            block[rows, exclude[start:start + chunk_size]] = float("-inf")
        top = block.topk(k, dim=1)
        similarities.append(top.values)
        indices.append(top.indices)
    return torch.cat(similarities), torch.cat(indices)


@dataclass(frozen=True, eq=False)
class Neighbourhood:
    """NRC's neighbourhood of a batch of bank rows (B queries, K neighbours, KK expanded each).

    near (B, K) bank indices; affinity (B, K): 1 where the neighbour has the query among its own K
    nearest (reciprocal), else 0.1; expanded (B, K, KK) bank indices of each neighbour's nearest.
    """

    near: torch.Tensor
    affinity: torch.Tensor
    expanded: torch.Tensor


def nrc_neighbourhood(bank: torch.Tensor, query_index: torch.Tensor, k: int, kk: int,
                      chunk_size: int = 1024) -> Neighbourhood:
    """Neighbours, reciprocal affinities and expanded neighbours of the bank rows ``query_index`` (B,).

    bank (N, D) L2-normalised. Each distinct row is searched once: when the queries cover the whole
    bank (a per-epoch search), the neighbours' own lists come from the same pass.
    """
    depth = max(k, kk)
    _, query_lists = topk_neighbours(bank[query_index], bank, depth, query_index, chunk_size)
    near = query_lists[:, :k]
    needed, inverse = torch.unique(near, return_inverse=True)
    position = torch.full((len(bank),), -1, dtype=torch.long, device=bank.device)
    position[query_index] = torch.arange(len(query_index), device=bank.device)
    needed_lists = torch.empty(len(needed), depth, dtype=torch.long, device=bank.device)
    known = position[needed] >= 0
    needed_lists[known] = query_lists[position[needed[known]]]
    missing = needed[~known]
    if len(missing):
        needed_lists[~known] = topk_neighbours(bank[missing], bank, depth, missing, chunk_size)[1]
    neighbour_lists = needed_lists[inverse]  # (B, K, depth)
    reciprocal = (neighbour_lists[:, :, :k] == query_index[:, None, None]).any(dim=2)
    affinity = torch.where(reciprocal, 1.0, NON_RECIPROCAL_WEIGHT)
    return Neighbourhood(near, affinity, neighbour_lists[:, :, :kk])


def check_bank_size(method: str, n_images: int, neighbours: int) -> None:
    """A kNN method needs at least ``neighbours`` + 1 target images (the query itself is excluded)."""
    if n_images < neighbours + 1:
        raise DabenchError(f"method '{method}' searches {neighbours} nearest neighbours per image but the target "
                           f"train set has only {n_images} images; use a larger target set or fewer neighbours "
                           f"(e.g. --set K={max(1, n_images - 1)})")
