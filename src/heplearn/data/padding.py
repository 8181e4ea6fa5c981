"""Ragged collections to fixed-length arrays with a mask."""

import awkward as ak
import numpy as np


def jagged_parts(values: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (from 0) of each event's entries and the entries, one event after another.

    Plain jagged numbers are read from their buffers without a copy; anything else goes
    through ``ak.num`` and ``ak.flatten``.
    """
    layout = ak.to_layout(values)
    if _plain_jagged(layout):
        offsets = np.asarray(layout.offsets.data, dtype=np.int64)
        flat = np.asarray(layout.content.data)[offsets[0] : offsets[-1]]
        return offsets - offsets[0], flat
    counts = ak.to_numpy(ak.num(values, axis=1))
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets, ak.to_numpy(ak.flatten(values, axis=1))


def _plain_jagged(layout: ak.contents.Content) -> bool:
    """Whether a layout is plain jagged numbers: offsets and a flat numpy array."""
    return (
        isinstance(layout, ak.contents.ListOffsetArray)
        and isinstance(layout.content, ak.contents.NumpyArray)
        and layout.backend.name == "cpu"
        and layout.parameter("__array__") is None
        and layout.content.parameter("__array__") is None
        and layout.content.data.ndim == 1
    )


def select_events(values: np.ndarray | ak.Array, keep: np.ndarray) -> np.ndarray | ak.Array:
    """The events of a column chosen by the boolean ``keep``, in order.

    Plain jagged numbers come back as new offsets and entries (what :func:`jagged_parts`
    reads without a copy); awkward's own selection would give start and stop indices
    into the old entries, which every later jagged operation first converts back.
    """
    if isinstance(values, ak.Array):
        layout = ak.to_layout(values)
        if _plain_jagged(layout):
            offsets, flat = jagged_parts(values)
            counts = np.diff(offsets)
            kept = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
            np.cumsum(counts[keep], out=kept[1:])
            content = ak.contents.NumpyArray(flat[np.repeat(keep, counts)])
            return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(kept), content))
    return values[keep]


def pad_collection(
    features: list[ak.Array],
    length: int,
    pad_value: float = 0.0,
    sort_key: ak.Array | None = None,
    *,
    scale: tuple[np.ndarray, np.ndarray] | None = None,
    out: tuple[np.ndarray, np.ndarray] | None = None,
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
    scale : tuple of numpy.ndarray, optional
        float32 mean and standard deviation of each feature: the kept entries are
        standardised, ``(value - mean) / std`` in float32, while being copied (padded
        entries keep ``pad_value``), exactly as standardising the padded array would.
    out : tuple of numpy.ndarray, optional
        ``(values, mask)`` arrays to fill instead of new ones, of the returned types and
        shapes but with at least as many rows as events; the first rows are filled and
        returned (views).

    Returns
    -------
    values : numpy.ndarray
        float32 ``(events, length, len(features))``.
    mask : numpy.ndarray
        bool ``(events, length)``, true for real entries.
    """
    offsets, _ = jagged_parts(features[0])
    counts = np.diff(offsets)
    n_events = len(counts)
    kept = np.minimum(counts, length)
    if out is None:
        values = np.empty((n_events, length, len(features)), dtype=np.float32)
        mask = np.empty((n_events, length), dtype=bool)
    else:
        values, mask = out[0][:n_events], out[1][:n_events]
    np.less(np.arange(length), kept[:, np.newaxis], out=mask)
    # The flat entries that fill the mask's slots, event after event: all of them, or a
    # boolean selection (truncation), or positions (sorting).
    source: np.ndarray | None = None
    if sort_key is not None and not _already_descending(sort_key, offsets):
        order = ak.to_numpy(ak.flatten(ak.argsort(sort_key, axis=1, ascending=False)))
        source = order[_first_entries(counts, length)] + np.repeat(offsets[:-1], kept)
    elif np.any(counts > length):
        source = _first_entries(counts, length)
    values.fill(pad_value)
    for column, feature in enumerate(features):
        flat = jagged_parts(feature)[1]
        if len(flat) != offsets[-1]:
            raise ValueError("the features do not have the same number of entries per event")
        if scale is None:
            selected = flat if source is None else flat[source]
        else:  # a new float32 array, standardised in place
            selected = np.subtract(
                flat if source is None else flat[source], scale[0][column], dtype=np.float32
            )
            selected /= scale[1][column]
        values[:, :, column][mask] = selected
    return values, mask


def _first_entries(counts: np.ndarray, length: int) -> np.ndarray:
    """Whether each flat entry is among the first ``length`` of its event."""
    ends = np.cumsum(counts)
    first = np.ones(int(ends[-1]) if len(ends) else 0, dtype=bool)
    # The entries past the first `length` of the (few) longer events.
    longer = counts > length
    extra = counts[longer] - length
    starts = ends[longer] - extra  # where each longer event's extra entries start
    within = np.arange(int(extra.sum())) - np.repeat(np.cumsum(extra) - extra, extra)
    first[np.repeat(starts, extra) + within] = False
    return first


def _already_descending(key: ak.Array, offsets: np.ndarray) -> bool:
    """Whether every event's entries are already in decreasing key order (a cheap check:
    files from the generator and from JetClass are stored pT-ordered)."""
    flat = jagged_parts(key)[1]
    if len(flat) < 2:
        return True
    in_order = flat[1:] <= flat[:-1]
    starts = offsets[1:-1]
    in_order[starts[(starts > 0) & (starts < len(flat))] - 1] = True  # events' first entries
    return bool(in_order.all())
