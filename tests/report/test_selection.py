"""Model selection: validator scores on hand-computed inputs, the epochs each criterion picks, and the
rule that an oracle (target-test-selected) number is never shown without its label."""

from __future__ import annotations

import math

import pytest
import torch

from dabench.errors import DabenchError
from dabench.report import leaderboard as report
from dabench.report.selection import select, selection_table
from dabench.validators import fixed_subsample

FEATURES = torch.zeros(4, 256)


def test_entropy_of_uniform_and_one_hot(validators) -> None:
    score = validators["entropy"].score
    # SHOT's epsilon (1e-5) inside the logarithm, as the methods' entropy loss has it
    assert score(FEATURES, torch.zeros(4, 7)) == pytest.approx(-math.log(1 / 7 + 1e-5), rel=1e-6)
    assert score(FEATURES, 100 * torch.eye(4)) == pytest.approx(-math.log(1 + 1e-5), abs=1e-7)  # -log(1 + eps)


def test_info_max_prefers_confident_and_diverse(validators) -> None:
    score = validators["info_max"].score
    # diverse, confident: H(mean) - mean H = -log(1/4 + eps) + log(1 + eps), with eps = 1e-5
    assert score(FEATURES, 100 * torch.eye(4)) == pytest.approx(-math.log(1 / 4 + 1e-5) + math.log(1 + 1e-5), rel=1e-6)
    one_class = torch.zeros(4, 4)
    one_class[:, 0] = 100
    assert score(FEATURES, one_class) == pytest.approx(0.0, abs=1e-5)  # confident, collapsed
    assert score(FEATURES, torch.zeros(4, 4)) == pytest.approx(0.0, abs=1e-6)  # diverse on average, unsure


def test_validators_are_the_methods_own_losses(validators) -> None:
    """"SHOT's objective with the sign flipped" is the same number as SHOT's loss, epsilon included."""
    from dabench.train.losses import entropy, information_maximization

    logits = torch.randn(64, 7, generator=torch.Generator().manual_seed(0)) * 3
    probs = torch.softmax(logits, dim=1)
    assert validators["entropy"].score(FEATURES, logits) == float(entropy(probs).mean())
    assert validators["info_max"].score(FEATURES, logits) == -float(information_maximization(probs))


def test_snd_hand_computed(validators) -> None:
    """Two tight groups of 2 identical one-hot predictions: each sample's only other similar neighbour
    has similarity 1, the two others 0; p = softmax([1, 0, 0] / 0.05) over the three others."""
    logits = 100 * torch.tensor([[1.0, 0], [1.0, 0], [0, 1.0], [0, 1.0]])
    weights = torch.softmax(torch.tensor([1.0, 0.0, 0.0]) / 0.05, dim=0)
    expected = float(-(weights * weights.log()).sum())
    assert validators["snd"].score(FEATURES, logits) == pytest.approx(expected, rel=1e-4)
    # four identical predictions: the neighbourhood is uniform over the 3 others, the densest possible
    assert validators["snd"].score(FEATURES, 100 * torch.tensor([[1.0, 0]] * 4)) == pytest.approx(math.log(3), rel=1e-4)
    assert validators["snd"].higher_is_better and not validators["entropy"].higher_is_better


def test_each_criterion_picks_its_epoch(records, validators) -> None:
    shot = records[0]  # see conftest: oracle epoch 1, entropy lowest at 2, info_max highest at 1, snd at 0
    chosen = {c: select(shot, c, validators)["epoch"] for c in ("last", "oracle", "entropy", "info_max", "snd")}
    assert chosen == {"last": 2, "oracle": 1, "entropy": 2, "info_max": 1, "snd": 0}
    assert select(shot, "snd", validators)["accuracy"] == 0.60
    no_history = records[3]
    assert select(no_history, "snd", validators) == {"epoch": None, "accuracy": 0.40, "macro_f1": 0.40 - 0.05}


def test_runs_without_validator_scores_say_why(records, validators) -> None:
    for entry in records[5]["history"]:
        del entry["validators"]
    _, rows, _ = report.leaderboard(records, ["a:b"], "accuracy", "snd", validators)
    assert dict((row[0], row[1]) for row in rows)["nrc"] == "— (runs lack snd scores)"


def test_unknown_selection_lists_the_valid_ones(records, validators) -> None:
    with pytest.raises(DabenchError, match="unknown selection 'best'; valid selections: last, oracle, entropy, "
                                           "info_max, snd"):
        report.leaderboard(records, None, "accuracy", "best", validators)


def test_subsample_is_fixed_and_bounded() -> None:
    assert torch.equal(fixed_subsample(50, 0), torch.arange(50))
    picked = fixed_subsample(5000, 3)
    assert len(picked) == 2000 and torch.equal(picked, fixed_subsample(5000, 3)) and len(set(picked.tolist())) == 2000
    assert not torch.equal(picked, fixed_subsample(5000, 4))


ORACLE_ONLY = "70.00"  # shot a:b under oracle selection (71 and 69); no other criterion gives it


@pytest.mark.parametrize("fmt", report.FORMATS)
def test_oracle_numbers_never_unlabelled(records, validators, fmt: str) -> None:
    for selection in ("last", "entropy", "snd"):
        header, rows, bold = report.leaderboard(records, None, "accuracy", selection, validators)
        assert ORACLE_ONLY not in report.render(header, rows, fmt, bold)
    header, rows, bold = report.leaderboard(records, None, "accuracy", "oracle", validators)
    text = report.render(header, rows, fmt, bold)
    assert ORACLE_ONLY in text and "oracle: best epoch on target test" in text
    header, rows = selection_table(records, validators)  # info_max happens to pick the oracle's epoch too
    assert "oracle: best epoch on target test" in header
    assert all(ORACLE_ONLY not in row[header.index(c)] for row in rows for c in ("last", "entropy", "snd"))
