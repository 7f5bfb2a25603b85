"""The CluP reference's pseudo-labelling, re-implemented straightforwardly (github.com/altndrr/clup,
``src/systems/utils.py``): scikit-learn KMeans (k-means++, n_init=10, max_iter=300), then a Python
loop over clusters x classes with a mask over all N samples each time, then a per-class top-q.

Kept as the speed baseline and as the oracle for the vectorised version's equivalence test. The only
choices fixed here that the reference leaves open: purities are float64 (Python) divisions, and ties
in the per-class ranking go to the lower sample index (``torch.topk`` leaves that order unspecified).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans


def normalise(features: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, D + 1): 1 appended, L2-normalised, as the reference does before KMeans."""
    appended = np.concatenate([features, np.ones((len(features), 1), features.dtype)], 1)
    return appended / np.linalg.norm(appended, axis=1, keepdims=True)


def cluster(points: np.ndarray, num_clusters: int, seed: int) -> tuple[np.ndarray, float]:
    """sklearn KMeans as the reference calls it (its defaults: k-means++, n_init=10, max_iter=300)."""
    kmeans = KMeans(n_clusters=num_clusters, init="k-means++", n_init=10, max_iter=300, random_state=seed)
    kmeans.fit(points)
    return kmeans.labels_, float(kmeans.inertia_)


def purity_loop(assignments: np.ndarray, predictions: np.ndarray, num_clusters: int, num_classes: int,
                drop_outliers: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample (labels, confidences, soft labels) by the reference's O(P * C * N) loop."""
    match = [-1] * num_clusters
    match_scores = [0.0] * num_clusters
    soft_scores = [[0.0] * num_classes for _ in range(num_clusters)]
    for prototype in range(num_clusters):
        for class_index in range(num_classes):
            in_prototype = assignments == prototype
            in_class = predictions == class_index
            size = int(in_prototype.sum())
            score = int((in_prototype & in_class).sum()) / size if size else float("nan")
            soft_scores[prototype][class_index] = score
            if score > match_scores[prototype]:  # strict: ties keep the lower class index
                match[prototype] = class_index
                match_scores[prototype] = score
    labels = np.full(len(assignments), -1, dtype=np.int64)
    confidences = np.zeros(len(assignments), dtype=np.float64)
    soft = np.zeros((len(assignments), num_classes), dtype=np.float64)
    for prototype in range(num_clusters):
        members = assignments == prototype
        labels[members] = match[prototype]
        confidences[members] = match_scores[prototype]
        soft[members] = soft_scores[prototype]
    if drop_outliers:
        confidences[labels != predictions] = 0.0
    return labels, confidences, soft


def select_loop(labels: np.ndarray, confidences: np.ndarray, fraction: float, num_classes: int) -> np.ndarray:
    """The reference's per-class top-q: ``int(q * n_c)`` most confident samples of each class (sorted)."""
    kept: list[int] = []
    for class_index in range(num_classes):
        members = np.flatnonzero(labels == class_index)
        count = int(fraction * len(members))
        order = np.argsort(-confidences[members], kind="stable")
        kept.extend(members[order[:count]].tolist())
    return np.sort(np.array(kept, dtype=np.int64))


def reference_pseudo_labels(features: np.ndarray, predictions: np.ndarray, num_clusters: int, fraction: float,
                            num_classes: int, seed: int = 0) -> dict[str, object]:
    """The whole step as the reference runs it: normalise, KMeans, purity loop, selection."""
    points = normalise(features)
    assignments, inertia = cluster(points, num_clusters, seed)
    labels, confidences, _ = purity_loop(assignments, predictions, num_clusters, num_classes)
    kept = select_loop(labels, confidences, fraction, num_classes)
    return {"indices": kept, "labels": labels[kept], "inertia": inertia, "assignments": assignments}
