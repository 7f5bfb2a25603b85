"""The recipes of a run's stages as plain dataclasses (no torch): source training (``source``, with what its
backbone starts from: ``source.init``), the
init=ssl distillation (``distil``) and target self-supervised pretraining (``ssl``). Their fields are
run settings (``--set source.epochs=10``); ``dabench.settings.config`` and the CLI read them without torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SOURCE_INITS = ("scratch", "ssl", "weights")
# source recipe fields added after runs were named: left out of a run's identity at these values, so a
# source trained from scratch keeps the run id (and cached source model) it had before they existed
NEUTRAL_SOURCE_FIELDS = {"init": (None, "scratch"), "ssl_epochs": (None,)}


def recorded_source_recipe(recipe: dict[str, Any]) -> dict[str, Any]:
    """``recipe`` without the fields of :data:`NEUTRAL_SOURCE_FIELDS` at their neutral values."""
    return {key: value for key, value in recipe.items()
            if not (key in NEUTRAL_SOURCE_FIELDS and value in NEUTRAL_SOURCE_FIELDS[key])}


@dataclass(frozen=True)
class SupervisedRecipe:
    """SHOT's source recipe (DESIGN.md section 7)."""

    epochs: int = field(default=15, metadata={"help": "training epochs"})
    batch_size: int = field(default=64, metadata={"help": "batch size"})
    lr: float = field(default=0.01, metadata={"help": "head learning rate"})
    backbone_lr_mult: float = field(default=1.0, metadata={
        "help": "backbone lr multiplier (SHOT uses 0.1 for an ImageNet-pretrained backbone; "
                "1.0 for one trained from scratch)"})
    weight_decay: float = field(default=1e-3, metadata={"help": "SGD weight decay"})
    label_smoothing: float = field(default=0.1, metadata={"help": "cross-entropy label smoothing"})
    val_fraction: float = field(default=0.1, metadata={"help": "share of the train split held out to pick the epoch"})
    augment: bool = field(default=True, metadata={"help": "random flip/zoom/rotation during training"})
    init: str | None = field(default=None, metadata={
        "help": "what the source backbone starts from: scratch (random), ssl (SwAV on the source train images "
                "first, a cached SSL artifact), weights (backbone_weights); null: weights when backbone_weights "
                "is set, else scratch"})
    ssl_epochs: int | None = field(default=None, metadata={
        "help": "source.init=ssl: SwAV epochs on the source train images (null: the source dataset's SSL default, "
                "the one a run targeting it uses)"})

    def __post_init__(self) -> None:
        if self.init is not None and self.init not in SOURCE_INITS:
            raise ValueError(f"source.init must be one of {', '.join(SOURCE_INITS)} or null, got {self.init!r}")
        if self.ssl_epochs is not None and self.ssl_epochs < 1:
            raise ValueError(f"source.ssl_epochs must be >= 1 or null (the source dataset's default), "
                             f"got {self.ssl_epochs}")
        # a recipe that trains nothing (0 epochs), holds out every image or cannot form a batch would
        # record a "done" run at chance; refused before anything is written
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"source: epochs must be >= 1 and batch_size >= 2 (got {self.epochs}, {self.batch_size})")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"source: val_fraction must be in [0, 1) (the share held out to pick the epoch), "
                             f"got {self.val_fraction}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"source: label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.lr <= 0 or self.backbone_lr_mult < 0 or self.weight_decay < 0:
            raise ValueError("source: lr must be > 0; backbone_lr_mult and weight_decay >= 0")


@dataclass(frozen=True)
class DistilRecipe:
    """How the SSL network learns the source model's predictions (run key ``distil``)."""

    epochs: int = field(default=20, metadata={"help": "passes over the target train images"})
    batch_size: int = field(default=64, metadata={"help": "batch size"})
    lr: float = field(default=0.05, metadata={"help": "learning rate (SHOT's decay (1 + 10 p)^-0.75)"})
    backbone_lr_mult: float = field(default=1.0, metadata={
        "help": "backbone lr multiplier; the SSL backbone has to move to carry the source model's classes"})
    weight_decay: float = field(default=1e-3, metadata={"help": "SGD weight decay"})
    mixup_alpha: float = field(default=0.0, metadata={"help": "mixup Beta(alpha, alpha) on the soft targets; 0: off"})
    augment: bool = field(default=True, metadata={"help": "random flip/zoom/rotation of the student's batches"})

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"distil: epochs must be >= 1 and batch_size >= 2 (got {self.epochs}, {self.batch_size})")
        if self.lr <= 0 or self.backbone_lr_mult < 0 or self.weight_decay < 0 or self.mixup_alpha < 0:
            raise ValueError("distil: lr must be > 0; backbone_lr_mult, weight_decay and mixup_alpha >= 0")


METHODS = ("swav", "simclr")
OPTIMIZERS = ("sgd", "lars", "larc")
RUN_SEED = "run"  # ssl.seed: one SSL stage per run seed instead of one per target


@dataclass(frozen=True)
class SSLRecipe:
    """How the target backbone is pretrained; a run key (``--set ssl.epochs=50``), part of the cache key."""

    method: str = field(default="swav", metadata={"help": "swav (the CluP paper's) or simclr"})
    epochs: int = field(default=200, metadata={"help": "passes over the target train images (paper: 1000)"})
    batch_size: int = field(default=256, metadata={"help": "images per step"})
    lr: float = field(default=0.6, metadata={"help": "SGD lr at batch 256 (scaled linearly with batch_size)"})
    weight_decay: float = field(default=1e-6, metadata={"help": "SGD weight decay"})
    warmup_epochs: int = field(default=10, metadata={"help": "linear warm-up epochs before the cosine decay"})
    temperature: float = field(default=0.1, metadata={"help": "softmax temperature of the swapped prediction / NT-Xent"})
    hidden_dim: int = field(default=2048, metadata={"help": "projection MLP hidden width"})
    projection_dim: int = field(default=128, metadata={"help": "projection output width"})
    prototypes: int = field(default=5000, metadata={"help": "SwAV prototypes (paper: 5000)"})
    epsilon: float = field(default=0.05, metadata={"help": "SwAV Sinkhorn entropy regularisation"})
    sinkhorn_iterations: int = field(default=3, metadata={"help": "SwAV Sinkhorn-Knopp iterations"})
    freeze_prototypes_epochs: int = field(default=1, metadata={"help": "SwAV keeps prototypes fixed this long"})
    large_crops: int = field(default=2, metadata={"help": "full-size views per image"})
    small_crops: int = field(default=4, metadata={"help": "SwAV multi-crop small views per image (0: none)"})
    small_crop_fraction: float = field(default=0.43, metadata={"help": "small view side / image side (SwAV: 96/224)"})
    large_scale_min: float = field(default=0.14, metadata={"help": "smallest area share of a large crop"})
    small_scale_max: float = field(default=0.14, metadata={"help": "largest area share of a small crop"})
    small_scale_min: float = field(default=0.05, metadata={"help": "smallest area share of a small crop"})
    queue_length: int = field(default=0, metadata={
        "help": "SwAV queue: the last N projections of each large crop join the batch in Sinkhorn-Knopp once the "
                "queue is full (0: off; official at batch 256: 3840); a multiple of batch_size"})
    queue_start_epoch: int = field(default=15, metadata={
        "help": "epoch from which the SwAV queue fills (official epoch_queue_starts: 15)"})
    optimizer: str = field(default="sgd", metadata={
        "help": "sgd; lars: SGD under LARS (trust 0.001), biases and BatchNorm (1-d) parameters left out of the "
                "adaptation and of weight decay; larc: apex LARC clip=False over every parameter, as official "
                "SwAV's main_swav.py runs it"})
    color_jitter: float = field(default=0.4, metadata={
        "help": "brightness, contrast and saturation jitter: factors in [1 - s, 1 + s] (official SwAV: 0.8)"})
    hue: float = field(default=0.0, metadata={
        "help": "hue jitter: shifts in [-h, h] turns of the colour wheel on 80% of the views (official SwAV: 0.2; "
                "none on grayscale images)"})
    blur_p: float = field(default=0.0, metadata={
        "help": "share of the views Gaussian-blurred, after the colour distortion (official SwAV: 0.5)"})
    blur_sigma_min: float = field(default=0.1, metadata={"help": "smallest blur sigma, in view pixels (official: 0.1)"})
    blur_sigma_max: float = field(default=2.0, metadata={"help": "largest blur sigma, in view pixels (official: 2.0)"})
    seed: int | str = field(default=0, metadata={
        "help": "seed of the SSL stage: an int >= 0 shares one SSL backbone among all run seeds on a target "
                "(the paper's one checkpoint per target); 'run' pretrains one per run seed"})

    def __post_init__(self) -> None:
        seed_error = check_ssl_seed(self.seed)
        if seed_error is not None:
            raise ValueError(f"ssl.seed must be {seed_error}, got {self.seed!r}")
        if self.method not in METHODS:
            raise ValueError(f"ssl.method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if min(self.epochs, self.batch_size, self.projection_dim, self.hidden_dim, self.prototypes,
               self.sinkhorn_iterations) < 1 or self.large_crops < 2 or self.small_crops < 0:
            raise ValueError("ssl: epochs, batch_size, dims, prototypes and sinkhorn_iterations must be >= 1, "
                             "large_crops >= 2 and small_crops >= 0")
        if self.lr <= 0 or self.temperature <= 0 or self.epsilon <= 0 or self.weight_decay < 0:
            raise ValueError("ssl: lr, temperature and epsilon must be > 0 and weight_decay >= 0")
        if not (0 < self.small_scale_min <= self.small_scale_max <= 1 and 0 < self.large_scale_min <= 1
                and 0 < self.small_crop_fraction <= 1):
            raise ValueError("ssl: crop scales must satisfy 0 < small_scale_min <= small_scale_max <= 1, "
                             "0 < large_scale_min <= 1 and 0 < small_crop_fraction <= 1")
        if self.queue_length < 0 or self.queue_start_epoch < 0:
            raise ValueError("ssl: queue_length and queue_start_epoch must be >= 0")
        if self.queue_length % self.batch_size:
            # the official code rounds it down silently; refused here, so the setting is what runs
            lower = self.queue_length - self.queue_length % self.batch_size
            nearest = f"{lower} or {lower + self.batch_size}" if lower else f"{self.batch_size}"
            raise ValueError(f"ssl.queue_length must be a multiple of ssl.batch_size ({self.batch_size}), got "
                             f"{self.queue_length}; use {nearest}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"ssl.optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not (0 <= self.color_jitter <= 1 and 0 <= self.hue <= 0.5 and 0 <= self.blur_p <= 1
                and 0 < self.blur_sigma_min <= self.blur_sigma_max):
            raise ValueError("ssl: views must satisfy 0 <= color_jitter <= 1, 0 <= hue <= 0.5, 0 <= blur_p <= 1 "
                             "and 0 < blur_sigma_min <= blur_sigma_max")


def check_ssl_seed(value: Any) -> str | None:
    """None when ``value`` is a valid ``ssl.seed`` (an int >= 0 or ``"run"``), else what it must be."""
    if value == RUN_SEED or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return None
    return f"an int >= 0 or '{RUN_SEED}'"


def ssl_seed(recipe: SSLRecipe, run_seed: int) -> int:
    """The seed the SSL stage is built with: the recipe's, or the run's under ``ssl.seed: run``."""
    return run_seed if recipe.seed == RUN_SEED else int(recipe.seed)


def small_crop_size(recipe: SSLRecipe, image_size: int) -> int:
    return max(1, round(image_size * recipe.small_crop_fraction))
