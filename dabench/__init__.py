"""dabench: benchmark source-free unsupervised domain adaptation for facial expression recognition."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("dabench")

__all__ = ["__version__", "hookimpl"]


def _install_moved_paths() -> None:
    from dabench.host import moved

    moved.install()


_install_moved_paths()
