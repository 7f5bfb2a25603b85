"""The GPU benchmark set of issue 6 as one command; writes a JSON of results with the device, versions and date.

    python benchmarks/gpu_suite.py --out gpu.json            # on a CUDA machine (sizes of the issue)
    python benchmarks/gpu_suite.py --small --out small.json  # tiny sizes, any device (tests/test_gpu_suite_small.py)

Sections (``--only a,b`` runs some): ``train_step`` (a bare ClassifierNet train step on device-resident
random tensors against SHOT's real training loop and cluster_pl's training phase on device-resident uint8
images, same shape and precision, same process; SHOT's labelling pass timed apart; host-device syncs per
step counted on CUDA), ``extraction`` (``extract`` over 73,000 generated images against bare inference on
pre-made float batches; peak GPU memory), ``clustering`` (k-means, the CluP step, NRC's kNN search and
SHOT's centroid labels at N = 73,000), ``cluster_pl_run`` (a whole ``cluster_pl`` run on a FER2013-sized
generated target, init=source so no SSL stage, with the time spent in forward/backward per stage).
Throughputs are the best of ``--rounds`` interleaved rounds after one warm-up round; ratios use those bests.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import os
import platform
import resource
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dabench  # noqa: E402
from dabench.labels import CANONICAL_CLASSES  # noqa: E402
from dabench.methods import AdaptContext, TargetImages  # noqa: E402
from dabench.models import ClassifierNet, build_model  # noqa: E402
from dabench.train.device import autocast  # noqa: E402
from dabench.train.features import extract  # noqa: E402
from dabench.train.schedule import sgd  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    backbone: str
    image_size: int
    batch_size: int
    loop_images: int  # the SHOT / cluster_pl epoch (FER2013 train: 28,709)
    unique_images: int  # generated faces, tiled to the larger sets (speed does not depend on content)
    extract_images: int
    cluster_points: int
    prototypes: int
    run_train: int  # cluster_pl run: target train / test images, its epochs
    run_test: int
    run_epochs: int


FULL = Sizes("resnet18", 112, 256, 28_709, 4096, 73_000, 73_000, 1000, 28_709, 3589, 50)
SMALL = Sizes("small_cnn", 32, 32, 256, 256, 1024, 2000, 20, 300, 100, 1)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds(fn: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    sync(device)
    started = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - started, out


def make_model(backbone: str, device: torch.device) -> ClassifierNet:
    from dabench.host.registry import get_registry
    return build_model(get_registry().backbone(backbone), len(CANONICAL_CLASSES)).to(device)


def make_context(device: torch.device, amp: bool = True, seed: int = 0) -> AdaptContext:
    return AdaptContext(device=device, seed=seed, generator=torch.Generator().manual_seed(seed),
                        class_names=tuple(CANONICAL_CLASSES), amp=amp)


def face_images(count: int, unique: int, size: int, device: torch.device, seed: int = 0) -> torch.Tensor:
    """(count, 3, size, size) uint8 on ``device`` (channels_last, as the runner stores them): ``unique``
    synth-wild faces from dabench's generator, tiled."""
    from dabench.train.batches import images_to_device
    faces = _faces(min(unique, count), size, seed)
    return images_to_device(np.resize(faces, (count, *faces.shape[1:])), device)


@functools.lru_cache(maxsize=2)
def _faces(count: int, size: int, seed: int) -> np.ndarray:
    from dabench.data.synth import generate_faces
    return generate_faces(count, "wild", size, seed)[0]


def bare_train_steps(model: ClassifierNet, optimizer: torch.optim.Optimizer, inputs: list[torch.Tensor],
                     labels: torch.Tensor, steps: int, amp: bool = True) -> None:
    """The baseline: forward, loss, backward, SGD step on pre-made device-resident float batches."""
    model.train()
    device = inputs[0].device
    for step in range(steps):
        with autocast(device, amp):
            loss = F.cross_entropy(model(inputs[step % len(inputs)]).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def random_batches(count: int, batch: int, size: int, device: torch.device) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.rand(batch, 3, size, size, generator=generator).to(device)
            .contiguous(memory_format=torch.channels_last) for _ in range(count)]


def shot_epoch(model: ClassifierNet, images: torch.Tensor, batch_size: int, device: torch.device,
               amp: bool = True) -> dict[str, float]:
    """One epoch of the real ``Shot.adapt`` (labelling pass, then the training loop); its stage timings."""
    from dabench_methods.shot import Shot, ShotHparams
    ctx = make_context(device, amp)
    Shot(ShotHparams(epochs=1, batch_size=batch_size)).adapt(model, TargetImages(images), ctx)
    return {"train": ctx.run.records.timings["train"], "labelling": ctx.run.records.timings["pseudo_labels"]}


def cluster_pl_epoch(network: ClassifierNet, images: torch.Tensor, batch_size: int, device: torch.device,
                     amp: bool = True) -> float:
    """One epoch of cluster_pl's training phase (mixup, cosine lr) on ``images`` with fixed one-hot labels."""
    from dabench.train.loop import Schedule, by_progress
    from dabench.train.schedule import sgd
    from dabench.train.soft_targets import SoftTargets, cosine_decay
    from dabench_methods.cluster_pl.method import ClusterPLHparams
    targets = F.one_hot(torch.arange(len(images), device=device) % len(CANONICAL_CLASSES),
                        len(CANONICAL_CLASSES)).float()
    hp = ClusterPLHparams(epochs=1, batch_size=batch_size)
    optimizer = sgd([(network.parameters(), 1.0)], lr=hp.lr, weight_decay=hp.weight_decay)
    ctx = make_context(device, amp)
    step = SoftTargets(targets, ctx.generator, hp.mixup_alpha)
    schedule = Schedule(1, batch_size, lr=hp.lr, decay=by_progress(cosine_decay))
    return seconds(lambda: ctx.fit(network, images, optimizer, step, schedule, stage="cluster_pl"), device)[0]


def count_syncs(fn: Callable[[], Any], device: torch.device) -> int | None:
    """Synchronising CUDA calls made by ``fn`` (torch's sync debug mode); None off CUDA."""
    if device.type != "cuda":
        return None
    sync(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def train_step(sizes: Sizes, device: torch.device, rounds: int) -> dict[str, Any]:
    amp = True
    steps = sizes.loop_images // sizes.batch_size
    images = face_images(sizes.loop_images, sizes.unique_images, sizes.image_size, device)
    bare_model, shot_model, clup_model = (make_model(sizes.backbone, device) for _ in range(3))
    bare_optimizer = sgd([(bare_model.parameters(), 1.0)], lr=1e-3, weight_decay=1e-3)
    inputs = random_batches(4, sizes.batch_size, sizes.image_size, device)
    labels = torch.randint(len(CANONICAL_CLASSES), (sizes.batch_size,), device=device)
    bare, shot_train, labelling, clup = [], [], [], []
    for _ in range(rounds + 1):  # the first round warms up (cuDNN autotuning, allocator)
        bare.append(seconds(lambda: bare_train_steps(bare_model, bare_optimizer, inputs, labels, steps, amp),
                            device)[0])
        timings = shot_epoch(shot_model, images, sizes.batch_size, device, amp)
        shot_train.append(timings["train"])
        labelling.append(timings["labelling"])
        clup.append(cluster_pl_epoch(clup_model, images, sizes.batch_size, device, amp))
    bare, shot_train, labelling, clup = (values[1:] for values in (bare, shot_train, labelling, clup))
    per_round = steps * sizes.batch_size
    few = images[:4 * sizes.batch_size]  # sync counts: 8-step minus 4-step epochs, so per-epoch syncs cancel
    shot_syncs = [count_syncs(lambda n=n: shot_epoch(shot_model, images[:n], sizes.batch_size, device), device)
                  for n in (len(few), 2 * len(few))]
    clup_syncs = [count_syncs(lambda n=n: cluster_pl_epoch(clup_model, images[:n], sizes.batch_size, device), device)
                  for n in (len(few), 2 * len(few))]
    bare_syncs = count_syncs(lambda: bare_train_steps(bare_model, bare_optimizer, inputs, labels, 4, amp), device)
    bare_ips = per_round / min(bare)
    return {
        "backbone": sizes.backbone, "image_size": sizes.image_size, "batch_size": sizes.batch_size,
        "bf16_autocast": device.type == "cuda" and amp, "channels_last": True, "steps_per_round": steps,
        "rounds": rounds, "bare_images_per_s": bare_ips,
        "shot_images_per_s": per_round / min(shot_train), "shot_ratio": per_round / min(shot_train) / bare_ips,
        "shot_labelling_pass_s": min(labelling), "shot_labelling_images": sizes.loop_images,
        "cluster_pl_images_per_s": per_round / min(clup), "cluster_pl_ratio": per_round / min(clup) / bare_ips,
        "target_ratio": 0.85,
        "bare_syncs_per_step": None if bare_syncs is None else bare_syncs / 4,  # the counter's control: 0
        "shot_syncs_per_step": None if shot_syncs[0] is None else (shot_syncs[1] - shot_syncs[0]) / 4,
        "cluster_pl_syncs_per_step": None if clup_syncs[0] is None else (clup_syncs[1] - clup_syncs[0]) / 4,
        "seconds": {"bare": bare, "shot_train": shot_train, "shot_labelling": labelling, "cluster_pl_train": clup},
    }


def bare_inference(model: ClassifierNet, inputs: list[torch.Tensor], count: int) -> None:
    model.eval()
    device = inputs[0].device
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        done, i = 0, 0
        while done < count:
            batch = inputs[i % len(inputs)][:count - done]
            model.classifier(model.embed(batch))
            done, i = done + len(batch), i + 1


def extraction(sizes: Sizes, device: torch.device, rounds: int) -> dict[str, Any]:
    batch = 512  # extract's default and the runner's eval_batch_size
    model = make_model(sizes.backbone, device)
    images = face_images(sizes.extract_images, sizes.unique_images, sizes.image_size, device)
    inputs = random_batches(8, batch, sizes.image_size, device)
    ours, bare, peak = [], [], None
    for round_ in range(rounds + 1):
        bare.append(seconds(lambda: bare_inference(model, inputs, len(images)), device)[0])
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
        elapsed, (features, logits) = seconds(lambda: extract(model, images, batch), device)
        ours.append(elapsed)
        if device.type == "cuda" and round_ == 0:
            peak = {"peak_allocated_bytes": torch.cuda.max_memory_allocated(device),
                    "allocated_before_bytes": before, "images_bytes": images.numel() * images.element_size(),
                    "outputs_bytes": features.numel() * 4 + logits.numel() * 4,
                    "peak_reserved_bytes": torch.cuda.max_memory_reserved(device)}
        del features, logits
    bare, ours = bare[1:], ours[1:]
    n = len(images)
    return {"images": n, "image_size": sizes.image_size, "batch_size": batch, "backbone": sizes.backbone,
            "rounds": rounds, "bare_images_per_s": n / min(bare), "extract_images_per_s": n / min(ours),
            "ratio": min(bare) / min(ours), "target_ratio": 0.85, "gpu_memory": peak,
            "seconds": {"bare": bare, "extract": ours}}


def clustering(sizes: Sizes, device: torch.device, rounds: int) -> dict[str, Any]:
    from dabench.train.cluster_labels import select_by_clusters
    from dabench.train.kmeans import kmeans
    from dabench.train.knn import nrc_neighbourhood
    from dabench.train.pseudo_labels import centroid_pseudo_labels
    n, classes = sizes.cluster_points, len(CANONICAL_CLASSES)
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(300, 512, generator=generator)
    component = torch.randint(300, (n,), generator=generator)
    points = (centres[component] + 0.6 * torch.randn(n, 512, generator=generator)).to(device)
    predictions = (component % classes).to(device)
    bank = F.normalize(points[:, :256], dim=1)
    probs = torch.randn(n, classes, generator=generator).to(device).softmax(1)
    cases = {
        "kmeans_30_iterations": lambda: kmeans(points, sizes.prototypes, torch.Generator().manual_seed(0),
                                               max_iter=30, tol=0.0),
        "cluster_pl_labels": lambda: select_by_clusters(points, predictions, sizes.prototypes, 0.2, classes,
                                                        torch.Generator().manual_seed(0)),
        "nrc_knn_epoch": lambda: nrc_neighbourhood(bank, torch.arange(n, device=device), 5, 5),
        "shot_centroid_labels": lambda: centroid_pseudo_labels(bank, probs),
    }
    out: dict[str, Any] = {"points": n, "dim": 512, "knn_dim": 256, "prototypes": sizes.prototypes}
    for name, fn in cases.items():
        times = [seconds(fn, device)[0] for _ in range(rounds + 1)][1:]
        out[name] = {"best_s": min(times), "seconds": times}
    return out


class ForwardBackwardMeter:
    """Time every ClassifierNet forward/embed call and every backward, by the stage they ran in.

    On CUDA a pair of events brackets each call (GPU time between them; read once at the end, no sync
    in the loop); on the CPU, wall time. Stages: the runner's ``source_model`` and the method's ctx.stage
    names (``method.train`` ...); the rest (evaluation, validators) is ``other``."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.stage, self.depth = device, "other", 0
        self.spans: list[tuple[str, Any, Any]] = []
        self._undo: list[Callable[[], None]] = []

    def _mark(self) -> Any:
        if self.device.type == "cuda":
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def _timed(self, fn: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            if self.depth:
                return fn(*args, **kwargs)
            self.depth += 1
            start = self._mark()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spans.append((self.stage, start, self._mark()))
                self.depth -= 1
        return wrapper

    def _staged(self, name_of: Callable[..., str], fn: Callable) -> Callable:
        @contextlib.contextmanager
        def wrapper(*args, **kwargs):
            previous, self.stage = self.stage, name_of(*args, **kwargs)
            try:
                with fn(*args, **kwargs):
                    yield
            finally:
                self.stage = previous
        return wrapper

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        original = getattr(owner, name)
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, original))

    def __enter__(self) -> ForwardBackwardMeter:
        from dabench.run import execute as runner
        self._patch(ClassifierNet, "forward", self._timed(ClassifierNet.forward))
        self._patch(ClassifierNet, "embed", self._timed(ClassifierNet.embed))
        self._patch(torch.Tensor, "backward", self._timed(torch.Tensor.backward))
        self._patch(AdaptContext, "stage", self._staged(lambda ctx, name: f"method.{name}", AdaptContext.stage))
        source_model = runner.fetch_source_model

        def labelled_source_model(*args, **kwargs):
            previous, self.stage = self.stage, "source_model"
            try:
                return source_model(*args, **kwargs)
            finally:
                self.stage = previous
        self._patch(runner, "fetch_source_model", labelled_source_model)
        return self

    def __exit__(self, *exc: object) -> None:
        for undo in reversed(self._undo):
            undo()

    def totals(self) -> dict[str, float]:
        sync(self.device)
        totals: dict[str, float] = {}
        for stage, start, end in self.spans:
            span = start.elapsed_time(end) / 1000 if self.device.type == "cuda" else end - start
            totals[stage] = totals.get(stage, 0.0) + span
        return totals


@contextlib.contextmanager
def temporary_home() -> Iterator[Path]:
    previous = os.environ.get("DABENCH_HOME")
    with tempfile.TemporaryDirectory(prefix="dabench_suite_") as home:
        os.environ["DABENCH_HOME"] = home
        try:
            yield Path(home)
        finally:
            if previous is None:
                os.environ.pop("DABENCH_HOME", None)
            else:
                os.environ["DABENCH_HOME"] = previous


def cluster_pl_run(sizes: Sizes, device: torch.device, small: bool) -> dict[str, Any]:
    from dabench.host.registry import get_registry
    from dabench.run.execute import execute, plan_run
    # P = 1000 keeps CluP's ~30 images per cluster at FER2013's size (rafdb:fer2013 uses 1000); q stays
    # synth-wild's default
    sets = [f"image_size={sizes.image_size}", "init=source", f"epochs={sizes.run_epochs}",
            f"prototypes={sizes.prototypes}", f"data.target.n_train={sizes.run_train}",
            f"data.target.n_test={sizes.run_test}"]
    if small:
        sets += ["source.epochs=1", "data.source.n_train=300", "data.source.n_test=100"]
    with temporary_home():
        registry = get_registry()
        plan = plan_run(registry, "cluster_pl", "synth-lab:synth-wild", backbone=sizes.backbone, sets=tuple(sets))
        with ForwardBackwardMeter(device) as meter:
            wall, result = seconds(lambda: execute(plan, registry, device_name=device.type, index=False), device)
        in_model = meter.totals()
    timings = result["timings"]
    stage_wall = {"source_model": timings.get("source_model", 0.0), **{k: v for k, v in timings.items()
                                                                         if k.startswith("method.")}}
    outside = {stage: 1 - in_model.get(stage, 0.0) / spent for stage, spent in stage_wall.items() if spent > 0}
    total_in_model = sum(in_model.values())
    return {
        "config": {key: plan.config[key] for key in ("backbone", "image_size", "init", "epochs", "batch_size",
                                                     "prototypes", "fraction", "data")},
        "ssl": "excluded (init=source); not measured here",
        "wall_s": wall, "result_seconds": result["seconds"], "timings": timings,
        "kept": result["method_records"].get("kept"), "accuracy": result["accuracy"],
        "forward_backward_s": in_model, "forward_backward_total_s": total_in_model,
        "fraction_outside_forward_backward": 1 - total_in_model / wall,
        "fraction_outside_forward_backward_without_data": 1 - total_in_model / (wall - timings.get("data", 0.0)),
        "fraction_outside_forward_backward_by_stage": outside,
    }


def environment(device: torch.device) -> dict[str, Any]:
    from dabench.run.execute import _git_revision
    cuda = device.type == "cuda"
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(device) if cuda else f"cpu:{platform.processor() or platform.machine()}",
        "device_type": device.type, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": {"dabench": dabench.__version__, "torch": torch.__version__, "cuda": torch.version.cuda,
                     "cudnn": torch.backends.cudnn.version() if cuda else None, "numpy": np.__version__,
                     "python": platform.python_version()},
        "git_revision": _git_revision(),
    }


SECTIONS = ("train_step", "extraction", "clustering", "cluster_pl_run")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    parser.add_argument("--small", action="store_true", help="tiny sizes (a CPU smoke run)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per measurement (after one warm-up)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    sizes = SMALL if args.small else FULL
    if device.type != "cuda" and not args.small:
        parser.error("the full sizes are for a CUDA device (hours on a CPU); add --small for a CPU smoke run")
    chosen = [name for name in args.only.split(",") if name]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; valid: {', '.join(SECTIONS)}")
    results: dict[str, Any] = {**environment(device), "small": args.small, "sizes": asdict(sizes)}
    for name in SECTIONS:
        if name not in chosen:
            continue
        started = time.perf_counter()
        if name == "cluster_pl_run":
            results[name] = cluster_pl_run(sizes, device, args.small)
        else:
            results[name] = globals()[name](sizes, device, args.rounds)
        results[name]["section_wall_s"] = time.perf_counter() - started
        if device.type == "cuda":
            torch.cuda.empty_cache()  # each section's peak memory is its own
        print(f"{name}: done in {results[name]['section_wall_s']:.1f} s", file=sys.stderr, flush=True)
    results["peak_host_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    return results


if __name__ == "__main__":
    main()
