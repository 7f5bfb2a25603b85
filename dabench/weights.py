"""Reading a local file of pretrained backbone weights in the layouts people have (docs/pretrained-weights.md):
a bare state dict (torchvision's ImageNet file), a checkpoint dict holding one under ``state_dict``, ``model``
or ``model_state_dict`` (the MS-Celeb ``resnet18_msceleb.pth`` of FER papers), ``module.`` prefixes
(DataParallel), a classifier head of any size (dropped). Anything else is refused with one message."""

from __future__ import annotations

import functools
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from dabench.errors import DabenchError
from dabench.store import atomic

LFS_POINTER = b"version https://git-lfs"
WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")  # checkpoint dicts: where the weights sit
PREFIXES = ("module.",)  # DataParallel / DistributedDataParallel


def file_sha256(path: str | Path) -> str:
    """The file's sha256, computed once per (path, size, mtime)."""
    stat = os.stat(path)
    return _sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return atomic.sha256_file(Path(path))


def read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(the tensors of ``path`` by name, with wrappers and ``module.`` prefixes removed; what was done, in words)."""
    path = Path(path)
    if not path.is_file():
        raise DabenchError(f"backbone_weights {path}: no such file")
    with open(path, "rb") as handle:
        head = handle.read(len(LFS_POINTER))
    if head == LFS_POINTER:
        raise DabenchError(f"backbone_weights {path} is a Git LFS pointer ({path.stat().st_size} bytes of text), "
                           "not the weights: fetch the file itself (`git lfs pull` in its repository) and pass that")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; each becomes one message
        raise DabenchError(f"backbone_weights {path} cannot be read: {_why_unreadable(path, head, exc)}") from None
    notes: list[str] = []
    if isinstance(loaded, dict) and not _is_state_dict(loaded):
        for key in WRAPPER_KEYS:
            if isinstance(loaded.get(key), dict) and _is_state_dict(loaded[key]):
                loaded = loaded[key]
                notes.append(f"weights read from the checkpoint's '{key}' entry")
                break
    if not isinstance(loaded, dict) or not loaded or not _is_state_dict(loaded):
        raise DabenchError(f"backbone_weights {path} holds no state dict ({_describe(loaded)}); dabench reads a "
                           f"dict of tensors by parameter name, or a checkpoint dict holding one under "
                           f"{', '.join(repr(k) for k in WRAPPER_KEYS)}")
    state = {str(k): v for k, v in loaded.items()}
    for prefix in PREFIXES:
        if all(key.startswith(prefix) for key in state):
            state = {key[len(prefix):]: value for key, value in state.items()}
            notes.append(f"prefix '{prefix}' removed from every key")
    return state, notes


def load_into(net: nn.Module, path: Path, architecture: str, head: tuple[str, ...] = ("fc.",),
              log: Callable[[str], None] | None = None) -> list[str]:
    """Load ``path`` into ``net`` (every parameter and buffer must be found with its shape); keys under ``head``
    (the file's classifier, of any size) are dropped. Returns what was done, in words (also sent to ``log``)."""
    state, notes = read_state_dict(path)
    dropped = sorted(key for key in state if key.startswith(head))
    if dropped:
        shapes = ", ".join(f"{key} {tuple(state[key].shape)}" for key in dropped)
        notes.append(f"classifier head dropped ({shapes})")
    state = {key: value for key, value in state.items() if not key.startswith(head)}
    wanted = {key: value.shape for key, value in net.state_dict().items() if not key.startswith(head)}
    missing = [key for key in wanted if key not in state]
    unexpected = [key for key in state if key not in wanted]
    misshapen = [f"{key} {tuple(state[key].shape)} (wanted {tuple(shape)})" for key, shape in wanted.items()
                 if key in state and tuple(state[key].shape) != tuple(shape)]
    if missing or unexpected or misshapen:
        found = []
        if missing:
            found.append(f"missing {', '.join(missing[:3])}")
        if unexpected:
            found.append(f"unexpected {', '.join(unexpected[:3])}")
        if misshapen:
            found.append(f"wrong shape {', '.join(misshapen[:3])}")
        raise DabenchError(f"backbone_weights {path} is not a {architecture} state dict: {'; '.join(found)} "
                           f"(of {len(state)} keys in the file, {len(wanted)} in {architecture}); pass weights of "
                           f"this architecture, or the --backbone they were trained for")
    net.load_state_dict(state, strict=False)  # strict on everything but the head, checked above
    notes.append(f"{len(wanted)} tensors loaded into {architecture} from {path.name}")
    for note in notes:
        if log is not None:
            log(f"backbone_weights: {note}")
    return notes


def _is_state_dict(value: dict) -> bool:
    return bool(value) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def _describe(value: object) -> str:
    if isinstance(value, dict):
        keys = list(value)[:5]
        return f"a dict with keys {', '.join(repr(k) for k in keys)}" if keys else "an empty dict"
    return f"a {type(value).__name__}"


def _why_unreadable(path: Path, head: bytes, exc: Exception) -> str:
    """One line; never torch's advice to load with ``weights_only=False`` (which runs the file's code)."""
    complete_archive = zipfile.is_zipfile(path)
    if head.startswith(b"PK") and not complete_archive:
        return "a torch archive that is truncated or corrupt (download it again)"
    if complete_archive or head[:1] == b"\x80":
        if isinstance(exc, EOFError) or "EOF" in str(exc) or "truncated" in str(exc):
            return "a torch file that ends early: truncated (download it again)"
        if isinstance(exc, pickle.UnpicklingError):
            return ("a pickle of more than tensors and plain values, such as a whole pickled model (dabench loads "
                    "weights only); save its state_dict() and pass that")
        return f"a torch file torch cannot read ({type(exc).__name__})"
    return "not a torch file of tensors (torch.save of a state dict)"
