"""Split assignment: fractions, determinism, independence from chunking, event modulus."""

import numpy as np
import pytest

from heplearn.data.spec import Split
from heplearn.data.splits import TEST, TRAIN, VALIDATION, assign_splits


def test_fractions_are_respected():
    split = assign_splits(Split(train=0.5, validation=0.3, test=0.2), 1, 0, np.arange(200_000))
    fractions = np.bincount(split) / len(split)
    np.testing.assert_allclose(fractions, [0.5, 0.3, 0.2], atol=0.005)


def test_same_seed_same_split_whatever_the_chunking():
    entries = np.arange(10_000)
    whole = assign_splits(Split(), 7, 3, entries)
    chunked = np.concatenate(
        [assign_splits(Split(), 7, 3, part) for part in np.array_split(entries, 7)]
    )
    np.testing.assert_array_equal(whole, chunked)
    assert not np.array_equal(whole, assign_splits(Split(), 8, 3, entries))
    assert not np.array_equal(whole, assign_splits(Split(), 7, 4, entries))


def test_split_by_event_number_modulus():
    split = Split(event_column="event", modulus=5, validation_remainders=[3], test_remainders=[4])
    events = np.arange(20)
    assigned = assign_splits(split, 0, 0, events, event_numbers=events)
    assert set(events[assigned == TRAIN] % 5) == {0, 1, 2}
    assert set(events[assigned == VALIDATION] % 5) == {3}
    assert set(events[assigned == TEST] % 5) == {4}
    with pytest.raises(ValueError, match="event numbers"):
        assign_splits(split, 0, 0, events)
