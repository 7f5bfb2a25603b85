"""NRC's per-epoch neighbour search as the reference code does it, the baseline for
benchmarks/test_knn.py: banks on the CPU; for each batch of 64 the batch-vs-bank distances (over an
epoch, the full N x N distance matrix), top-(K+1), then each neighbour's own top-(KK+1) by a
B x K x N bmm against the expanded bank, and the reciprocity match. Reimplemented from a reading of
the public code (its own indexing: the first hit is taken to be the sample itself)."""

from __future__ import annotations

import torch


def reference_epoch_search(fea_bank: torch.Tensor, k: int, kk: int, batch_size: int = 64
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """fea_bank (N, D) L2-normalised on the CPU -> near (N, K), weight (N, K), near_near (N, K, KK)."""
    nears, weights, near_nears = [], [], []
    for start in range(0, len(fea_bank), batch_size):
        tar_idx = torch.arange(start, min(start + batch_size, len(fea_bank)))
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
