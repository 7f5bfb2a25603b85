"""What a run's networks start from, settled when the run is planned: the input normalisation (its default
follows the weights), the backbone weights file (loaded once to check it, identified by its sha256) and the
source model's ``source.init`` (scratch, ssl: SwAV on the source train images first, weights)."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

from dabench.errors import DabenchError
from dabench.host.registry import Pair, Registry
from dabench.settings import config as cfg
from dabench.settings.recipes import SSLRecipe
from dabench.weights import file_sha256

DEFAULT_NORMALIZATION = "dabench"


def resolve_start(registry: Registry, pair: Pair, resolved: dict[str, Any]) -> dict[str, Any]:
    """Settle ``normalization`` and ``source.init`` in ``resolved`` (in place; each left out at its old
    neutral value, so a run from scratch keeps its id) and return the config entries they add: the weights
    file's ``backbone_weights_sha256`` and, under source.init=ssl, the ``source_ssl`` recipe."""
    weights = resolved["backbone_weights"]
    added: dict[str, Any] = {}
    cfg.build_dataclass(cfg.SupervisedRecipe, resolved["source"], "source recipe")  # its values, before any is dropped
    normalization = resolved.get("normalization") or ("imagenet" if weights else DEFAULT_NORMALIZATION)
    if normalization == DEFAULT_NORMALIZATION:
        resolved.pop("normalization", None)
    else:
        resolved["normalization"] = normalization
    if weights:
        check_weights(registry, resolved["backbone"], weights)
        added["backbone_weights_sha256"] = file_sha256(weights)
    source = resolved["source"]
    init = source.get("init") or ("weights" if weights else "scratch")
    if init == "weights" and not weights:
        raise DabenchError("source.init=weights needs a weights file: add --set backbone_weights=PATH (a local "
                           "file; dabench downloads nothing), or use source.init=scratch or ssl")
    if init == "scratch" and weights:
        raise DabenchError(f"source.init=scratch contradicts backbone_weights={weights}: the source backbone would "
                           "ignore the file; drop one of the two (source.init=weights or ssl use the file)")
    if init == "scratch":
        source.pop("init", None)
    else:
        source["init"] = init
    if init == "ssl":
        recipe = source_ssl_recipe(registry, pair.source, source.get("ssl_epochs"))
        from dabench.train.ssl import check_backbone  # torch: imported once a run needs it

        check_backbone(registry.backbone(resolved["backbone"]), recipe, resolved["image_size"])
        added["source_ssl"] = dataclasses.asdict(recipe)
    if init != "ssl" or source.get("ssl_epochs") is None:
        source.pop("ssl_epochs", None)
    return added


def source_ssl_recipe(registry: Registry, dataset: str, epochs: int | None = None) -> SSLRecipe:
    """source.init=ssl's SwAV recipe: the one a run targeting ``dataset`` uses by default (the dataset's
    ``ssl_defaults``), with ``source.ssl_epochs`` when set; so both share one cached SSL artifact."""
    values = {**dataclasses.asdict(SSLRecipe()), **registry.dataset(dataset).ssl_defaults}
    if epochs is not None:
        values["epochs"] = epochs
    return cfg.build_dataclass(SSLRecipe, values, "source SSL recipe")


def normalization_of(config: dict[str, Any]) -> str:
    return config.get("normalization") or DEFAULT_NORMALIZATION


def check_weights(registry: Registry, backbone: str, weights: str) -> None:
    """Build ``backbone`` from ``weights`` once per file version: a file of another layout or architecture is
    refused when the run is planned, before anything is written."""
    _checked(registry.backbone(backbone), str(Path(weights)), file_sha256(weights))


@functools.lru_cache(maxsize=8)
def _checked(backbone: Any, weights: str, sha256: str) -> bool:
    backbone.build(Path(weights))
    return True
