"""cluster_pl's confidence rules on a hand-built example: purity (the paper's), the source model's
softmax probability of the pseudo-label, and their product."""

from __future__ import annotations

import pytest
import torch

from dabench.train.cluster_labels import cluster_pseudo_labels, top_fraction_per_class

# 6 samples in 2 clusters, 2 classes. Cluster 0 = samples 0-3, predictions 0,0,0,1: label 0, purity 3/4.
# Cluster 1 = samples 4-5, predictions 1,1: label 1, purity 1.
ASSIGNMENTS = torch.tensor([0, 0, 0, 0, 1, 1])
PREDICTIONS = torch.tensor([0, 0, 0, 1, 1, 1])
PROBABILITIES = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55], [0.2, 0.8]])


def _confidence(rule: str) -> list[float]:
    labelled = cluster_pseudo_labels(ASSIGNMENTS, PREDICTIONS, 2, 2, confidence_rule=rule, probabilities=PROBABILITIES)
    assert labelled.labels.tolist() == [0, 0, 0, 0, 1, 1]  # the rule ranks; it never relabels
    return [round(v, 6) for v in labelled.confidence.tolist()]


def test_purity_is_the_clusters_majority_share() -> None:
    assert _confidence("purity") == [0.75, 0.75, 0.75, 0.75, 1.0, 1.0]


def test_softmax_is_the_probability_of_the_pseudo_label() -> None:
    # sample 3 is predicted 1 but labelled 0 by its cluster: its confidence is p(0) = 0.3, not its max 0.7
    assert _confidence("softmax") == [0.9, 0.6, 0.8, 0.3, 0.55, 0.8]


def test_purity_softmax_is_the_product() -> None:
    assert _confidence("purity_softmax") == [0.675, 0.45, 0.6, 0.225, 0.55, 0.8]


def test_the_rules_keep_different_subsets() -> None:
    # q = 0.5: class 0 (4 members) keeps 2, class 1 (2 members) keeps 1
    kept = {}
    for rule in ("purity", "softmax"):
        labelled = cluster_pseudo_labels(ASSIGNMENTS, PREDICTIONS, 2, 2, confidence_rule=rule,
                                         probabilities=PROBABILITIES)
        kept[rule] = top_fraction_per_class(labelled.labels, labelled.confidence, 0.5, 2).tolist()
    assert kept["purity"] == [0, 1, 4]  # equal purity: ties go to the lower index
    assert kept["softmax"] == [0, 2, 5]


def test_unknown_rule_and_missing_probabilities() -> None:
    with pytest.raises(ValueError, match="confidence must be one of purity, softmax, purity_softmax, got 'max'"):
        cluster_pseudo_labels(ASSIGNMENTS, PREDICTIONS, 2, 2, confidence_rule="max", probabilities=PROBABILITIES)
    with pytest.raises(ValueError, match="needs the source model's probabilities"):
        cluster_pseudo_labels(ASSIGNMENTS, PREDICTIONS, 2, 2, confidence_rule="softmax")
