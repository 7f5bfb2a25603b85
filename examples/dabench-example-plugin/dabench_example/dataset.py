"""``example_faces``: a FER dataset in the simplest folder layout, ``<split>/<class>/*.png``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dabench.data import DataOptions, Dataset, Split
from dabench.data.images import CropSpec, ImageItem, decode_items, list_images, subfolders
from dabench.data.splits import official_split_hash
from dabench.labels import CANONICAL_CLASSES


class ExampleFaces(Dataset):
    """Face crops sorted into one folder per canonical class, one folder per split."""

    id = "example_faces"
    classes = CANONICAL_CLASSES
    description = "FER images in <split>/<class>/*.png folders (canonical class names)"
    layout = "train/<class>/*.png and test/<class>/*.png, <class> in: " + " ".join(CANONICAL_CLASSES)
    native_size = 48
    default_backbone = "small_cnn"
    version = "1"

    def source_signature(self, folder: Path) -> list[tuple[str, int]]:
        """Every split/class folder with its file count: adding or removing images re-prepares."""
        return [(f"{split.name}/{cls.name}", len(list_images(cls))) for split in subfolders(folder)
                for cls in subfolders(split)]

    def split_hash(self) -> str:
        """The split is the folder's own (official) one, named in one sentence: its hash goes into every result."""
        return official_split_hash(self.id, "the train/ and test/ folders")

    def build(self, folder: Path | None, options: DataOptions) -> dict[str, Split]:
        assert folder is not None  # not a generated dataset: the core located the folder
        splits = {}
        for split in self.splits:
            items = self._items(folder, split)
            mode = "RGB" if options.rgb else "L"
            images, _ = decode_items(items, options.resolution, mode, CropSpec("none"), desc=f"{self.id} {split}")
            splits[split] = Split(images, np.array([item.label for item in items], dtype=np.int64))
        return splits

    def _items(self, folder: Path, split: str) -> list[ImageItem]:
        split_folder = folder / split
        if not split_folder.is_dir():
            raise self.missing(folder, f"split folder '{split}/' not found")
        items = []
        for class_folder in subfolders(split_folder):
            if class_folder.name not in self.classes:
                raise self.missing(folder, f"unknown class folder '{split}/{class_folder.name}' "
                                           f"(valid: {', '.join(self.classes)})")
            label = self.classes.index(class_folder.name)
            items += [ImageItem(f"{split}/{class_folder.name}/{path.name}", split, label, path)
                      for path in list_images(class_folder)]
        if not items:
            raise self.missing(folder, f"no images under '{split}/'")
        return items
