"""``info_max``: information maximisation, H(mean prediction) - mean H(prediction); higher is better
(confident per sample, diverse over the set; SHOT's IM objective with the sign flipped)."""

from __future__ import annotations

import torch

import dabench
from dabench.train.losses import information_maximization
from dabench.validators import Validator


def information_maximisation(features: torch.Tensor, logits: torch.Tensor) -> float:
    """logits (N, K) -> H(mean_i p_i) - mean_i H(p_i), in nats: exactly minus SHOT's IM loss
    (:func:`dabench.train.losses.information_maximization`, with its epsilon)."""
    return float(-information_maximization(torch.softmax(logits.float(), dim=1)))


INFO_MAX = Validator("info_max", information_maximisation, higher_is_better=True,
                     description="information maximisation: diversity minus mean entropy (higher is better)",
                     paper="Liang et al., ICML 2020 (SHOT's IM loss); as a validator: Musgrave et al., 2022")


@dabench.hookimpl
def register_validators(register) -> None:
    register(INFO_MAX)
