"""The procedural face generator behind synth-lab and synth-wild."""

from __future__ import annotations

import numpy as np
import pytest

from dabench.data.synth import EXPRESSIONS, STYLES, generate_faces
from dabench.labels import CANONICAL_CLASSES

HAPPY = CANONICAL_CLASSES.index("happiness")
SAD = CANONICAL_CLASSES.index("sadness")


@pytest.mark.parametrize(("style", "channels"), [("lab", 1), ("wild", 3)])
@pytest.mark.parametrize("resolution", [16, 48, 100])
def test_shapes_and_dtypes(style: str, channels: int, resolution: int) -> None:
    images, labels = generate_faces(20, style, resolution, seed=0)
    assert images.shape == (20, resolution, resolution, channels)
    assert images.dtype == np.uint8
    assert labels.shape == (20,)
    assert labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < len(CANONICAL_CLASSES)


def test_expression_table_matches_the_label_space() -> None:
    assert EXPRESSIONS.shape[0] == len(CANONICAL_CLASSES)


@pytest.mark.parametrize("style", ["lab", "wild"])
def test_deterministic_for_a_seed(style: str) -> None:
    first, labels_first = generate_faces(50, style, 32, seed=7)
    again, labels_again = generate_faces(50, style, 32, seed=7)
    other, _ = generate_faces(50, style, 32, seed=8)
    assert first.tobytes() == again.tobytes()
    assert np.array_equal(labels_first, labels_again)
    assert first.tobytes() != other.tobytes()


def test_same_faces_at_any_resolution() -> None:
    # Geometry lives in normalised coordinates: a downscaled large render matches a small render.
    small, labels_small = generate_faces(30, "lab", 24, seed=3)
    large, labels_large = generate_faces(30, "lab", 96, seed=3)
    assert np.array_equal(labels_small, labels_large)
    pooled = large.astype(np.float64).reshape(30, 24, 4, 24, 4, 1).mean(axis=(2, 4))
    small = small.astype(np.float64)
    same_face = np.abs(pooled - small).mean()  # sensor noise, blur and anti-aliasing still differ
    other_face = np.abs(np.roll(pooled, 1, axis=0) - small).mean()
    assert same_face < 0.4 * other_face


def test_lab_is_balanced_and_wild_is_not() -> None:
    _, lab = generate_faces(700, "lab", 16, seed=0)
    counts = np.bincount(lab, minlength=len(CANONICAL_CLASSES))
    assert np.all(np.abs(counts - 100) <= 2)  # within 2% of n/7 (exactly balanced in fact)
    _, wild = generate_faces(2000, "wild", 16, seed=0)
    counts = np.bincount(wild, minlength=len(CANONICAL_CLASSES))
    assert counts.argmax() == HAPPY
    assert counts.argmin() == CANONICAL_CLASSES.index("disgust")


def test_unknown_style_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="lab.*wild"):
        generate_faces(5, "cartoon", 48, seed=0)
    assert set(STYLES) == {"lab", "wild"}


def test_domains_differ_in_low_level_statistics() -> None:
    wild, _ = generate_faces(200, "wild", 32, seed=0)
    lab, _ = generate_faces(200, "lab", 32, seed=0)
    red, green = wild[..., 0].astype(np.float64), wild[..., 1].astype(np.float64)
    assert np.abs(red - green).mean() > 10.0  # colour: skin tones, backgrounds, clutter
    assert lab.shape[3] == 1
    assert (red - wild[..., 2]).mean() > 10.0  # warm skin and the domain's warm white balance
    # Lab backdrops are plain; wild ones are cluttered: compare the pixel spread in a corner patch.
    def corner_spread(images: np.ndarray) -> float:
        return float(images[:, :4, :4].astype(np.float64).mean(axis=3).reshape(len(images), -1).std(axis=1).mean())

    assert corner_spread(wild) > 2.0 * corner_spread(lab)  # measured 3.6 vs 1.4 (seed 0)


def test_labels_are_drawn_in_the_geometry() -> None:
    # Happy mouths curve up, sad mouths down: the mean happy and sad faces differ in the mouth region much
    # more than two halves of the same class do. This fails if labels are not tied to the drawing.
    images, labels = generate_faces(1400, "lab", 48, seed=1)
    mouth = images[:, 30:40, 14:34, 0].astype(np.float64)
    mouth -= mouth.mean(axis=(1, 2), keepdims=True)  # skin and background brightness vary per face
    happy, sad = mouth[labels == HAPPY], mouth[labels == SAD]
    between = np.abs(happy.mean(0) - sad.mean(0)).mean()
    within = max(np.abs(happy[::2].mean(0) - happy[1::2].mean(0)).mean(),
                 np.abs(sad[::2].mean(0) - sad[1::2].mean(0)).mean())
    assert between > 3.0 * within


def test_every_expression_is_distinct_in_lab() -> None:
    # A nearest-class-mean classifier on lab pixels is far above chance: each row of the table draws a
    # visibly different face (the overlapping pairs included, at lab intensity).
    images, labels = generate_faces(1400, "lab", 32, seed=2)
    pixels = images.reshape(len(images), -1).astype(np.float64)
    pixels -= pixels.mean(1, keepdims=True)
    train, test = slice(0, 1000), slice(1000, None)
    means = np.stack([pixels[train][labels[train] == c].mean(0) for c in range(len(CANONICAL_CLASSES))])
    distances = ((pixels[test, None, :] - means[None]) ** 2).sum(-1)
    accuracy = (distances.argmin(1) == labels[test]).mean()
    assert accuracy > 0.5
