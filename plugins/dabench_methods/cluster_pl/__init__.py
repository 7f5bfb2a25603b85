"""``cluster_pl`` (alias ``clup``): cluster-level pseudo-labelling on a target-SSL network (CluP)."""

from __future__ import annotations

import dabench
from dabench_methods.cluster_pl.method import ClusterPL, ClusterPLHparams

__all__ = ["ClusterPL", "ClusterPLHparams"]


@dabench.hookimpl
def register_methods(register) -> None:
    register(ClusterPL)
