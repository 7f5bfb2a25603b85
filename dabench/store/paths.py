"""Where dabench keeps things: DABENCH_HOME (cache, runs, index) and the datasets' folders (``--data-root``,
DABENCH_DATA_<ID>, DABENCH_DATA)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dabench.errors import DabenchError, did_you_mean

DATA_ENV = "DABENCH_DATA"  # the folder holding <id>/ of every dataset
OWN_DATA_PREFIX = f"{DATA_ENV}_"  # DABENCH_DATA_<ID>: one dataset's own folder, whatever its name


HOME_FIX = "point DABENCH_HOME at a folder you can write"


def home() -> Path:
    """DABENCH_HOME (default ~/.dabench). Every command that reads or writes it comes here, so a home that
    is a file is one message for all of them (``dabench status``, the reports, a run), not a traceback."""
    folder = Path(os.environ.get("DABENCH_HOME") or Path.home() / ".dabench").expanduser()
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DabenchError(f"{_home_words(folder)} is a file, not a folder; {HOME_FIX}")
    return folder


def _home_words(folder: Path) -> str:
    return (f"DABENCH_HOME={folder}" if os.environ.get("DABENCH_HOME")
            else f"dabench's home {folder} (DABENCH_HOME unset)")


def check_home() -> Path:
    """DABENCH_HOME, made if missing and checked writable once, before a command writes anything: one
    message instead of a traceback half-way through a run."""
    folder = home()
    where = _home_words(folder)
    fix = HOME_FIX
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise DabenchError(f"{where} is not writable ({exc.strerror or exc}); {fix}") from None
    return folder


def data_root() -> Path:
    return Path(os.environ.get(DATA_ENV) or home() / "data").expanduser()


def dataset_env_var(dataset_id: str) -> str:
    """``expw`` -> ``DABENCH_DATA_EXPW``, ``synth-lab`` -> ``DABENCH_DATA_SYNTH_LAB``."""
    return OWN_DATA_PREFIX + dataset_id.upper().replace("-", "_")


def dataset_path(dataset_id: str, root: Path | None = None) -> Path:
    """Where the dataset's folder is looked for (it may not exist): ``root/<id>`` when a root is given, else
    ``$DABENCH_DATA_<ID>``, else ``$DABENCH_DATA/<id>``, else ``$DABENCH_HOME/data/<id>``. ``dabench run
    --data-root`` reaches this through those variables (:func:`data_roots_in_environment`)."""
    return _resolve(dataset_id, root)[0]


def dataset_folder(dataset: Any, root: Path | None = None) -> Path | None:
    """The folder ``dataset`` reads, resolved as :func:`dataset_path` says; None for a generated dataset.
    A missing folder is the dataset's own error, naming the folder, its layout and where to get it."""
    if dataset.generated:
        return None
    folder, named_by = _resolve(dataset.id, root)
    if named_by is None:
        return dataset.locate(folder.parent)  # root/<id>, through the dataset's own locate
    if not folder.is_dir():
        raise dataset.missing(folder, f"folder named by {named_by} not found")
    return folder


def _resolve(dataset_id: str, root: Path | None) -> tuple[Path, str | None]:
    """(folder, the DABENCH_DATA_<ID> variable that named it, else None)."""
    if root is not None:
        return Path(root).expanduser() / dataset_id, None
    variable = dataset_env_var(dataset_id)
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser(), variable
    return data_root() / dataset_id, None


def parse_data_roots(values: Iterable[str], datasets: Mapping[str, Any]) -> tuple[Path | None, dict[str, Path]]:
    """``--data-root`` values -> (the folder holding every dataset, {dataset id: its own folder}), absolute.
    ``ID=PATH`` names one dataset's folder (``ID`` one of ``datasets``, not a generated one); a value
    whose part before ``=`` holds a ``/`` is a bare PATH, as is a value without ``=``. Folders must exist."""
    every: tuple[str, Path] | None = None
    own: dict[str, tuple[str, Path]] = {}
    for value in values:
        name, sep, raw = value.partition("=")
        if not sep or not name or "/" in name or os.sep in name:
            folder = _existing_folder(value, value, "give the folder that holds one folder per dataset (<id>/), "
                                                    "or ID=PATH for one dataset's own folder")
            if every is not None:
                raise DabenchError(f"--data-root given two folders for every dataset ({every[0]} and {value}); "
                                   "give one, and ID=PATH for a dataset kept elsewhere")
            every = (value, folder)
            continue
        if name not in datasets:
            folder_ids = [key for key, dataset in datasets.items() if not dataset.generated]
            raise DabenchError(f"--data-root {value}: {did_you_mean('dataset', name, folder_ids)}")
        if datasets[name].generated:
            raise DabenchError(f"--data-root {value}: dataset '{name}' is generated from code and reads no folder; "
                               "leave it out")
        if not raw:
            raise DabenchError(f"--data-root {value}: no folder after '='; write --data-root {name}=PATH, PATH "
                               f"being the folder of dataset '{name}' itself")
        if name in own:
            raise DabenchError(f"--data-root given twice for dataset '{name}' ({own[name][0]} and {raw}); "
                               "give each dataset one folder")
        own[name] = (raw, _existing_folder(value, raw, f"give the folder of dataset '{name}' itself "
                                                       f"(the one holding its files) as --data-root {name}=PATH"))
    return (every[1] if every else None), {name: folder for name, (_, folder) in own.items()}


def _existing_folder(value: str, raw: str, advice: str) -> Path:
    path = Path(raw).expanduser()
    if not path.exists():
        raise DabenchError(f"--data-root {value}: no such folder; {advice}")
    if not path.is_dir():
        raise DabenchError(f"--data-root {value}: a file, not a folder; {advice}")
    return Path(os.path.abspath(path))  # absolute for workers in other folders; symlinks kept as given


@contextmanager
def data_roots_in_environment(every: Path | None, own: Mapping[str, Path]) -> Iterator[None]:
    """While it lasts, DABENCH_DATA is ``every`` and DABENCH_DATA_<ID> each of ``own`` (the command line wins:
    with ``every``, the environment's own DABENCH_DATA_<ID> are set aside), so every dataset lookup of this
    process, and of the worker processes it starts, sees them; the environment is put back after."""
    names = {name for name in os.environ if name.startswith(OWN_DATA_PREFIX)} | {DATA_ENV}
    names |= {dataset_env_var(dataset_id) for dataset_id in own}
    saved = {name: os.environ.get(name) for name in names}
    try:
        if every is not None:
            for name in names:
                os.environ.pop(name, None)
            os.environ[DATA_ENV] = str(every)
        for dataset_id, folder in own.items():
            os.environ[dataset_env_var(dataset_id)] = str(folder)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cache_dir(kind: str) -> Path:
    return home() / "cache" / kind


def runs_dir() -> Path:
    return home() / "runs"


def index_path() -> Path:
    return home() / "results.sqlite"


def searches_dir() -> Path:
    """One file per hyperparameter search a sweep ran: the run ids of its points."""
    return home() / "sweeps" / "searches"


def check_output(path: Path, option: str = "--out") -> Path:
    """A file a command will write, checked before it does any work (every report's ``--out``, export targets):
    a folder, something that is not a regular file (a device, a pipe), a path under a file, a read-only file
    or a folder that cannot be written is one message naming ``option`` and the path. Nothing is created."""
    fix = f"give {option} the path of a file in a folder you can write"
    if "\0" in str(path):
        raise DabenchError(f"{option} {str(path)!r}: a path cannot hold a NUL character; {fix}")
    path = Path(path).expanduser()
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        pass  # a file to make, or a path under a file (said below)
    except OSError as exc:  # a name too long, a loop of links, a folder that cannot be searched
        raise DabenchError(f"{option} {path}: {exc.strerror or exc}; {fix}") from None
    if path.is_dir():
        raise DabenchError(f"{option} {path}: a folder, not a file; {fix}")
    if path.exists() and not path.is_file():
        raise DabenchError(f"{option} {path}: not a regular file (a device, pipe or socket), which writing would "
                           f"replace; {fix}")
    ancestor = path.parent
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise DabenchError(f"{option} {path}: {ancestor} is a file, so nothing can be written under it; {fix}")
    if path.exists() and not os.access(path, os.W_OK):
        raise DabenchError(f"{option} {path}: the file is read-only; {fix}, or make it writable")
    try:
        with tempfile.TemporaryFile(dir=ancestor, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise DabenchError(f"{option} {path}: {ancestor} is not writable ({exc.strerror or exc}); {fix}") from None
    return path
