"""What the readers of the published jet data sets share: labels, integers, padding."""

import awkward as ak
import numpy as np

from heplearn.errors import InputError

__all__ = ["as_int32", "decode_names", "one_hot_index", "unpad"]


def decode_names(values: np.ndarray) -> list[str]:
    """Names stored as bytes or strings in an HDF5 dataset, as str."""
    return [value.decode() if isinstance(value, bytes) else str(value) for value in values]


def one_hot_index(
    one_hot: np.ndarray, label_names: tuple[str, ...], where: str, first_entry: int, fix: str
) -> np.ndarray:
    """Index of the single 1 in each row of ``one_hot``; InputError naming the bad entries."""
    is_zero = one_hot == 0
    is_one = one_hot == 1
    good = np.all(is_zero | is_one, axis=1) & (np.sum(is_one, axis=1) == 1)
    if not np.all(good):
        bad = np.flatnonzero(~good)
        row = one_hot[bad[0]]
        values = ", ".join(
            f"{name}={value:g}" for name, value in zip(label_names, row, strict=True)
        )
        raise InputError(
            f"entry {first_entry + int(bad[0])} of {where} is not one-hot ({values}; exactly "
            f"one of {', '.join(label_names)} must be 1 and the others 0); {len(bad)} of the "
            f"entries {first_entry}-{first_entry + len(one_hot) - 1} are affected. {fix}"
        )
    return np.argmax(is_one, axis=1).astype(np.int32)


def as_int32(values: np.ndarray, name: str, where: str, first_entry: int) -> np.ndarray:
    """Whole numbers stored as floats, as int32; an InputError naming the first that is not."""
    rounded = np.rint(values)
    bad = np.flatnonzero(rounded != values)
    if len(bad):
        raise InputError(
            f"column '{name}' of {where} must hold whole numbers, but entry "
            f"{first_entry + int(bad[0])} is {values[bad[0]]!r}; check that the file is an "
            "unmodified copy of the published one"
        )
    return rounded.astype(np.int32)


def unpad(padded: np.ndarray, mask: np.ndarray, counts: np.ndarray) -> ak.Array:
    """Rows of ``padded`` (entries × slots) without the slots where ``mask`` is False."""
    return ak.unflatten(padded[mask], counts)
