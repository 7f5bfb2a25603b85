"""The cached-artifact protocol (dabench.store.artifacts), once for every kind, on a tiny kind made here: one
process builds, a corrupt copy is rebuilt and reported once by the lock holder, a reader without the lock
neither deletes nor warns, and a failed build leaves nothing behind."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from dabench.errors import DabenchError
from dabench.store import artifacts, atomic
from dabench.store.artifacts import META, cached_artifact, checked_meta

KIND = "tiny artifact"
DATA = "data.txt"
TEXT = "the built artifact"
PROBLEM = "the checkpoint does not match its checksum"


def _load(folder: Path) -> str:
    checked_meta(folder, DATA)
    return (folder / DATA).read_text()


def _write(tmp: Path, text: str, sha256: str | None = None) -> None:
    (tmp / DATA).write_text(text)
    atomic.write_json(tmp / META, {"sha256": sha256 or atomic.sha256_file(tmp / DATA)})


def _corrupt_copy(target: Path) -> None:
    cached_artifact(target, KIND, _load, lambda tmp: _write(tmp, "an older build"))
    (target / DATA).write_text("garbage")


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _ask(target: Path, io: Path, name: str, waiters: int) -> None:
    """In a spawned process: ask for the artifact, stderr into ``io/<name>.err``, the result into
    ``io/<name>.out``. It marks ``io/waiting.<name>`` on reaching the lock, and its build first waits
    until ``waiters`` processes have, so that the others are sure to find it under the lock."""
    sys.stderr = open(io / f"{name}.err", "w", buffering=1)

    class MarkingLock(FileLock):
        def acquire(self, *args, **kwargs):
            (io / f"waiting.{name}").touch()
            return super().acquire(*args, **kwargs)

    def build(tmp: Path) -> None:
        _wait_for(lambda: len(list(io.glob("waiting.*"))) >= waiters, "the other processes at the lock")
        with open(io / "builds.log", "a") as log:
            log.write(f"{name} {os.getpid()}\n")
        _write(tmp, TEXT)

    artifacts.FileLock = MarkingLock
    (io / f"{name}.out").write_text(cached_artifact(target, KIND, _load, build))


def _start(target: Path, io: Path, names: str, waiters: int) -> list[multiprocessing.process.BaseProcess]:
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_ask, args=(target, io, name, waiters)) for name in names]
    for process in processes:
        process.start()
    return processes


def _finish(processes: list[multiprocessing.process.BaseProcess]) -> None:
    for process in processes:
        process.join(120)
        assert process.exitcode == 0, f"{process.name} ended with {process.exitcode}"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    (tmp_path / "io").mkdir()
    return tmp_path / "cache" / "tiny-0123456789abcdef"


def _siblings(target: Path) -> list[str]:
    return sorted(path.name for path in target.parent.iterdir())


def test_two_processes_asking_for_a_missing_artifact_build_it_once(target: Path, tmp_path: Path) -> None:
    io = tmp_path / "io"
    _finish(_start(target, io, "ab", waiters=2))
    assert len((io / "builds.log").read_text().splitlines()) == 1
    assert (io / "a.out").read_text() == (io / "b.out").read_text() == TEXT
    assert (io / "a.err").read_text() == (io / "b.err").read_text() == ""  # a missing artifact is no warning
    assert _siblings(target) == [target.name, target.name + ".lock"]  # no temp folder left


def test_a_corrupt_copy_is_rebuilt_by_the_lock_holder_with_one_warning(target: Path, tmp_path: Path) -> None:
    io = tmp_path / "io"
    _corrupt_copy(target)
    _finish(_start(target, io, "ab", waiters=2))
    assert len((io / "builds.log").read_text().splitlines()) == 1
    assert (io / "a.out").read_text() == (io / "b.out").read_text() == TEXT
    warnings = (io / "a.err").read_text() + (io / "b.err").read_text()
    assert warnings == f"dabench: warning: {KIND} {target} is corrupt ({PROBLEM}); rebuilding it\n"
    assert _siblings(target) == [target.name, target.name + ".lock"]


def test_a_reader_outside_the_lock_neither_deletes_a_corrupt_copy_nor_warns(target: Path, tmp_path: Path) -> None:
    io = tmp_path / "io"
    _corrupt_copy(target)
    with FileLock(str(target) + ".lock"):  # another process is (say) publishing: this one must wait
        processes = _start(target, io, "a", waiters=1)
        _wait_for(lambda: (io / "waiting.a").exists(), "the reader at the lock")  # it has looked, and found it corrupt
        assert (target / DATA).read_text() == "garbage" and (io / "a.err").read_text() == ""
    _finish(processes)
    assert (io / "a.err").read_text().count("is corrupt") == 1  # said once it held the lock, and rebuilt it
    assert (io / "a.out").read_text() == (target / DATA).read_text() == TEXT


@pytest.mark.parametrize("before", ["missing", "corrupt"])
def test_a_build_that_raises_leaves_no_temp_folder_and_publishes_nothing(target: Path, before: str) -> None:
    if before == "corrupt":
        _corrupt_copy(target)
    checkpoint = artifacts.checkpoint_beside(target)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.write_text("epoch 3")

    def failing(tmp: Path) -> None:
        (tmp / DATA).write_text("half of it")
        raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError, match="the disk is full"):
        cached_artifact(target, KIND, _load, failing, checkpoint=checkpoint)
    published = [target.name] if before == "corrupt" else []
    assert _siblings(target) == sorted([*published, checkpoint.name, target.name + ".lock"])
    if before == "corrupt":
        assert (target / DATA).read_text() == "garbage"  # left for the next build to publish over
    assert checkpoint.read_text() == "epoch 3"  # the next build resumes from it
    assert cached_artifact(target, KIND, _load, lambda tmp: _write(tmp, TEXT), checkpoint=checkpoint) == TEXT
    assert not checkpoint.exists()  # deleted once the artifact was published


def test_an_artifact_that_fails_its_check_right_after_publishing_is_an_error(target: Path, capsys) -> None:
    with pytest.raises(DabenchError, match=f"{KIND} .*tiny-0123456789abcdef failed its checksum right after it "
                                           f"was written \\({PROBLEM}\\); check the disk holding DABENCH_HOME"):
        cached_artifact(target, KIND, _load, lambda tmp: _write(tmp, TEXT, sha256="0" * 64))
    assert capsys.readouterr().err == ""  # no "rebuilding it" warning for what was just built
