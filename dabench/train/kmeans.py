"""k-means in torch on the features' device: seeded k-means++ on a subsample, then capped Lloyd
iterations with a tolerance; distances in chunks so memory stays O(chunk x k)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class KMeansResult:
    """centroids (k, D); assignments (N,) int64 in [0, k); inertia: sum of squared distances."""

    centroids: torch.Tensor
    assignments: torch.Tensor
    inertia: float
    iterations: int


def nearest(points: torch.Tensor, centroids: torch.Tensor, chunk_size: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """points (N, D), centroids (k, D) -> (index (N,) of the nearest centroid, squared distance (N,)).

    Ties go to the lowest centroid index (argmin's rule). Only a (chunk_size, k) block is alive at once.
    """
    centroid_sq = centroids.pow(2).sum(1)
    indices, distances = [], []
    for start in range(0, len(points), chunk_size):
        block = points[start:start + chunk_size]
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; the x-term does not change the argmin
        partial = torch.addmm(centroid_sq, block, centroids.T, beta=1.0, alpha=-2.0)
        best, index = partial.min(1)
        indices.append(index)
        distances.append((best + block.pow(2).sum(1)).clamp_min_(0.0))
    return torch.cat(indices), torch.cat(distances)


def kmeans_plus_plus(points: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k seeds by greedy k-means++ (Arthur & Vassilvitskii 2007; sklearn's variant): at each step
    2 + ln k candidates are drawn by D^2 sampling and the one that lowers the potential most is kept.

    points (S, D) -> centroids (k, D); the draws use the CPU generator, so a seed fixes them.
    """
    trials = 2 + int(math.log(k))
    first = int(torch.randint(len(points), (1,), generator=generator))
    centroids = points.new_empty(k, points.shape[1])
    centroids[0] = points[first]
    point_sq = points.pow(2).sum(1)
    closest = (point_sq - 2 * points @ points[first] + point_sq[first]).clamp_min_(0.0)
    for i in range(1, k):
        cumulative = closest.double().cumsum(0).cpu()
        if cumulative[-1] <= 0:  # fewer distinct points than k: any points will do
            candidates = torch.randint(len(points), (trials,), generator=generator)
        else:
            draws = torch.rand(trials, generator=generator, dtype=torch.float64) * cumulative[-1]
            candidates = torch.searchsorted(cumulative, draws).clamp_(max=len(points) - 1)
        candidates = candidates.to(points.device)
        # (trials, S) squared distances from each candidate to every point
        to_candidates = (point_sq[None] - 2 * points[candidates] @ points.T + point_sq[candidates][:, None]).clamp_min_(0.0)
        potentials = torch.minimum(closest[None], to_candidates)
        best = int(potentials.sum(1).argmin())
        centroids[i] = points[candidates[best]]
        closest = potentials[best]
    return centroids


def kmeans(points: torch.Tensor, k: int, generator: torch.Generator, max_iter: int = 50, tol: float = 1e-4,
           init_sample: int = 8192, chunk_size: int = 8192) -> KMeansResult:
    """Cluster ``points`` (N, D) float into ``k`` groups, deterministically for a generator state.

    Seeds come from k-means++ on a random subsample of max(init_sample, 4k) points (exact k-means++
    on all N is the cost sklearn pays k times sequentially). Lloyd stops after ``max_iter`` rounds, or
    when the relative drop in inertia falls below ``tol``. An emptied cluster is re-seeded with the
    point farthest from its centroid, as sklearn does.
    """
    n = len(points)
    if not 1 <= k <= n:
        raise ValueError(f"k-means needs 1 <= k <= N points, got k={k} for N={n}")
    points = points.float()
    sample_size = min(n, max(init_sample, 4 * k))
    sample = torch.randperm(n, generator=generator)[:sample_size].to(points.device) if sample_size < n else None
    centroids = kmeans_plus_plus(points if sample is None else points[sample], k, generator)
    assignments, distances = nearest(points, centroids, chunk_size)
    inertia = float(distances.sum())
    iterations = 0
    for iterations in range(1, max_iter + 1):
        counts = torch.bincount(assignments, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, assignments, points)
        centroids = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centroids)
        empty = torch.nonzero(counts == 0).flatten()
        if len(empty):
            farthest = distances.topk(len(empty)).indices
            centroids[empty] = points[farthest]
        assignments, distances = nearest(points, centroids, chunk_size)
        previous, inertia = inertia, float(distances.sum())
        if previous - inertia <= tol * max(previous, 1e-12) and not len(empty):
            break
    return KMeansResult(centroids, assignments, exact_inertia(points, centroids, assignments, chunk_size), iterations)


def exact_inertia(points: torch.Tensor, centroids: torch.Tensor, assignments: torch.Tensor,
                  chunk_size: int = 8192) -> float:
    """Sum of squared distances to the assigned centroids, from the differences in float64.

    The expanded form that ``nearest`` uses for speed cancels badly when ||x||^2 is large next to
    ||x - c||^2 (float32 loses the inertia's last digits); this is O(N D) and exact to float64.
    """
    total = torch.zeros((), dtype=torch.float64, device=points.device)
    for start in range(0, len(points), chunk_size):
        difference = points[start:start + chunk_size].double() - centroids[assignments[start:start + chunk_size]].double()
        total += difference.pow(2).sum()
    return float(total)
