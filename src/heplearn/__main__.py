"""``python -m heplearn``: the same as the ``heplearn`` command."""

from heplearn.cli import app

app(prog_name="heplearn")
