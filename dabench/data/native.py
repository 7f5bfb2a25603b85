"""The former home of FolderDataset (named NativeDataset there); kept so that old imports work."""

from __future__ import annotations

from dabench.data.folder import SPLIT_PRIORITY, FaceOptions, FolderDataset, NativeDataset, dedup_mask

__all__ = ["SPLIT_PRIORITY", "FaceOptions", "FolderDataset", "NativeDataset", "dedup_mask"]
