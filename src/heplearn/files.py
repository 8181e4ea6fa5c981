"""Writing files atomically: a reader never sees a half-written output."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(final_path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final_path``; rename it into place on success.

    The temporary name starts with a dot and ends in ``.part``, so globs such as
    ``*.root`` never match an unfinished file. On any exception the temporary file is
    removed and ``final_path`` is left untouched.

    Parameters
    ----------
    final_path : Path
        Where the finished file should appear.

    Yields
    ------
    Path
        The path to write to.
    """
    final_path = Path(final_path)
    temporary = final_path.with_name(f".{final_path.name}.{os.getpid()}.part")
    try:
        yield temporary
        os.replace(temporary, final_path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def remove_stale_temporaries(final_path: Path) -> None:
    """Remove the temporaries of ``final_path`` that a killed writer left behind.

    :func:`atomic_path` cleans up after an exception, but not after SIGKILL or a lost
    machine; a retried job calls this before writing the same file again.
    """
    final_path = Path(final_path)
    for stale in final_path.parent.glob(f".{final_path.name}.*.part"):
        stale.unlink(missing_ok=True)
