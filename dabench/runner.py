"""One run: resolve its config, get the source model, adapt, evaluate on target test, store the result."""

from __future__ import annotations

import copy
import os
import platform
import shutil
import subprocess
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch

import dabench
from dabench import atomic, progress, results, running
from dabench import config as cfg
from dabench.checkpoint import FILENAME as CHECKPOINT
from dabench.checkpoint import Checkpointer
from dabench.data.dataset import PreparedDataset
from dabench.data.pairs import prepare, split_in_classes
from dabench.errors import DabenchError
from dabench.labels import pair_classes
from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet, build_model, check_image_size
from dabench.registry import Pair, Registry
from dabench.source import SourceSpec, artifact_folder, get_source_model, inspect_source_file, load_source_file
from dabench.ssl import SSLRecipe, check_backbone, ssl_seed
from dabench.ssl.artifact import SSLSpec, ssl_model
from dabench.train.batches import images_to_device
from dabench.train.device import compile_model, determinism_report, require_compile, resolve_device, seed_everything
from dabench.train.distil import DistilRecipe, distil_source
from dabench.train.features import predict
from dabench.train.metrics import classification_metrics
from dabench.validators import fixed_subsample, score_model

MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class RunPlan:
    """A fully resolved run; ``run_id`` is the hash of ``config``."""

    method: type[Method]
    pair: Pair
    seed: int
    classes: tuple[str, ...]
    config: dict[str, Any]
    hparams: Any
    run_id: str
    source_file: dict[str, Any] | None = None  # --source-model: the checked checkpoint's metadata and path


def default_backbone(registry: Registry, pair: Pair) -> str:
    choices = {registry.dataset(name).default_backbone for name in (pair.source, pair.target)}
    return "resnet18" if "resnet18" in choices else "small_cnn"


def plan_run(registry: Registry, method: str, pair: str, seed: int = 0, backbone: str | None = None,
             config_files: tuple[Path, ...] = (), sets: tuple[str, ...] = (),
             source_model: Path | None = None) -> RunPlan:
    """Resolve defaults <- method per-pair YAML <- files <- --set, and check every key and value."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise DabenchError(f"seed must be an integer in 0..{MAX_SEED} (NumPy's seed range), got {seed!r}")
    method_cls = registry.method(method)
    parsed_pair = registry.pair(pair)
    hparam_defaults = method_cls.hparam_defaults()
    clash = sorted(set(hparam_defaults) & set(cfg.RUN_DEFAULTS))
    if clash:
        raise DabenchError(f"method '{method_cls.id}' has hyperparameter(s) named like run settings: {', '.join(clash)}")
    defaults = {**cfg.RUN_DEFAULTS, **hparam_defaults}
    defaults["ssl"] = {**defaults["ssl"], **registry.dataset(parsed_pair.target).ssl_defaults}
    overrides = method_cls.overrides_for(parsed_pair.source, parsed_pair.target)
    user_changes: dict[str, Any] = {}  # what the user changed on top of the defaults: names the variant
    cfg.check_against(defaults, overrides)
    defaults = cfg.deep_merge(defaults, overrides)
    standard = _resolve_sizes(registry, parsed_pair, copy.deepcopy(defaults))  # this pair's default run
    standard["init"] = standard["init"] or method_cls.inits[0]
    for layer in [*(cfg.load_file(path) for path in config_files), *(cfg.parse_set(s) for s in sets)]:
        cfg.check_against(defaults, layer)
        defaults = cfg.deep_merge(defaults, layer)
        user_changes = cfg.deep_merge(user_changes, layer)
    if backbone is not None:
        defaults["backbone"] = backbone
        user_changes["backbone"] = backbone
    resolved = _resolve_sizes(registry, parsed_pair, defaults)
    if resolved["backbone_weights"]:  # a file is the same run from any working directory
        resolved["backbone_weights"] = str(Path(resolved["backbone_weights"]).expanduser().resolve())
    backbone_spec = registry.backbone(resolved["backbone"])
    check_image_size(backbone_spec, resolved["image_size"])
    if resolved["protocol"] not in cfg.PROTOCOLS:
        raise DabenchError(f"config key 'protocol' must be one of {', '.join(cfg.PROTOCOLS)}, got {resolved['protocol']!r}")
    resolved["init"] = resolved["init"] or method_cls.inits[0]
    # a setting given its default value is no change: the same run, the same leaderboard row
    user_changes = _changed_only(user_changes, resolved, standard)
    if resolved["init"] not in cfg.INITS:
        raise DabenchError(f"config key 'init' must be one of {', '.join(cfg.INITS)}, got {resolved['init']!r}")
    _check_init(registry, method_cls, resolved, backbone_spec)
    splits = {}  # which images are train and test on each side: a new split rule is a new run
    for side in ("source", "target"):
        dataset = registry.dataset(getattr(parsed_pair, side))
        options = dataset.options({**resolved["data"].get(side, {}), "resolution": resolved["image_size"]},
                                  where=f"data.{side}.")
        splits[side] = dataset.split_identity(options)
    cfg.build_dataclass(cfg.SupervisedRecipe, resolved["source"], "source recipe")
    cfg.build_dataclass(DistilRecipe, resolved["distil"], "distil recipe")
    for section in unused_sections(method_cls, resolved["init"]):  # what the run never reads is not its identity
        del resolved[section]
        user_changes.pop(section, None)
    hparams = cfg.build_dataclass(method_cls.Hparams, {k: resolved[k] for k in hparam_defaults},
                                  f"hyperparameters for method '{method_cls.id}'")
    source_ds, target_ds = registry.dataset(parsed_pair.source), registry.dataset(parsed_pair.target)
    classes = pair_classes(source_ds.classes, target_ds.classes)
    source_file = None
    if source_model is not None:  # checked now, before any data is prepared; identified by its content
        source_file = inspect_source_file(source_model, resolved["backbone"], classes, resolved["image_size"],
                                          (parsed_pair.source, parsed_pair.target))
    config = {"method": method_cls.id, "pair": str(parsed_pair), "seed": seed,
              "source_model": {"sha256": source_file["sha256"]} if source_file else None,
              "variant": cfg.describe_changes(user_changes), "splits": splits, **resolved}
    return RunPlan(method_cls, parsed_pair, seed, classes, config, hparams, atomic.sha256_json(config)[:16],
                   source_file)


def unused_sections(method_cls: type[Method], init: str) -> tuple[str, ...]:
    """The stage recipes a run of ``method_cls`` from ``init`` never reads: ``ssl`` unless init=ssl, and
    ``distil`` unless the method adapts the network it is handed from an init other than the source
    model. They are left out of its config, so a changed SSL default does not rename every run."""
    unused = [] if init == "ssl" else ["ssl"]
    if init == "source" or method_cls.builds_network:
        unused.append("distil")
    return tuple(unused)


def source_spec(plan: RunPlan, data_key: str = "") -> SourceSpec:
    """The source model a run of ``plan`` trains or reuses (``dabench source train --pair`` builds the same)."""
    config = plan.config
    return SourceSpec(plan.pair.source, plan.classes, config["backbone"], config["image_size"], config["source"],
                      plan.seed, config["data"].get("source", {}), config["backbone_weights"], data_key)


def _resolve_sizes(registry: Registry, pair: Pair, config: dict[str, Any]) -> dict[str, Any]:
    """Fill the backbone (the datasets' default) and image size in place: the backbone's default size, else
    the smaller of the two datasets' native sizes (the resolution both sides really have: upscaling
    FER2013's 48 px faces to ExpW's 112 would add no detail and cost five times the compute)."""
    config["backbone"] = config["backbone"] or default_backbone(registry, pair)
    native = min(registry.dataset(pair.source).native_size, registry.dataset(pair.target).native_size)
    config["image_size"] = config["image_size"] or registry.backbone(config["backbone"]).default_image_size or native
    return config


def _changed_only(changes: dict[str, Any], resolved: dict[str, Any], standard: dict[str, Any]) -> dict[str, Any]:
    """The leaves of ``changes`` whose resolved value differs from the pair's standard run."""
    kept: dict[str, Any] = {}
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(resolved.get(key), dict):
            inner = _changed_only(value, resolved[key], standard.get(key) or {})
            if inner:
                kept[key] = inner
        elif resolved.get(key) != standard.get(key):
            kept[key] = value
    return kept


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
            data = _prepare_data(plan, registry)
            result, log_lines = _execute(plan, registry, device, data, folder)
    except DabenchError as exc:
        if record_user_errors:
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
    config, size = plan.config, plan.config["image_size"]
    source = None
    if plan.source_file is None:
        source = prepare(registry.dataset(plan.pair.source), config["data"].get("source", {}), size)
    target = prepare(registry.dataset(plan.pair.target), config["data"].get("target", {}), size)
    return _PairData(source, target, time.perf_counter() - started)


def _execute(plan: RunPlan, registry: Registry, device: torch.device,
             data: _PairData, folder: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    config = plan.config
    if config["compile"]:
        require_compile(device)  # refuse before the source model is trained, not after
    timings: dict[str, float] = {"data": round(data.seconds, 3)}
    started = time.perf_counter()

    def timed(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(timings.get(name, 0.0) + now - since, 3)
        return now

    mark = time.perf_counter()
    source_prepared, target_prepared = data.source, data.target
    target_test = split_in_classes(target_prepared, "test", plan.classes)
    adapt_split = target_test if config["protocol"] == "transductive" else split_in_classes(target_prepared, "train", plan.classes)
    adapt_split_name = "test" if config["protocol"] == "transductive" else "train"
    method = plan.method(plan.hparams)
    method.check_target(len(adapt_split))  # before a source model is trained for nothing
    ssl_target_key = {"prepared": target_prepared.key, "split": adapt_split_name, "classes": list(plan.classes),
                      "images_sha256": target_prepared.meta.get("files", {}).get(f"{adapt_split_name}_images.npy")}
    mark = timed("data", mark)

    if plan.source_file is not None:
        source_model, source_meta = load_source_file(plan.source_file, registry, device), plan.source_file
        source_split_hash = source_meta.get("split_hash")
    else:
        spec = source_spec(plan, source_prepared.key)
        cached = (artifact_folder(spec) / "meta.json").exists()
        source_model, source_meta = get_source_model(spec, registry, device, amp=config["amp"])
        source_split_hash = source_prepared.meta.get("split_hash")
        how = "reused from the cache" if cached else f"trained now in {source_meta.get('train_seconds')} s"
        held_out = source_meta.get("source_val_accuracy")
        progress.log_line(f"source model {source_meta.get('sha256', '')[:12]} ({plan.pair.source}, {config['backbone']}, "
                          f"{config['image_size']} px, seed {plan.seed}): {how}"
                          + (f"; held-out source accuracy {held_out:.1%}" if held_out is not None else ""))
    mark = timed("source_model", mark)

    test_images = images_to_device(target_test.images, device)
    batch = config["eval_batch_size"]

    def evaluate(model: ClassifierNet) -> dict[str, Any]:
        predictions = predict(model, test_images, batch).cpu().numpy()
        return classification_metrics(predictions, target_test.labels, plan.classes)

    source_metrics = evaluate(source_model)
    mark = timed("evaluate", mark)

    history: list[dict[str, Any]] = []
    # label-free validators score each epoch on a fixed subsample of the images the method adapts on
    validation_indices = fixed_subsample(len(adapt_split), plan.seed).numpy()
    validation_images = images_to_device(adapt_split.images[validation_indices], device)

    def on_epoch_end(model: ClassifierNet, epoch: int) -> None:
        metrics = evaluate(model)
        scores = score_model(model, validation_images, registry.validators, batch)
        history.append({"epoch": epoch, "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
                        "validators": scores})
        progress.note(**scores)  # label-free scores only: the log never shows target-test accuracy

    def for_training(network: ClassifierNet) -> ClassifierNet:
        """A network the method adapts or trains: compiled when the run asks for it (--set compile=true)."""
        return compile_model(network, device) if config["compile"] else network

    generator = seed_everything(plan.seed)
    checkpointer = Checkpointer(folder / CHECKPOINT, generator, owner=plan.run_id) if folder is not None else None
    ctx = AdaptContext(device=device, seed=plan.seed, generator=generator, class_names=plan.classes,
                       amp=config["amp"], init=config["init"], _on_epoch_end=on_epoch_end,
                       checkpointer=checkpointer, _runner_state={"history": history},
                       _initial_model=lambda init: for_training(_initial_model(init, source_model, registry, config,
                                                                               device, plan, target.images,
                                                                               ssl_target_key)))
    target = TargetImages(images_to_device(adapt_split.images, device))
    if config["init"] == "source" or plan.method.builds_network:
        model = for_training(copy.deepcopy(source_model))
    else:
        model = _distilled_start(config, source_model, target, ctx)  # ctx.initial_model compiles it if asked
    if plan.method.source_free:
        from dabench.watch import watching_run  # label access by any route dabench knows (docs/writing-plugins.md)

        with watching_run(registry) as seen:
            ctx._runner_state["label_access"] = seen.events  # checkpointed: a resumed run keeps what was seen
            adapted = method.adapt(model, target, ctx)
        label_access = seen.result()
        if seen.detected:
            progress.log_line(f"label access detected during adapt: {'; '.join(seen.events)}")
    else:  # handed labels on purpose (target_oracle, reported as not source-free): not watched
        adapted = method.adapt_with_labels(model, target, torch.from_numpy(adapt_split.labels).to(device), ctx)
        label_access = {"detected": False, "watched": False}
    mark = timed("adapt", mark)

    final = evaluate(adapted)
    timed("evaluate", mark)
    seconds = time.perf_counter() - started + data.seconds
    result = {
        "run_id": plan.run_id, "method": plan.method.id, "pair": str(plan.pair), "seed": plan.seed,
        "protocol": config["protocol"], "source_free": plan.method.source_free, "variant": config["variant"],
        "accuracy": final["accuracy"], "macro_f1": final["macro_f1"], "per_class": final["per_class"],
        "confusion": final["confusion"], "classes": list(plan.classes),
        "source_accuracy": source_metrics["accuracy"], "source_macro_f1": source_metrics["macro_f1"],
        # the model adapt returned closes the history (in place) when it changed after the last epoch
        "history": results.close_history(history, {"accuracy": final["accuracy"], "macro_f1": final["macro_f1"],
                                                   "validators": score_model(adapted, validation_images,
                                                                             registry.validators, batch)}),
        "oracle_accuracy": max((h["accuracy"] for h in history), default=None),
        "seconds": round(seconds, 3), "device": _device_name(device),
        "timings": {**timings, **{f"method.{k}": round(v, 3) for k, v in ctx.timings.items()}},
        "method_records": ctx.records,
        "pseudo_label_quality": _pseudo_label_quality(ctx, adapt_split.labels),
        "label_access": label_access,
        "source_model": {k: source_meta.get(k) for k in ("sha256", "path", "source_val_accuracy", "source_test_accuracy")},
        "target_train_size": len(adapt_split), "target_test_size": len(target_test),
        "split_hashes": {plan.pair.source: source_split_hash,
                         plan.pair.target: target_prepared.meta.get("split_hash")},
        "versions": _versions(), "git_revision": _git_revision(),
        "determinism": determinism_report(device, config["amp"]),
        **results.identity(registry, plan),  # finished_at, settings_sha256, code (not in the run id)
    }
    return result, ctx.log_lines


def _check_init(registry: Registry, method_cls: type[Method], resolved: dict[str, Any], backbone_spec: Any) -> None:
    """A method honours only the inits it lists; init=ssl also needs a valid recipe and an SSL-capable backbone."""
    init = resolved["init"]
    if init not in method_cls.inits:
        able = sorted(name for name, m in registry.methods.items() if init in m.inits)
        raise DabenchError(f"method '{method_cls.id}' does not support init={init!r} (it supports: "
                           f"{', '.join(method_cls.inits)}); methods that do: {', '.join(able) or 'none'}")
    if init == "ssl":
        check_backbone(backbone_spec, cfg.build_dataclass(SSLRecipe, resolved["ssl"], "ssl recipe"),
                       resolved["image_size"])


def _initial_model(init: str, source_model: ClassifierNet, registry: Registry, config: dict[str, Any],
                   device: torch.device, plan: RunPlan | None = None, target_images: torch.Tensor | None = None,
                   ssl_target_key: dict[str, Any] | None = None) -> ClassifierNet:
    """'source': a copy of the source model; 'scratch': a freshly initialised network of the same shape;
    'ssl': the backbone pretrained on the target images (cached artifact) under a fresh bottleneck and classifier."""
    if init == "ssl" and plan is not None and target_images is not None:
        recipe = cfg.build_dataclass(SSLRecipe, config["ssl"], "ssl recipe")
        spec = SSLSpec(plan.pair.target, ssl_target_key or {}, config["backbone"], config["image_size"], recipe,
                       ssl_seed(recipe, plan.seed), config["backbone_weights"])
        return ssl_model(spec, registry, source_model.num_classes, target_images, config["amp"])[0]
    if init == "source":
        return copy.deepcopy(source_model)
    if init == "scratch":
        weights = Path(config["backbone_weights"]) if config["backbone_weights"] else None
        return build_model(registry.backbone(config["backbone"]), source_model.num_classes, weights).to(device)
    raise DabenchError(f"unknown init '{init}'; valid inits: {', '.join(cfg.INITS)}")


def _distilled_start(config: dict[str, Any], source_model: ClassifierNet, target: TargetImages,
                     ctx: AdaptContext) -> ClassifierNet:
    """The network a method that adapts what it is handed starts from under init=ssl (or scratch): that
    init's network, taught the source model's predictions on the target train images (no labels)."""
    with ctx.stage("initial_model"):
        student = ctx.initial_model(config["init"])
    with ctx.stage("distil"):
        losses = distil_source(student, source_model, target.images, DistilRecipe(**config["distil"]), ctx)
        agreement = (predict(student, target.images) == predict(source_model, target.images)).float().mean().item()
    ctx.record("distil_epoch_loss", losses)
    ctx.record("distil_agreement", agreement)  # share of target train images on which student and source agree
    ctx.log(f"init={config['init']}: distilled the source model's predictions for {len(losses)} epochs; "
            f"agreement with the source model on target train {agreement:.1%}")
    return student


def _pseudo_label_quality(ctx: AdaptContext, labels: np.ndarray) -> list[dict[str, Any]]:
    """Accuracy of each pseudo-label set a method recorded, scored here by the evaluator."""
    quality = []
    for entry in ctx.pseudo_labels:
        indices, predicted = entry["indices"].numpy(), entry["labels"].numpy()
        quality.append({"stage": entry["stage"], "kept": int(len(indices)),
                        "accuracy": float(np.mean(labels[indices] == predicted)) if len(indices) else None})
    return quality


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{platform.processor() or platform.machine()}"


def _versions() -> dict[str, str]:
    return {"dabench": dabench.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "sklearn": sklearn.__version__, "python": platform.python_version(),
            "cudnn": str(torch.backends.cudnn.version()) if torch.cuda.is_available() else None}


def _git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(dabench.__file__).parent, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
