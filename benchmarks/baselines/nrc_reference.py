"""NRC's per-epoch neighbour search as the reference code does it, the baseline for
benchmarks/test_knn.py: banks on the CPU; for each batch of 64 the batch-vs-bank distances (over an
epoch, the full N x N distance matrix), top-(K+1), then each neighbour's own top-(KK+1) by a
B x K x N bmm against the expanded bank, and the reciprocity match. Reimplemented from a reading of
the public code (its own indexing: the first hit is taken to be the sample itself)."""

from __future__ import annotations

import torch


def reference_epoch_search(fea_bank: torch.Tensor, k: int, kk: int, batch_size: int = 64,
                           order: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """fea_bank (N, D) L2-normalised on the CPU -> near (N, K), weight (N, K), near_near (N, K, KK),
    the rows taken in ``order`` (default: 0..N-1) by batches of ``batch_size``."""
    order = torch.arange(len(fea_bank)) if order is None else order
    nears, weights, near_nears = [], [], []
    for start in range(0, len(order), batch_size):
        tar_idx = order[start:start + batch_size]
        output_f_ = fea_bank[tar_idx]
        distance = output_f_ @ fea_bank.T
        _, idx_near = torch.topk(distance, dim=-1, largest=True, k=k + 1)
        idx_near = idx_near[:, 1:]
        fea_near = fea_bank[idx_near]
        fea_bank_re = fea_bank.unsqueeze(0).expand(fea_near.shape[0], -1, -1)
        distance_ = torch.bmm(fea_near, fea_bank_re.permute(0, 2, 1))
        _, idx_near_near = torch.topk(distance_, dim=-1, largest=True, k=kk + 1)
        idx_near_near = idx_near_near[:, :, 1:]
        match = (idx_near_near == tar_idx[:, None, None]).sum(-1).float()
        weight = torch.where(match > 0.0, match, torch.ones_like(match).fill_(0.1))
        nears.append(idx_near)
        weights.append(weight)
        near_nears.append(idx_near_near)
    return torch.cat(nears), torch.cat(weights), torch.cat(near_nears)


def reference_aad_epoch_search(fea_bank: torch.Tensor, k: int, order: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """AaD's per-batch search as its reference writes it: batch x N distances on the CPU bank, then
    top-(K+1) with the first hit (the sample itself) dropped; near (len(order), K)."""
    nears = []
    for start in range(0, len(order), batch_size):
        distance = fea_bank[order[start:start + batch_size]] @ fea_bank.T
        nears.append(torch.topk(distance, dim=-1, largest=True, k=k + 1).indices[:, 1:])
    return torch.cat(nears)
