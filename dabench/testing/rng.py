"""The conformance kit's watch on the global random generators: a method draws from ``ctx.generator`` only,
so torch's, NumPy's and Python's global states are where ``adapt`` found them; when one moved, a second
watched run names the first torch call that moved it and the line of plugin code that made it."""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

OTHER_GLOBAL_SEED = 7919  # added to the seed: the global RNGs of the kit's second run start elsewhere
_TORCH_DIR = str(Path(torch.__file__).resolve().parent)
_THIS_FILE = str(Path(__file__).resolve())


def global_states() -> dict[str, Any]:
    """Every global random state a method could draw from on the CPU, by what a message calls it."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {"torch's global RNG": torch.get_rng_state(),
            "NumPy's global RNG (np.random.*)": (kind, keys.copy(), position, has_gauss, cached),
            "Python's random module": random.getstate()}


def moved(before: dict[str, Any]) -> list[str]:
    """The names of the global generators whose state differs from ``before``."""
    after = global_states()
    return [name for name, state in before.items() if not _same(state, after[name])]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return bool(a == b)


class FirstGlobalDraw(TorchFunctionMode):
    """Inside this mode, ``found`` becomes the first outermost torch call after which torch's global RNG
    state differs, as ``"<call> at <file>:<line>"`` (the first frame of code outside torch), or stays None."""

    def __init__(self) -> None:
        super().__init__()
        self.found: str | None = None
        self._depth = 0

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if self.found is not None or self._depth:  # found already, or a call inside a watched call
            return func(*args, **(kwargs or {}))
        state = torch.get_rng_state()
        self._depth += 1
        try:
            result = func(*args, **(kwargs or {}))
        finally:
            self._depth -= 1
        if not torch.equal(state, torch.get_rng_state()):
            self.found = f"{call_name(func)} at {_caller()}"
        return result


def call_name(func: Callable) -> str:
    """How a user wrote the call: ``torch.randperm``, ``Tensor.normal_``, ``torch.nn.init.kaiming_uniform_``."""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
    module = getattr(func, "__module__", None)
    if name.startswith("TensorBase."):
        return "Tensor." + name.removeprefix("TensorBase.")
    if name.startswith("_VariableFunctionsClass."):
        name = name.removeprefix("_VariableFunctionsClass.")
    return f"{module}.{name}" if module else name


def _caller() -> str:
    for frame in reversed(traceback.extract_stack()[:-2]):
        path = str(Path(frame.filename).resolve())
        if not path.startswith(_TORCH_DIR) and path != _THIS_FILE:
            return f"{frame.filename}:{frame.lineno}"
    return "an unknown place"


def global_rng_message(method_id: str, generators: list[str], route: str | None) -> str:
    """The conformance failure for a method that drew from (or reseeded) a global random generator."""
    where = f" (first: {route})" if route else ""
    return (f"{method_id} drew from (or reseeded) {' and '.join(generators)} during adapt(){where}. Its draws then depend on "
            f"whatever drew before it in the process (the runner, another plugin, a cached or a freshly trained "
            f"source model), not on the run's seed alone. Draw from ctx.generator (torch.randperm(n, "
            f"generator=ctx.generator), torch.nn.init.normal_(w, generator=ctx.generator)); for what takes no "
            f"generator (dropout, building a module), fork the global RNG from it: with torch.random.fork_rng(): "
            f"torch.manual_seed(int(torch.randint(2**62, (1,), generator=ctx.generator))); ...")


def global_state_message(method_id: str, seed: int, mismatch: int, n: int) -> str:
    """The conformance failure for a method whose result follows the global RNG states it did not move."""
    return (f"{method_id} depends on the global RNG state it starts from: with the same ctx.generator seed {seed}, a "
            f"run whose torch, NumPy and Python global RNGs were seeded otherwise disagrees on {mismatch}/{n} "
            f"predictions (a run from the same global state agrees). It reads global randomness without drawing from "
            f"it (e.g. draws inside torch.random.fork_rng() that is not seeded from ctx.generator, or "
            f"torch.initial_seed()); seed every random thing from ctx.generator")
