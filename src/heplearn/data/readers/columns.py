"""Checking and converting what the readers return: numbers only, no nulls, one shape.

A flat numeric column becomes a 1-D :class:`numpy.ndarray`; anything with inner dimensions
(jagged ``var *`` lists, regular ``M *`` vectors, images) an :class:`awkward.Array`.
Strings, objects and records are refused with an error naming the column and its type.
"""

from collections.abc import Collection
from typing import Any, TypeAlias

import awkward as ak
import numpy as np

from heplearn.data.readers.base import NUMERIC_KINDS, Reader, describe_dtype, non_numeric_error
from heplearn.data.readers.names import did_you_mean, quote_list
from heplearn.errors import ConfigError, InputError

__all__ = ["Column", "as_column", "check_names", "check_range", "read_checked"]

Column: TypeAlias = np.ndarray | ak.Array

_NUMERIC_PRIMITIVES = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "float128",
    }
)


def _is_numeric_form(form: ak.forms.Form) -> bool:
    if isinstance(form, ak.forms.NumpyForm):
        return form.primitive in _NUMERIC_PRIMITIVES
    if isinstance(form, ak.forms.EmptyForm):
        return True
    if isinstance(form, ak.forms.ListOffsetForm | ak.forms.ListForm | ak.forms.RegularForm):
        if form.parameter("__array__") in ("string", "bytestring", "char", "byte"):
            return False
        return _is_numeric_form(form.content)
    if isinstance(
        form,
        ak.forms.IndexedOptionForm
        | ak.forms.ByteMaskedForm
        | ak.forms.BitMaskedForm
        | ak.forms.UnmaskedForm
        | ak.forms.IndexedForm,
    ):
        return _is_numeric_form(form.content)
    return False


def _has_option(form: ak.forms.Form) -> bool:
    if isinstance(
        form,
        ak.forms.IndexedOptionForm
        | ak.forms.ByteMaskedForm
        | ak.forms.BitMaskedForm
        | ak.forms.UnmaskedForm,
    ):
        return True
    content = getattr(form, "content", None)
    return content is not None and _has_option(content)


def _type_name(array: ak.Array) -> str:
    return str(array.type.content)


def as_column(value: Any, name: str, reader: Reader) -> Column:
    """Check that ``value`` holds numbers and give it the returned shape (1-D numpy or awkward)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in NUMERIC_KINDS:
            raise non_numeric_error(reader, name, describe_dtype(value.dtype))
        if value.ndim == 1:
            return value
        return ak.from_numpy(value, regulararray=True)
    array = ak.Array(value)
    form = array.layout.form
    if not _is_numeric_form(form):
        raise non_numeric_error(reader, name, _type_name(array))
    if _has_option(form):
        missing = sum(
            int(ak.sum(ak.is_none(array, axis=depth), axis=None)) for depth in range(array.ndim)
        )
        if missing:
            raise InputError(
                f"{reader.column_kind} '{name}' of {reader.where()} has {missing} missing "
                "(null) values; fill them or select the entries that have a value before "
                "using it as an input"
            )
        array = ak.drop_none(array)
    if array.ndim == 1:
        return np.asarray(ak.to_numpy(ak.to_packed(array), allow_missing=False))
    return array


def check_names(reader: Reader, names: Collection[str]) -> list[str]:
    """``names`` as a de-duplicated list, after checking that the source has every one."""
    if isinstance(names, str):
        names = [names]
    wanted = list(dict.fromkeys(names))
    available = reader.columns()
    present = set(available)
    missing = [name for name in wanted if name not in present]
    if missing:
        kind = reader.column_kind
        details = ", ".join(
            f"'{name}'{did_you_mean(name, available) or ' (no similar name)'}" for name in missing
        )
        plural = "es" if kind == "branch" else "s"
        raise InputError(
            f"{reader.where()} has no {kind} {details}; its {kind}{plural} are: "
            f"{quote_list(available) or 'none'}. Correct the names in the inputs"
        )
    return wanted


def check_range(reader: Reader, entry_start: int, entry_stop: int | None) -> tuple[int, int]:
    """``[entry_start, entry_stop)`` clipped to the source; a ConfigError if negative."""
    if entry_start < 0 or (entry_stop is not None and entry_stop < 0):
        raise ConfigError(
            f"entry range ({entry_start}, {entry_stop}) of {reader.where()} must not be "
            "negative; give entry_start >= 0 and entry_stop >= 0 (or None for the end)"
        )
    stop = reader.entries if entry_stop is None else min(entry_stop, reader.entries)
    start = min(entry_start, stop)
    return start, stop


def read_checked(reader: Reader, names: list[str], start: int, stop: int) -> dict[str, Column]:
    """Read ``names`` over ``[start, stop)`` and check and shape every column."""
    raw = reader.read(names, start, stop)
    return {name: as_column(raw[name], name, reader) for name in names}
