"""What every reader is: an open source with its tree, entries and columns.

A reader opens one file (and, where the format has them, one tree or group inside it),
lists its columns and reads them over entry ranges. Each format's reader is a subclass
registered in :mod:`heplearn.data.readers.registry`.
"""

from pathlib import Path
from typing import Any

import numpy as np

from heplearn.errors import InputError

__all__ = ["NUMERIC_KINDS", "Reader", "describe_dtype", "extract_field", "non_numeric_error"]

NUMERIC_KINDS = frozenset("biuf")
"""numpy dtype kinds of the numbers heplearn reads: booleans, integers, floats."""


class Reader:
    """An open source: its tree, entries and columns, and reads over entry ranges."""

    format: str
    """The name of the format in ``format=`` (the key of the registry)."""
    extensions: tuple[str, ...] = ()
    """File extensions that ``format="auto"`` reads with this reader."""
    class_names: tuple[str, ...] | None = None
    """Class names of the label column of a public data set, in label order."""
    label_branch: str | None = None
    """The label column of a public data set."""
    column_kind = "column"
    tree: str | None
    entries: int

    def __init__(self, path: Path, tree: str | None = None) -> None:
        self.path = path

    def where(self) -> str:
        """Where the columns live, for messages ("tree 'Events' of file 'x.root'")."""
        return f"file '{self.path}'"

    def columns(self) -> list[str]:
        raise NotImplementedError

    def read(self, names: list[str], start: int, stop: int) -> dict[str, Any]:
        """Raw arrays (numpy or awkward) for ``names`` over ``[start, stop)``."""
        raise NotImplementedError

    def bytes_per_entry(self, names: list[str]) -> float | None:
        """Approximate in-memory bytes per entry of ``names`` from metadata, if known."""
        return None

    def cluster_starts(self) -> list[int] | None:
        """Entries where the file's compression clusters begin, if reads should align to them."""
        return None

    def temporary_bytes_per_entry(self, names: list[str]) -> float:
        """Bytes per entry the reader holds only while reading (padded blocks, say)."""
        return 0.0

    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def non_numeric_error(reader: Reader, name: str, type_name: str) -> InputError:
    """The error for a column that does not hold numbers, naming its type."""
    return InputError(
        f"{reader.column_kind} '{name}' of {reader.where()} has type {type_name}, which is "
        "not numeric; heplearn reads only numbers (booleans, integers, floats): remove it "
        "from the inputs or derive a numeric column from it"
    )


def describe_dtype(dtype: np.dtype) -> str:
    """A numpy dtype as a message names it (``string (<U5)``, ``compound {a, b}``)."""
    if dtype.kind == "S":
        return f"bytes ({dtype.str})"
    if dtype.kind == "U":
        return f"string ({dtype.str})"
    if dtype.kind == "O":
        return "object (variable-length strings or references)"
    if dtype.names:
        return "compound {" + ", ".join(dtype.names) + "}"
    return str(dtype)


def extract_field(arrays: dict[str, Any], name: str) -> Any:
    """``arrays[name]``, or for ``"record.field"`` the field projected out of the record."""
    if name in arrays:
        return arrays[name]
    head, _, rest = name.partition(".")
    value = arrays[head]
    for field in rest.split("."):
        value = value[field]
    return value
