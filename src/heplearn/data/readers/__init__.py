"""One reading layer for every input format: ROOT (TTree, RNTuple), Parquet, HDF5, public sets.

Open a file with :func:`open_source`, list its columns with :func:`available_columns`,
read them with :func:`read_columns` or stream them with :func:`iterate_columns`; the rest
of heplearn never needs to know the format. Input files come from names and glob patterns
through :func:`expand_files`.

Formats
-------
``format=`` takes ``auto`` (chosen from the file's extension) or a name of
:data:`~heplearn.data.readers.registry.READERS`: one reader class per format, in a module
of its own (:mod:`~heplearn.data.readers.root` for TTrees and RNTuples, ``parquet``,
``hdf5``, and the public jet data sets the user has already downloaded, mapped onto this
project's branch names: ``top_landscape``, ``jetclass``, ``hls4ml``). The table of
``docs/config.md`` is written from that registry.

Returned values
---------------
:func:`read_columns` returns one array per name: a 1-D :class:`numpy.ndarray` for a flat
numeric column, an :class:`awkward.Array` for anything with inner dimensions (jagged
``var *`` lists, regular ``M *`` vectors, images). Only numbers are read (booleans,
integers, floating point); strings, objects and records are refused with an error naming
the column and its type (:mod:`~heplearn.data.readers.columns`).
"""

from heplearn.data.readers.columns import Column
from heplearn.data.readers.files import expand_files
from heplearn.data.readers.registry import FORMATS
from heplearn.data.readers.sources import (
    SourceFile,
    available_columns,
    check_columns,
    check_option_names,
    chunk_ranges,
    cluster_starts,
    entries_for_memory,
    iterate_columns,
    open_source,
    read_columns,
    read_ranges,
)

__all__ = [
    "FORMATS",
    "Column",
    "SourceFile",
    "available_columns",
    "check_columns",
    "check_option_names",
    "chunk_ranges",
    "cluster_starts",
    "entries_for_memory",
    "expand_files",
    "iterate_columns",
    "open_source",
    "read_columns",
    "read_ranges",
]
