"""The method contract: a method turns (source model, unlabelled target images) into a target model.

A source-free method receives no argument, and finds no public attribute, that holds target labels:
:class:`TargetImages` carries images only, and :class:`AdaptContext` holds no dataset (its ``run`` link
holds the runner's callbacks into its evaluator; Python cannot wall them off, so a method that digs through
them is cheating on purpose, not by accident, and the label watch reports it). Only a method that declares
``source_free = False`` (the ``target_oracle`` upper bound) is handed labels, through its own entry point.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import torch
from torch import nn

from dabench.models import ClassifierNet
from dabench.store.checkpoint import Checkpointer
from dabench.store.progress import epochs
from dabench.store.progress import log_line as progress_log_line
from dabench.train.loop import Schedule, Session, Step, fit


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
class MethodRecords:
    """What a method leaves for the run's result.json, written through :class:`AdaptContext`'s calls
    (``record``, ``record_pseudo_labels``, ``log``, ``stage``) and read by whoever made the context."""

    values: dict[str, Any] = field(default_factory=dict)
    pseudo_labels: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    log_lines: list[str] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        """For a checkpoint: a resumed run keeps what was recorded before the crash."""
        return {"records": self.values, "pseudo_labels": self.pseudo_labels, "log_lines": self.log_lines}

    def restore(self, state: dict[str, Any]) -> None:
        self.values.clear()
        self.values.update(state.get("records", {}))
        self.pseudo_labels[:] = state.get("pseudo_labels", [])
        self.log_lines[:] = state.get("log_lines", [])


@dataclass(eq=False)
class RunLink:
    """The runner's side of a context, behind it: what the end of an epoch does (the evaluator's history and
    validators), how a network for an init is built, the run folder's checkpoint file, and the records the
    runner reads back. The default is a method called outside a run (a unit test): nothing evaluated,
    nothing checkpointed, no initial model."""

    on_epoch_end: Callable[[ClassifierNet, int], None] | None = None
    initial_model: Callable[[str], ClassifierNet] | None = None
    checkpoint: Checkpointer | None = None
    records: MethodRecords = field(default_factory=MethodRecords)
    runner_state: dict[str, list] = field(default_factory=dict)  # the runner's per-epoch lists (history, ...)

    def __post_init__(self) -> None:
        if self.checkpoint is not None:  # a resumed run keeps what the killed one had recorded and seen
            self.checkpoint.extra = (self._checkpoint_extra, self._restore_checkpoint_extra)

    def _checkpoint_extra(self) -> dict[str, Any]:
        return {**self.records.state(), "runner": self.runner_state}

    def _restore_checkpoint_extra(self, extra: dict[str, Any]) -> None:
        self.records.restore(extra)
        for key, values in extra.get("runner", {}).items():
            if key in self.runner_state:
                self.runner_state[key][:] = values


_REMOVED = {
    "load_checkpoint": "train through ctx.fit(model, images, optimizer, step, schedule), which checkpoints every epoch "
                       "and resumes after the last one",
    "save_checkpoint": "train through ctx.fit(model, images, optimizer, step, schedule), which checkpoints every epoch",
    "checkpointer": "train through ctx.fit(...), which checkpoints every epoch",
    "records": "write with ctx.record(key, value)",
    "pseudo_labels": "write with ctx.record_pseudo_labels(indices, labels)",
    "timings": "time a stage with `with ctx.stage(name):`",
    "log_lines": "write with ctx.log(message)",
}


@dataclass(eq=False)
class AdaptContext:
    """What the runner lends a method besides the model and images: the device and amp switch, the seed and
    the generator every random draw comes from, the class names, the run's ``init``; and the calls
    :meth:`fit` (the training loop), :meth:`initial_model`, :meth:`record`, :meth:`record_pseudo_labels`,
    :meth:`log`, :meth:`stage` and :meth:`end_epoch`. ``run`` is the runner's link (see :class:`RunLink`);
    a method never needs it."""

    device: torch.device
    seed: int
    generator: torch.Generator
    class_names: tuple[str, ...]
    amp: bool = True
    init: str = "source"  # the run's ``init`` setting (see Method.inits)
    run: RunLink = field(default_factory=RunLink, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __getattr__(self, name: str) -> Any:
        if name in _REMOVED:
            raise AttributeError(f"AdaptContext.{name} was removed in dabench 0.2: {_REMOVED[name]} "
                                 "(docs/writing-plugins.md)")
        raise AttributeError(f"'AdaptContext' object has no attribute {name!r}")

    def session(self, epoch_hook: bool = True, checkpoint: bool = True, timed: bool = True) -> Session:
        """The loop session of this context: its generator, device, amp; with ``epoch_hook`` the runner hears
        of every epoch; with ``checkpoint`` the epochs are saved to (and resumed from) the run folder; with
        ``timed`` the loop's stages (``pseudo_labels``, ``train``) add to :meth:`stage`'s timings."""
        return Session(self.generator, self.device, self.amp,
                       checkpoint=self.run.checkpoint if checkpoint else None,
                       on_epoch_end=self.run.on_epoch_end if epoch_hook else None,
                       timer=self.stage if timed else None, log=self.log)

    def fit(self, model: nn.Module, images: torch.Tensor, optimizer: torch.optim.Optimizer, step: Step,
            schedule: Schedule, stage: str = "train") -> list[float]:
        """Train ``model`` with :func:`dabench.train.loop.fit` as this run's epochs: each one is reported to the
        runner (history, validators, the progress line) and checkpointed, so a killed run resumes where it
        stopped. Returns each epoch's mean loss."""
        return fit(model, images, optimizer, step, schedule, self.session(), stage=stage)

    def end_epoch(self, model: ClassifierNet, epoch: int) -> None:
        """For a method that does not train through :meth:`fit`: the runner records per-epoch metrics for
        analysis (never selection)."""
        if self.run.on_epoch_end is not None:
            self.run.on_epoch_end(model, epoch)

    def initial_model(self, init: str) -> ClassifierNet:
        """A fresh network for methods that do not start from the source weights (e.g. init='ssl')."""
        if self.run.initial_model is None:
            raise RuntimeError("this context belongs to no run: it provides no initial models")
        return self.run.initial_model(init)

    def record(self, key: str, value: Any) -> None:
        """Keep a JSON-able value in the run's result under ``method_records``."""
        self.run.records.values[key] = value

    def record_pseudo_labels(self, indices: torch.Tensor, labels: torch.Tensor, stage: str = "") -> None:
        """The target-train indices a method kept and the labels it gave them; the evaluator scores them
        against the true labels after the run (the method never sees those)."""
        self.run.records.pseudo_labels.append({"stage": stage, "indices": indices.detach().cpu().clone(),
                                               "labels": labels.detach().cpu().clone()})

    def log(self, message: str) -> None:
        """A line for the run's log.txt, written at once (and on stderr off a terminal)."""
        self.run.records.log_lines.append(message)
        progress_log_line(message)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a named stage (reported in result.json's timings as ``method.<name>``)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        timings = self.run.records.timings
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - started

    def progress(self, iterable: Iterable, desc: str, total: int | None = None) -> Iterable:
        """An epoch loop of a method that does not use :meth:`fit`: a bar on a terminal and one line per
        finished epoch in the run's log (with what :func:`dabench.store.progress.note` was given)."""
        return epochs(iterable, stage=desc, total=total)


H = TypeVar("H")


class Method(Generic[H]):
    """Base class of method plugins, generic in its hyperparameters: ``class Shot(Method[ShotHparams])``
    makes ``self.hparams`` a ``ShotHparams`` for type checkers, with no cast in the plugin.

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

    def __init__(self, hparams: H) -> None:
        self.hparams: H = hparams

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
        from dabench.settings.config import load_yaml  # YAML 1.2 booleans, as every settings layer

        table = load_yaml(Path(cls.defaults_file).read_text()) or {}
        merged: dict[str, Any] = {}
        merged.update((table.get("targets") or {}).get(target) or {})
        merged.update((table.get("pairs") or {}).get(f"{source}:{target}") or {})
        return merged
