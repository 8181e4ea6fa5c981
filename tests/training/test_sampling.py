import numpy as np
import torch

from heplearn.training.sampling import EpochBatches, EpochSampler


def test_order_depends_only_on_seed_and_epoch():
    first, again = EpochSampler(100, seed=3), EpochSampler(100, seed=3)
    first.set_epoch(4)
    again.set_epoch(4)
    assert list(first) == list(again)
    again.set_epoch(5)
    assert list(first) != list(again)
    assert sorted(first) == list(range(100))


def test_ranks_take_disjoint_shares_that_cover_the_data():
    shares = [list(EpochSampler(103, seed=1, rank=r, world_size=3)) for r in range(3)]
    assert all(len(share) == 34 for share in shares)
    union = set().union(*shares)
    assert len(union) == 102  # one event of the tail dropped so every rank runs 34 steps
    assert sum(len(share) for share in shares) == len(union)


def test_unshuffled_ranks_interleave_so_a_step_covers_a_contiguous_batch():
    rank0 = EpochSampler(10, seed=0, shuffle=False, rank=0, world_size=2).indices()
    rank1 = EpochSampler(10, seed=0, shuffle=False, rank=1, world_size=2).indices()
    assert torch.equal(rank0, torch.tensor([0, 2, 4, 6, 8]))
    assert torch.equal(rank1, torch.tensor([1, 3, 5, 7, 9]))


def test_batches_follow_the_sampler_and_keep_arrays_aligned():
    arrays = {"x": np.arange(22, dtype=np.float32)[:, None] * [1, -1], "label": np.arange(22)}
    sampler = EpochSampler(22, seed=5, rank=1, world_size=2)
    sampler.set_epoch(3)
    batches = EpochBatches(arrays, batch_size=4, sampler=sampler)
    got = list(batches)
    assert len(batches) == len(got) == 3
    assert [len(batch["label"]) for batch in got] == [4, 4, 3]
    order = torch.cat([batch["label"] for batch in got])
    assert torch.equal(order, sampler.indices())
    for batch in got:
        assert torch.equal(batch["x"][:, 0].long(), batch["label"])
        assert torch.equal(batch["x"][:, 1], -batch["x"][:, 0])
    sampler.set_epoch(4)
    assert not torch.equal(torch.cat([b["label"] for b in batches]), order)
