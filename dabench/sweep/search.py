"""Hyperparameter search for sweeps: ``--grid KEY=V1,V2`` (every combination of the listed values) and
``--random N`` (N draws from those values). A draw is seeded by (method, key, trial), DomainBed's rule:
adding a method, a key or a trial never moves another's draws. Each point is a set of ``--set``
assignments, so each becomes its own leaderboard row (its settings name it) and its runs keep their
label-free validator scores, by which `dabench report search` picks among them; target-test accuracy is
never the criterion."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Callable

from dabench.errors import DabenchError

Grid = dict[str, list[str]]  # key -> its values as written (each parsed as YAML later, like --set)
Point = tuple[str, ...]  # ("lr=0.01", "epochs=5")


def parse_grid(entries: tuple[str, ...] | list[str]) -> Grid:
    """``("lr=0.01,0.001", "epochs=5,10")`` -> ``{"lr": ["0.01", "0.001"], "epochs": ["5", "10"]}``."""
    grid: Grid = {}
    for entry in entries:
        key, equals, raw = entry.partition("=")
        key = key.strip()
        values = [value.strip() for value in raw.split(",")]
        if not equals or not key:
            raise DabenchError(f"--grid '{entry}': write it as KEY=V1,V2, e.g. --grid lr=0.01,0.001")
        if any(value == "" for value in values):
            raise DabenchError(f"--grid '{entry}': an empty value; list values separated by commas, "
                               "e.g. --grid lr=0.01,0.001")
        if key in grid:
            raise DabenchError(f"--grid {key} given twice; list all of its values in one --grid {key}=V1,V2")
        if len(set(values)) != len(values):
            raise DabenchError(f"--grid '{entry}': a value is listed twice")
        grid[key] = values
    return grid


def grid_points(grid: Grid) -> list[Point]:
    """Every combination, in the order the keys and values were given."""
    if not grid:
        return [()]
    keys = list(grid)
    return [tuple(f"{key}={value}" for key, value in zip(keys, combo, strict=True))
            for combo in itertools.product(*(grid[key] for key in keys))]


def random_points(grid: Grid, trials: int, method: str) -> list[Point]:
    """``trials`` draws for ``method``: trial t's value of each key drawn uniformly from its values by a
    generator seeded with (method, key, t). Draws that repeat an earlier trial are kept once."""
    if trials < 1:
        raise DabenchError(f"--random {trials}: give the number of draws, 1 or more")
    if not grid:
        raise DabenchError("--random N draws from the values of --grid KEY=V1,V2; give at least one --grid")
    points = []
    for trial in range(trials):
        points.append(tuple(f"{key}={_draw(values, method, key, trial)}" for key, values in grid.items()))
    return list(dict.fromkeys(points))


def _draw(values: list[str], method: str, key: str, trial: int) -> str:
    digest = hashlib.sha256(f"{method}\0{key}\0{trial}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big")).choice(values)


def points_for(grid: Grid, trials: int, method: str, applies: Callable[[str], bool]) -> list[Point]:
    """The search points of one method: the keys it has (``applies``), as a grid or ``trials`` random draws
    (0: the whole grid). A key the method lacks is left out of its points, as ``--set`` leaves it."""
    own = {key: values for key, values in grid.items() if applies(key)}
    return random_points(own, trials, method) if trials and own else grid_points(own)


def unused_keys(grid: Grid, methods: list[str], applies: Callable[[str, str], bool]) -> list[str]:
    """The grid keys no method of the sweep has (an error: a typo would otherwise search nothing)."""
    return [key for key in grid if not any(applies(method, key) for method in methods)]
