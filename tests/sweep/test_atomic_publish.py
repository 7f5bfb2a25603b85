"""Publishing a built folder over an older one (a reader never finds it half-removed) and the cleanup of
the temp folders that killed builds leave behind."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from dabench.store import atomic


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _filled(path: Path, text: str) -> Path:
    path.mkdir(parents=True)
    (path / "model.pt").write_text(text)
    (path / "meta.json").write_text(text)
    return path


def _siblings(final: Path) -> list[str]:
    return sorted(p.name for p in final.parent.iterdir() if p != final)


def test_publish_swaps_the_folders_in_one_step(tmp_path: Path) -> None:
    final = _filled(tmp_path / "artifact", "old")
    tmp = atomic.temp_dir_beside(final)
    (tmp / "model.pt").write_text("new")
    (tmp / "meta.json").write_text("new")
    if not atomic._exchange(tmp, final) or not atomic._exchange(tmp, final):  # swapped twice: back as it was
        pytest.skip("this file system cannot exchange two paths (renameat2)")
    atomic.publish_dir(tmp, final)
    assert (final / "model.pt").read_text() == "new" and (final / "meta.json").read_text() == "new"
    assert _siblings(final) == []


def test_without_an_exchange_the_old_folder_goes_only_after_the_new_one_is_in(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atomic, "_exchange", lambda first, second: False)
    final = _filled(tmp_path / "artifact", "old")
    tmp = atomic.temp_dir_beside(final)
    (tmp / "model.pt").write_text("new")
    (tmp / "meta.json").write_text("new")
    deleted_while: list[str] = []
    real_rmtree = shutil.rmtree

    def watching_rmtree(path, *args, **kwargs):
        deleted_while.append((final / "model.pt").read_text())  # what a reader sees at that moment
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(atomic.shutil, "rmtree", watching_rmtree)
    atomic.publish_dir(tmp, final)
    assert deleted_while == ["new"] and (final / "meta.json").read_text() == "new"
    assert _siblings(final) == []


def test_publish_into_an_empty_place(tmp_path: Path) -> None:
    final = tmp_path / "artifact"
    tmp = atomic.temp_dir_beside(final)
    (tmp / "model.pt").write_text("first")
    atomic.publish_dir(tmp, final)
    assert (final / "model.pt").read_text() == "first" and _siblings(final) == []


def test_the_next_build_removes_what_killed_builds_left(tmp_path: Path) -> None:
    final = tmp_path / "rafdb-small_cnn-0123456789abcdef"
    host = socket.gethostname()
    dead = _filled(tmp_path / f".{final.name}.{_dead_pid()}@{host}.k1ll3d00.tmp", "partial")
    aside = _filled(tmp_path / f".{final.name}.{_dead_pid()}@{host}.old-00ff00ff.tmp", "old")  # killed mid-publish
    live = _filled(tmp_path / f".{final.name}.{os.getpid()}@{host}.l1ve0000.tmp", "being written")
    remote = _filled(tmp_path / f".{final.name}.{_dead_pid()}@another.node.example.r3m0te00.tmp", "remote")
    stale_file = tmp_path / f".{final.name}.checkpoint.pt.x7y8z9.tmp"  # a write_bytes temp, owner unknown
    stale_file.write_text("half a checkpoint")
    old_remote = _filled(tmp_path / f".{final.name}.1@another.node.example.0ld00000.tmp", "days old")
    week_ago = time.time() - 7 * 24 * 3600
    os.utime(stale_file, (week_ago, week_ago))
    os.utime(old_remote, (week_ago, week_ago))
    other_artifact = _filled(tmp_path / f".other-{final.name}.{_dead_pid()}@{host}.aaaa0000.tmp", "not ours")
    tmp = atomic.temp_dir_beside(final)
    left = set(_siblings(final))
    assert left == {live.name, remote.name, other_artifact.name, tmp.name}  # a live or foreign recent one stays
    assert not dead.exists() and not aside.exists() and not stale_file.exists() and not old_remote.exists()
    assert tmp.name.startswith(f".{final.name}.{os.getpid()}@{host}.")
