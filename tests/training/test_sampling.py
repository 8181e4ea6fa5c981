import torch

from heplearn.training.sampling import EpochSampler


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
