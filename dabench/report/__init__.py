"""Reports beyond the leaderboard (``dabench/report/leaderboard.py``): model selection, per-class results,
plots and exports, all computed from finished run records."""

from __future__ import annotations


def __getattr__(name: str) -> object:  # 0.1's dabench.report module; see dabench.host.moved
    from dabench.host import moved

    return moved.package_getattr(__name__, name)
