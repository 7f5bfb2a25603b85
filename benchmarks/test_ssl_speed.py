"""SwAV step throughput with official SwAV's extras (queue, LARC, colour distortion plus blur) against
the plain step.

Baseline: one ``SSLStep`` step (views, multi-crop forward, Sinkhorn, swapped prediction, backward,
SGD) of small_cnn at 48 px on a batch of 256 device-resident uint8 faces with FER2013's recipe (its
``ssl_defaults``, read from the dataset plugin: today 2 large crops and 2 small ones at 24 px, 1,000
prototypes, hidden width 512). Ours, same batch and model in the same process: the queue (3,840
projections, full, as official SwAV at batch 256), LARC (official SwAV's LARS), the official colour
distortion plus blur (jitter 0.8, hue 0.2, blur p 0.5), and all three. ``extra_info`` has source images
per second and crop views per second (views per image); the end of the run prints each variant's speed as
a ratio of the baseline's.

Run: .venv/bin/pytest benchmarks/test_ssl_speed.py --benchmark-only -s
DABENCH_BENCH_DEVICE=cuda|cpu (default: cuda where available; bf16 autocast + channels_last there),
DABENCH_BENCH_THREADS=N sets torch's CPU threads.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.gpu_suite import face_images, sync  # noqa: E402
from dabench.train.ssl import SSLRecipe  # noqa: E402
from dabench.train.ssl.pretrain import SSLStep  # noqa: E402
from dabench_backbones import small_cnn  # noqa: E402
from dabench_datasets.fer2013 import Fer2013  # noqa: E402

DEVICE = torch.device(os.environ.get("DABENCH_BENCH_DEVICE", "cuda" if torch.cuda.is_available() else "cpu"))
IMAGE_SIZE, BATCH, ROUNDS = 48, 256, 5
QUEUE = {"queue_length": 3840, "queue_start_epoch": 0}
LARC = {"optimizer": "larc"}
DISTORTION = {"color_jitter": 0.8, "hue": 0.2, "blur_p": 0.5}
VARIANTS = {"plain": {}, "queue": QUEUE, "larc": LARC, "blur": DISTORTION, "official": {**QUEUE, **LARC, **DISTORTION}}
RESULTS: dict[str, float] = {}

pytestmark = pytest.mark.skipif(DEVICE.type == "cuda" and not torch.cuda.is_available(),
                                reason="DABENCH_BENCH_DEVICE=cuda needs a CUDA device")


@pytest.fixture(scope="module", autouse=True)
def threads():
    if os.environ.get("DABENCH_BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["DABENCH_BENCH_THREADS"]))
    torch.backends.cudnn.benchmark = True
    yield
    _report()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return face_images(BATCH, BATCH, IMAGE_SIZE, DEVICE)


def _trainer(recipe: SSLRecipe) -> SSLStep:
    torch.manual_seed(0)
    backbone = small_cnn.build().to(DEVICE).to(memory_format=torch.channels_last)
    trainer = SSLStep(backbone, small_cnn.WIDTHS[-1], recipe, DEVICE, torch.Generator().manual_seed(2))
    trainer.modules.train()
    trainer.before_epoch(recipe.queue_start_epoch)
    if trainer.queue is not None:  # full from the first timed step on, as after its first epochs
        generator = torch.Generator().manual_seed(1)
        while not trainer.queue.full:
            trainer.queue.push([F.normalize(torch.randn(BATCH, recipe.projection_dim, generator=generator), dim=1)
                                .to(DEVICE) for _ in range(recipe.large_crops)])
    return trainer


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_swav_step(benchmark, images, variant: str) -> None:
    recipe = SSLRecipe(**{**Fer2013.ssl_defaults, "batch_size": BATCH, **VARIANTS[variant]})
    trainer = _trainer(recipe)

    def step() -> None:
        trainer.train_one(images, step=trainer.freeze_steps, amp=DEVICE.type == "cuda")
        sync(DEVICE)

    benchmark.pedantic(step, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    if benchmark.stats is None:  # --benchmark-disable: ran once, nothing timed
        return
    seconds = benchmark.stats.stats.min
    views = recipe.large_crops + recipe.small_crops
    RESULTS[variant] = seconds
    benchmark.extra_info.update(device=str(DEVICE), images_per_s=BATCH / seconds, crop_views_per_s=BATCH * views / seconds,
                                views_per_image=views, settings=VARIANTS[variant], recipe=dataclasses.asdict(recipe))


def _report() -> None:
    if "plain" not in RESULTS:
        return
    print(f"\nsmall_cnn {IMAGE_SIZE} px, batch {BATCH}, {DEVICE}: plain SwAV step {BATCH / RESULTS['plain']:,.0f} img/s")
    for variant, seconds in RESULTS.items():
        if variant != "plain":
            print(f"{variant}: {BATCH / seconds:,.0f} img/s, {RESULTS['plain'] / seconds:.2f} of the plain step")
