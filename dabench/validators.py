"""Label-free model selection: a validator scores a model from its outputs on unlabelled target *train*
images (one ``extract`` pass over a fixed subsample per epoch); reports pick the epoch it prefers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from dabench.errors import blame_plugin
from dabench.models import ClassifierNet
from dabench.train.features import extract

MAX_IMAGES = 2000  # the per-epoch subsample: enough for a stable score, one cheap inference pass


@dataclass(frozen=True)
class Validator:
    """A registered criterion.

    ``score(features, logits)``: features (N, 256) bottleneck, logits (N, K), both float32 from one
    eval-mode pass over unlabelled target train images -> one float. ``higher_is_better`` says which
    way it selects. ``id`` is lower_snake; it names the criterion in ``--selection``.
    """

    id: str
    score: Callable[[torch.Tensor, torch.Tensor], float]
    higher_is_better: bool
    description: str = ""
    paper: str = ""

    def best(self, scores: list[float]) -> int:
        """Index of the preferred score (the earliest on ties)."""
        if not scores:
            raise ValueError("no scores to choose from")
        sign = 1.0 if self.higher_is_better else -1.0
        return max(range(len(scores)), key=lambda i: (sign * scores[i], -i))


def fixed_subsample(count: int, seed: int, limit: int = MAX_IMAGES) -> torch.Tensor:
    """Sorted indices of at most ``limit`` of ``count`` images, drawn by their own generator so that
    computing validators never moves a method's random draws."""
    if count <= limit:
        return torch.arange(count)
    generator = torch.Generator().manual_seed(1_000_003 + seed)
    return torch.randperm(count, generator=generator)[:limit].sort().values


def score_model(model: ClassifierNet, images: torch.Tensor, validators: dict[str, Validator],
                batch_size: int = 512) -> dict[str, float]:
    """Every validator on one pass over ``images`` (M, C, H, W) uint8 (no labels anywhere)."""
    if not validators:
        return {}
    features, logits = extract(model, images, batch_size)
    scores = {}
    for name, validator in sorted(validators.items()):
        with blame_plugin("validator", name, validator):
            scores[name] = float(validator.score(features, logits))
    return scores
