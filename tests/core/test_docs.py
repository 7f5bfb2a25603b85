"""docs/writing-plugins.md stays in step with the code it documents."""

from __future__ import annotations

import re
from pathlib import Path

from dabench import hookspecs
from dabench.config import RUN_DEFAULTS

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md"


def test_reserved_run_setting_names_are_the_run_defaults() -> None:
    text = " ".join(GUIDE.read_text().split())
    listed = re.search(r"may be named like a run setting \((.*?): the keys of `dabench\.config\.RUN_DEFAULTS`\)", text)
    assert listed, "the guide no longer lists the reserved run-setting names"
    assert re.findall(r"`(\w+)`", listed.group(1)) == list(RUN_DEFAULTS)  # all of them, in the same order


def test_every_hook_is_in_the_hooks_table() -> None:
    rows = set(re.findall(r"^\| `(register_\w+)\(register\)` \|", GUIDE.read_text(), flags=re.MULTILINE))
    assert rows == {name for name in dir(hookspecs) if name.startswith("register_")}
