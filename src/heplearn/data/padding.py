"""Ragged collections to fixed-length arrays with a mask."""

import awkward as ak
import numpy as np


def pad_collection(
    features: list[ak.Array],
    length: int,
    pad_value: float = 0.0,
    sort_key: ak.Array | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pad jagged per-event features to ``(events, length, features)`` plus a mask.

    Parameters
    ----------
    features : list[ak.Array]
        One ``events * var * number`` array per feature, all with the same counts.
    length : int
        Entries kept per event: longer lists are truncated, shorter ones padded.
    pad_value : float, optional
        Value of the padded entries.
    sort_key : ak.Array, optional
        Per-entry key; entries are ordered by decreasing key before truncation.

    Returns
    -------
    values : numpy.ndarray
        float32 ``(events, length, len(features))``.
    mask : numpy.ndarray
        bool ``(events, length)``, true for real entries.
    """
    counts = ak.to_numpy(ak.num(features[0], axis=1))
    n_events = len(counts)
    starts = np.cumsum(counts) - counts
    kept = np.minimum(counts, length)
    # Each kept entry: its destination (event, slot) and its position in the flat arrays.
    event = np.repeat(np.arange(n_events), kept)
    slot = np.arange(len(event)) - np.repeat(np.cumsum(kept) - kept, kept)
    first_entries = np.repeat(starts, kept) + slot
    if sort_key is None or _already_descending(sort_key, counts):
        source = first_entries
    else:
        order = ak.to_numpy(ak.flatten(ak.argsort(sort_key, axis=1, ascending=False)))
        source = order[first_entries] + np.repeat(starts, kept)
    destination = event * length + slot
    values = np.full((n_events * length, len(features)), pad_value, dtype=np.float32)
    for column, feature in enumerate(features):
        flat = np.asarray(ak.to_numpy(ak.flatten(feature)), dtype=np.float32)
        values[destination, column] = flat[source]
    mask = np.arange(length)[None, :] < kept[:, None]
    return values.reshape(n_events, length, len(features)), mask


def _already_descending(key: ak.Array, counts: np.ndarray) -> bool:
    """Whether every event's entries are already in decreasing key order (a cheap check:
    files from the generator and from JetClass are stored pT-ordered)."""
    flat = ak.to_numpy(ak.flatten(key))
    if len(flat) < 2:
        return True
    event_starts = np.zeros(len(flat), dtype=bool)
    event_starts[(np.cumsum(counts) - counts)[counts > 0]] = True
    return bool(np.all((flat[1:] <= flat[:-1]) | event_starts[1:]))
