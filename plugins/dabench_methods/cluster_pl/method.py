"""CluP's three steps wired together: SSL network (via ``ctx.initial_model``), cluster-level
pseudo-labels from the source model, then mixup training on the kept subset."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from dabench.errors import DabenchError
from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.train.batches import augment, augment_reference
from dabench.train.cluster_labels import CONFIDENCE_RULES, select_by_clusters
from dabench.train.features import extract
from dabench.train.loop import Schedule, by_progress
from dabench.train.schedule import sgd
from dabench.train.soft_targets import SoftTargets, cosine_decay

# the student's training augmentation; the paper's (the reference code's) is the default
AUGMENTATIONS = {"reference": augment_reference, "light": augment, "none": None}


@dataclass(frozen=True)
class ClusterPLHparams:
    prototypes: int = field(default=250, metadata={"help": "k-means clusters P (paper: 250 or 1000 per pair)"})
    fraction: float = field(default=0.2, metadata={"help": "share q of each pseudo-class kept, by purity, in (0, 1]"})
    iter_clusters: int = field(default=1, metadata={"help": "clustering rounds; each re-clusters what is not kept yet"})
    drop_outliers: bool = field(default=False, metadata={
        "help": "never keep a sample whose own prediction disagrees with its cluster's label"})
    soft_labels: bool = field(default=False, metadata={
        "help": "train on each cluster's class distribution (KL) instead of its majority class"})
    kmeans_iterations: int = field(default=50, metadata={"help": "most Lloyd iterations per clustering"})
    kmeans_tol: float = field(default=1e-4, metadata={"help": "stop k-means when inertia drops by less than this share"})
    epochs: int = field(default=50, metadata={"help": "training epochs on the kept subset"})
    batch_size: int = field(default=32, metadata={"help": "batch size"})
    lr: float = field(default=0.1, metadata={"help": "SGD learning rate (cosine schedule to 0)"})
    weight_decay: float = field(default=5e-4, metadata={"help": "SGD weight decay"})
    mixup_alpha: float = field(default=0.2, metadata={"help": "mixup Beta(alpha, alpha); 0 turns mixup off"})
    augment: str = field(default="reference", metadata={
        "help": "training augmentation: reference (the CluP reference's: flip, affine 35 deg / 0.15, colour "
                "jitter 0.5-1.5), light (dabench's flip/zoom/rotation) or none"})
    confidence: str = field(default="purity", metadata={
        "help": "how members of a pseudo-class are ranked for keeping: purity (the paper's), softmax (the source "
                "model's probability of the pseudo-label) or purity_softmax (their product)"})

    def __post_init__(self) -> None:
        if self.prototypes < 2:
            raise ValueError(f"prototypes must be >= 2, got {self.prototypes}")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction (q) must be in (0, 1], got {self.fraction}")
        if min(self.iter_clusters, self.kmeans_iterations, self.epochs, self.batch_size) < 1:
            raise ValueError("iter_clusters, kmeans_iterations, epochs and batch_size must be >= 1")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {', '.join(AUGMENTATIONS)}, got {self.augment!r}")
        if self.confidence not in CONFIDENCE_RULES:
            raise ValueError(f"confidence must be one of {', '.join(CONFIDENCE_RULES)}, got {self.confidence!r}")
        if self.lr <= 0 or self.weight_decay < 0 or self.mixup_alpha < 0 or self.kmeans_tol < 0:
            raise ValueError("lr must be > 0; weight_decay, mixup_alpha and kmeans_tol >= 0")


class ClusterPL(Method[ClusterPLHparams]):
    """Cluster-level pseudo-labelling for source-free cross-domain FER (Conti et al., BMVC 2022,
    arXiv 2210.05246), "CluP".

    1. A fresh network is pretrained with SwAV on the target train images (``init=ssl``, the
       default; a cached artifact shared by every source and method on that target).
    2. The source model embeds the target train images (clean, eval mode); k-means with P
       prototypes on 1-appended L2-normalised bottleneck features; each cluster takes its
       majority predicted class, with its purity as every member's confidence; the top fraction
       q of each pseudo-class by purity is kept (floor(q * n_c), ties by lower index).
    3. The SSL network (fresh bottleneck and classifier) is trained on the kept subset with
       cross-entropy + mixup: SGD lr 0.1, momentum 0.9, Nesterov, wd 5e-4, batch 32, cosine, 50 epochs,
       under the reference's augmentation (flip, affine 35 degrees / 0.15 translation, colour jitter
       0.5-1.5), per sample on the run's device.

    Deviations from the paper / reference code (github.com/altndrr/clup), and why:
    - pseudo-labels come from clean images in eval mode (the reference used augmented ones);
    - the last epoch is the result (the reference validated and picked epochs on target test);
    - ExpW's split is fixed and leak-free (the reference drew train/test independently);
    - purity is one bincount over cluster*C + class (the reference loops over P x C with a mask
      over N each time), k-means is torch on the run's device, one k-means++ init on a
      subsample with <= kmeans_iterations Lloyd rounds (sklearn: 10 inits, up to 300 rounds);
    - features are the 256-d bottleneck of the shared architecture (the reference used its own
      encoder's embedding); SSL defaults to 200 epochs (the released checkpoints used 1000);
    - the reference's extra ``mixaug_alpha`` CE on mixed inputs is not used (not in the paper);
    - ``confidence`` can rank a pseudo-class's members by the source model's probability of the
      pseudo-label (``softmax``) or by that times purity (``purity_softmax``) instead of the paper's
      purity; a rule only ranks, the label is always the cluster's;
    - ``drop_outliers`` drops the samples whose prediction disagrees with their cluster (the reference
      only ranks them last, so with a large q it still keeps them).
    """

    id = "cluster_pl"
    aliases = ("clup",)
    Hparams = ClusterPLHparams
    inits = ("ssl", "source", "scratch")
    builds_network = True  # the source model only labels; the trained network starts from ctx.init
    paper = "Conti et al., BMVC 2022, arXiv 2210.05246"
    defaults_file = Path(__file__).with_name("cluster_pl.yaml")

    def check_target(self, n_images: int) -> None:
        if self.hparams.prototypes > n_images:
            raise DabenchError(f"cluster_pl: prototypes={self.hparams.prototypes} exceeds the {n_images} target train "
                               f"images; use --set prototypes=N with N <= {n_images}")

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        hp = self.hparams
        self.check_target(len(target))
        with ctx.stage("pseudo_labels"):
            features, logits = extract(model, target.images)
            selection = select_by_clusters(features, logits.argmax(1), hp.prototypes, hp.fraction, ctx.num_classes,
                                           ctx.generator, hp.iter_clusters, hp.drop_outliers, hp.kmeans_iterations,
                                           hp.kmeans_tol, hp.confidence, logits.float().softmax(1))
        if len(selection.indices) == 0:
            raise DabenchError(f"cluster_pl: fraction={hp.fraction} keeps no target image (each pseudo-class keeps "
                               "floor(fraction * its size)); raise --set fraction")
        ctx.record_pseudo_labels(selection.indices, selection.labels, stage="clusters")
        ctx.record("clustering_rounds", selection.rounds)
        ctx.record("kept", int(len(selection.indices)))
        ctx.record("kept_per_class", torch.bincount(selection.labels, minlength=ctx.num_classes).tolist())
        del model  # the source model's job ends here; the trained network starts from ctx.init
        with ctx.stage("initial_model"):
            network = ctx.initial_model(ctx.init)
        targets = (selection.soft_labels if hp.soft_labels
                   else F.one_hot(selection.labels, ctx.num_classes).float())
        optimizer = sgd([(network.parameters(), 1.0)], lr=hp.lr, weight_decay=hp.weight_decay)
        # the kept subset and its targets are not checkpointed: a restarted run recomputes them (same seed,
        # same draws) before resuming the epochs
        schedule = Schedule(hp.epochs, hp.batch_size, lr=hp.lr, decay=by_progress(cosine_decay),
                            augmentation=AUGMENTATIONS[hp.augment])
        step = SoftTargets(targets.to(target.images.device), ctx.generator, hp.mixup_alpha)
        losses = ctx.fit(network, target.images[selection.indices], optimizer, step, schedule, stage="cluster_pl")
        ctx.record("epoch_loss", losses)
        return network
