"""SwAV's queue: the last projections of each large crop, in order, joining Sinkhorn-Knopp once full."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dabench.train.ssl import SSLRecipe
from dabench.train.ssl.pretrain import SSLStep, pretrain
from dabench.train.ssl.swav import ProjectionQueue, Prototypes, sinkhorn, swav_codes
from dabench_backbones import small_cnn


def _projections(batch: int, seed: int, crops: int = 2, dim: int = 8) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [F.normalize(torch.randn(batch, dim, generator=generator), dim=1) for _ in range(crops)]


def test_the_queue_holds_the_last_projections_newest_first() -> None:
    queue = ProjectionQueue(crops=2, length=6, dim=8)
    batches = [_projections(2, seed) for seed in range(4)]
    for pushed, batch in enumerate(batches[:2], 1):
        queue.push(batch)
        assert queue.filled == 2 * pushed and not queue.full
    queue.push(batches[2])
    assert queue.full
    queue.push(batches[3])  # the oldest batch drops off
    for crop in range(2):
        assert torch.equal(queue.projections[crop], torch.cat([batches[3][crop], batches[2][crop], batches[1][crop]]))
    with pytest.raises(ValueError, match="a batch of 8 does not fit a queue of 6"):
        queue.push(_projections(8, 9))


def test_the_queue_survives_a_state_round_trip() -> None:
    queue = ProjectionQueue(crops=2, length=4, dim=8)
    queue.push(_projections(2, 0))
    restored = ProjectionQueue.from_state(queue.state_dict(), "cpu")
    assert torch.equal(restored.projections, queue.projections) and restored.filled == 2 and not restored.full


def test_codes_ignore_a_queue_until_it_is_full_then_use_it() -> None:
    torch.manual_seed(0)
    prototypes = Prototypes(8, 20)
    batch = _projections(4, 1)
    scores = prototypes(batch[0]).detach()
    without = swav_codes(scores, prototypes, None, 0, 0.05, 3)
    assert torch.equal(without, sinkhorn(scores, 0.05, 3))

    queue = ProjectionQueue(crops=2, length=8, dim=8)
    assert torch.equal(swav_codes(scores, prototypes, queue, 0, 0.05, 3), without)  # empty
    queue.push(_projections(4, 2))
    assert torch.equal(swav_codes(scores, prototypes, queue, 0, 0.05, 3), without)  # half full
    queue.push(_projections(4, 3))
    with_queue = swav_codes(scores, prototypes, queue, 0, 0.05, 3)
    assert with_queue.shape == without.shape and not torch.allclose(with_queue, without, atol=1e-3)
    everything = torch.cat([prototypes(queue.projections[0]).detach(), scores])
    assert torch.equal(with_queue, sinkhorn(everything, 0.05, 3)[-4:])  # the batch's rows of the joint codes
    assert torch.allclose(with_queue.sum(1), torch.ones(4), atol=1e-5)
    other_crop = swav_codes(scores, prototypes, queue, 1, 0.05, 3)  # each large crop has its own queue
    assert not torch.allclose(other_crop, with_queue, atol=1e-3)


TINY = dict(epochs=3, batch_size=16, prototypes=8, hidden_dim=16, projection_dim=8, warmup_epochs=1,
            small_crops=2, small_crop_fraction=1.0)


def _pretrained(**changes) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    backbone = small_cnn.build()
    images = torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    pretrain(backbone, small_cnn.WIDTHS[-1], images, SSLRecipe(**{**TINY, **changes}), torch.Generator().manual_seed(2),
             amp=False)
    return backbone.state_dict()


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[name], b[name]) for name in a)


def test_pretraining_changes_only_once_the_queue_is_full() -> None:
    off = _pretrained()
    # 3 steps an epoch: a queue started at epoch 2 holding 3 batches fills on the last step, unused
    assert _same(_pretrained(queue_length=48, queue_start_epoch=2), off)
    assert _same(_pretrained(queue_length=16, queue_start_epoch=3), off)  # never starts
    assert not _same(_pretrained(queue_length=32, queue_start_epoch=2), off)  # used on the last step
    assert _same(_pretrained(queue_length=32, queue_start_epoch=2, method="simclr"), _pretrained(method="simclr"))


def test_the_step_starts_its_queue_once_from_its_epoch() -> None:
    generator = torch.Generator().manual_seed(0)
    recipe = SSLRecipe(**{**TINY, "queue_length": 32, "queue_start_epoch": 2})
    step = SSLStep(small_cnn.build(), small_cnn.WIDTHS[-1], recipe, torch.device("cpu"), generator)
    step.before_epoch(1)
    assert step.queue is None
    step.before_epoch(2)
    queue = step.queue
    assert queue is not None and queue.projections.shape == (2, 32, 8)
    step.before_epoch(3)
    assert step.queue is queue
    plain = SSLStep(small_cnn.build(), small_cnn.WIDTHS[-1], SSLRecipe(**TINY), torch.device("cpu"), generator)
    plain.before_epoch(5)
    assert plain.queue is None


def test_queue_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=r"ssl.queue_length must be a multiple of ssl.batch_size \(256\), got 1000; "
                                         "use 768 or 1024"):
        SSLRecipe(queue_length=1000)
    with pytest.raises(ValueError, match=r"multiple of ssl.batch_size \(256\), got 100; use 256"):
        SSLRecipe(queue_length=100)
    with pytest.raises(ValueError, match="queue_length and queue_start_epoch must be >= 0"):
        SSLRecipe(queue_start_epoch=-1)
    assert SSLRecipe(queue_length=3840).queue_length == 3840 == SSLRecipe(batch_size=128, queue_length=3840).queue_length
