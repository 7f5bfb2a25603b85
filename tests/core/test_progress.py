"""Progress bars: shown on a terminal, silent otherwise; the synthetic generator's bar changes nothing."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from dabench.data.synth import generate_faces
from dabench.progress import counter, progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = io.StringIO()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert list(progress(range(3), desc="steps")) == [0, 1, 2]
    with counter(10, "items", unit="face") as bar:
        bar.update(10)
    assert quiet.getvalue() == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with counter(10, "items", unit="face", leave=True) as bar:
        bar.update(10)
    assert "items: 100%" in terminal.getvalue() and "10/10" in terminal.getvalue()


def test_generation_shows_a_bar_and_the_same_faces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    quiet_images, quiet_labels = generate_faces(1200, "wild", 32, seed=3)  # two rendering chunks at 32 px
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    images, labels = generate_faces(1200, "wild", 32, seed=3)
    assert "generating wild faces:" in terminal.getvalue() and "/1200 " in terminal.getvalue()
    np.testing.assert_array_equal(images, quiet_images)
    np.testing.assert_array_equal(labels, quiet_labels)
