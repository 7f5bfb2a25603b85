"""k-means in torch: exact recovery of separated blobs, determinism, chunking, bad k."""

from __future__ import annotations

import pytest
import torch

from dabench.train.kmeans import kmeans, nearest


def blobs(per_blob: int = 40, count: int = 6, dim: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(count, dim, generator=generator) * 20
    truth = torch.arange(count).repeat_interleave(per_blob)
    points = centres[truth] + 0.3 * torch.randn(len(truth), dim, generator=generator)
    order = torch.randperm(len(truth), generator=generator)
    return points[order], truth[order]


def test_recovers_well_separated_blobs_exactly() -> None:
    points, truth = blobs()
    result = kmeans(points, 6, torch.Generator().manual_seed(1), init_sample=64)
    # the partition equals the truth: each found cluster is exactly one blob
    pairs = torch.unique(torch.stack([result.assignments, truth], 1), dim=0)
    assert len(pairs) == 6
    assert len(torch.unique(pairs[:, 0])) == 6 and len(torch.unique(pairs[:, 1])) == 6
    expected_inertia = sum(((points[truth == b] - points[truth == b].mean(0)) ** 2).sum().item() for b in range(6))
    assert result.inertia == pytest.approx(expected_inertia, rel=1e-4)


def test_same_generator_state_same_clusters_and_chunking_changes_nothing() -> None:
    points, _ = blobs(per_blob=30, count=5, seed=3)
    first = kmeans(points, 9, torch.Generator().manual_seed(7))
    second = kmeans(points, 9, torch.Generator().manual_seed(7), chunk_size=17)
    assert torch.equal(first.assignments, second.assignments)
    assert first.inertia == pytest.approx(second.inertia, rel=1e-5)


def test_nearest_breaks_ties_to_the_lowest_centroid_and_matches_brute_force() -> None:
    centroids = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 5.0]])
    index, distance = nearest(torch.tensor([[0.0, 0.0], [0.9, 0.1]]), centroids, chunk_size=1)
    assert index.tolist() == [0, 0]  # (0, 0) is equally far from centroids 0 and 1
    assert distance.tolist() == pytest.approx([1.0, 0.02], abs=1e-6)


def test_fewer_distinct_points_than_clusters_puts_every_point_on_a_centroid() -> None:
    points = torch.cat([torch.zeros(50, 3), torch.ones(3, 3)])
    result = kmeans(points, 4, torch.Generator().manual_seed(0))
    assert result.assignments.min() >= 0 and result.assignments.max() < 4
    assert torch.equal(result.centroids[result.assignments], points)
    assert result.inertia == 0.0


def test_inertia_is_exact_far_from_the_origin() -> None:
    # ||x||^2 ~ 1e8 next to ||x - c||^2 ~ 1: the expanded float32 form sums to 0.0 here
    points = torch.tensor([[10000.0, 0.0], [10000.0, 1.0], [10010.0, 0.0], [10010.0, 3.0]])
    result = kmeans(points, 2, torch.Generator().manual_seed(0))
    assert sorted(torch.bincount(result.assignments).tolist()) == [2, 2]
    assert result.inertia == 0.25 + 0.25 + 2.25 + 2.25


def test_k_outside_range_is_refused() -> None:
    with pytest.raises(ValueError, match="k=5 for N=3"):
        kmeans(torch.zeros(3, 2), 5, torch.Generator())
