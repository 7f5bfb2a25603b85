"""Planning a sweep: methods x pairs x seeds as checked run plans, each with the ``RunRequest`` a worker
(another process, another machine) rebuilds it from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dabench.data.identity import remembered_identities
from dabench.errors import DabenchError
from dabench.host.registry import Registry
from dabench.run.plan import RunPlan, plan_run
from dabench.settings import config as cfg
from dabench.sweep import search


@dataclass(frozen=True)
class RunRequest:
    """What a worker (another process, another machine) needs to rebuild a run's plan."""

    method: str
    pair: str
    seed: int
    backbone: str | None
    sets: tuple[str, ...]
    run_id: str
    force: bool = False  # rerun it even if done (sweep --rerun-changed: its method's code changed since)
    preset: str | None = None  # --preset NAME: a reference's recipe layered under the sets

    @property
    def label(self) -> str:
        return f"{self.method} {self.pair} seed {self.seed}"


def parse_seeds(text: str) -> list[int]:
    """``0,1,2`` or ``0-4`` (inclusive) or a mix."""
    seeds: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            low, _, high = part.partition("-")
            seeds.extend(range(int(low), int(high) + 1) if high else [int(low)])
    except ValueError:
        raise DabenchError(f"--seeds '{text}': write seeds as 0,1,2 or 0-4") from None
    if not seeds:
        raise DabenchError("--seeds is empty; write seeds as 0,1,2 or 0-4")
    return list(dict.fromkeys(seeds))


def split_list(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def plan_sweep(registry: Registry, methods: list[str], pairs: list[str], seeds: list[int],
               backbone: str | None = None, sets: tuple[str, ...] = (),
               config_files: tuple[Path, ...] = (), grid: tuple[str, ...] = (),
               trials: int = 0, preset: str | None = None) -> list[tuple[RunPlan, RunRequest]]:
    """Every (method, pair, seed, search point) planned and checked before anything runs; all bad names in
    one error.

    A ``--set`` of a method hyperparameter applies to the methods that have it (``epochs=3`` leaves
    source_only alone); a key that no method of the sweep and no run setting knows is an error. ``grid``
    (``--grid KEY=V1,V2``) and ``trials`` (``--random N``): the search points of dabench.sweep.search, each
    method getting the keys it has.
    """
    _check_names(registry, methods, pairs)
    layers = tuple(file_as_sets(path) for path in config_files)
    all_sets = tuple(s for layer in layers for s in layer) + tuple(sets)
    per_method = {name: _sets_for(registry, name, all_sets) for name in methods}
    used = {s for chosen in per_method.values() for s in chosen}
    unused = [s for s in all_sets if s not in used]
    if unused:
        raise DabenchError(f"--set {', '.join(unused)}: no method of this sweep has that key, nor is it a run "
                           f"setting; run settings: {', '.join(sorted(cfg.RUN_DEFAULTS))}; method keys: "
                           + "; ".join(f"{m}: {', '.join(sorted(registry.method(m).hparam_defaults())) or '-'}"
                                       for m in methods))
    points = _search_points(registry, methods, grid, trials)
    planned = []
    with remembered_identities():  # each dataset folder listed once, not once per run
        for name in methods:
            for point in points[name]:
                chosen = per_method[name] + point
                for pair in pairs:
                    for seed in seeds:
                        plan = plan_run(registry, name, pair, seed, backbone, (), chosen, preset=preset)
                        planned.append((plan, RunRequest(plan.method.id, str(plan.pair), seed, backbone, chosen,
                                                         plan.run_id, preset=preset)))
    return planned


def _search_points(registry: Registry, methods: list[str], entries: tuple[str, ...], trials: int,
                   ) -> dict[str, list[tuple[str, ...]]]:
    """Each method's search points (``[()]``: no search); a grid key no method has is an error."""
    grid = search.parse_grid(entries)
    unused = search.unused_keys(grid, methods, lambda method, key: _has_key(registry, method, key))
    if unused:
        raise DabenchError(f"--grid {', '.join(unused)}: no method of this sweep has that key, nor is it a run setting")
    return {name: search.points_for(grid, trials, name, lambda key, m=name: _has_key(registry, m, key))
            for name in methods}


def file_as_sets(path: Path) -> tuple[str, ...]:
    """A ``-c`` file as ``key=<json>`` assignments, so workers on other machines need not read the file."""
    return tuple(f"{key}={json.dumps(value)}" for key, value in cfg.load_file(path).items())


def _check_names(registry: Registry, methods: list[str], pairs: list[str]) -> None:
    """At least one method and one pair, and every one of them known: all the bad ones named in one error."""
    if not methods:
        raise DabenchError("the sweep names no method; pass --methods a,b (see `dabench list methods`)")
    if not pairs:
        raise DabenchError("the sweep names no pair; pass --suite NAME or --pairs S:T,S:T")
    bad_methods = [f"method '{name}'" for name in methods if registry.aliases.get(name, name) not in registry.methods]
    bad_pairs = []
    for text in pairs:
        try:
            registry.pair(text)
        except DabenchError as exc:
            bad_pairs.append(f"pair '{text}' ({exc})")
    if bad_methods or bad_pairs:
        hints = ([f"valid methods: {', '.join(sorted(registry.methods))}"] if bad_methods else []) + \
                (["valid pairs: `dabench list pairs`"] if bad_pairs else [])
        raise DabenchError(f"the sweep names {len(bad_methods) + len(bad_pairs)} unknown or invalid item(s): "
                           f"{'; '.join(bad_methods + bad_pairs)}. Nothing was run; {'; '.join(hints)}")


def _has_key(registry: Registry, method: str, key: str) -> bool:
    """Whether ``key`` (``epochs``, ``source.epochs``) is a run setting or one of ``method``'s hyperparameters."""
    top = key.split(".")[0].strip()
    return top in cfg.RUN_DEFAULTS or top in registry.method(method).hparam_defaults()


def _sets_for(registry: Registry, method: str, sets: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(s for s in sets if _has_key(registry, method, s.split("=", 1)[0]))
