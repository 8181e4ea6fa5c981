"""How the ``heplearn`` command group talks: usage errors in one line, help in plain words.

typer builds the commands and their parameters; the group only changes how they are
shown. A usage error (an unknown command, a missing option, a value that is not one of
the choices) becomes one ``error:`` line naming the ``--help`` to read, exit code 2, like
every other error a user can cause. Help shows arguments by name (``CONFIG``,
``FILES...``), flags without a type, and values by what they are (``PATH``, ``INTEGER``,
``TEXT``), not by Python type names.

The commands use the rest: :func:`misconfiguration_message` (Lightning refusing the
hardware settings is a user error too), :func:`interruption_says_how_to_resume` (Ctrl-C
in ``train``) and :func:`leaves_no_empty_directory` (``predict --out``).
"""

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.exceptions import NoArgsIsHelpError
from typer.core import TyperArgument, TyperGroup, TyperOption

USER_ERROR_EXIT_CODE = 2

_TYPE_WORDS = {
    "str": "TEXT",
    "int": "INTEGER",
    "int range": "INTEGER",
    "float": "FLOAT",
    "float range": "FLOAT",
    "path": "PATH",
    "file": "PATH",
    "directory": "PATH",
}


def print_error(message: str) -> None:
    """Print one ``error: ...`` line on stderr (the message is not parsed as markup)."""
    Console(stderr=True, highlight=False).print(
        f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True
    )


def usage_message(error: typer.TyperException, command_path: str) -> str:
    """One line for a usage error: click's sentence, lower-cased, and where help is.

    Parameters
    ----------
    error : typer.TyperException
        The usage error (e.g. ``No such command 'frobnicate'.``).
    command_path : str
        The command the user typed, e.g. ``heplearn generate``.

    Returns
    -------
    str
        E.g. ``missing option '--events' / '-n' (see 'heplearn generate --help')``.
    """
    text = " ".join(error.format_message().split()).replace("Value error, ", "")
    text = text.rstrip(".")
    if text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    return f"{text} (see '{command_path} --help')"


class _Argument(TyperArgument):
    """An argument shown by its upper-case name only: ``CONFIG``, ``[FILES]...``."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class _Option(TyperOption):
    """An option shown with the kind of value it takes, and a flag with none."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.metavar is not None:
            return self.metavar
        label = self.display_type(ctx).strip("<>")
        if label.startswith("list[") and label.endswith("]"):
            label = label[len("list[") : -1]
        return _TYPE_WORDS.get(label, label)


def _plain_parameters(command: Any) -> None:
    help_option = command.get_help_option(typer.Context(command))  # (made once, then cached)
    for parameter in [*command.params, *([help_option] if help_option else [])]:
        if isinstance(parameter, TyperArgument):
            parameter.__class__ = _Argument
            if parameter.metavar is None:
                name = (parameter.name or "").upper()
                parameter.metavar = f"{name}..." if parameter.nargs != 1 else name
        elif isinstance(parameter, TyperOption):
            parameter.__class__ = _Option


@contextlib.contextmanager
def _one_line_usage_errors(command_path: Callable[[], str]) -> Iterator[None]:
    try:
        yield
    except NoArgsIsHelpError:  # (shows the help, as asked)
        raise
    except typer.TyperException as error:
        context = getattr(error, "ctx", None)
        path = context.command_path if context is not None else command_path()
        print_error(usage_message(error, path))
        raise typer.Exit(USER_ERROR_EXIT_CODE) from None


class HeplearnGroup(TyperGroup):
    """The command group of ``heplearn``: one-line usage errors and plain help (see module)."""

    def __init__(self, **attributes: Any) -> None:
        super().__init__(**attributes)
        _plain_parameters(self)
        for command in self.commands.values():
            _plain_parameters(command)

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        with _one_line_usage_errors(lambda: info_name or "heplearn"):
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _one_line_usage_errors(lambda: ctx.command_path):
            return super().invoke(ctx)


_LIGHTNING_ERRORS = (
    "lightning.fabric.utilities.exceptions",
    "lightning_fabric.utilities.exceptions",
)
_SETTINGS_HINT = (
    "check --accelerator, --devices and --strategy (training.accelerator, training.devices "
    "and training.strategy in the config)"
)


def misconfiguration_message(error: BaseException) -> str | None:
    """One line for Lightning refusing the hardware settings, or ``None`` for other errors.

    Lightning raises ``MisconfigurationException`` for settings a user chose and can
    change (``--accelerator gpu`` without a GPU, ``--devices 0``); it is reported like
    every other user error. Lightning is only looked up if it was imported.

    Parameters
    ----------
    error : BaseException
        Any exception escaping a command.

    Returns
    -------
    str or None
        The message, or ``None`` when ``error`` is not a Lightning misconfiguration.
    """
    classes = tuple(
        module.MisconfigurationException
        for name in _LIGHTNING_ERRORS
        if (module := sys.modules.get(name)) is not None
    )
    if not classes or not isinstance(error, classes):
        return None
    text = " ".join(str(error).split()).replace("`", "'").rstrip(".!")
    if "gpu backend" in text.lower():
        text = "no GPU is available to PyTorch on this machine (use --accelerator cpu or auto)"
    return f"Lightning cannot train with these settings: {text}; {_SETTINGS_HINT}"


INTERRUPTED_EXIT_CODE = 130


@contextlib.contextmanager
def interruption_says_how_to_resume(
    resume_command: str, can_resume: Callable[[], bool]
) -> Iterator[None]:
    """Ctrl-C inside: one line with the command that continues the run, exit code 130.

    Lightning catches the ``KeyboardInterrupt`` of a training, shuts down and exits with
    code 1; a SIGINT handler notes that it was the user, so that exit (or an interrupt
    before Lightning started) is reported as an interruption and nothing else is.

    Parameters
    ----------
    resume_command : str
        The command to print, e.g. ``heplearn train c.yaml --out runs/x --resume``.
    can_resume : callable
        Whether the run has a checkpoint to continue from (asked after the interrupt).
    """
    interrupted = False

    def on_interrupt(signal_number: int, frame: Any) -> None:
        nonlocal interrupted
        interrupted = True
        raise KeyboardInterrupt

    previous = signal.getsignal(signal.SIGINT)
    ours = previous is signal.default_int_handler  # (not where SIGINT is ignored or taken)
    if ours:
        signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    except (KeyboardInterrupt, SystemExit) as error:
        if isinstance(error, SystemExit) and not interrupted:
            raise
        if can_resume():
            message = f"interrupted; continue the run with: {resume_command}"
        else:
            message = "interrupted before the first checkpoint: nothing to resume, start again"
        Console(stderr=True, highlight=False).print(escape(message), soft_wrap=True)
        raise typer.Exit(INTERRUPTED_EXIT_CODE) from None
    finally:
        if ours:
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def leaves_no_empty_directory(path: Path) -> Iterator[None]:
    """On an error inside, remove ``path`` if it was created inside and is still empty.

    Parameters
    ----------
    path : Path
        An output directory a command may create (``predict --out``).
    """
    existed = path.exists()
    try:
        yield
    except BaseException:
        if not existed and path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        raise
