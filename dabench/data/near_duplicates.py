"""Near-duplicate faces across splits: the same face saved under another name, re-encoded or rescaled.

Each image becomes a 32 x 32 grayscale thumbnail with its mean removed and unit norm; two images are near
duplicates when the cosine of their thumbnails (their Pearson correlation) is at least ``THRESHOLD``. On the
ExpW subset in ../shared/data the best cross-split match of each test face is either >= 0.994 (16 faces:
the same face, re-encoded or under another photo name) or <= 0.965 (every other face); 0.98 sits in that
gap. Exact search, in blocks: every held-out image against every image of an earlier split
(``SPLIT_ORDER``); FER2013's 7,178 test and val faces against its 28,709 train faces take about 15 s on
2 CPU cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

THUMBNAIL = 32  # px
THRESHOLD = 0.98
SPLIT_ORDER = ("train", "val", "test")  # a copy in an earlier split is the one dedup drops
_BLOCK = 512


@dataclass(frozen=True)
class NearPair:
    later: int  # item index in the later split (test, val)
    earlier: int  # its best match in an earlier split
    similarity: float


def thumbnails(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) uint8 -> (N, THUMBNAIL**2) float32, grayscale, mean removed, unit norm."""
    gray = images.astype(np.float32).mean(axis=3)
    if gray.shape[1:] != (THUMBNAIL, THUMBNAIL):
        gray = np.stack([np.asarray(Image.fromarray(g).resize((THUMBNAIL, THUMBNAIL), Image.BILINEAR))
                         for g in gray]) if len(gray) else np.zeros((0, THUMBNAIL, THUMBNAIL), np.float32)
    flat = gray.reshape(len(gray), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    return flat / np.maximum(norms, 1e-6)  # a flat image (norm 0) matches nothing


def cross_split_pairs(thumbs: np.ndarray, splits: list[str], threshold: float = THRESHOLD) -> list[NearPair]:
    """For each image of a later split, its best match in the earlier splits when it is a near duplicate."""
    pairs: list[NearPair] = []
    for block, earlier, similarity in _compared(thumbs, splits):
        best = similarity.argmax(axis=1)
        scores = similarity[np.arange(len(block)), best]
        pairs += [NearPair(int(block[i]), int(earlier[best[i]]), float(scores[i]))
                  for i in np.flatnonzero(scores >= threshold)]
    return pairs


def near_duplicate_mask(images: np.ndarray, splits: list[str], threshold: float = THRESHOLD) -> np.ndarray:
    """False for every image with a near duplicate in a later split (the earlier copies go: dedup)."""
    keep = np.ones(len(images), dtype=bool)
    for _, earlier, similarity in _compared(thumbnails(images), splits):
        keep[earlier[(similarity >= threshold).any(axis=0)]] = False
    return keep


def _compared(thumbs: np.ndarray, splits: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(indices of a block of later-split images, indices of the earlier-split images, their similarities)."""
    rank = {name: i for i, name in enumerate(SPLIT_ORDER)}
    order = np.array([rank.get(split, len(rank)) for split in splits])
    for level in sorted(set(order.tolist()))[1:]:
        later, earlier = np.flatnonzero(order == level), np.flatnonzero(order < level)
        if not len(earlier):
            continue
        reference = thumbs[earlier]
        for start in range(0, len(later), _BLOCK):
            block = later[start:start + _BLOCK]
            yield block, earlier, thumbs[block] @ reference.T
