"""Data plumbing: datasets as prepared uint8 arrays, the cache, pair label spaces, batching."""

from __future__ import annotations

from dabench.data.dataset import DataOptions, Dataset, PreparedDataset, Split, restrict_to_classes
from dabench.data.folder import FaceOptions, FolderDataset
from dabench.data.images import CropSpec, ImageItem

__all__ = ["CropSpec", "DataOptions", "Dataset", "FaceOptions", "FolderDataset", "ImageItem", "PreparedDataset",
           "Split", "restrict_to_classes"]
