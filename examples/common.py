"""What every example shares: its size, where it writes, and running the heplearn CLI.

Environment variables
---------------------
``HEPLEARN_EXAMPLES_SMALL=1``
    Shrink every sample and training so that an example finishes in a minute or two
    (the numbers are then only a check that everything runs, not physics).
``HEPLEARN_EXAMPLES_OUT=DIR``
    Root of the outputs (default: the repository): samples go to ``DIR/data/examples/``
    and runs to ``DIR/runs/examples/``. The examples work inside this directory, so that
    the paths they print are the paths a user would type there.
"""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

SMALL = os.environ.get("HEPLEARN_EXAMPLES_SMALL", "0") not in ("", "0")
REPOSITORY = Path(__file__).resolve().parent.parent
CONFIGS = REPOSITORY / "configs"
OUTPUT_ROOT = Path(os.environ.get("HEPLEARN_EXAMPLES_OUT", REPOSITORY)).resolve()


def size(small: int, default: int) -> int:
    """``small`` under ``HEPLEARN_EXAMPLES_SMALL=1``, else ``default``.

    Parameters
    ----------
    small, default : int
        The value at small scale and at the default scale (events, epochs...).

    Returns
    -------
    int
        The value for this run.
    """
    return small if SMALL else default


def work_in_output_root() -> Path:
    """Change into the output root (created if needed) and return it."""
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    os.chdir(OUTPUT_ROOT)
    return OUTPUT_ROOT


def heplearn_cli(*arguments: str) -> str:
    """Run ``heplearn ARGUMENTS`` in a new process, print the command and its output.

    Parameters
    ----------
    *arguments : str
        The command line after ``heplearn``.

    Returns
    -------
    str
        What the command printed on its standard output.

    Raises
    ------
    RuntimeError
        If the command fails; the message holds its error output.
    """
    print("$ heplearn", shlex.join(arguments))
    result = subprocess.run(
        [sys.executable, "-m", "heplearn", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    print(result.stdout, end="")
    if result.returncode != 0:
        raise RuntimeError(f"heplearn {shlex.join(arguments)} failed:\n{result.stderr}")
    return result.stdout


def _stored_option(options: dict[str, Any], key: str) -> Any:
    """An option of a sample's ``metadata.json`` as ``heplearn generate`` takes it."""
    value = options.get(key)
    return value["kind"] if key == "detector" else value


def generate(sample: str, events: int, out: str, **options: Any) -> Path:
    """Generate a sample with ``heplearn generate``, or reuse the same sample in ``out``.

    A sample is reused when ``out/metadata.json`` records the same sample, number of
    events, seed, detector and the options given here.

    Parameters
    ----------
    sample : str
        ``top-vs-qcd``, ``jets5``, ``hww-vs-dy`` or ``higgs-4l``.
    events : int
        Accepted events per process (per class for the jet samples).
    out : str
        Output directory.
    **options
        Further options of ``heplearn generate`` by their Python names (``pt_min=750``,
        ``detector="calo"``).

    Returns
    -------
    Path
        The sample directory.
    """
    wanted = {"events": events, "seed": 42, "detector": "particle", **options}
    metadata = Path(out) / "metadata.json"
    if metadata.is_file():
        stored = json.loads(metadata.read_text())
        if stored["sample"] == sample and all(
            _stored_option(stored["options"], key) == value for key, value in wanted.items()
        ):
            print(f"reusing the {sample} sample in {out}")
            return Path(out)
    arguments = [sample, "--events", str(events), "--out", out, "--overwrite", "--quiet"]
    for key, value in options.items():
        arguments += [f"--{key.replace('_', '-')}", str(value)]
    heplearn_cli("generate", *arguments)
    return Path(out)


def show(path: Path | str) -> None:
    """Show an image file in a notebook, or print where it is when run as a script.

    Parameters
    ----------
    path : Path or str
        A PNG file.
    """
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(Image(filename=str(path)))
    else:
        print(f"figure: {path}")


def save_figure(figure: Figure, path: Path | str) -> Path:
    """Save a figure as PNG (creating its directory) and show it.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure.
    path : Path or str
        The PNG file to write.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    show(path)
    return path
