"""Cluster-level pseudo-labels (CluP): each k-means cluster takes the majority class of the source
model's predictions in it; its purity (that class's share) is every member's confidence; the top
fraction q of each pseudo-class by purity is kept. Vectorised: one bincount, no loop over clusters."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dabench.train.kmeans import kmeans


@dataclass(frozen=True)
class ClusterLabels:
    """Per-sample results for N samples, P clusters, C classes.

    labels (N,) int64: the majority class of the sample's cluster (ties: the lowest class index).
    confidence (N,) float: the cluster's purity (0 for outliers when they are dropped).
    soft_labels (N, C) float: the cluster's class distribution.
    cluster_labels (P,), cluster_purity (P,): per cluster (an empty cluster: label 0, purity 0).
    """

    labels: torch.Tensor
    confidence: torch.Tensor
    soft_labels: torch.Tensor
    cluster_labels: torch.Tensor
    cluster_purity: torch.Tensor


CONFIDENCE_RULES = ("purity", "softmax", "purity_softmax")


def cluster_pseudo_labels(assignments: torch.Tensor, predictions: torch.Tensor, num_clusters: int,
                          num_classes: int, drop_outliers: bool = False, confidence_rule: str = "purity",
                          probabilities: torch.Tensor | None = None) -> ClusterLabels:
    """assignments (N,) cluster ids in [0, P); predictions (N,) source-predicted classes in [0, C).

    ``confidence_rule`` ranks the members of each pseudo-class: ``purity`` (the paper's: the cluster's
    share of its majority class), ``softmax`` (the source model's probability of the sample's
    pseudo-label, ``probabilities`` (N, C); it is the sample's max probability wherever its own
    prediction agrees with its cluster) or ``purity_softmax`` (their product).
    ``drop_outliers`` zeroes the confidence of samples whose own prediction disagrees with their
    cluster's label, so they rank last (the reference's rule).
    """
    if confidence_rule not in CONFIDENCE_RULES:
        raise ValueError(f"confidence must be one of {', '.join(CONFIDENCE_RULES)}, got {confidence_rule!r}")
    if confidence_rule != "purity" and probabilities is None:
        raise ValueError(f"confidence={confidence_rule!r} needs the source model's probabilities")
    counts = torch.bincount(assignments * num_classes + predictions,
                            minlength=num_clusters * num_classes).view(num_clusters, num_classes)
    sizes = counts.sum(1)
    # argmax returns the first maximum: ties go to the lowest class index, as in the reference's
    # strict ">" scan over classes
    cluster_labels = counts.argmax(1)
    distribution = counts.double() / sizes.clamp_min(1)[:, None].double()
    cluster_purity = distribution.max(1).values
    labels = cluster_labels[assignments]
    confidence = cluster_purity[assignments]
    if confidence_rule != "purity":
        assert probabilities is not None
        own = probabilities.double().gather(1, labels[:, None]).squeeze(1)
        confidence = own if confidence_rule == "softmax" else confidence * own
    if drop_outliers:
        confidence = torch.where(labels == predictions, confidence, torch.zeros_like(confidence))
    return ClusterLabels(labels, confidence, distribution[assignments].float(), cluster_labels, cluster_purity)


def top_fraction_per_class(labels: torch.Tensor, confidence: torch.Tensor, fraction: float,
                           num_classes: int) -> torch.Tensor:
    """Indices (sorted) of the floor(fraction * n_c) most confident samples of each class c.

    Ties in confidence go to the lower sample index (a stable sort), so the subset is deterministic.
    floor(q * n) in float64 matches the reference's ``int(q * len(class))`` exactly.
    """
    n = len(labels)
    # order by (class asc, confidence desc, index asc): two stable sorts
    by_confidence = torch.sort(confidence.double(), descending=True, stable=True).indices
    order = by_confidence[torch.sort(labels[by_confidence], stable=True).indices]
    class_sizes = torch.bincount(labels, minlength=num_classes)
    keep_per_class = (class_sizes.double() * fraction).floor().long()
    class_starts = torch.cumsum(class_sizes, 0) - class_sizes
    sorted_labels = labels[order]
    rank_in_class = torch.arange(n, device=labels.device) - class_starts[sorted_labels]
    kept = order[rank_in_class < keep_per_class[sorted_labels]]
    return torch.sort(kept).values


def normalise_features(features: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N, D + 1): a 1 appended, then L2-normalised (SHOT's and CluP's feature space)."""
    return F.normalize(torch.cat([features.float(), features.new_ones(len(features), 1).float()], 1), dim=1)


@dataclass(frozen=True)
class Selection:
    """The kept subset over all rounds: indices (M,) into the target set, labels (M,), soft labels
    (M, C), plus per-round (clusters, kept) counts and the last round's inertia."""

    indices: torch.Tensor
    labels: torch.Tensor
    soft_labels: torch.Tensor
    rounds: list[dict[str, float]]


def select_by_clusters(features: torch.Tensor, predictions: torch.Tensor, num_clusters: int, fraction: float,
                       num_classes: int, generator: torch.Generator, rounds: int = 1, drop_outliers: bool = False,
                       max_iter: int = 50, tol: float = 1e-4, confidence_rule: str = "purity",
                       probabilities: torch.Tensor | None = None) -> Selection:
    """The whole CluP labelling step: normalise, k-means, purity, per-class top-q; ``rounds`` > 1
    re-clusters the samples not yet kept and keeps a fraction q of those too (``iter_clusters``).

    features (N, D) from the source model on clean images; predictions (N,) its argmax classes.
    ``confidence_rule`` and ``probabilities`` (N, C): see :func:`cluster_pseudo_labels`.
    ``drop_outliers``: a sample whose own prediction disagrees with its cluster's label is never kept
    (each class still keeps at most floor(q * n_c), counted over all its members); a later round may
    keep it if its new cluster agrees.
    """
    points = normalise_features(features)
    remaining = torch.arange(len(points), device=points.device)
    kept_indices, kept_labels, kept_soft, history = [], [], [], []
    for _ in range(rounds):
        clusters = min(num_clusters, len(remaining))
        if clusters < 1:
            break
        result = kmeans(points[remaining], clusters, generator, max_iter=max_iter, tol=tol)
        labelled = cluster_pseudo_labels(result.assignments, predictions[remaining], clusters, num_classes,
                                         drop_outliers, confidence_rule,
                                         None if probabilities is None else probabilities[remaining])
        chosen = top_fraction_per_class(labelled.labels, labelled.confidence, fraction, num_classes)
        if drop_outliers:  # ranked last above; a large q would still keep them, so they are dropped here
            chosen = chosen[labelled.labels[chosen] == predictions[remaining][chosen]]
        kept_indices.append(remaining[chosen])
        kept_labels.append(labelled.labels[chosen])
        kept_soft.append(labelled.soft_labels[chosen])
        history.append({"clusters": clusters, "kept": int(len(chosen)), "inertia": result.inertia,
                        "iterations": result.iterations})
        mask = torch.ones(len(remaining), dtype=torch.bool, device=points.device)
        mask[chosen] = False
        remaining = remaining[mask]
    return Selection(torch.cat(kept_indices), torch.cat(kept_labels), torch.cat(kept_soft), history)
