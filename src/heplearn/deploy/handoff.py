"""``heplearn templates``: score templates, their ROOT file, the pyhf workspace, expectations.

Writes into one folder: ``templates.root`` (``hist`` histograms per process and
variation, see :mod:`heplearn.deploy.templates`), ``workspace.json`` (pyhf, see
:mod:`heplearn.deploy.workspace`) and ``results.json`` (the yields, the expected
significance and upper limit, and the best cut-and-count).
"""

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.spec import DatasetSpec
from heplearn.deploy.templates import (
    PICOBARN_PER_FEMTOBARN,
    ROOT_FILE,
    build_templates,
    check_background,
    write_root,
)
from heplearn.deploy.workspace import (
    CutAndCount,
    Expected,
    cut_and_count,
    expected_results,
    workspace_spec,
    write_workspace,
)
from heplearn.files import write_text_atomic
from heplearn.run_directory import RunDirectory

WORKSPACE_FILE = "workspace.json"
RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class Handoff:
    """What :func:`write_handoff` computed and where it wrote it."""

    yields: dict[str, float]
    expected: Expected
    counting: CutAndCount
    luminosity_fb: float
    root_path: Path
    workspace_path: Path
    results_path: Path


def write_handoff(
    run: RunDirectory,
    data: DatasetSpec,
    edges: np.ndarray,
    luminosity_fb: float,
    out_dir: Path,
    *,
    variations: Mapping[str, DatasetSpec] | None = None,
    split: str = "test",
    stat_errors: bool = True,
) -> Handoff:
    """Build the templates of ``data`` and write the ROOT file, workspace and results.

    Parameters
    ----------
    run : RunDirectory
        A binary run.
    data : DatasetSpec
        The processes (one source each), with weights in pb per event.
    edges : numpy.ndarray
        Score bin edges.
    luminosity_fb : float
        Integrated luminosity in fb⁻¹.
    out_dir : Path
        The output folder (created).
    variations : mapping of str to DatasetSpec, optional
        Generator variations with the same processes.
    split : {"test", "all"}
        The events used (see :func:`heplearn.deploy.templates.build_templates`).
    stat_errors : bool
        Put the MC statistical uncertainties in the workspace.

    Raises
    ------
    InputError
        A score bin without expected background (see
        :func:`heplearn.deploy.templates.check_background`).
    """
    templates = build_templates(
        run,
        data,
        edges,
        luminosity_fb * PICOBARN_PER_FEMTOBARN,
        variations=variations,
        split=split,
    )
    check_background(templates, edges)
    spec = workspace_spec(templates, stat_errors=stat_errors)
    expected = expected_results(spec)
    counting = cut_and_count(templates, edges)
    out_dir.mkdir(parents=True, exist_ok=True)
    root_path = write_root(templates, edges, out_dir / ROOT_FILE)
    workspace_path = write_workspace(spec, out_dir / WORKSPACE_FILE)
    yields = {template.name: float(template.counts.sum()) for template in templates}
    results: dict[str, Any] = {
        "run": str(run.path),
        "luminosity_fb": luminosity_fb,
        "split": split,
        "bin_edges": edges.tolist(),
        "signal": [template.name for template in templates if template.signal],
        "yields": yields,
        "variations": list(variations or {}),
        "stat_errors": stat_errors,
        "expected": asdict(expected),
        "cut_and_count": asdict(counting),
    }
    results_path = out_dir / RESULTS_FILE
    write_text_atomic(results_path, json.dumps(results, indent=2) + "\n")
    return Handoff(
        yields, expected, counting, luminosity_fb, root_path, workspace_path, results_path
    )
