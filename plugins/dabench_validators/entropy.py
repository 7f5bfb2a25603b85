"""``entropy``: mean prediction entropy on target train images; lower is better (confident model)."""

from __future__ import annotations

import torch

import dabench
from dabench.train.losses import entropy
from dabench.validators import Validator


def mean_entropy(features: torch.Tensor, logits: torch.Tensor) -> float:
    """Mean over samples of H(softmax(logits)) in nats, the entropy the methods minimise
    (:func:`dabench.train.losses.entropy`); logits (N, K)."""
    return float(entropy(torch.softmax(logits.float(), dim=1)).mean())


ENTROPY = Validator("entropy", mean_entropy, higher_is_better=False,
                    description="mean prediction entropy (lower is better)",
                    paper="Morerio et al., ICLR 2018 (minimal-entropy correlation alignment)")


@dabench.hookimpl
def register_validators(register) -> None:
    register(ENTROPY)
