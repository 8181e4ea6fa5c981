"""Split assignment: fractions, determinism, independence from chunking, event modulus."""

import numpy as np
import pytest

from heplearn.data.spec import Split
from heplearn.data.splits import TEST, TRAIN, VALIDATION, assign_splits, event_folds


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


def test_k_fold_splits_test_on_one_fold_and_validate_on_the_next() -> None:
    entries = np.arange(20_000)
    folds = event_folds(4, 7, 2, entries)
    assert set(np.unique(folds)) == {0, 1, 2, 3}
    for fold in range(4):
        split = Split(folds=4, fold=fold)
        result = assign_splits(split, 7, 2, entries)
        np.testing.assert_array_equal(result == TEST, folds == fold)
        np.testing.assert_array_equal(result == VALIDATION, folds == (fold + 1) % 4)
    # by event number: the event number modulo K, whatever the entry
    numbers = np.array([10, 11, 12, 13, -1])
    by_event = Split(event_column="event", folds=3, fold=1)
    np.testing.assert_array_equal(event_folds(3, 7, 0, entries[:5], numbers), [1, 2, 0, 1, 2])
    assert assign_splits(by_event, 7, 0, entries[:5], numbers).tolist() == [
        TEST,
        VALIDATION,
        TRAIN,
        TEST,
        VALIDATION,
    ]
