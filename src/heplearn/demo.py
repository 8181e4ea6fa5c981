"""``make demo``: the main job on the built-in default sample.

Today the demo generates (or reuses) a small ``top-vs-qcd`` sample and shows what
separates top jets from QCD jets; training, evaluation and the report join it as those
capabilities land.
"""

import json
import os
from pathlib import Path

import numpy as np
import uproot
from rich.console import Console
from rich.table import Table

from heplearn.generate.run import METADATA_NAME, generate_sample
from heplearn.generate.samples import GenerateOptions

DEMO_SAMPLE = "top-vs-qcd"
SUMMARY_BRANCHES = ("jet_pt", "jet_mass", "jet_sdmass", "jet_tau32", "jet_d2", "jet_nparticles")


def _existing_sample_matches(sample_dir: Path, options: GenerateOptions) -> bool:
    metadata_path = sample_dir / METADATA_NAME
    if not metadata_path.is_file():
        return False
    metadata = json.loads(metadata_path.read_text())
    wanted = DEMO_SAMPLE, options.model_dump(mode="json")
    stored = metadata.get("sample"), metadata.get("options", {})
    stored_options = {key: stored[1].get(key) for key in wanted[1]}
    return stored[0] == wanted[0] and all(
        stored_options[key] == value
        for key, value in wanted[1].items()
        if key not in ("pt_min", "pt_max")  # filled in by the sample
    )


def run_demo(out: Path, events: int, *, console: Console | None = None) -> Path:
    """Generate (or reuse) the demo sample and print a per-class summary.

    Parameters
    ----------
    out : Path
        Parent directory; the sample goes to ``out/top-vs-qcd``.
    events : int
        Jets per class.

    Returns
    -------
    Path
        The sample directory.
    """
    console = console or Console()
    sample_dir = Path(out) / DEMO_SAMPLE
    options = GenerateOptions(events=events)
    if _existing_sample_matches(sample_dir, options):
        console.print(f"reusing the sample in {sample_dir}")
    else:
        console.print(f"generating {events} top and {events} QCD jets into {sample_dir}")
        generate_sample(
            DEMO_SAMPLE,
            options,
            sample_dir,
            workers=os.cpu_count() or 1,
            overwrite=True,
            progress=True,
        )
    metadata = json.loads((sample_dir / METADATA_NAME).read_text())
    files = [f"{sample_dir / entry['name']}:{metadata['tree']}" for entry in metadata["files"]]
    arrays = uproot.concatenate(files, [*SUMMARY_BRANCHES, "is_signal"], library="np")
    table = Table(title=f"{DEMO_SAMPLE}: medians per class (leading jet)")
    table.add_column("branch")
    for name in metadata["classes"]:
        table.add_column(name, justify="right")
    for branch in SUMMARY_BRANCHES:
        medians = [np.median(arrays[branch][arrays["is_signal"] == label]) for label in (0, 1)]
        table.add_row(branch, *(f"{value:.3g}" for value in medians))
    console.print(table)
    console.print(f"events and their description: {sample_dir}")
    return sample_dir
