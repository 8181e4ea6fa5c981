"""Write ``docs/cli.md``, the reference of every ``heplearn`` command, from the CLI itself.

Run ``.venv/bin/python docs/generate_cli_reference.py`` after changing a command, its
options or their help; ``tests/test_examples.py`` fails while ``docs/cli.md`` differs from
what this script writes.
"""

import sys
from pathlib import Path

import typer

from heplearn.cli import app

OUTPUT = Path(__file__).resolve().parent / "cli.md"

HEADER = """\
# Command-line reference

Generated from the `heplearn` command itself by `docs/generate_cli_reference.py`; do not
edit by hand. Every command also takes `--help`. Options that name a flag and its negation
(`--overwrite / --no-overwrite`) are switches. Errors a user can fix print one line and
exit with code 2; `heplearn --debug COMMAND ...` shows the traceback.
"""


def _table_cell(text: str) -> str:
    """Text that can stand in a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _parameter_rows(command: typer.core.TyperCommand, context: typer.Context) -> list[str]:
    """One Markdown table row per argument and option of ``command``."""
    rows = []
    for parameter in command.params:
        record = parameter.get_help_record(context)
        if record is None:  # a hidden parameter
            continue
        name, description = record
        rows.append(f"| `{_table_cell(name)}` | {_table_cell(description)} |")
    return rows


def _section(
    title: str, command: typer.core.TyperCommand | typer.core.TyperGroup, context: typer.Context
) -> list[str]:
    """The Markdown section of one command: usage, description, parameter table."""
    lines = [f"## `{title}`", "", "```text", command.get_usage(context), "```", ""]
    if command.help:
        lines += [command.help.strip(), ""]
    rows = _parameter_rows(command, context)
    if rows:
        lines += ["| argument or option | description |", "|---|---|", *rows, ""]
    return lines


def cli_reference() -> str:
    """The Markdown reference of the ``heplearn`` command and all its subcommands.

    Returns
    -------
    str
        The content of ``docs/cli.md``.
    """
    group = typer.main.get_command(app)
    root = typer.Context(group, info_name="heplearn")
    lines = [HEADER, *_section("heplearn", group, root)]
    names = group.list_commands(root)
    lines += ["Commands: " + ", ".join(f"[`{name}`](#heplearn-{name})" for name in names), ""]
    for name in names:
        command = group.get_command(root, name)
        context = typer.Context(command, info_name=name, parent=root)
        lines += _section(f"heplearn {name}", command, context)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    """Write ``docs/cli.md``; return the exit status."""
    OUTPUT.write_text(cli_reference(), encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
