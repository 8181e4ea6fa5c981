"""Deterministic train/validation/test assignment.

Each event's split follows from a hash of (seed, file index, entry number), so the same
event lands in the same split whether the data are loaded in memory or streamed, in any
chunking and on any number of workers. Analyses that split by event number use
``event_column`` with a modulus instead.
"""

import numpy as np

from heplearn.data.spec import Split

TRAIN, VALIDATION, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "validation", "test")


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a fast, well-mixed 64-bit hash (Steele et al., 2014)."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform_from_entries(seed: int, file_index: int, entries: np.ndarray) -> np.ndarray:
    """A number in [0, 1) per entry, fixed by (seed, file index, entry number)."""
    with np.errstate(over="ignore"):
        key = _splitmix64(np.asarray([seed * 1_000_003 + file_index], dtype=np.uint64))
        hashed = _splitmix64(entries.astype(np.uint64) ^ key)
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def event_folds(
    folds: int,
    seed: int,
    file_index: int,
    entries: np.ndarray,
    event_numbers: np.ndarray | None = None,
) -> np.ndarray:
    """The fold ``0 .. folds-1`` of each event, as int64.

    With event numbers (``split.event_column``) the fold is the event number modulo
    ``folds``, as analyses split by event number; otherwise the event's hash
    (:func:`uniform_from_entries`) times ``folds``, rounded down.
    """
    if event_numbers is not None:
        return np.asarray(event_numbers, dtype=np.int64) % folds
    uniform = uniform_from_entries(seed, file_index, entries)
    return np.minimum((uniform * folds).astype(np.int64), folds - 1)


def assign_splits(
    split: Split,
    seed: int,
    file_index: int,
    entries: np.ndarray,
    event_numbers: np.ndarray | None = None,
) -> np.ndarray:
    """Split index (0 train, 1 validation, 2 test) per event, as int8.

    With ``split.folds`` (k-fold training), fold ``split.fold`` is the test split, the
    next fold (modulo ``folds``) the validation split and the other folds the training
    split.
    """
    if split.folds is not None:
        fold = event_folds(split.folds, seed, file_index, entries, event_numbers)
        result = np.full(len(fold), TRAIN, dtype=np.int8)
        result[fold == (split.fold + 1) % split.folds] = VALIDATION
        result[fold == split.fold] = TEST
        return result
    if split.event_column is not None:
        if event_numbers is None:
            raise ValueError("event numbers are needed to split by event_column")
        remainder = np.asarray(event_numbers, dtype=np.int64) % split.modulus
        result = np.full(len(remainder), TRAIN, dtype=np.int8)
        result[np.isin(remainder, split.validation_remainders)] = VALIDATION
        result[np.isin(remainder, split.test_remainders)] = TEST
        return result
    uniform = uniform_from_entries(seed, file_index, entries)
    result = np.full(len(uniform), TEST, dtype=np.int8)
    result[uniform < split.train + split.validation] = VALIDATION
    result[uniform < split.train] = TRAIN
    return result
