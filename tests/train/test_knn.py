"""Chunked kNN search against brute force, and NRC's neighbourhoods on a hand-drawn bank."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dabench.errors import DabenchError
from dabench.train.knn import MemoryBank, check_bank_size, nrc_neighbourhood, topk_neighbours


def _circle(degrees: list[float]) -> torch.Tensor:
    """Unit vectors at the given angles: cosine similarity falls with the angle between them."""
    radians = torch.tensor([math.radians(d) for d in degrees])
    return torch.stack([radians.cos(), radians.sin()], dim=1)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_chunked_topk_matches_brute_force_cdist(chunk_size):
    generator = torch.Generator().manual_seed(0)
    bank = F.normalize(torch.randn(300, 16, generator=generator), dim=1)
    query_index = torch.randperm(300, generator=generator)[:70]
    distances = torch.cdist(bank[query_index], bank)
    distances[torch.arange(70), query_index] = float("inf")
    expected = distances.topk(6, dim=1, largest=False).indices
    similarities, indices = topk_neighbours(bank[query_index], bank, 6, query_index, chunk_size)
    assert torch.equal(indices, expected)
    assert torch.allclose(similarities, (bank[query_index][:, None] * bank[expected]).sum(2), atol=1e-6)


@pytest.mark.parametrize("chunk_size", [1, 3, 1024])
def test_nrc_neighbourhood_on_a_hand_drawn_bank(chunk_size):
    # Angles 0, 10, 25, 60, 180 degrees. Two nearest of each (by angle gap):
    #   0: [1 (10), 2 (25)]   1: [0 (10), 2 (15)]   2: [1 (15), 0 (25)]   3: [2 (35), 1 (50)]   4: [3 (120), 2 (155)]
    # Reciprocal = the query is among the neighbour's own two nearest:
    #   query 0: 0 in list(1)=[0,2] yes, 0 in list(2)=[1,0] yes -> (1, 1)
    #   query 3: 3 in list(2)=[1,0] no, 3 in list(1)=[0,2] no -> (0.1, 0.1)
    #   query 4: 4 in list(3)=[2,1] no, 4 in list(2) no -> (0.1, 0.1)
    bank = _circle([0, 10, 25, 60, 180])
    hood = nrc_neighbourhood(bank, torch.arange(5), k=2, kk=2, chunk_size=chunk_size)
    assert hood.near.tolist() == [[1, 2], [0, 2], [1, 0], [2, 1], [3, 2]]
    assert torch.allclose(hood.affinity, torch.tensor(
        [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [0.1, 0.1], [0.1, 0.1]]))
    assert hood.expanded[3].tolist() == [[1, 0], [0, 2]]  # the KK nearest of neighbours 2 and 1


def test_batch_queries_match_the_full_pass():
    # A batch's neighbours come from fresh searches of rows outside the batch: same answer as all rows.
    bank = F.normalize(torch.randn(200, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    full = nrc_neighbourhood(bank, torch.arange(200), k=5, kk=3, chunk_size=17)
    batch = torch.tensor([5, 99, 150, 3])
    part = nrc_neighbourhood(bank, batch, k=5, kk=3, chunk_size=2)
    assert torch.equal(part.near, full.near[batch])
    assert torch.equal(part.affinity, full.affinity[batch])
    assert torch.equal(part.expanded, full.expanded[batch])


def test_reciprocity_uses_k_not_kk():
    # K=2, KK=1 on the same bank: query 2's neighbour 1 has 2 among its 2 nearest ([0, 2]) -> reciprocal,
    # though not among its single nearest (the reference code would test KK=1 and say 0.1).
    hood = nrc_neighbourhood(_circle([0, 10, 25, 60, 180]), torch.tensor([2]), k=2, kk=1)
    assert hood.affinity.tolist() == [[1.0, 1.0]]
    assert hood.expanded.tolist() == [[[0], [1]]]


def test_self_is_never_its_own_neighbour_even_with_duplicates():
    bank = _circle([0, 0, 0, 90])
    _, indices = topk_neighbours(bank, bank, 2, torch.arange(4))
    assert all(i not in row for i, row in enumerate(indices.tolist()))


def test_bank_update_normalises_features():
    bank = MemoryBank(torch.zeros(4, 2), torch.zeros(4, 3))
    bank.update(torch.tensor([1, 3]), torch.tensor([[3.0, 4.0], [0.0, 2.0]]), torch.full((2, 3), 1 / 3))
    assert torch.allclose(bank.features, torch.tensor([[0, 0], [0.6, 0.8], [0, 0], [0, 1.0]]))
    assert torch.allclose(bank.scores[[1, 3]], torch.full((2, 3), 1 / 3))


def test_too_small_a_bank_is_a_user_error():
    with pytest.raises(DabenchError, match="searches 5 nearest neighbours per image but the target train set "
                                           "has only 5 images"):
        check_bank_size("nrc", 5, 5)
    check_bank_size("nrc", 6, 5)
