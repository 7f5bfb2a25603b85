"""The method contract: a method turns (source model, unlabelled target images) into a target model.

A source-free method receives no argument, and finds no public attribute, that holds target labels:
:class:`TargetImages` carries images only, and :class:`AdaptContext` holds no dataset (its private
``_``-fields are the runner's callbacks into its evaluator; Python cannot wall them off, so a method that
digs through them is cheating on purpose, not by accident). Only a method that declares
``source_free = False`` (the ``target_oracle`` upper bound) is handed labels, through its own entry point.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
import yaml

from dabench.models import ClassifierNet
from dabench.store.checkpoint import Checkpointer
from dabench.store.progress import epochs
from dabench.store.progress import log_line as progress_log_line


@dataclass(frozen=True)
class NoHparams:
    """A method without hyperparameters."""


@dataclass(frozen=True, eq=False)
class TargetImages:
    """Unlabelled target images: (N, C, H, W) uint8 on the run's device. Nothing else."""

    images: torch.Tensor

    def __len__(self) -> int:
        return len(self.images)


@dataclass(eq=False)
class AdaptContext:
    """What the runner lends a method besides the model and images."""

    device: torch.device
    seed: int
    generator: torch.Generator
    class_names: tuple[str, ...]
    amp: bool = True
    init: str = "source"  # the run's ``init`` setting (see Method.inits)
    _on_epoch_end: Callable[[ClassifierNet, int], None] | None = None
    _initial_model: Callable[[str], ClassifierNet] | None = None
    records: dict[str, Any] = field(default_factory=dict)
    pseudo_labels: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    log_lines: list[str] = field(default_factory=list)
    # the run folder's checkpoint.pt (None outside a run); see save_checkpoint / docs/checkpoints.md
    checkpointer: Checkpointer | None = None
    _runner_state: dict[str, list] = field(default_factory=dict)  # the runner's per-epoch history, checkpointed too

    def __post_init__(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.extra = (self._checkpoint_extra, self._restore_checkpoint_extra)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def save_checkpoint(self, epoch: int, **states: Any) -> None:
        """Call at the end of each epoch with what the loop needs to go on: state_dicts (model, optimiser,
        scheduler) and counters. The RNG states (``generator``, torch, NumPy, Python) and this context's
        records are added; written atomically to the run folder, deleted when the run finishes."""
        if self.checkpointer is not None:
            self.checkpointer.save(epoch, **states)

    def load_checkpoint(self) -> tuple[int, dict[str, Any]] | None:
        """After a crash: ``(last finished epoch, states)`` with the RNG states already restored (tensors on
        the CPU; ``load_state_dict`` moves them); None on a fresh start. Call it after building the model
        and optimiser and after any random draws made before the first epoch."""
        if self.checkpointer is None:
            return None
        loaded = self.checkpointer.load()
        if loaded is not None:
            self.log(f"resumed from the checkpoint of epoch {loaded[0]}")
        return loaded

    def _checkpoint_extra(self) -> dict[str, Any]:
        return {"records": self.records, "pseudo_labels": self.pseudo_labels, "log_lines": self.log_lines,
                "runner": self._runner_state}

    def _restore_checkpoint_extra(self, extra: dict[str, Any]) -> None:
        self.records.clear()
        self.records.update(extra.get("records", {}))
        self.pseudo_labels[:] = extra.get("pseudo_labels", [])
        self.log_lines[:] = extra.get("log_lines", [])
        for key, values in extra.get("runner", {}).items():
            if key in self._runner_state:
                self._runner_state[key][:] = values

    def end_epoch(self, model: ClassifierNet, epoch: int) -> None:
        """Call after each epoch: the runner records per-epoch metrics for analysis (never selection)."""
        if self._on_epoch_end is not None:
            self._on_epoch_end(model, epoch)

    def initial_model(self, init: str) -> ClassifierNet:
        """A fresh network for methods that do not start from the source weights (e.g. init='ssl')."""
        if self._initial_model is None:
            raise RuntimeError("this runner provides no initial models")
        return self._initial_model(init)

    def record(self, key: str, value: Any) -> None:
        """Keep a JSON-able value in the run's result under ``method_records``."""
        self.records[key] = value

    def record_pseudo_labels(self, indices: torch.Tensor, labels: torch.Tensor, stage: str = "") -> None:
        """The target-train indices a method kept and the labels it gave them; the evaluator scores them
        against the true labels after the run (the method never sees those)."""
        self.pseudo_labels.append({"stage": stage, "indices": indices.detach().cpu().clone(),
                                   "labels": labels.detach().cpu().clone()})

    def log(self, message: str) -> None:
        """A line for the run's log.txt, written at once (and on stderr off a terminal)."""
        self.log_lines.append(message)
        progress_log_line(message)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a named stage (reported in result.json's timings)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started

    def progress(self, iterable: Iterable, desc: str, total: int | None = None) -> Iterable:
        """An epoch loop (``range(start, epochs)``): a bar on a terminal and one line per finished epoch
        in the run's log (with what :func:`dabench.store.progress.note` was given during the epoch)."""
        return epochs(iterable, stage=desc, total=total)


class Method:
    """Base class of method plugins.

    Subclasses set ``id`` (lower_snake), ``Hparams`` (a frozen dataclass whose fields all have a
    default and ``metadata={"help": ...}``) and implement :meth:`adapt`. Per-pair or per-target
    defaults live in a YAML file beside the module named ``<id>.yaml`` with the sections
    ``targets: {dataset_id: {...}}`` and ``pairs: {"src:tgt": {...}}`` (pairs win).
    """

    id: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    # the run key ``init`` values this method honours (the first is its default). For a method that
    # adapts the network it is handed, the runner builds that network: a copy of the source model
    # ('source'), or the target-SSL backbone taught the source model's predictions ('ssl',
    # dabench.train.distil). A method with ``builds_network = True`` (cluster_pl) uses the model it
    # is handed only as the source model and builds what it trains with ``ctx.initial_model(ctx.init)``.
    inits: ClassVar[tuple[str, ...]] = ("source", "ssl")
    builds_network: ClassVar[bool] = False
    Hparams: ClassVar[type] = NoHparams
    source_free: ClassVar[bool] = True
    paper: ClassVar[str] = ""
    defaults_file: ClassVar[Path | None] = None

    def __init__(self, hparams: Any) -> None:
        self.hparams = hparams

    def check_target(self, n_images: int) -> None:
        """Refuse, with a DabenchError, hyperparameters that a target of ``n_images`` train images rules
        out (K >= N neighbours, more prototypes than images). The runner calls it as soon as the data is
        prepared, before any source model is trained; ``adapt`` implementations call it too."""

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        """Return the adapted model (may modify ``model`` in place and return it)."""
        raise NotImplementedError

    def adapt_with_labels(self, model: ClassifierNet, target: TargetImages, labels: torch.Tensor,
                          ctx: AdaptContext) -> ClassifierNet:
        """Only for methods with ``source_free = False``: labels (N,) int64 on the device."""
        raise NotImplementedError

    @classmethod
    def hparam_defaults(cls) -> dict[str, Any]:
        return dataclasses.asdict(cls.Hparams())

    @classmethod
    def hparam_help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls.Hparams)}

    @classmethod
    def overrides_for(cls, source: str, target: str) -> dict[str, Any]:
        """Per-target then per-pair defaults from ``defaults_file``."""
        if cls.defaults_file is None or not Path(cls.defaults_file).exists():
            return {}
        table = yaml.safe_load(Path(cls.defaults_file).read_text()) or {}
        merged: dict[str, Any] = {}
        merged.update((table.get("targets") or {}).get(target) or {})
        merged.update((table.get("pairs") or {}).get(f"{source}:{target}") or {})
        return merged
