"""Homes and outputs: every output path a command takes is checked before any work (paths.check_output); a
full disk is one message naming the folder and about how much was needed, leaving no temp, short file or
empty index behind (atomic.space_checked); a home that cannot be written is read without writing; a home
that is a file is one message for every command."""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dabench.cli import cli
from dabench.errors import DabenchError
from dabench.host import registry as registry_module
from dabench.store import atomic, results, searches

ROOT = os.geteuid() == 0
AS_ROOT = "runs as root, whom file modes do not stop; the monkeypatched variants cover the same code"


@pytest.fixture
def home(fresh_home: Path, records, write_runs) -> Path:
    registry_module.reset()
    runs = records
    write_runs(runs)
    searches.record_search([r["run_id"] for r in runs])
    yield fresh_home
    registry_module.reset()


# ---- output paths -------------------------------------------------------------------------------------
def _commands_with_out(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command of the click tree with an ``--out`` option, found by walking it (a new one joins)."""
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands_with_out(command, (*prefix, name))
        elif any("--out" in param.opts for param in command.params if isinstance(param, click.Option)):
            found.append((*prefix, name))
    return found


def _hostile_outputs(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name -> (the --out value, what the message must say)."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    values = {
        "a folder": (str(tmp_path), "a folder, not a file"),
        "the current folder": (".", "a folder, not a file"),
        "a path under a file": (str(a_file / "out.png"), f"{a_file} is a file, so nothing can be written under it"),
        "deep under a file": (str(a_file / "deeper" / "still" / "out.png"), f"{a_file} is a file"),
        "a device": ("/dev/null", "not a regular file (a device, pipe or socket)"),
        "a NUL character": (str(tmp_path / "a\0b.png"), "a path cannot hold a NUL character"),
        "a name too long": (str(tmp_path / ("x" * 300 + ".png")), "File name too long"),
    }
    if os.path.isdir("/proc/self"):
        values["a file of /proc"] = ("/proc/self/status", "")  # read-only, not ours: refused one way or another
    return values


def test_every_out_option_is_checked_before_any_work(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = _commands_with_out()
    assert {("report", "plot"), ("report", "export")} <= set(commands)

    def no_work(*args, **kwargs):
        raise AssertionError("the command started its work before checking --out")

    monkeypatch.setattr(results, "load_results", no_work)
    for command in commands:
        for name, (value, says) in _hostile_outputs(tmp_path).items():
            out = CliRunner().invoke(cli, [*command, "--out", value])
            assert out.exit_code != 0, (command, name)
            assert isinstance(out.exception, DabenchError), (command, name, out.exception)
            message = str(out.exception)
            assert message.startswith("--out "), (command, name, message)
            assert says in message, (command, name, message)
            assert "\n" not in message


@pytest.mark.skipif(ROOT, reason=AS_ROOT)
def test_an_unwritable_folder_or_file_as_out_is_refused(home: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    read_only = tmp_path / "read_only.json"
    read_only.write_text("{}")
    read_only.chmod(0o444)
    locked.chmod(0o555)
    try:
        for value, says in ((locked / "out.json", "is not writable"), (read_only, "the file is read-only")):
            out = CliRunner().invoke(cli, ["report", "export", "--out", str(value)])
            assert isinstance(out.exception, DabenchError) and says in str(out.exception)
    finally:
        locked.chmod(0o755)


def test_out_in_new_folders_is_written_whole(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "new" / "folders" / "runs.json"
    out = CliRunner().invoke(cli, ["report", "export", "--format", "json", "--out", str(target)])
    assert out.exit_code == 0, out.output
    assert out.stdout == f"wrote 11 run(s) to {target}\n" and target.read_text().startswith("[")
    assert sorted(p.name for p in target.parent.iterdir()) == ["runs.json"]  # no temp left beside it


# ---- a full disk ----------------------------------------------------------------------------------------
class _FullDisk:
    """A file handle that takes ``room`` bytes and then raises ENOSPC, as a write to a full disk does."""

    def __init__(self, handle, room: int) -> None:
        self.handle, self.room = handle, room

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()

    def write(self, data: bytes) -> int:
        self.handle.write(data[: self.room])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.handle, name)


@pytest.mark.parametrize("room", [0, 10, 4096])
@pytest.mark.parametrize("command", [("report", "export", "--format", "json"), ("report", "plot")])
def test_a_full_disk_is_one_message_and_leaves_nothing(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       command: tuple[str, ...], room: int) -> None:
    if command[1] == "plot":
        pytest.importorskip("matplotlib")
    folder = tmp_path / "out"
    folder.mkdir()
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode="r", *a, **k: _FullDisk(real_fdopen(fd, mode, *a, **k), room))
    out = CliRunner().invoke(cli, [*command, "--out", str(folder / "result.out")])
    assert isinstance(out.exception, DabenchError), out.output
    assert re.fullmatch(rf"no space left in {re.escape(str(folder))} \(needed about [0-9.e-]+ MB\); free some space "
                        r"there, or point DABENCH_HOME \(or the output path\) at a disk with room, and run the command "
                        r"again", str(out.exception)), str(out.exception)
    assert list(folder.iterdir()) == []  # no temp, no short file


def test_the_size_said_is_what_the_write_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode="r": _FullDisk(real_fdopen(fd, mode), 10))
    with pytest.raises(DabenchError, match=r"needed about 2\.5 MB\)"):
        atomic.write_bytes(tmp_path / "big.bin", b"x" * 2_500_000)
    with pytest.raises(DabenchError, match=r"needed about 0\.0012 MB\)"):
        atomic.write_bytes(tmp_path / "small.bin", b"x" * 1234)
    # numpy's write to a full disk carries no errno, only its counts: the rest of that write is added
    with pytest.raises(DabenchError, match=rf"^no space left in {re.escape(str(tmp_path))} \(needed about 1\.0 MB\)"):
        with atomic.space_checked(tmp_path, 1000):
            raise OSError("1024000 requested and 36736 written")
    with pytest.raises(OSError, match="Permission denied"), atomic.space_checked(tmp_path, 1000):
        raise PermissionError(errno.EACCES, "Permission denied")  # not a full disk: left as it is
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _full_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SQLite connection whose statements fail as on a full disk (the file is made, as SQLite does)."""
    real_connect = sqlite3.connect

    class Full:
        def __init__(self, connection) -> None:
            self.connection = connection

        def execute(self, *args):
            error = sqlite3.OperationalError("database or disk is full")
            error.sqlite_errorcode = 13
            raise error

        def __getattr__(self, name):
            return getattr(self.connection, name)

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: Full(real_connect(*a, **k)))


def test_a_full_disk_leaves_no_empty_index_and_reports_still_read(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture, records) -> None:
    index = results.paths.index_path()
    assert not index.exists()  # the runs were written, never indexed
    _full_sqlite(monkeypatch)
    results.index_result(dict(records[0], run_id=next(p.name for p in results.paths.runs_dir().iterdir())))
    assert not index.exists()  # no 0-byte results.sqlite taken for an index later
    assert "is finished and saved" in capsys.readouterr().err
    assert len(results.load_results()) == 11  # read from the folders instead
    err = capsys.readouterr().err
    assert f"the index {index} cannot be updated (no space left in {home}); reading the run folders" in err
    assert not index.exists()
    with pytest.raises(DabenchError, match=rf"^no space left in {re.escape(str(home))} \(needed about"):
        results.rebuild_index()
    assert sorted(p.name for p in home.iterdir()) == ["runs", "sweeps"]


# ---- a home that cannot be written ----------------------------------------------------------------------
REPORTS = [("leaderboard", "--no-reported"), ("selection",), ("per-class", "--method", "shot", "--pair", "a:b"),
           ("search", "--by", "entropy"), ("export", "--format", "json")]


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _read_only_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite as on a read-only mount: a missing file cannot be made, an existing one is only read."""
    real_connect = sqlite3.connect

    def connect(database, *args, **kwargs):
        if not kwargs.get("uri") and not Path(database).exists():
            error = sqlite3.OperationalError("unable to open database file")
            error.sqlite_errorcode = 14
            raise error
        connection = real_connect(database, *args, **kwargs)
        connection.execute("PRAGMA query_only = ON")  # a write is then SQLITE_READONLY, as on a read-only disk
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect)


def _no_file_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a report wrote a file in a read-only home")

    monkeypatch.setattr(atomic, "write_bytes", refuse)


def _report_outputs() -> dict[tuple[str, ...], str]:
    outputs = {}
    for args in REPORTS:
        out = CliRunner().invoke(cli, ["report", *args])
        assert out.exit_code == 0, out.output
        outputs[args] = out.stdout
    return outputs


@pytest.mark.parametrize("index_state", ["current", "stale", "missing"])
def test_reports_on_a_read_only_home_read_without_writing(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          index_state: str) -> None:
    _report_outputs()  # the index now matches the folders
    if index_state == "stale":  # a run folder removed since the index saw it (nrc's only run)
        nrc = next(p for p in results.paths.runs_dir().iterdir() if results.read_done(p)["method"] == "nrc")
        shutil.rmtree(nrc)
    elif index_state == "missing":
        results.paths.index_path().unlink()
    writable = tmp_path / "writable_copy"
    shutil.copytree(home, writable)
    monkeypatch.setenv("DABENCH_HOME", str(writable))
    expected = _report_outputs()
    monkeypatch.setenv("DABENCH_HOME", str(home))
    before = _snapshot(home)
    _read_only_sqlite(monkeypatch)
    _no_file_writes(monkeypatch)
    for args in REPORTS:
        monkeypatch.setattr(results, "_warned", set())  # the note is said once per process: each command is one
        out = CliRunner().invoke(cli, ["report", *args])
        assert out.exit_code == 0, (args, out.output)
        assert out.stdout == expected[args], args
        why = "read-only" if index_state == "stale" else "cannot be opened for writing"
        note = f"dabench: note: the index {results.paths.index_path()} cannot be updated ({why}); reading the run " \
               f"folders under {results.paths.runs_dir()} directly, writing nothing"
        assert (note in out.stderr.splitlines()) == (index_state != "current"), (args, out.stderr)
    assert "nrc" not in expected[("leaderboard", "--no-reported")] or index_state != "stale"
    assert _snapshot(home) == before


@pytest.mark.skipif(ROOT, reason=AS_ROOT)
def test_reports_on_a_chmod_read_only_home(home: Path) -> None:
    expected = CliRunner().invoke(cli, ["report", "leaderboard", "--no-reported"]).stdout
    before = _snapshot(home)
    folders = [home, *(p for p in home.rglob("*") if p.is_dir())]
    for folder in reversed(folders):
        folder.chmod(0o555)
    try:
        out = CliRunner().invoke(cli, ["report", "leaderboard", "--no-reported"])
        assert out.exit_code == 0, out.output
        assert out.stdout == expected
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert _snapshot(home) == before


@pytest.mark.parametrize("command", [("status",), ("report", "leaderboard"), ("report", "export"),
                                     ("report", "reindex"), ("sweep", "--methods", "source_only", "--pairs",
                                                             "synth-lab:synth-wild", "--dry-run")])
def test_a_file_as_home_is_one_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       command: tuple[str, ...]) -> None:
    a_file = tmp_path / "home"
    a_file.write_text("not a folder")
    monkeypatch.setenv("DABENCH_HOME", str(a_file))
    out = CliRunner().invoke(cli, list(command))
    assert isinstance(out.exception, DabenchError), out.output
    assert str(out.exception) == (f"DABENCH_HOME={a_file} is a file, not a folder; point DABENCH_HOME at a folder "
                                  "you can write")


def test_a_build_on_a_full_disk_is_one_message_and_leaves_no_temp(tmp_path: Path) -> None:
    """A prepared-array build (data prepare, a run's first use of a dataset): numpy's short write on a full
    disk, which carries no errno, is the one message too, and the half-built temp folder goes."""
    import numpy as np

    from dabench.store.artifacts import cached_artifact

    target = tmp_path / "cache" / "datasets" / "fer2013-0123"

    def build(tmp: Path) -> None:
        np.save(tmp / "train_images.npy", np.zeros(250_000, dtype=np.uint8))  # written: 250 kB
        raise OSError("1024000 requested and 36736 written")  # the next array hit the full disk

    with pytest.raises(DabenchError) as caught:
        cached_artifact(target, "cached dataset", load=lambda folder: None, build=build)
    assert re.fullmatch(rf"no space left in {re.escape(str(target.parent))} \(needed about 1\.2 MB\).*",
                        str(caught.value)), str(caught.value)
    assert [p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device", "/data/home/runs/x/log.txt"),
                                   OSError(errno.EDQUOT, "Disk quota exceeded"),
                                   OSError("4096 requested and 0 written")])
def test_a_full_disk_met_anywhere_is_the_one_message(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture, error: OSError) -> None:
    from dabench.cli import main

    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr(results, "load_results", full)
    with pytest.raises(SystemExit) as caught:
        main(["report", "leaderboard"])
    assert caught.value.code == 2
    where = "/data/home/runs/x" if error.filename else str(home)
    assert capsys.readouterr().err.startswith(f"dabench: error: no space left in {where}; free some space there")
    monkeypatch.setattr(results, "load_results", lambda: (_ for _ in ()).throw(PermissionError(errno.EACCES, "no")))
    with pytest.raises(SystemExit):
        main(["report", "leaderboard"])
    assert "no space left" not in capsys.readouterr().err  # not a full disk: not this message


def test_reindex_on_a_read_only_home_says_why_not(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _snapshot(home)
    _read_only_sqlite(monkeypatch)
    out = CliRunner().invoke(cli, ["report", "reindex"])
    assert isinstance(out.exception, DabenchError), out.output
    assert str(out.exception) == (f"cannot rebuild the index {results.paths.index_path()} (cannot be opened for "
                                  "writing); reports read the run folders without it")
    assert _snapshot(home) == before
