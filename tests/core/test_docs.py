"""docs/writing-plugins.md, docs/datasets.md and docs/cli-reference.md stay in step with the code they document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dabench import hookspecs
from dabench.labels import CANONICAL_CLASSES, pair_classes
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


DOCS = GUIDE.parent


def _flat(path: Path) -> str:
    return " ".join(path.read_text().split())


def test_the_reference_says_what_the_json_line_holds() -> None:
    from dabench.cli.run import JSON_FIELDS

    assert f"one JSON object with the run's summary: `{', '.join(JSON_FIELDS)}`" in _flat(DOCS / "cli-reference.md")


def test_the_class_names_the_docs_give_are_the_plugins_maps() -> None:
    from dabench_datasets import ckplus, fer2013, sfew

    text = _flat(DOCS / "datasets.md")
    folders = re.search(r"FER2013's and SFEW's `([^`]+)` are `([^`]+)`; CK\+48's `([^`]+)` the same way", text)
    assert folders, "datasets.md no longer says how FER2013's, SFEW's and CK+48's class folders map"
    own, canonical, ck = (group.split(", ") for group in folders.groups())
    assert dict(zip(own, canonical, strict=True)) == fer2013.FOLDER_CLASSES == sfew.FOLDER_CLASSES
    assert sorted(ck) == sorted(ckplus.FOLDER_CLASSES)
    assert f"`{', '.join(CANONICAL_CLASSES)}`" in text  # the canonical list, in its order
    guide = _flat(GUIDE)
    assert 'FER2013\'s `FOLDER_CLASSES = {"angry": "anger", "happy": "happiness", "sad": "sadness", ...}`' in guide
    assert all(fer2013.FOLDER_CLASSES[name] == value for name, value in
               (("angry", "anger"), ("happy", "happiness"), ("sad", "sadness")))


def test_a_pairs_classes_are_as_the_docs_say(registry) -> None:
    text = _flat(DOCS / "datasets.md")
    assert "fer2013:ckplus shares 6 (CK+ has no neutral, so FER2013's neutral faces are not used, nor CK+'s " \
           "contempt faces)" in text
    fer, ck = registry.dataset("fer2013"), registry.dataset("ckplus")
    shared = pair_classes(fer.classes, ck.classes)
    assert len(shared) == 6 and "neutral" in fer.classes and "neutral" not in shared and "contempt" in ck.classes
    assert "Extras are always dropped, even when both sides have them" in text
    assert pair_classes(("contempt", "anger", "fear"), ("fear", "contempt", "anger")) == ("fear", "anger")


def test_method_descriptions_cite_docs_that_exist(registry) -> None:
    """A method's description may point users at a page and section; both exist in the repository (the
    design contract, DESIGN.md, is not shipped, so no description cites it)."""
    cited = 0
    for method_id, method in registry.methods.items():
        text = " ".join((method.__doc__ or "").split())
        assert "DESIGN.md" not in text, f"{method_id}'s description cites DESIGN.md, which users do not have"
        for page, section in re.findall(r"(docs/[\w/.-]+\.md)(?:, \"([^\"]+)\")?", text):
            path = DOCS.parent / page
            assert path.is_file(), f"{method_id}'s description cites {page}, which does not exist"
            if section:
                headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.MULTILINE)
                assert section in headings, f"{method_id}'s description cites {page}, \"{section}\": no such heading"
            cited += 1
    assert cited >= 1  # target_oracle's: docs/methods.md, "Source training"
