"""``source_only``: the source model, unadapted (the lower bound every method must beat)."""

from __future__ import annotations

import dabench
from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet


class SourceOnly(Method):
    """The source model evaluated on the target as is; no target image is used."""

    id = "source_only"
    inits = ("source",)  # the source model itself, by definition

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        return model


@dabench.hookimpl
def register_methods(register) -> None:
    register(SourceOnly)
