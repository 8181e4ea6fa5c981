"""Helpers shared by tests: reading generated samples back."""

import json
from pathlib import Path
from typing import Any

import awkward as ak
import uproot


def read_metadata(sample_dir: Path) -> dict[str, Any]:
    """The ``metadata.json`` of a generated sample."""
    return json.loads((sample_dir / "metadata.json").read_text())


def read_events(sample_dir: Path, group: str | None = None) -> ak.Array:
    """All events of a generated ROOT sample (optionally one file group), in file order."""
    metadata = read_metadata(sample_dir)
    paths = [
        f"{sample_dir / entry['name']}:{metadata['tree']}"
        for entry in metadata["files"]
        if group is None or entry["group"] == group
    ]
    return uproot.concatenate(paths, library="ak")
