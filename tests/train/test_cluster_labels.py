"""Cluster-level pseudo-labels: a hand-worked example with ties, per-class top-q, and exact
equivalence with the reference's per-cluster loop (benchmarks/baselines/clup_reference.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dabench.train.cluster_labels import (
    cluster_pseudo_labels,
    normalise_features,
    select_by_clusters,
    top_fraction_per_class,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.baselines.clup_reference import normalise, purity_loop, select_loop  # noqa: E402

# 10 samples, 4 clusters, 3 classes. Worked by hand:
#   cluster 0: predictions 0,0,1 -> label 0, purity 2/3
#   cluster 1: predictions 2,2,1,1 -> 1 and 2 tie (2 each): the lower class, 1; purity 1/2
#   cluster 2: predictions 1,2 -> tie: 1; purity 1/2
#   cluster 3: prediction 0 -> label 0, purity 1
ASSIGN = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 2, 3])
PREDICT = torch.tensor([0, 0, 1, 2, 2, 1, 1, 1, 2, 0])


def test_hand_built_labels_purities_and_ties() -> None:
    out = cluster_pseudo_labels(ASSIGN, PREDICT, num_clusters=4, num_classes=3)
    assert out.cluster_labels.tolist() == [0, 1, 1, 0]
    assert out.cluster_purity.tolist() == pytest.approx([2 / 3, 1 / 2, 1 / 2, 1.0])
    assert out.labels.tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 0]
    assert out.confidence.tolist() == pytest.approx([2 / 3] * 3 + [1 / 2] * 6 + [1.0])
    assert out.soft_labels[0].tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert out.soft_labels[3].tolist() == pytest.approx([0.0, 0.5, 0.5])
    assert out.soft_labels[9].tolist() == pytest.approx([1.0, 0.0, 0.0])


def test_hand_built_selection_with_and_without_outliers() -> None:
    out = cluster_pseudo_labels(ASSIGN, PREDICT, 4, 3)
    # class 0 = {0, 1, 2, 9}: keep floor(0.5 * 4) = 2, the purest (9), then the lower index of the 2/3 tie (0);
    # class 1 = {3..8}, all purity 1/2: keep 3, the lowest indices; class 2 has no member
    assert top_fraction_per_class(out.labels, out.confidence, 0.5, 3).tolist() == [0, 3, 4, 5, 9]
    dropped = cluster_pseudo_labels(ASSIGN, PREDICT, 4, 3, drop_outliers=True)
    # outliers (own prediction != cluster label) 2, 3, 4, 8 get confidence 0 and rank last
    assert dropped.confidence.tolist() == pytest.approx([2 / 3, 2 / 3, 0, 0, 0, .5, .5, .5, 0, 1])
    assert top_fraction_per_class(dropped.labels, dropped.confidence, 0.5, 3).tolist() == [0, 5, 6, 7, 9]


def test_top_fraction_sizes_and_purest_first() -> None:
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (1000,), generator=generator)
    confidence = torch.rand(1000, generator=generator)
    for fraction in (0.1, 0.25, 0.3, 1.0):
        kept = top_fraction_per_class(labels, confidence, fraction, 5)
        mask = torch.zeros(1000, dtype=torch.bool)
        mask[kept] = True
        for c in range(5):
            members = labels == c
            assert int(mask[members].sum()) == int(fraction * int(members.sum()))
            if 0 < fraction < 1:
                assert confidence[mask & members].min() > confidence[~mask & members].max()
    assert top_fraction_per_class(labels, confidence, 1.0, 5).tolist() == list(range(1000))


def test_features_get_a_one_appended_then_unit_norm() -> None:
    out = normalise_features(torch.tensor([[3.0, 0.0], [0.0, 0.0]]))
    assert out.flatten().tolist() == pytest.approx([3 / 10 ** 0.5, 0.0, 1 / 10 ** 0.5, 0.0, 0.0, 1.0])
    assert np.allclose(normalise(np.array([[3.0, 0.0]])), out[:1].numpy())


@pytest.mark.parametrize("drop_outliers", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_equals_the_reference_loop_exactly(seed: int, drop_outliers: bool) -> None:
    generator = torch.Generator().manual_seed(seed)
    clusters, classes, n = 37, 7, 2000
    assign = torch.randint(0, clusters, (n,), generator=generator)
    # predictions correlated with clusters, so purities vary and ties occur
    predict = torch.where(torch.rand(n, generator=generator) < 0.6, assign % classes,
                          torch.randint(0, classes, (n,), generator=generator))
    ours = cluster_pseudo_labels(assign, predict, clusters, classes, drop_outliers)
    labels, confidences, soft = purity_loop(assign.numpy(), predict.numpy(), clusters, classes, drop_outliers)
    assert np.array_equal(ours.labels.numpy(), labels)
    assert np.array_equal(ours.confidence.numpy(), confidences)  # bit-for-bit: both float64 count / size
    assert np.allclose(ours.soft_labels.numpy(), soft)
    for fraction in (0.1, 0.2, 0.3, 0.7):
        kept = top_fraction_per_class(ours.labels, ours.confidence, fraction, classes)
        assert np.array_equal(kept.numpy(), select_loop(labels, confidences, fraction, classes))


def test_rounds_recluster_what_is_not_kept() -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(600, 16, generator=generator)
    predictions = torch.randint(0, 4, (600,), generator=generator)
    one = select_by_clusters(features, predictions, 20, 0.2, 4, torch.Generator().manual_seed(0), rounds=1)
    three = select_by_clusters(features, predictions, 20, 0.2, 4, torch.Generator().manual_seed(0), rounds=3)
    assert len(torch.unique(three.indices)) == len(three.indices)  # no sample kept twice
    assert [r["kept"] for r in three.rounds][0] == len(one.indices)
    assert len(three.indices) == sum(r["kept"] for r in three.rounds) > len(one.indices)
    assert torch.equal(three.indices[:len(one.indices)], one.indices)


def test_dropped_outliers_are_never_kept_even_at_q_one() -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(300, 8, generator=generator)
    predictions = torch.randint(0, 4, (300,), generator=generator)
    everything = select_by_clusters(features, predictions, 20, 1.0, 4, torch.Generator().manual_seed(1))
    assert len(everything.indices) == 300  # q = 1 keeps every sample, outliers included
    assert (everything.labels != predictions[everything.indices]).any()
    kept = select_by_clusters(features, predictions, 20, 1.0, 4, torch.Generator().manual_seed(1), drop_outliers=True)
    assert torch.equal(kept.labels, predictions[kept.indices])  # only samples that agree with their cluster
    assert torch.equal(kept.indices, everything.indices[everything.labels == predictions[everything.indices]])
