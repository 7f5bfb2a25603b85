"""Per-epoch training checkpoints (states + every RNG state) written atomically, so a run killed
part-way resumes from its last finished epoch and ends exactly where an uninterrupted run would."""

from __future__ import annotations

import io
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dabench.store import atomic

FORMAT = 2  # 2: one layout for every loop (dabench.train.loop.fit)
FILENAME = "checkpoint.pt"


def capture_rng(generator: torch.Generator | None) -> dict[str, Any]:
    """Every random state a training loop may draw from, as tensors and plain values (weights_only-safe)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
        "generator": generator.get_state() if generator is not None else None,
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], generator: torch.Generator | None) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state["kind"], numpy_state["keys"].numpy().astype(np.uint32),
                         numpy_state["position"], numpy_state["has_gauss"], numpy_state["cached"]))
    torch.set_rng_state(state["torch"])
    if generator is not None and state.get("generator") is not None:
        generator.set_state(state["generator"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpointer:
    """One training loop's checkpoint file.

    ``save(epoch, **states)`` stores state_dicts (model, optimiser, scheduler), counters and the RNG
    states; ``load()`` restores the RNG states and returns ``(epoch, states)`` (tensors on the CPU),
    or None when there is nothing to resume. ``extra`` is a (get, set) pair for state the owner keeps
    beside the loop (the runner's per-epoch history, the context's records).
    """

    def __init__(self, path: Path, generator: torch.Generator | None = None, owner: str = "") -> None:
        self.path = Path(path)
        self.generator = generator
        self.owner = owner  # a checkpoint written for another owner (run id, source spec) is ignored
        self.extra: tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]] | None = None
        self.resumed_from: int | None = None

    def save(self, epoch: int, **states: Any) -> None:
        payload = {"format": FORMAT, "owner": self.owner, "epoch": int(epoch), "states": states,
                   "rng": capture_rng(self.generator), "extra": self.extra[0]() if self.extra else {}}
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        atomic.write_bytes(self.path, buffer.getvalue())

    def load(self) -> tuple[int, dict[str, Any]] | None:
        if not self.path.exists():
            return None
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 -- an unreadable file: start over rather than fail the run
            print(f"dabench: warning: checkpoint {self.path} is unreadable ({type(exc).__name__}); "
                  "starting this run from the beginning", file=sys.stderr)
            return None
        if payload.get("format") != FORMAT or payload.get("owner") != self.owner:
            return None
        restore_rng(payload["rng"], self.generator)
        if self.extra is not None:
            self.extra[1](payload.get("extra") or {})
        self.resumed_from = payload["epoch"]
        return payload["epoch"], payload["states"]
