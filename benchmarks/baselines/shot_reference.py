"""SHOT's ``obtain_label`` labelling step as the reference code writes it (numpy + scipy cdist), the
baseline for benchmarks/test_shot_pseudo_labels.py. Reimplemented from a reading of the public code."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist


def reference_pseudo_labels(features: np.ndarray, probs: np.ndarray, threshold: int = 0) -> np.ndarray:
    """features (N, D) float32, probs (N, C) softmax -> labels (N,) after soft centroids + one hard round."""
    all_fea = np.concatenate([features, np.ones((len(features), 1), dtype=features.dtype)], axis=1)
    all_fea = (all_fea.T / np.linalg.norm(all_fea, ord=2, axis=1)).T
    k = probs.shape[1]
    predict = probs.argmax(axis=1)
    initc = probs.T.dot(all_fea) / (1e-8 + probs.sum(axis=0)[:, None])
    labelset = np.where(np.eye(k)[predict].sum(axis=0) > threshold)[0]
    predict = labelset[cdist(all_fea, initc[labelset], "cosine").argmin(axis=1)]
    for _ in range(1):
        aff = np.eye(k)[predict]
        initc = aff.T.dot(all_fea) / (1e-8 + aff.sum(axis=0)[:, None])
        predict = labelset[cdist(all_fea, initc[labelset], "cosine").argmin(axis=1)]
    return predict
