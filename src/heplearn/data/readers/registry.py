"""The one registry of input formats: the names ``format=`` accepts and who reads them.

The dataset spec's allowed formats, ``format="auto"``'s extensions, the messages about
formats and the table of formats in ``docs/config.md`` (written by
``docs/generate_format_reference.py`` from each reader's attributes and the first line of
its docstring) all come from :data:`READERS`. A new format is one reader class added here.
"""

from pathlib import Path

from heplearn.data.readers.base import Reader
from heplearn.data.readers.hdf5 import Hdf5Reader
from heplearn.data.readers.hls4ml import Hls4mlImagesReader
from heplearn.data.readers.jetclass import JetClassReader
from heplearn.data.readers.names import did_you_mean
from heplearn.data.readers.parquet import ParquetReader
from heplearn.data.readers.root import RootReader
from heplearn.data.readers.top_landscape import TopLandscapeReader
from heplearn.errors import ConfigError, InputError

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "PUBLIC_FORMATS",
    "READERS",
    "check_format",
    "class_names",
    "label_branch",
    "open_reader",
    "resolve_format",
]

READERS: dict[str, type[Reader]] = {
    reader.format: reader
    for reader in (
        RootReader,
        ParquetReader,
        Hdf5Reader,
        TopLandscapeReader,
        JetClassReader,
        Hls4mlImagesReader,
    )
}
"""Format name → its reader class."""

FORMATS = ("auto", *READERS)
"""Every value ``format=`` accepts."""

EXTENSIONS = {
    extension: name for name, reader in READERS.items() for extension in reader.extensions
}
"""File extension → format, used by ``format="auto"`` (public data sets are never guessed)."""

PUBLIC_FORMATS = tuple(name for name, reader in READERS.items() if reader.class_names is not None)
"""The public jet data sets: formats whose label column and class names are known."""


def check_format(format: str) -> str:
    """``format`` if it is one of :data:`FORMATS`, else a ConfigError with close names."""
    if format not in FORMATS:
        raise ConfigError(
            f"unknown format '{format}'{did_you_mean(format, FORMATS)}; "
            f"choose one of {', '.join(FORMATS)}"
        )
    return format


def resolve_format(path: Path, format: str) -> str:
    """The format of ``path``: ``format`` itself, or for ``"auto"`` the one of its extension."""
    check_format(format)
    if format != "auto":
        return format
    suffix = path.suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    raise InputError(
        f"cannot tell the format of '{path}' from its extension '{suffix}' (known: "
        f"{', '.join(EXTENSIONS)}); pass format= one of {', '.join(FORMATS[1:])}"
    )


def open_reader(path: Path, format: str, tree: str | None) -> Reader:
    """Open ``path`` with the reader of ``format`` (resolved: never ``"auto"``)."""
    return READERS[check_format(format)](path, tree)


def class_names(format: str) -> tuple[str, ...] | None:
    """Class names of the label of a public format, in label order; ``None`` for others.

    Raises
    ------
    ConfigError
        For a name not in :data:`FORMATS`.
    """
    check_format(format)
    reader = READERS.get(format)
    return None if reader is None else reader.class_names


def label_branch(format: str) -> str | None:
    """The label column a public format exposes (``is_signal`` or ``label``); else ``None``."""
    check_format(format)
    reader = READERS.get(format)
    return None if reader is None else reader.label_branch
