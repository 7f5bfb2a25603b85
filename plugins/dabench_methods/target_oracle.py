"""``target_oracle``: supervised training on the target train labels. An upper bound, NOT source-free."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

import dabench
from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.train.supervised import SupervisedRecipe, train_supervised


@dataclass(frozen=True)
class TargetOracleHparams:
    epochs: int = field(default=20, metadata={"help": "training epochs on the target train split"})
    batch_size: int = field(default=64, metadata={"help": "batch size"})
    lr: float = field(default=0.01, metadata={"help": "learning rate"})

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")


class TargetOracle(Method[TargetOracleHparams]):
    """Supervised on the target's labelled train split with the source recipe (docs/methods.md, "Source training");
    the epoch is chosen on a held-out 10% of target *train*, never on target test. Flagged
    ``source_free = False``: reports show it as an upper bound, not an adaptation method."""

    id = "target_oracle"
    Hparams = TargetOracleHparams
    source_free = False
    inits = ("scratch", "source")  # a freshly initialised network, or (init=source) fine-tune the source model
    builds_network = True  # it trains the network ctx.init names, never a distilled copy

    def adapt_with_labels(self, model: ClassifierNet, target: TargetImages, labels: torch.Tensor,
                          ctx: AdaptContext) -> ClassifierNet:
        hp = self.hparams
        model = ctx.initial_model(ctx.init)
        recipe = SupervisedRecipe(epochs=hp.epochs, batch_size=hp.batch_size, lr=hp.lr)
        # the run's session: each epoch is reported (history, validators, the progress line) and checkpointed
        outcome = train_supervised(model, target.images, labels, recipe, ctx.session(), stage="target_oracle")
        ctx.record("target_val_accuracy", outcome["val_accuracy"])
        ctx.record("best_epoch", outcome["best_epoch"])
        return model


@dabench.hookimpl
def register_methods(register) -> None:
    register(TargetOracle)
