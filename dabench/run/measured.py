"""Estimates from your own finished runs (``--estimate-for index``): the adaptation stage's seconds per
training pass, measured on finished runs of this machine's device with the same method, backbone, image
size and batch size. Only the adaptation stage is estimated this way: a run's other stage times mix
building with reusing a cached artifact (a reused source model takes a second), so they are not rates."""

from __future__ import annotations

from typing import Any

import yaml

from dabench.run.cost import Sizes, Stage, adaptation_stage
from dabench.store import results

KIND = "index"


def adaptation_key(method: str, config: dict[str, Any]) -> tuple[Any, ...]:
    return (method, config.get("backbone"), config.get("image_size"), config.get("batch_size"))


def measured_profile(device: str) -> dict[str, Any]:
    """{"kind": "index", "device", "rates": {adaptation key: seconds per training pass}, "runs": {key: count}}
    from the finished runs in the index that ran on ``device`` (as result.json names it, e.g. ``cuda:NVIDIA H200``)."""
    seconds: dict[tuple[Any, ...], float] = {}
    passes: dict[tuple[Any, ...], int] = {}
    runs: dict[tuple[Any, ...], int] = {}
    for result in results.load_results():
        timings = result.get("timings") or {}
        if result.get("device") != device or "adapt" not in timings or "target_train_size" not in result:
            continue
        config = _config(result["run_id"])
        if config is None:
            continue
        sizes = Sizes(result["target_train_size"], result.get("target_test_size") or 0, True, "result.json")
        stage = adaptation_stage(result["method"], config, sizes.train, sizes)
        if not stage.train_passes:
            continue
        key = adaptation_key(result["method"], config)
        # the network a method builds (init=ssl: the SSL backbone, maybe trained now) is timed inside adapt
        seconds[key] = seconds.get(key, 0.0) + timings["adapt"] - timings.get("method.initial_model", 0.0)
        passes[key] = passes.get(key, 0) + stage.train_passes
        runs[key] = runs.get(key, 0) + 1
    return {"kind": KIND, "name": KIND, "device": device, "runs": runs,
            "rates": {key: seconds[key] / passes[key] for key in seconds}}


def measured_seconds(stage: Stage, method: str, config: dict[str, Any], profile: dict[str, Any]) -> float | None:
    if stage.name != "adaptation" or stage.train_passes is None:
        return None
    if not stage.train_passes:
        return 0.0
    rate = profile["rates"].get(adaptation_key(method, config))
    return None if rate is None else stage.train_passes * rate


def _config(run_id: str) -> dict[str, Any] | None:
    path = results.run_dir(run_id) / "config.yaml"
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, dict) else None
