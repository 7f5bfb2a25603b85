"""SHOT's centroid pseudo-labelling: softmax-weighted class centroids, then one hard-centroid round,
by cosine distance on features with a 1 appended and L2-normalised (the reference ``obtain_label``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def augment_features(features: torch.Tensor) -> torch.Tensor:
    """features (N, D) -> (N, D + 1): a 1 appended, then each row L2-normalised (SHOT's bias trick)."""
    ones = torch.ones(len(features), 1, dtype=features.dtype, device=features.device)
    return F.normalize(torch.cat([features, ones], dim=1), dim=1)


def _nearest_centroid(unit_features: torch.Tensor, centroids: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Index of the nearest allowed centroid by cosine distance (argmax of cosine similarity).

    unit_features (N, D) L2-normalised; centroids (C, D); allowed (C,) bool: classes that may be chosen.
    """
    similarity = unit_features @ F.normalize(centroids, dim=1).T
    return similarity.masked_fill(~allowed, float("-inf")).argmax(dim=1)


def centroid_pseudo_labels(features: torch.Tensor, probs: torch.Tensor, rounds: int = 1,
                           min_count: int = 0) -> torch.Tensor:
    """features (N, D) raw bottleneck features, probs (N, C) softmax -> pseudo-labels (N,) int64.

    Classes that no sample predicts (count <= ``min_count``, SHOT's ``threshold``) take no sample.
    Each hard round allows only classes that still own a sample: the reference would divide by zero
    there and its argmin would pick the NaN column for every sample.
    """
    unit_features = augment_features(features.float())
    probs = probs.float()
    num_classes = probs.shape[1]
    counts = torch.bincount(probs.argmax(dim=1), minlength=num_classes)
    allowed = counts > min_count
    centroids = (probs.T @ unit_features) / (probs.sum(dim=0)[:, None] + 1e-8)
    labels = _nearest_centroid(unit_features, centroids, allowed)
    for _ in range(rounds):
        one_hot = F.one_hot(labels, num_classes).to(unit_features.dtype)
        centroids = (one_hot.T @ unit_features) / (one_hot.sum(dim=0)[:, None] + 1e-8)
        labels = _nearest_centroid(unit_features, centroids, allowed & (one_hot.sum(dim=0) > 0))
    return labels
