"""Sweeps: plan the runs (and their search points), execute them through a launcher, track their state."""

from __future__ import annotations


def __getattr__(name: str) -> object:  # 0.1's dabench.sweep module; see dabench.host.moved
    from dabench.host import moved

    return moved.package_getattr(__name__, name)
