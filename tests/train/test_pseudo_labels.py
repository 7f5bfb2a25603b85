"""SHOT's centroid pseudo-labelling against a worked example."""

from __future__ import annotations

import numpy as np
import torch

from dabench.train.pseudo_labels import augment_features, centroid_pseudo_labels


def test_augment_features_appends_one_and_normalises():
    out = augment_features(torch.tensor([[3.0, 0.0], [0.0, 0.0]]))
    # (3, 0, 1) / sqrt(10); (0, 0, 1) / 1
    assert torch.allclose(out, torch.tensor([[3 / 10**0.5, 0.0, 1 / 10**0.5], [0.0, 0.0, 1.0]]))


def test_centroid_labels_correct_a_wrong_prediction():
    # Features (1,0), (0,1), (-1,0), (0,-1), (1,0): with the 1 appended every row has norm sqrt(2), so
    # cosine comparisons can use v = (x, y, 1) and drop the common 1/sqrt(2).
    # argmax of probs: 0, 0, 1, 1, 1 (sample 4 sits on sample 0 but is predicted class 1).
    # Soft centroids (sum p_c v / sum p_c):
    #   c0 = (0.9v1 + 0.6v2 + 0.2v3 + 0.4v4 + 0.3v5) / 2.4 = (1.0, 0.2, 2.4)/2.4 = (5/12, 1/12, 1)
    #   c1 = (0.1v1 + 0.4v2 + 0.8v3 + 0.6v4 + 0.7v5) / 2.6 = (0.0, -0.2, 2.6)/2.6 = (0, -1/13, 1)
    #   |c0| = sqrt(170/144) = 1.0865, |c1| = sqrt(170/169) = 1.0029
    # cos ~ v.c/|c|:  v1: 1.4167/1.0865=1.304 vs 1/1.0029=0.997 -> 0
    #                 v2: 1.0833/1.0865=0.997 vs 0.9231/1.0029=0.920 -> 0
    #                 v3: 0.5833/1.0865=0.537 vs 1/1.0029=0.997 -> 1
    #                 v4: 0.9167/1.0865=0.844 vs 1.0769/1.0029=1.074 -> 1
    #                 v5 = v1 -> 0
    # Hard round: c0 = mean(v1, v2, v5) ~ (2, 1, 3) |.|=sqrt(14); c1 = mean(v3, v4) ~ (-1, -1, 2) |.|=sqrt(6)
    #   v1: 5/3.742=1.336 vs 1/2.449=0.408 -> 0;  v2: 4/3.742=1.069 vs 0.408 -> 0
    #   v3: 1/3.742=0.267 vs 3/2.449=1.225 -> 1;  v4: 2/3.742=0.535 vs 1.225 -> 1;  v5 -> 0
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [1.0, 0.0]])
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    assert probs.argmax(1).tolist() == [0, 0, 1, 1, 1]
    assert centroid_pseudo_labels(features, probs, rounds=0).tolist() == [0, 0, 1, 1, 0]
    assert centroid_pseudo_labels(features, probs, rounds=1).tolist() == [0, 0, 1, 1, 0]


def test_tied_prediction_goes_to_the_nearer_centroid():
    # Sample 2 is predicted (0.5, 0.5) (argmax says 0) but lies nearer class 1's centroid.
    # Soft: c0 ~ 0.9(1,1) + 0.9(1.2,1) + 0.5(0,1) + 0.1(-1,1) = (1.88, 2.4)/2.4 = (0.783, 1)
    #       c1 ~ 0.1(1,1) + 0.1(1.2,1) + 0.5(0,1) + 0.9(-1,1) = (-0.68, 1.6)/1.6 = (-0.425, 1)
    #   (vectors here are (x, 1) before normalisation; cos with unit u = (x,1)/|(x,1)|)
    #   sample 2 (x=0, u=(0,1)): cos c0 = 1/|(0.783,1)| = 1/1.270 = 0.787; cos c1 = 1/|(-0.425,1)| = 1/1.087 = 0.920 -> 1
    #   sample 0 (x=1): (0.783+1)/(1.414*1.270)=0.993 vs (-0.425+1)/(1.414*1.087)=0.374 -> 0; sample 1 likewise -> 0
    #   sample 3 (x=-1): (-0.783+1)/(1.414*1.270)=0.121 vs (0.425+1)/(1.414*1.087)=0.927 -> 1
    # Hard: c0 = mean(u0, u1) with u0 = (0.707, 0.707), u1 = (1.2,1)/1.562 = (0.768, 0.640) -> (0.738, 0.674)
    #       c1 = mean(u2, u3) = ((0,1) + (-0.707, 0.707))/2 = (-0.354, 0.854)
    #   sample 2: cos c0 = 0.674/|c0|=0.674/0.999=0.674; cos c1 = 0.854/0.924 = 0.924 -> stays 1.
    features = torch.tensor([[1.0], [1.2], [0.0], [-1.0]])
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.5, 0.5], [0.1, 0.9]])
    assert probs.argmax(1).tolist() == [0, 0, 0, 1]
    assert centroid_pseudo_labels(features, probs, rounds=0).tolist() == [0, 0, 1, 1]
    assert centroid_pseudo_labels(features, probs, rounds=1).tolist() == [0, 0, 1, 1]


def test_class_nobody_predicts_gets_no_label():
    # class 2 holds 0.3 of every prediction but is never the argmax: SHOT's threshold (count > 0) drops it.
    features = torch.randn(20, 4, generator=torch.Generator().manual_seed(0))
    probs = torch.tensor([[0.6, 0.1, 0.3], [0.1, 0.6, 0.3]]).repeat(10, 1)
    labels = centroid_pseudo_labels(features, probs)
    assert set(labels.tolist()) <= {0, 1}


def test_the_hard_centroid_round_moves_a_label():
    # v = (x, y, 1): v0 = (2, -2, 1), v1 = (2, 2, 1), v2 = (-2, -1, 1), v3 = (-2, 0, 1); |v| = 3, 3, sqrt 6, sqrt 5.
    # p(class 0) = 0.6, 0.1, 0.3, 0.1 -> argmax 0, 1, 1, 1. Centroid directions (the 1/sum p scale drops out):
    #   soft c0 ~ 0.6u0 + 0.1u1 + 0.3u2 + 0.1u3 = (0.132, -0.456, 0.401), |c0| = 0.621
    #   soft c1 ~ 0.4u0 + 0.9u1 + 0.7u2 + 0.9u3 = (-0.510, 0.048, 1.122), |c1| = 1.233
    #   cos(u0; c0, c1) = 0.846, 0.002 -> 0;   cos(u1) = -0.132, 0.053 -> 1
    #   cos(u2) = 0.389, 0.693 -> 1;           cos(u3) = 0.098, 0.777 -> 1      (soft round: 0, 1, 1, 1)
    # Hard round: c0 = u0; c1 ~ u1 + u2 + u3 = (-1.044, 0.259, 1.189), |c1| = 1.603
    #   cos(u1; c0, c1) = u1.u0 = 0.111, -0.128/1.603 = -0.080 -> 0 (the label moves)
    #   cos(u0) = 1, ... -> 0;  cos(u2) = -0.136, 0.769 -> 1;  cos(u3) = -0.447, 0.914 -> 1
    features = torch.tensor([[2.0, -2.0], [2.0, 2.0], [-2.0, -1.0], [-2.0, 0.0]])
    probs = torch.tensor([[0.6, 0.4], [0.1, 0.9], [0.3, 0.7], [0.1, 0.9]])
    assert centroid_pseudo_labels(features, probs, rounds=0).tolist() == [0, 1, 1, 1]
    assert centroid_pseudo_labels(features, probs, rounds=1).tolist() == [0, 0, 1, 1]


def test_matches_a_numpy_port_of_the_reference_on_random_features():
    # the reference's obtain_label (soft centroids, one hard round, cosine cdist), written independently
    def reference(features: np.ndarray, probs: np.ndarray) -> np.ndarray:
        unit = np.concatenate([features, np.ones((len(features), 1))], axis=1)
        unit = unit / np.linalg.norm(unit, axis=1, keepdims=True)
        labelset = np.flatnonzero(np.bincount(probs.argmax(1), minlength=probs.shape[1]) > 0)
        centroids = probs.T @ unit / (probs.sum(0)[:, None] + 1e-8)
        for _ in range(2):  # the soft assignment, then one hard round
            cosine = unit @ (centroids / np.linalg.norm(centroids, axis=1, keepdims=True)).T
            labels = labelset[cosine[:, labelset].argmax(1)]
            one_hot = np.eye(probs.shape[1])[labels]
            centroids = one_hot.T @ unit / (one_hot.sum(0)[:, None] + 1e-8)
        return labels

    generator = np.random.default_rng(0)
    moved = 0
    for _ in range(20):
        features = generator.normal(size=(60, 8))
        probs = generator.dirichlet(np.full(5, 0.5), size=60)
        ours = centroid_pseudo_labels(torch.from_numpy(features).float(), torch.from_numpy(probs).float())
        assert ours.tolist() == reference(features, probs).tolist()
        moved += int((ours != centroid_pseudo_labels(torch.from_numpy(features).float(),
                                                     torch.from_numpy(probs).float(), rounds=0)).any())
    assert moved >= 10  # the hard round matters on most of these draws
