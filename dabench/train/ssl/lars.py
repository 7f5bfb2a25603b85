"""LARS (You et al., arXiv 1708.03888) as official SwAV runs it: apex's LARC with clip=False around SGD,
each parameter's lr scaled by its trust ratio; optionally leaving 1-d parameters (biases, BatchNorm) alone."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

TRUST_COEFFICIENT = 0.001  # official SwAV's LARC(trust_coefficient=0.001)


class LARS(torch.optim.SGD):
    """SGD with momentum whose update of each adapted parameter w is lr * eta * ||w|| / (||g|| + wd ||w|| + eps)
    times (g + wd w), the momentum running over those scaled gradients (apex LARC, clip=False).

    A parameter with ||w|| = 0 or ||g|| = 0 gets plain SGD without weight decay (as in apex). With
    ``exclude_1d`` (SimCLR/BYOL's LARS) biases and BatchNorm parameters, every parameter of one dimension
    or none, are left out of the adaptation and of weight decay: plain momentum SGD. Without it every
    parameter is adapted and decayed, which is what official SwAV's main_swav.py does.

    Norms and ratios stay on the parameters' device (``torch.where``, no ``if`` on a tensor), so a step
    never waits for the GPU. The state (momentum buffers) is SGD's, so ``state_dict`` round-trips.
    """

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 trust_coefficient: float = TRUST_COEFFICIENT, eps: float = 1e-8, exclude_1d: bool = True) -> None:
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        self.trust_coefficient = trust_coefficient
        self.eps = eps
        self.exclude_1d = exclude_1d

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        if closure is not None:
            raise ValueError("LARS.step takes no closure: it rescales the gradients already computed")
        decays = [group["weight_decay"] for group in self.param_groups]
        try:
            for group, decay in zip(self.param_groups, decays):
                group["weight_decay"] = 0.0  # folded into the adapted gradients below, as LARC does
                for param in group["params"]:
                    if param.grad is None or (self.exclude_1d and param.ndim <= 1):
                        continue
                    param_norm = torch.linalg.vector_norm(param)
                    grad_norm = torch.linalg.vector_norm(param.grad)
                    usable = (param_norm > 0) & (grad_norm > 0)
                    ratio = self.trust_coefficient * param_norm / (grad_norm + decay * param_norm + self.eps)
                    param.grad.addcmul_(param, torch.where(usable, decay, 0.0).to(param.dtype))
                    param.grad.mul_(torch.where(usable, ratio, 1.0).to(param.grad.dtype))
            return super().step()
        finally:
            for group, decay in zip(self.param_groups, decays):
                group["weight_decay"] = decay
