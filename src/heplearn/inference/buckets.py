"""Cutting a chunk of events into forward batches, optionally by length (numpy only).

Most jets have far fewer real particles than the padded length of their input. A model
whose output does not depend on padding (its family is ``padding_invariant``) gives the
same scores when a batch's particle axis is cut after its longest jet, so
:func:`batched` can order the events of a chunk by their number of filled particle slots,
cut batches of similar length, trim each batch's particle axes and put the results back
in the events' order. Nothing here imports torch: the PyTorch and ONNX Runtime engines
share it.
"""

from collections.abc import Callable, Mapping, Sequence

import numpy as np

BatchFunction = Callable[[dict[str, np.ndarray]], np.ndarray]


def filled_lengths(mask: np.ndarray) -> np.ndarray:
    """Slots up to and including the last real particle of every event.

    Parameters
    ----------
    mask : numpy.ndarray
        ``(events, particles)``, true for real particles.

    Returns
    -------
    numpy.ndarray
        ``(events,)`` int64: 0 for an event without particles, ``particles`` when its last
        slot is real. Cutting the particle axis there loses no real particle, wherever
        the padding sits.
    """
    real = np.asarray(mask, dtype=bool)
    if real.shape[1] == 0:
        return np.zeros(len(real), np.int64)
    last = real.shape[1] - np.argmax(real[:, ::-1], axis=1)
    return np.where(real.any(axis=1), last, 0).astype(np.int64)


def batched(
    function: BatchFunction,
    arrays: Mapping[str, np.ndarray],
    keys: Sequence[str],
    size: int,
    empty_shape: tuple[int, ...],
    particles: Mapping[str, str] | None = None,
) -> np.ndarray:
    """``function`` applied to batches of at most ``size`` events, results in event order.

    Parameters
    ----------
    function : callable
        Batch of arrays (``keys``) to an array with one row per event.
    arrays : mapping of str to numpy.ndarray
        The chunk: at least ``keys``, one row per event.
    keys : sequence of str
        The arrays a batch holds, in this order; the first sets the number of events.
    size : int
        Events per batch.
    empty_shape : tuple of int
        Shape of the (float32) result of a chunk without events.
    particles : mapping of str to str, optional
        Particles input name to its mask key, for a padding-invariant model: batches are
        cut from the events ordered by their filled length (the sum over these inputs)
        and each input and its mask is trimmed to the batch's longest event (at least
        one slot). ``None``: consecutive events, untrimmed.

    Returns
    -------
    numpy.ndarray
        The results of all batches, one row per event in the chunk's order.
    """
    count = len(arrays[keys[0]])
    if count == 0:
        return np.zeros(empty_shape, np.float32)
    if not particles:
        return np.concatenate(
            [
                function({key: arrays[key][start : start + size] for key in keys})
                for start in range(0, count, size)
            ]
        )
    lengths = {name: filled_lengths(arrays[mask]) for name, mask in particles.items()}
    trimmed = {key: name for name, mask in particles.items() for key in (name, mask)}
    order = np.argsort(np.sum(list(lengths.values()), axis=0), kind="stable")
    result: np.ndarray | None = None
    for start in range(0, count, size):
        rows = order[start : start + size]
        longest = {name: max(int(length[rows].max()), 1) for name, length in lengths.items()}
        batch = {
            key: arrays[key][rows, : longest[trimmed[key]]] if key in trimmed else arrays[key][rows]
            for key in keys
        }
        part = function(batch)
        if result is None:
            result = np.empty((count, *part.shape[1:]), part.dtype)
        result[rows] = part
    assert result is not None  # (count > 0)
    return result
