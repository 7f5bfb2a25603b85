"""``init=ssl`` for methods that adapt the network they are handed (SHOT, NRC, AaD, Tent, AdaBN):
the target-SSL backbone is first taught the source model's predictions on the unlabelled target
images, so the method starts from the SSL representation *and* the source model's hypothesis.

A method such as SHOT needs a classifier that already means something on its features: SSL
features under a fresh head predict nothing. Distilling the source model's soft predictions into
the SSL network (as DINE does to move a black-box source model into a new target network: Liang et
al., CVPR 2022, arXiv 2104.01539) gives that head, with no label and no source image.

The recipe was set by the one label-free measure there is, the student's agreement with the source
model on the target train images: on synth-lab:synth-wild (seed 0), a head-mostly recipe (lr 0.01,
backbone x0.1, 10 epochs) copied only the source model's most frequent class (43% agreement, one
class predicted); the whole network at lr 0.05 reached 76% agreement in 10 epochs and 83% in 30.
"""

from __future__ import annotations

import torch

from dabench.methods import AdaptContext
from dabench.models import ClassifierNet, head_parameters
from dabench.settings.recipes import DistilRecipe
from dabench.train.batches import augment
from dabench.train.features import extract
from dabench.train.loop import Schedule, by_progress, fit
from dabench.train.schedule import sgd, shot_decay
from dabench.train.soft_targets import SoftTargets

__all__ = ["DistilRecipe", "distil_source"]




def distil_source(student: ClassifierNet, teacher: ClassifierNet, images: torch.Tensor, recipe: DistilRecipe,
                  ctx: AdaptContext) -> list[float]:
    """Train ``student`` in place on the teacher's softmax over ``images`` (N, C, H, W) uint8.

    The teacher's predictions come from one clean eval-mode pass; the student sees augmented batches.
    SHOT's optimiser recipe (SGD, Nesterov, (1 + 10 p)^-0.75) with the backbone at ``backbone_lr_mult``.
    Returns each epoch's mean soft cross-entropy. Not checkpointed: a restarted run repeats it.
    """
    _, teacher_logits = extract(teacher, images)
    targets = teacher_logits.softmax(1)
    optimizer = sgd([(student.backbone.parameters(), recipe.backbone_lr_mult),
                     (head_parameters(student), 1.0)],
                    lr=recipe.lr, weight_decay=recipe.weight_decay)
    schedule = Schedule(recipe.epochs, recipe.batch_size, lr=recipe.lr, decay=by_progress(shot_decay),
                        augmentation=augment if recipe.augment else None)
    # a preparatory stage, not the method's epochs: not reported to the runner and not checkpointed (a
    # restarted run repeats it: same seed, same draws); timed as a whole by the caller, as ``distil``
    session = ctx.session(epoch_hook=False, checkpoint=False, timed=False)
    return fit(student, images, optimizer, SoftTargets(targets, ctx.generator, recipe.mixup_alpha), schedule, session,
               stage="distil")
