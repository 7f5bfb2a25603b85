"""SimCLR's NT-Xent loss (Chen et al., ICML 2020, arXiv 2002.05709): each view must pick its
partner view among all 2B - 1 other views in the batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(first: torch.Tensor, second: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """first, second (B, D) projections of two views of the same B images -> scalar loss.

    Cosine similarities over the 2B views, self-pairs masked out; the target of view i is view
    i + B (mod 2B). Mean cross-entropy over all 2B anchors.
    """
    views = F.normalize(torch.cat([first, second]).float(), dim=1)
    count = len(first)
    similarity = views @ views.T / temperature
    similarity.fill_diagonal_(float("-inf"))
    partner = torch.cat([torch.arange(count, 2 * count), torch.arange(count)]).to(views.device)
    return F.cross_entropy(similarity, partner)
