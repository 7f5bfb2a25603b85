"""NRC and AaD: hyperparameter checks, a too-small target, AaD's dispersion schedule."""

from __future__ import annotations

import pytest
from sfuda_tiny import tiny_context, tiny_model, tiny_target

from dabench.errors import DabenchError
from dabench_methods.aad import Aad, AadHparams, dispersion_weight
from dabench_methods.nrc import Nrc, NrcHparams


@pytest.mark.parametrize("cls, kwargs, message", [
    (NrcHparams, {"K": 0}, "K must be >= 1"),
    (NrcHparams, {"KK": -1}, "KK >= 0"),
    (AadHparams, {"K": 0}, "K and chunk_size must be >= 1"),
    (AadHparams, {"alpha": -1.0}, "alpha and beta must be >= 0"),
])
def test_bad_values_rejected(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize("method", [Nrc(NrcHparams(K=5, KK=5)), Aad(AadHparams(K=5))])
def test_target_smaller_than_k_plus_one_fails_before_training(method):
    model = tiny_model()
    with pytest.raises(DabenchError, match="searches 5 nearest neighbours per image but the target train set has "
                                           "only 5 images"):
        method.adapt(model, tiny_target(n=5), tiny_context())


def test_dispersion_weight_decays_as_the_paper_says():
    assert dispersion_weight(0.0, 1.0, 5.0) == 1.0
    assert dispersion_weight(0.1, 1.0, 5.0) == pytest.approx(2.0 ** -5)  # (1 + 10 * 0.1)^-5
    assert dispersion_weight(1.0, 2.0, 5.0) == pytest.approx(2.0 * 11.0 ** -5)
    assert dispersion_weight(0.5, 1.0, 0.0) == 1.0  # beta 0: constant


def test_nrc_and_aad_run_on_a_tiny_target():
    for method in (Nrc(NrcHparams(epochs=1, batch_size=8, K=3, KK=2)), Aad(AadHparams(epochs=1, batch_size=8, K=3))):
        ctx = tiny_context()
        method.adapt(tiny_model(), tiny_target(n=24), ctx)
        assert len(ctx.run.records.values["epoch_loss"]) == 1 and "bank" in ctx.run.records.timings
