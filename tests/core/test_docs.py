"""docs/writing-plugins.md stays in step with the code it documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dabench import hookspecs
from dabench.settings.config import RUN_DEFAULTS

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md"


def test_reserved_run_setting_names_are_the_run_defaults() -> None:
    text = " ".join(GUIDE.read_text().split())
    listed = re.search(r"may be named like a run setting \((.*?): the keys of `dabench\.settings\.config\.RUN_DEFAULTS`\)", text)
    assert listed, "the guide no longer lists the reserved run-setting names"
    assert re.findall(r"`(\w+)`", listed.group(1)) == list(RUN_DEFAULTS)  # all of them, in the same order


def test_every_hook_is_in_the_hooks_table() -> None:
    rows = set(re.findall(r"^\| `(register_\w+)\(register\)` \|", GUIDE.read_text(), flags=re.MULTILINE))
    assert rows == {name for name in dir(hookspecs) if name.startswith("register_")}


def test_helper_list_is_generated_from_the_docstrings() -> None:
    from dabench.authoring import docs_helpers

    assert docs_helpers.GUIDE == GUIDE
    committed = docs_helpers.committed_block(GUIDE.read_text())
    assert committed == docs_helpers.render(), (
        f"the helper list in {GUIDE.name} differs from the helpers' signatures and docstrings; "
        f"regenerate it with `{docs_helpers.REGENERATE}` and commit the result")


def test_helper_list_refuses_helpers_without_a_docstring() -> None:
    from dabench.authoring import docs_helpers

    def undocumented(x: int, scale: float = 2.0) -> float:
        return x * scale

    assert docs_helpers.signature(undocumented) == "undocumented(x, scale=2.0) -> float"
    with pytest.raises(ValueError, match=r"test_docs\.test_helper_list_refuses_helpers_without_a_docstring\.<locals>"
                                         r"\.undocumented has no docstring; give it a one-line summary"):
        docs_helpers.summary(undocumented)
    with pytest.raises(ValueError, match=r"dabench\.train\.schedule\.no_such_helper is not a function"):
        docs_helpers.render({"dabench.train.schedule": ("no_such_helper",)})


def test_readme_says_what_the_json_line_holds() -> None:
    from dabench.cli.run import JSON_FIELDS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"one JSON object with the run's summary: `{', '.join(JSON_FIELDS)}`" in readme
