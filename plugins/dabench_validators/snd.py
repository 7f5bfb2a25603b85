"""``snd``: soft neighbourhood density (Saito et al., "Tune it the Right Way", ICCV 2021,
arXiv 2108.10860); higher is better."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import dabench
from dabench.validators import Validator

TEMPERATURE = 0.05  # the paper's
CHUNK = 1024  # rows of the similarity matrix at a time: memory O(CHUNK x N)


def soft_neighbourhood_density(features: torch.Tensor, logits: torch.Tensor,
                               temperature: float = TEMPERATURE) -> float:
    """logits (N, K): L2-normalised softmax predictions; for each sample, the softmax over its
    similarities to every other sample (divided by ``temperature``, so the mass sits on its nearest
    neighbours); the score is the mean entropy of those distributions. A dense neighbourhood (many
    close neighbours, a well-clustered target) gives a high score.

    The paper's reference code masks the self-similarity and uses the softmax outputs as features;
    so does this. Rows are processed in chunks.
    """
    normalised = F.normalize(torch.softmax(logits.float(), dim=1), dim=1)
    count = len(normalised)
    if count < 2:
        return 0.0
    total = normalised.new_zeros(())
    for start in range(0, count, CHUNK):
        rows = normalised[start:start + CHUNK]
        similarity = rows @ normalised.T / temperature  # (chunk, N)
        own = torch.arange(start, start + len(rows), device=similarity.device)
        similarity[torch.arange(len(rows), device=similarity.device), own] = float("-inf")
        log_probs = torch.log_softmax(similarity, dim=1)
        probs = log_probs.exp()
        total += -(probs * log_probs.nan_to_num(neginf=0.0)).sum()
    return float(total / count)


SND = Validator("snd", soft_neighbourhood_density, higher_is_better=True,
                description="soft neighbourhood density of the predictions, temperature 0.05 (higher is better)",
                paper="Saito et al., ICCV 2021, arXiv 2108.10860")


@dabench.hookimpl
def register_validators(register) -> None:
    register(SND)
