"""One run: claim its folder, prepare the data, get the source model, adapt, evaluate on target test, store
the result. Planning lives in ``dabench.run.plan`` (re-exported here), the evaluator in ``dabench.run.evaluate``,
the networks a run builds in ``dabench.run.networks``, the result record in ``dabench.run.record``."""

from __future__ import annotations

import copy
import os
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dabench.data.dataset import PreparedDataset, Split
from dabench.data.pairs import prepare, split_in_classes
from dabench.errors import DabenchError, PluginError, blame_plugin
from dabench.host.registry import Registry
from dabench.methods import AdaptContext, Method, RunLink, TargetImages
from dabench.models import ClassifierNet
from dabench.run.evaluate import Evaluator
from dabench.run.memory import check_fits
from dabench.run.networks import distilled_start, initial_model, ssl_target_key
from dabench.run.plan import RunPlan, plan_run, source_spec
from dabench.run.record import Timings, result_record
from dabench.run.record import git_revision as _git_revision  # noqa: F401 -- benchmarks/gpu_suite.py imports it from here
from dabench.run.source_model import fetch_source_model, load_source_file
from dabench.store import atomic, progress, results
from dabench.store import run_lock as running
from dabench.store.checkpoint import FILENAME as CHECKPOINT
from dabench.store.checkpoint import Checkpointer
from dabench.train.batches import images_to_device
from dabench.train.device import compile_model, require_compile, resolve_device, seed_everything

__all__ = ["RunPlan", "execute", "plan_run", "source_spec"]  # plan_run and RunPlan live in dabench.run.plan


def execute(plan: RunPlan, registry: Registry, device_name: str = "auto", force: bool = False, *,
            record_user_errors: bool = False, index: bool = True) -> dict[str, Any]:
    """Run ``plan`` unless an intact finished run with the same id exists (``force`` reruns it).

    While it runs, the folder holds a ``running`` marker (pid, host, start) and this machine's lock on
    the run (another process gets ``running.RunBusy``). A user error (a missing dataset, a bad
    checkpoint) leaves nothing behind, unless ``record_user_errors`` (sweeps) keeps it in ``error.txt``;
    any other exception keeps the folder with ``error.txt`` holding the traceback, and no ``done``
    marker. A run killed part-way resumes from its ``checkpoint.pt`` (``force`` discards it). ``force``
    never loses a finished result: it waits in ``runs.previous/<run_id>`` until the rerun is done, is
    put back if the rerun fails, and stays there if the rerun is interrupted (the folder then holds the
    interrupted rerun, which the next start resumes; finishing it drops the copy).
    """
    folder = results.run_dir(plan.run_id)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with running.claim(folder):
        finished = results.read_done(folder)
        previous = _set_aside(folder) if force and finished is not None else None
        if force:
            finished = None
        if finished is None:
            try:
                result = _run_in(folder, plan, registry, device_name, force, record_user_errors)
            except Exception:  # a failure; an interruption (KeyboardInterrupt, a kill) leaves a resumable run
                if previous is not None:
                    _put_back(previous, folder)
                raise
            shutil.rmtree(_previous_dir(folder), ignore_errors=True)
        else:
            result = finished
    if index:
        results.index_result(result)
    return result


def _run_in(folder: Path, plan: RunPlan, registry: Registry, device_name: str, force: bool,
            record_user_errors: bool) -> dict[str, Any]:
    _reset_folder(folder, keep_checkpoint=not force)
    results.write_config(folder, plan.config)
    running.write_marker(folder)
    try:
        with progress.run_log(folder, f"{plan.method.id} {plan.pair} seed {plan.seed}"):
            device = resolve_device(device_name)
            check_fits(plan, registry, device)  # before any preparation or training: numbers, not a frozen machine
            data = _prepare_data(plan, registry)
            result, log_lines = _execute(plan, registry, device, data, folder)
    except DabenchError as exc:  # a plugin's bug keeps its traceback, as any failure does; a user's mistake leaves nothing
        if record_user_errors or isinstance(exc, PluginError):
            atomic.write_text(folder / running.ERROR, "".join(traceback.format_exception(exc)))
        else:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    except Exception as exc:  # not KeyboardInterrupt: an interrupted run is resumed, not failed
        atomic.write_text(folder / running.ERROR, "".join(traceback.format_exception(exc)))
        raise
    results.finish_run(folder, result, log_lines)
    (folder / CHECKPOINT).unlink(missing_ok=True)
    return result


def _previous_dir(folder: Path) -> Path:
    return folder.parent.with_name("runs.previous") / folder.name


def _set_aside(folder: Path) -> Path:
    """Copy a finished run's folder to ``runs.previous/<run_id>`` before a forced rerun empties it."""
    previous = _previous_dir(folder)
    shutil.rmtree(previous, ignore_errors=True)
    previous.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(folder, previous, ignore=shutil.ignore_patterns(running.MARKER, CHECKPOINT))
    return previous


def _put_back(previous: Path, folder: Path) -> None:
    """The forced rerun did not finish: the finished run it replaced comes back, and into the index."""
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(previous, folder)
    restored = results.read_done(folder)
    if restored is not None:
        results.index_result(restored)


def _reset_folder(folder: Path, keep_checkpoint: bool) -> None:
    """Empty a stale, failed or forced run's folder; keep the checkpoint of an interrupted one to resume it."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if keep_checkpoint and path.name == CHECKPOINT:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


@dataclass(frozen=True)
class _PairData:
    source: PreparedDataset | None  # None with --source-model: the source-free workflow needs no source data
    target: PreparedDataset
    seconds: float


def _prepare_data(plan: RunPlan, registry: Registry) -> _PairData:
    started = time.perf_counter()
    source = None
    if plan.source_file is None:
        source = _prepare_as_planned(plan, registry, "source")
    target = _prepare_as_planned(plan, registry, "target")
    return _PairData(source, target, time.perf_counter() - started)


def _prepare_as_planned(plan: RunPlan, registry: Registry, side: str) -> PreparedDataset:
    """One side's prepared arrays, once its folder still holds what the run was planned (and named) on."""
    name = getattr(plan.pair, side)
    prepared = prepare(registry.dataset(name), plan.config["data"].get(side, {}), plan.config["image_size"])
    planned, found = plan.config.get("data_files", {}).get(side), prepared.meta["key"].get("files")
    if planned != found:
        raise DabenchError(f"dataset '{name}' changed on disk since run {plan.run_id} was planned (its files were "
                           f"{planned}, now {found}); start the command again to plan it on the files as they are")
    return prepared


@dataclass(frozen=True)
class _SourceModel:
    model: ClassifierNet
    meta: dict[str, Any]
    split_hash: str | None  # of the source dataset the model was trained on


def _execute(plan: RunPlan, registry: Registry, device: torch.device,
             data: _PairData, folder: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    config = plan.config
    if config["compile"]:
        require_compile(device)  # refuse before the source model is trained, not after
    timings = Timings(data.seconds)
    target_test = split_in_classes(data.target, "test", plan.classes)
    adapt_split_name = "test" if config["protocol"] == "transductive" else "train"
    adapt_split = target_test if adapt_split_name == "test" else split_in_classes(data.target, "train", plan.classes)
    method = plan.method(plan.hparams)
    method.check_target(len(adapt_split))  # before a source model is trained for nothing
    target_key = ssl_target_key(data.target, adapt_split_name, plan.classes)
    timings.lap("data")

    source = _source_model(plan, registry, device, data.source)
    timings.lap("source_model")

    evaluator = Evaluator(target_test, adapt_split, plan.classes, plan.seed, registry.validators,
                          config["eval_batch_size"], device)
    source_metrics = evaluator.evaluate(source.model)
    timings.lap("evaluate")

    def for_training(network: ClassifierNet) -> ClassifierNet:
        """A network the method adapts or trains: compiled when the run asks for it (--set compile=true)."""
        return compile_model(network, device) if config["compile"] else network

    target = TargetImages(images_to_device(adapt_split.images, device))
    generator = seed_everything(plan.seed)
    link = RunLink(on_epoch_end=evaluator.on_epoch_end,
                   initial_model=lambda init: for_training(initial_model(init, source.model, registry, plan, device,
                                                                         target.images, target_key)),
                   checkpoint=Checkpointer(folder / CHECKPOINT, generator, owner=plan.run_id) if folder else None,
                   runner_state={"history": evaluator.history})  # checkpointed with the method's epochs
    ctx = AdaptContext(device=device, seed=plan.seed, generator=generator, class_names=plan.classes,
                       amp=config["amp"], init=config["init"], run=link)
    if config["init"] == "source" or plan.method.builds_network:
        model = for_training(copy.deepcopy(source.model))
    else:
        model = distilled_start(config, source.model, target, ctx)  # ctx.initial_model compiles it if asked
    adapted, label_access = _adapt(plan, registry, method, model, target, adapt_split, ctx, device)
    timings.lap("adapt")

    final = evaluator.evaluate(adapted)
    timings.lap("evaluate")
    seconds = timings.total()
    result = result_record(plan, registry, device, link.records, final=final, source_metrics=source_metrics,
                           history=evaluator.closed_history(adapted, final), label_access=label_access,
                           adapt=adapt_split, target_test_size=len(target_test), source_meta=source.meta,
                           split_hashes={plan.pair.source: source.split_hash,
                                         plan.pair.target: data.target.meta.get("split_hash")},
                           timings=timings, seconds=seconds)
    return result, link.records.log_lines


def _source_model(plan: RunPlan, registry: Registry, device: torch.device,
                  source_prepared: PreparedDataset | None) -> _SourceModel:
    """The --source-model file, or the source model trained once per spec and cached (the log says which)."""
    config = plan.config
    if plan.source_file is not None:
        model, meta = load_source_file(plan.source_file, registry, device), plan.source_file
        return _SourceModel(model, meta, meta.get("split_hash"))
    fetched = fetch_source_model(source_spec(plan, source_prepared.key), registry, device, amp=config["amp"])
    model, meta = fetched.value
    how = f"trained now in {meta.get('train_seconds')} s" if fetched.built else "reused from the cache"
    held_out = meta.get("source_val_accuracy")
    progress.log_line(f"source model {meta.get('sha256', '')[:12]} ({plan.pair.source}, {config['backbone']}, "
                      f"{config['image_size']} px, seed {plan.seed}): {how}"
                      + (f"; held-out source accuracy {held_out:.1%}" if held_out is not None else ""))
    return _SourceModel(model, meta, source_prepared.meta.get("split_hash"))


def _adapt(plan: RunPlan, registry: Registry, method: Method, model: ClassifierNet, target: TargetImages,
           adapt_split: Split, ctx: AdaptContext, device: torch.device) -> tuple[ClassifierNet, dict[str, Any]]:
    """(the adapted model, the run's ``label_access`` record): a source-free method adapts watched for label
    access by any route dabench knows (docs/writing-plugins.md); one handed labels on purpose is not."""
    if plan.method.source_free:
        from dabench.run.watch import watching_run

        with watching_run(registry) as seen:
            ctx.run.runner_state["label_access"] = seen.events  # checkpointed: a resumed run keeps what was seen
            with blame_plugin("method", plan.method.id, plan.method):
                adapted = method.adapt(model, target, ctx)
        _require_model(plan, adapted, "adapt")
        label_access = seen.result()
        if seen.detected:
            progress.log_line(f"label access detected during adapt: {'; '.join(seen.events)}")
        return adapted, label_access
    # target_oracle, reported as not source-free
    with blame_plugin("method", plan.method.id, plan.method):
        adapted = method.adapt_with_labels(model, target, torch.from_numpy(adapt_split.labels).to(device), ctx)
    _require_model(plan, adapted, "adapt_with_labels")
    return adapted, {"detected": False, "watched": False}


def _require_model(plan: RunPlan, adapted: Any, entry: str) -> None:
    if not isinstance(adapted, ClassifierNet):
        raise PluginError(f"method '{plan.method.id}' ({plan.method.__module__}.{plan.method.__qualname__}) returned "
                          f"{type(adapted).__name__} from {entry}(); it must return the adapted network, a "
                          "dabench.models.ClassifierNet (`return model` at the end of adapt)")
