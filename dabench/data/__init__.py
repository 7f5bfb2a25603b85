"""Data plumbing: datasets as prepared uint8 arrays, the cache, pair label spaces, batching."""

from __future__ import annotations

from dabench.data.dataset import DataOptions, Dataset, PreparedDataset, Split, restrict_to_classes

__all__ = ["DataOptions", "Dataset", "PreparedDataset", "Split", "restrict_to_classes"]
