"""The dataset plugin contract: a dataset turns its native folder into labelled uint8 splits."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dabench.data.identity import folder_identity
from dabench.errors import DabenchError


@dataclass(frozen=True)
class Split:
    """One split as prepared arrays.

    images: (N, H, W, C) uint8 with C = 1 (grayscale) or 3 (RGB).
    labels: (N,) int64, indices into the owning dataset's ``classes``.
    """

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[3] not in (1, 3):
            raise ValueError(f"images must be (N, H, W, 1|3) uint8, got {self.images.dtype} {self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must be ({len(self.images)},), got {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True)
class DataOptions:
    """Options every dataset understands; a dataset may subclass this to add its own."""

    resolution: int = 48  # images are prepared square at this size
    rgb: bool = False  # store grayscale images as 3 identical channels

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


class Dataset:
    """Base class of dataset plugins.

    A subclass sets ``id`` and ``classes`` (canonical names such as ``happiness``, plus extras such
    as ``contempt`` that pairs drop) and implements :meth:`build`.
    """

    id: ClassVar[str] = ""
    classes: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    layout: ClassVar[str] = ""  # the native folder layout, shown when the folder is missing or wrong
    request: ClassVar[str] = ""  # where users request the (licence-gated) dataset
    generated: ClassVar[bool] = False  # True: needs no folder, builds from code
    version: ClassVar[str] = "1"  # bump when preparation changes; part of the cache key
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    native_size: ClassVar[int] = 112  # px; the input size of backbones that follow the data (small_cnn)
    default_backbone: ClassVar[str] = "resnet18"  # small image sets override with small_cnn
    # the SSL recipe settings (run key ``ssl``) that suit this dataset as a target, for its size and
    # resolution; under every method's own, so all methods on this target share one SSL artifact
    ssl_defaults: ClassVar[dict[str, Any]] = {}
    Options: ClassVar[type[DataOptions]] = DataOptions

    def options(self, values: dict[str, Any] | None = None, where: str = "") -> DataOptions:
        """Build this dataset's options from a dict, rejecting unknown keys, values of the wrong type
        for the option's field and the Options class's own range checks. ``where``: the config path
        the values came from (``data.target.``), so the message names the key the user typed."""
        from dabench.settings.config import field_types, type_mismatch  # config pulls in torch; keep this module light

        values = dict(values or {})
        valid = {f.name for f in dataclasses.fields(self.Options)}
        unknown = sorted(set(values) - valid)
        if unknown:
            raise DabenchError(f"unknown option(s) {', '.join(unknown)} for dataset '{self.id}'; "
                               f"valid options: {', '.join(sorted(valid))}")
        hints = field_types(self.Options)
        for name, value in values.items():
            wanted = type_mismatch(hints.get(name, Any), value)
            if wanted is not None:
                key = f"config key '{where}{name}'" if where else f"dataset '{self.id}' option '{name}'"
                raise DabenchError(f"{key} must be {wanted}, got {value!r}")
            if isinstance(value, list):
                values[name] = tuple(value)  # options are frozen and hashed; YAML gives lists
        try:
            return self.Options(**values)
        except (ValueError, TypeError) as exc:
            raise DabenchError(f"bad option for dataset '{self.id}': {exc}") from None

    def locate(self, data_root: Path) -> Path | None:
        """The dataset's folder under ``data_root``; raises a clear error when it is missing."""
        if self.generated:
            return None
        folder = data_root / self.id
        if not folder.is_dir():
            raise self.missing(folder, "folder not found")
        return folder

    def missing(self, folder: Path, what: str) -> DabenchError:
        """The error for a folder that is absent, incomplete or malformed (``what`` went wrong): it adds
        where it looked, the layout expected and where to get the data. Not for options: see option_error."""
        message = f"dataset '{self.id}': {what} in {folder}.\nExpected layout under {folder}:\n  {self.layout}"
        if self.request:
            message += f"\nThis dataset is licence-gated; request it from its owners: {self.request}"
        message += "\nSet DABENCH_DATA (or --data-root) to the folder that holds it."
        return DabenchError(message)

    def require_label_files(self, folder: Path, list_dir: str, names: Iterable[str], image_dir: Path) -> None:
        """Refuse (:meth:`missing`) a folder whose label lists ``list_dir/<name>`` are not all there, saying
        whether its images are."""
        absent = [name for name in names if not (folder / list_dir / name).is_file()]
        if absent:
            found = "images are present, " if image_dir.is_dir() else ""
            raise self.missing(folder, f"label file(s) {', '.join(f'{list_dir}/{name}' for name in absent)} not found "
                                       f"({found}no labels)")

    def option_error(self, message: str) -> DabenchError:
        """The one-line error for an option that does not fit (``raise self.option_error("...")`` in
        ``build`` or ``items``, where the check needs the folder); a check of the values alone belongs
        in the Options class's ``__post_init__`` (a ValueError there reads the same)."""
        return DabenchError(f"bad option for dataset '{self.id}': {message}")

    def cache_key(self, folder: Path | None, options: DataOptions) -> dict[str, Any]:
        """What identifies the prepared arrays; a change to any of it prepares anew (a new split rule, an
        edited, added or removed file too: see :mod:`dabench.data.identity`)."""
        key: dict[str, Any] = {"id": self.id, "version": self.version, "options": dataclasses.asdict(options),
                               "split": self.split_identity(options)}
        if folder is not None:  # the folder's content, not where it lives: an edited folder is prepared again
            key["files"] = folder_identity(folder)
        return key

    def build(self, folder: Path | None, options: DataOptions) -> dict[str, Split]:
        """Read (or generate) every split; labels index into ``self.classes``."""
        raise NotImplementedError

    def split_hash(self) -> str | None:
        """Hash of a split file shipped with dabench, if this dataset uses one."""
        return None

    def split_identity(self, options: DataOptions) -> str:
        """What decides which image lands in which split under ``options``, as one string that changes
        whenever the split does; cheap (reads no image), for cache keys and run configs."""
        digest = self.split_hash()
        if digest is not None:
            return f"split sha256:{digest}"
        return f"{'generated by ' if self.generated else ''}{self.id} version {self.version}"


@dataclass(frozen=True)
class PreparedDataset:
    """A dataset's splits loaded from the cache."""

    id: str
    classes: tuple[str, ...]
    splits: dict[str, Split]
    key: str
    meta: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise DabenchError(f"dataset '{self.id}' has no split '{name}'; it has {', '.join(self.splits)}")
        return self.splits[name]


def restrict_to_classes(split: Split, own_classes: tuple[str, ...], keep: tuple[str, ...]) -> Split:
    """Drop samples whose class is not in ``keep``; relabel the rest as indices into ``keep``."""
    lookup = np.full(len(own_classes), -1, dtype=np.int64)
    for new_index, name in enumerate(keep):
        lookup[own_classes.index(name)] = new_index
    mapped = lookup[split.labels]
    mask = mapped >= 0
    if mask.all():
        return Split(split.images, mapped)
    return Split(np.ascontiguousarray(split.images[mask]), mapped[mask])
