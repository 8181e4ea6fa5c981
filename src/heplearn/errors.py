"""The errors heplearn raises for problems a user can fix.

Each message names the file, branch, option or key at fault and says what to do. The CLI
prints the message on one line and exits with code 2; ``--debug`` shows the traceback.
"""


class HeplearnError(Exception):
    """Base class of every error caused by the user's input, not by a bug."""


class ConfigError(HeplearnError):
    """An option, a spec key or a value is invalid."""


class InputError(HeplearnError):
    """An input file, tree, branch or key is missing or unusable."""


class OutputError(HeplearnError):
    """An output location cannot be written, or already holds results."""


class MissingExtraError(ConfigError):
    """A feature needs an optional dependency (a ``heplearn[...]`` extra) that is not installed."""
