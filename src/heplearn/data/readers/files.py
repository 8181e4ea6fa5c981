"""Input files from names and glob patterns, with messages that point at the likely fix."""

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from heplearn.data.readers.names import close_matches, quote_list
from heplearn.data.readers.registry import EXTENSIONS
from heplearn.errors import ConfigError, InputError

__all__ = ["expand_files", "missing_path_message"]


def missing_path_message(path: Path) -> str:
    """Why ``path`` is not there: a missing directory, or files of similar names beside it."""
    parent = path.parent
    if not parent.is_dir():
        return f"file '{path}' does not exist: its directory '{parent}' does not exist either"
    names = sorted(entry.name for entry in parent.iterdir() if entry.is_file())
    if path.suffix.lower() in EXTENSIONS:  # (a data file is not mistaken for a config)
        names = [name for name in names if Path(name).suffix.lower() in EXTENSIONS]
    matches = close_matches(path.name, names)
    if matches:
        suggestion = " or ".join(f"'{parent / match}'" for match in matches)
        return f"file '{path}' does not exist (did you mean {suggestion}?)"
    return f"file '{path}' does not exist and no file in '{parent}' has a similar name"


def _has_magic(pattern: str) -> bool:
    return any(character in pattern for character in "*?[")


def _unmatched_pattern_message(pattern: str) -> str:
    parts = Path(pattern).parts
    fixed = parts[: next(index for index, part in enumerate(parts) if _has_magic(part))]
    base = Path(*fixed) if fixed else Path(".")
    if not base.is_dir():
        return f"pattern '{pattern}' matches no file: directory '{base}' does not exist"
    names = sorted(entry.name for entry in base.iterdir() if not entry.name.startswith("."))
    if not names:
        return f"pattern '{pattern}' matches no file: directory '{base}' is empty"
    return f"pattern '{pattern}' matches no file; '{base}' holds {quote_list(names, 5)}"


def expand_files(patterns: Sequence[str | Path]) -> list[Path]:
    """Expand file names and glob patterns into a list of existing files.

    Each pattern may use ``*``, ``?``, ``[...]`` and ``**`` (any number of directories);
    ``~`` is expanded. The matches of one pattern are sorted; patterns keep their order;
    a file matched twice is listed once (at its first place). Hidden files (names starting
    with a dot, e.g. unfinished ``.*.part`` outputs) are not matched by wildcards.

    Parameters
    ----------
    patterns : sequence of str or Path
        File names or glob patterns. A single string is taken as one pattern.

    Returns
    -------
    list[Path]
        The matched files.

    Raises
    ------
    InputError
        Naming every pattern that matched nothing and every plain path that does not exist
        (with files of similar names in its directory).
    ConfigError
        If no pattern is given.
    """
    if isinstance(patterns, str | Path):
        patterns = [patterns]
    if not patterns:
        raise ConfigError("no input files given: pass at least one file name or glob pattern")
    files: list[Path] = []
    seen: set[Path] = set()
    problems: list[str] = []
    for pattern in patterns:
        text = os.path.expanduser(str(pattern))
        if _has_magic(text):
            matches = sorted(
                Path(match) for match in glob.glob(text, recursive=True) if Path(match).is_file()
            )
            if not matches:
                problems.append(_unmatched_pattern_message(text))
        else:
            path = Path(text)
            matches = [path] if path.is_file() else []
            if path.is_dir():
                problems.append(
                    f"'{path}' is a directory, not a file; give a pattern such as "
                    f"'{path / '*.root'}'"
                )
            elif not matches:
                problems.append(missing_path_message(path))
        for match in matches:
            key = match.resolve()
            if key not in seen:
                seen.add(key)
                files.append(match)
    if problems:
        raise InputError("; ".join(problems) + ". Check the file names and patterns.")
    return files
