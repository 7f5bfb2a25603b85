"""Conformance of method plugins: registration, tiny deterministic CPU runs, no access to labels."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

import dabench.testing.rng as rng  # not `from dabench.testing import`: that imports the package, a circle
from dabench.data.synth import generate_faces
from dabench.errors import DabenchError
from dabench.labels import CANONICAL_CLASSES
from dabench.methods import AdaptContext, Method, RunLink, TargetImages
from dabench.models import ClassifierNet
from dabench.settings import config as cfg
from dabench.testing.common import METHOD_ID, RESOLUTION, ConformanceError, _require
from dabench.testing.labels import label_access_message, watched_adapt
from dabench.train.batches import to_float
from dabench.train.device import seed_everything
from dabench.train.features import extract


# ---------------------------------------------------------------------------------------------- methods
def check_registration(method_cls: type) -> None:
    """id, aliases, Hparams (frozen dataclass; every field a default and a help; no run-key names),
    the adapt entry point it needs, and its defaults YAML."""
    name = getattr(method_cls, "__name__", repr(method_cls))
    _require(isinstance(method_cls, type) and issubclass(method_cls, Method),
             f"{name} must be a subclass of dabench.methods.Method")
    _require(bool(METHOD_ID.match(method_cls.id)), f"{name}.id {method_cls.id!r} must be lower_snake (e.g. 'my_method')")
    for alias in method_cls.aliases:
        _require(bool(METHOD_ID.match(alias)), f"{name}.aliases: {alias!r} must be lower_snake")
    hp = method_cls.Hparams
    _require(dataclasses.is_dataclass(hp) and hp.__dataclass_params__.frozen,
             f"{name}.Hparams must be a @dataclass(frozen=True)")
    for f in dataclasses.fields(hp):
        _require(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING,
                 f"{name}.Hparams.{f.name} has no default; give it field(default=..., metadata={{'help': ...}})")
        _require(bool(str(f.metadata.get("help", "")).strip()),
                 f"{name}.Hparams.{f.name} has no help; add metadata={{'help': 'one line'}}")
    clash = sorted({f.name for f in dataclasses.fields(hp)} & set(cfg.RUN_DEFAULTS))
    _require(not clash, f"{name}.Hparams field(s) {', '.join(clash)} clash with run settings "
                        f"({', '.join(sorted(cfg.RUN_DEFAULTS))}); rename them")
    try:
        hp()
    except (TypeError, ValueError) as exc:
        raise ConformanceError(f"{name}.Hparams() with its defaults fails: {exc}") from None
    entry = "adapt" if method_cls.source_free else "adapt_with_labels"
    _require(getattr(method_cls, entry) is not getattr(Method, entry), f"{name} must implement {entry}()")
    if method_cls.source_free:
        params = list(inspect.signature(method_cls.adapt).parameters)
        _require(params == ["self", "model", "target", "ctx"],
                 f"{name}.adapt must take (self, model, target, ctx), got ({', '.join(params)})")
    _require(len(method_cls.inits) >= 1 and set(method_cls.inits) <= set(cfg.INITS),
             f"{name}.inits {method_cls.inits} must be a non-empty subset of {cfg.INITS}")
    if method_cls.defaults_file is not None and Path(method_cls.defaults_file).exists():  # optional
        import yaml

        path = Path(method_cls.defaults_file)

        table = yaml.safe_load(path.read_text()) or {}
        _require(set(table) <= {"targets", "pairs"}, f"{path}: top-level keys must be 'targets' and 'pairs'")
        valid = set(method_cls.hparam_defaults()) | set(cfg.RUN_DEFAULTS)
        for section in ("targets", "pairs"):
            for key, values in (table.get(section) or {}).items():
                unknown = sorted(set(values or {}) - valid)
                _require(not unknown, f"{path}: {section}.{key} sets unknown key(s) {', '.join(unknown)}")


class TinyBackbone(nn.Module):
    """Two strided convolutions: (B, 3, H, W) -> (B, 32); fast enough for conformance runs on a CPU."""

    feature_dim = 32

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                                    nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
                                    nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


def tiny_model(num_classes: int = len(CANONICAL_CLASSES), seed: int = 0) -> ClassifierNet:
    """A fresh tiny network, its weights drawn from ``seed``; the caller's global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ClassifierNet(TinyBackbone(), TinyBackbone.feature_dim, num_classes)


@dataclass(frozen=True)
class TinyData:
    """Generated faces at 16 px as a method receives them: (N, C, H, W) uint8 tensors; labels (N,)."""

    source_images: torch.Tensor
    source_labels: torch.Tensor
    target_images: torch.Tensor
    target_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def tiny_data(n_train: int = 96, n_test: int = 64, seed: int = 0) -> TinyData:
    def faces(count: int, style: str, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = generate_faces(count, style, RESOLUTION, seed=seed * 1000 + offset)
        return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)

    return TinyData(*faces(200, "lab", 900), *faces(n_train, "wild", 901), *faces(n_test, "wild", 902))


_SOURCE_STATES: dict[int, dict[str, torch.Tensor]] = {}


def tiny_source_model(data: TinyData, seed: int = 0) -> ClassifierNet:
    """A tiny network trained for a few steps on the generated source faces (cached per seed)."""
    model = tiny_model(seed=seed)
    if seed not in _SOURCE_STATES:
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        model.train()
        for _ in range(40):
            batch = torch.randint(len(data.source_images), (64,), generator=generator)
            loss = nn.functional.cross_entropy(model(to_float(data.source_images[batch])), data.source_labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        _SOURCE_STATES[seed] = copy.deepcopy(model.state_dict())
    model.load_state_dict(_SOURCE_STATES[seed])
    return model


def tiny_hparams(method_cls: type[Method], overrides: dict[str, Any] | None = None) -> Any:
    """The method's defaults with ``epochs`` (and ``*_epochs``) set to 1 and batch_size <= 32, then ``overrides``."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(method_cls.Hparams):
        default = method_cls.hparam_defaults()[f.name]
        if (f.name == "epochs" or f.name.endswith("_epochs")) and isinstance(default, int) and default > 1:
            values[f.name] = 1
        elif f.name == "batch_size" and isinstance(default, int):
            values[f.name] = min(default, 32)
    values.update(overrides or {})
    try:
        return cfg.build_dataclass(method_cls.Hparams, {**method_cls.hparam_defaults(), **values},
                                   f"hyperparameters for method '{method_cls.id}'")
    except DabenchError as exc:
        raise ConformanceError(str(exc)) from None


@dataclass
class MethodReport:
    """What one conformance run saw; ``accuracy`` on the tiny target test is for information only."""

    method: str
    epochs_reported: list[int] = field(default_factory=list)
    source_accuracy: float = 0.0
    accuracy: float = 0.0
    seconds: float = 0.0
    epochs_checked: bool = False  # it has an int ``epochs`` hyperparameter, and one more epoch changed the run


@dataclass
class _Adapted:
    """One tiny run: the returned model, the epochs reported through ctx, the global generators ``adapt``
    moved and (when traced) the first torch call that moved torch's."""

    model: Any
    epochs: list[int]
    moved: list[str]
    first_draw: str | None = None


def _adapt_once(method_cls: type[Method], hparams: Any, data: TinyData, seed: int, global_seed: int | None = None,
                trace: bool = False) -> _Adapted:
    """``adapt`` on the tiny data with ``ctx.generator`` seeded by ``seed``; the global generators are seeded by
    ``global_seed`` (default ``seed``, as a run seeds them) and watched."""
    source = tiny_source_model(data, seed)
    epochs: list[int] = []

    def on_epoch_end(model: ClassifierNet, epoch: int) -> None:
        _require(isinstance(model, ClassifierNet), f"ctx.end_epoch got a {type(model).__name__}, not a ClassifierNet")
        epochs.append(epoch)

    def initial_model(init: str) -> ClassifierNet:
        _require(init in cfg.INITS, f"{method_cls.id} asked for init={init!r}; valid inits: {', '.join(cfg.INITS)}")
        # 'ssl' gives a fresh network here: target SSL pretraining is tested with the SSL code, not per method
        return copy.deepcopy(source) if init == "source" else tiny_model(source.num_classes, seed + 1)

    generator = seed_everything(seed)
    if global_seed is not None:  # other global states, as after other code drew from them
        seed_everything(global_seed)
    ctx = AdaptContext(device=torch.device("cpu"), seed=seed, generator=generator, class_names=CANONICAL_CLASSES,
                       amp=False, init=method_cls.inits[0], run=RunLink(on_epoch_end=on_epoch_end, initial_model=initial_model))
    target = TargetImages(data.target_images.clone())
    _require([f.name for f in dataclasses.fields(target)] == ["images"], "TargetImages must hold images only")
    for f in dataclasses.fields(ctx):
        _require(not isinstance(getattr(ctx, f.name), torch.Tensor), f"AdaptContext.{f.name} holds a tensor")
    method = method_cls(hparams)
    model = copy.deepcopy(source)
    tracer = rng.FirstGlobalDraw() if trace else contextlib.nullcontext()
    if method_cls.source_free:  # watched as a run watches it: opens of label files, gc walks, dataset builds
        with watched_adapt(data.target_images, data.target_labels, data.test_images, data.test_labels) as seen:
            before = rng.global_states()
            with tracer:
                adapted = method.adapt(model, target, ctx)
            drew = rng.moved(before)
        if seen.detected:
            raise ConformanceError(label_access_message(method_cls.id, seen.events))
    else:  # handed labels on purpose (target_oracle): not watched
        before = rng.global_states()
        with tracer:
            adapted = method.adapt_with_labels(model, target, data.target_labels.clone(), ctx)
        drew = rng.moved(before)
    _require(torch.equal(target.images, data.target_images), "adapt() modified the target images in place")
    return _Adapted(adapted, epochs, drew, tracer.found if isinstance(tracer, rng.FirstGlobalDraw) else None)


def check_method(method_cls: type[Method], hparams: dict[str, Any] | None = None, seed: int = 0,
                 n_train: int = 96, n_test: int = 64) -> MethodReport:
    """Registration, then tiny CPU runs: the result is a ClassifierNet giving (n_test, 7) finite logits; ``adapt``
    leaves torch's, NumPy's and Python's global RNGs alone; a run whose global RNGs start elsewhere (same
    ``ctx.generator`` seed) predicts the same classes; the label watch (dabench.run.watch) saw no route to labels;
    and a method with an ``epochs`` hyperparameter uses it (one more epoch: other weights or more epochs reported)."""
    check_registration(method_cls)
    started = time.perf_counter()
    data = tiny_data(n_train, n_test, seed)
    resolved = tiny_hparams(method_cls, hparams)
    first = _adapt_once(method_cls, resolved, data, seed)
    _require(isinstance(first.model, ClassifierNet),
             f"{method_cls.id}.adapt returned {type(first.model).__name__}; it must return a dabench.models.ClassifierNet")
    _, logits = extract(first.model, data.test_images)
    _require(tuple(logits.shape) == (n_test, len(CANONICAL_CLASSES)),
             f"{method_cls.id}: the adapted model gives logits {tuple(logits.shape)}, expected ({n_test}, 7)")
    _require(bool(torch.isfinite(logits).all()), f"{method_cls.id}: the adapted model gives non-finite logits")
    if first.moved:  # run again, traced, to name the call (only on this failure: tracing every call is slow)
        route = _adapt_once(method_cls, resolved, data, seed, trace=True).first_draw
        raise ConformanceError(rng.global_rng_message(method_cls.id, first.moved, route))
    _check_determinism(method_cls, resolved, data, seed, logits.argmax(1))
    epochs_checked = _check_epochs_used(method_cls, resolved, data, seed, first)
    source_predictions = extract(tiny_source_model(data, seed), data.test_images)[1].argmax(1)
    return MethodReport(method_cls.id, first.epochs,
                        float((source_predictions == data.test_labels).float().mean()),
                        float((logits.argmax(1) == data.test_labels).float().mean()),
                        time.perf_counter() - started, epochs_checked)


def _check_determinism(method_cls: type[Method], hparams: Any, data: TinyData, seed: int,
                       predictions: torch.Tensor) -> None:
    """A second run, same ``ctx.generator`` seed, global RNGs seeded otherwise, predicts the same classes; on a
    mismatch a third run from the first's global state tells global-state dependence from nondeterminism."""
    def disagree(global_seed: int | None) -> int:
        adapted = _adapt_once(method_cls, hparams, data, seed, global_seed=global_seed).model
        return int((extract(adapted, data.test_images)[1].argmax(1) != predictions).sum())

    n = len(predictions)
    mismatch = disagree(seed + rng.OTHER_GLOBAL_SEED)
    if not mismatch:
        return
    again = disagree(None)
    _require(again > 0, rng.global_state_message(method_cls.id, seed, mismatch, n))
    raise ConformanceError(f"{method_cls.id} is not deterministic for a seed: two runs with seed {seed} disagree on "
                           f"{again}/{n} predictions; draw randomness from ctx.generator")


def _check_epochs_used(method_cls: type[Method], hparams: Any, data: TinyData, seed: int, first: _Adapted) -> bool:
    """A method with an int ``epochs`` hyperparameter, run with one epoch more, reports another number of epochs
    through ctx (fit, end_epoch) or returns other weights. False when there is no such hyperparameter."""
    epochs = getattr(hparams, "epochs", None)
    if "epochs" not in {f.name for f in dataclasses.fields(hparams)} or type(epochs) is not int:
        return False
    try:
        more = dataclasses.replace(hparams, epochs=epochs + 1)
    except (TypeError, ValueError) as exc:
        raise ConformanceError(f"{method_cls.id}.Hparams refuses epochs={epochs + 1} ({exc}); the kit runs "
                               f"epochs={epochs} and {epochs + 1} to see that the setting is used") from None
    longer = _adapt_once(method_cls, more, data, seed)
    if len(longer.epochs) != len(first.epochs) or not _same_weights(first.model, longer.model):
        return True
    raise ConformanceError(
        f"{method_cls.id} ignores its epochs setting: with epochs={epochs} and epochs={epochs + 1} it reported the "
        f"same {len(first.epochs)} epoch(s) through ctx and returned identical weights. Users sweep and record "
        f"epochs, so it must act: pass self.hparams.epochs to ctx.fit(..., Schedule(epochs=...)) or loop over it "
        f"calling ctx.end_epoch(model, epoch); a field the method does not use does not belong in its Hparams")


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
