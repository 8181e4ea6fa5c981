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
    order = None if sort_key is None else ak.argsort(sort_key, axis=1, ascending=False)
    n_events = len(counts)
    mask = np.arange(length)[None, :] < np.minimum(counts, length)[:, None]
    values = np.full((n_events, length, len(features)), pad_value, dtype=np.float32)
    for column, feature in enumerate(features):
        ordered = feature if order is None else feature[order]
        clipped = ak.pad_none(ordered, length, axis=1, clip=True)
        values[:, :, column] = ak.to_numpy(ak.fill_none(clipped, pad_value)).astype(np.float32)
    return values, mask
