"""Versioned split rules for datasets without an official split: a small YAML file shipped with
dabench assigns each key (subject id, photo name) to train or test; its sha256 is the split hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from dabench.errors import DabenchError


@dataclass(frozen=True)
class SplitRule:
    """``test`` iff the key is in ``test_keys`` or, without a list, iff
    int(sha256(f"{salt}:{key}")[:8], 16) % 100 < test_percent. Keys are matched exactly."""

    name: str
    version: int
    key: str  # what is hashed, in words ("subject id", "image name")
    salt: str
    test_percent: int
    test_keys: frozenset[str]
    digest: str  # sha256 of the rule file's bytes: the split hash recorded in results

    @classmethod
    def load(cls, path: Path) -> SplitRule:
        raw = path.read_bytes()
        spec = yaml.safe_load(raw) or {}
        try:
            rule = cls(str(spec["name"]), int(spec["version"]), str(spec["key"]), str(spec.get("salt", "")),
                       int(spec.get("test_percent", 0)), frozenset(map(str, spec.get("test_keys") or ())),
                       hashlib.sha256(raw).hexdigest())
        except (KeyError, TypeError, ValueError) as exc:
            raise DabenchError(f"split rule {path} is malformed ({exc!r}); it needs name, version, key and "
                               "test_percent or test_keys") from None
        if not rule.test_keys and not 0 < rule.test_percent < 100:
            raise DabenchError(f"split rule {path}: test_percent must be in 1..99")
        return rule

    def assign(self, key: str) -> str:
        if self.test_keys:
            return "test" if key in self.test_keys else "train"
        bucket = int(hashlib.sha256(f"{self.salt}:{key}".encode()).hexdigest()[:8], 16) % 100
        return "test" if bucket < self.test_percent else "train"


def official_split_hash(dataset_id: str, rule: str) -> str:
    """A hash for an official split, from the sentence that states it (bumped with the wording)."""
    return hashlib.sha256(f"{dataset_id}: {rule}".encode()).hexdigest()
