"""`dabench list <kind>` shows each description's first paragraph on one line, cut (when it is long) after a
sentence or at a word boundary outside any parenthesis, never in the middle of one."""

from __future__ import annotations

import random

import pytest

from dabench.cli.listing import KINDS, SUMMARY_WIDTH, summary_of
from dabench.host.registry import get_registry


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += (char in "([{") - (char in ")]}")
        if depth < 0:
            return False
    return depth == 0


def _check(text: str, width: int) -> str:
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    shown = summary_of(text, width)
    if len(paragraph) <= width:
        assert shown == paragraph
        return shown
    kept = shown.rstrip(")]}").removesuffix(" …") if " …" in shown else shown
    assert len(kept) <= width or " " not in kept, shown  # only a first word longer than the width goes past it
    assert paragraph.startswith(kept), shown
    assert paragraph[len(kept):].lstrip(",;:-")[:1] in (" ", ""), shown  # ends at a word (or sentence) boundary
    assert " …" in shown or kept.endswith(".") or paragraph[len(kept)] == ";", shown  # else a whole sentence
    if _balanced(paragraph):
        assert _balanced(shown), shown
    return shown


def test_every_registered_description_is_cut_outside_parentheses() -> None:
    registry = get_registry()
    checked = 0
    for kind in KINDS:
        table = getattr(registry, kind, None)
        if not isinstance(table, dict):
            continue
        for item in table.values():
            text = getattr(item, "description", "") or (getattr(item, "__doc__", "") or "")
            _check(text, SUMMARY_WIDTH)
            checked += 1
    assert checked > 20
    # the three cut mid-parenthesis before
    assert summary_of(registry.methods["tent"].__doc__) == "Tent: Fully Test-Time Adaptation by Entropy Minimization …"
    assert summary_of(registry.methods["source_only"].__doc__) == (
        "The source model evaluated on the target as is; no target image is used.")


@pytest.mark.parametrize("seed", range(20))
def test_generated_descriptions_at_every_width(seed: int) -> None:
    """Texts nobody wrote here: words, nested parentheses, sentences, docstring line breaks, cut at widths
    from tiny to wide."""
    rng = random.Random(seed)
    words = []
    for _ in range(rng.randint(5, 60)):
        word = "".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.15:
            word = "(" + word
        if rng.random() < 0.15:
            word += rng.choice(".;,:")
        words.append(word)
    opened = sum(w.count("(") for w in words)
    for _ in range(opened):  # close each parenthesis somewhere after it
        index = rng.randint(0, len(words) - 1)
        words[index] += ")"
    text = "\n    ".join(" ".join(words[i:i + 7]) for i in range(0, len(words), 7)) + "\n\nA second paragraph."
    for width in range(8, 140, 7):
        _check(text, width)
