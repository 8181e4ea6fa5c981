"""Write the table of input formats in ``docs/config.md`` from the readers' registry.

Run ``.venv/bin/python docs/generate_format_reference.py`` after adding or changing a
reader (:mod:`heplearn.data.readers.registry`); ``tests/test_docs.py`` fails while
``docs/config.md`` differs from what this script writes. Only the part between the two
markers is rewritten; the rest of the page is written by hand.
"""

import re
import sys
from pathlib import Path

from heplearn.data.readers.base import Reader
from heplearn.data.readers.registry import READERS

OUTPUT = Path(__file__).resolve().parent / "config.md"
BEGIN = "<!-- formats: written by docs/generate_format_reference.py; do not edit by hand -->"
END = "<!-- end of formats -->"


def _markdown(text: str) -> str:
    """A docstring's reStructuredText literals (````x````) as Markdown code (`` `x` ``)."""
    return re.sub(r"``(.+?)``", r"`\1`", text).replace("|", "\\|")


def _summary(reader: type[Reader]) -> str:
    """The first line of the reader's docstring: what it reads."""
    return _markdown((reader.__doc__ or "").strip().splitlines()[0])


def _label(reader: type[Reader]) -> str:
    if reader.class_names is None:
        return "—"
    classes = ", ".join(f"`{name}`" for name in reader.class_names)
    return f"`{reader.label_branch}`: {classes}"


def format_table() -> str:
    """The Markdown of the formats table, markers included.

    Returns
    -------
    str
        The block of ``docs/config.md`` between (and with) :data:`BEGIN` and :data:`END`.
    """
    lines = [
        BEGIN,
        "",
        "`format: auto`, the default, takes the format from the file's extension (the "
        "third column); the public data sets are never guessed: name their format.",
        "",
        "| `format` | reads | extensions for `auto` | label column: classes in label order |",
        "|---|---|---|---|",
    ]
    for name, reader in READERS.items():
        extensions = ", ".join(f"`{extension}`" for extension in reader.extensions) or "—"
        lines.append(f"| `{name}` | {_summary(reader)} | {extensions} | {_label(reader)} |")
    return "\n".join([*lines, "", END])


def config_page(current: str) -> str:
    """``docs/config.md`` with its formats block replaced by :func:`format_table`."""
    start, stop = current.index(BEGIN), current.index(END) + len(END)
    return current[:start] + format_table() + current[stop:]


def main() -> int:
    """Rewrite the formats block of ``docs/config.md``; return the exit status."""
    OUTPUT.write_text(config_page(OUTPUT.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote the formats of {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
