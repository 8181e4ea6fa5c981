"""The statistical hand-off: a pyhf (HistFactory) workspace of score templates, and what it expects.

The workspace has one channel, ``score``, with one sample per process
(:class:`~heplearn.deploy.templates.Template`):

- the signal samples scale with the parameter of interest ``mu`` (``normfactor``);
- every sample carries its MC statistical uncertainty (``staterror``, one parameter per
  bin shared by the samples, Barlow–Beeston lite);
- every variation is one nuisance parameter shared by all processes: a ``normsys``
  (``hi`` the ratio of the variation's total to the nominal total, ``lo = 1/hi``) and a
  ``histosys`` of the shape (the variation scaled to the nominal total, and its mirror).

The observations are the Asimov data of the background-only hypothesis (the expected
counts, ``mu = 0``), so that the workspace can be fitted at once; replace them with the
observed counts for a real result.

Expected results (asymptotic formulae, pyhf's numpy backend):

- discovery significance ``Z0``: the ``q0`` test of ``mu = 0`` on the Asimov data of
  ``mu = 1``;
- the median expected 95 % CL upper limit on ``mu`` (CLs, ``qtilde``) on the
  background-only Asimov data.

A cut-and-count on the same histograms (all bins above a score cut added up) is quoted with
the Asimov formula ``Z = sqrt(2 ((s + b) ln(1 + s/b) - s))`` (Cowan et al., EPJC 71 (2011)
1554, eq. 97), which is what pyhf gives for one bin without uncertainties.
"""

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyhf
from scipy.stats import norm

from heplearn.deploy.templates import Template
from heplearn.errors import InputError
from heplearn.files import write_text_atomic

CHANNEL = "score"
POI = "mu"
LIMIT_LEVEL = 0.05


def workspace_spec(templates: Sequence[Template], *, stat_errors: bool = True) -> dict[str, Any]:
    """The pyhf workspace (JSON-ready) of the templates; see the module docstring.

    Parameters
    ----------
    templates : sequence of Template
        Signal and background processes with their variations.
    stat_errors : bool
        Attach the MC statistical uncertainties (``staterror``).
    """
    samples = []
    for template in templates:
        modifiers: list[dict[str, Any]] = []
        if template.signal:
            modifiers.append({"name": POI, "type": "normfactor", "data": None})
        if stat_errors:
            modifiers.append(
                {
                    "name": f"staterror_{CHANNEL}",
                    "type": "staterror",
                    "data": np.sqrt(template.variances).tolist(),
                }
            )
        modifiers += _variation_modifiers(template)
        samples.append(
            {"name": template.name, "data": template.counts.tolist(), "modifiers": modifiers}
        )
    background = np.asarray(sum(template.counts for template in templates if not template.signal))
    signal = np.asarray(sum(template.counts for template in templates if template.signal))
    variance = np.asarray(sum(t.variances for t in templates if not t.signal))
    bound = _mu_bound(signal, background, variance if stat_errors else 0 * variance)
    return {
        "channels": [{"name": CHANNEL, "samples": samples}],
        "observations": [{"name": CHANNEL, "data": background.tolist()}],
        "measurements": [_measurement(bound)],
        "version": "1.0.0",
    }


def _measurement(mu_bound: float) -> dict[str, Any]:
    """The measurement: ``mu`` the parameter of interest, in ``[0, mu_bound]``."""
    parameters = [{"name": POI, "bounds": [[0.0, mu_bound]]}]
    return {"name": "expected", "config": {"poi": POI, "parameters": parameters}}


def _mu_bound(signal: np.ndarray, background: np.ndarray, variance: np.ndarray) -> float:
    """An upper bound of ``mu`` well above its expected limit (pyhf's default 10 may not be).

    Twenty times the rough limit ``2 sqrt(b + σ_b²) / s`` of the most sensitive bin (σ_b the
    MC statistical uncertainty), and at least 10.
    """
    usable = (signal > 0) & (background > 0)
    if not usable.any():
        return 10.0
    spread = np.sqrt(background[usable] + variance[usable])
    rough = float(np.min(2 * spread / signal[usable]))
    return max(10.0, 20 * rough)


def _variation_modifiers(template: Template) -> list[dict[str, Any]]:
    modifiers: list[dict[str, Any]] = []
    total = float(template.counts.sum())
    for variation, up in template.up.items():
        varied_total = float(up.sum())
        if total <= 0 or varied_total <= 0:
            continue  # (a process with no events: nothing to vary)
        ratio = varied_total / total
        shape = up * (total / varied_total)
        modifiers.append(
            {"name": variation, "type": "normsys", "data": {"hi": ratio, "lo": 1 / ratio}}
        )
        modifiers.append(
            {
                "name": variation,
                "type": "histosys",
                "data": {
                    "hi_data": shape.tolist(),
                    "lo_data": np.clip(2 * template.counts - shape, 0.0, None).tolist(),
                },
            }
        )
    return modifiers


@dataclass(frozen=True)
class Expected:
    """Expected results of a workspace.

    Attributes
    ----------
    significance : float
        Median expected discovery significance Z0 for ``mu = 1``.
    upper_limit : float or None
        Median expected 95 % CL upper limit on ``mu`` (CLs); ``None`` when there is none
        below the bound of ``mu`` (then ``note`` says why).
    upper_limit_band : list of float
        The expected limit at −2σ, −1σ, median, +1σ, +2σ (empty without a limit).
    note : str
        Why there is no upper limit; empty otherwise.
    """

    significance: float
    upper_limit: float | None
    upper_limit_band: list[float]
    note: str = ""


def _asimov_data(model: pyhf.pdf.Model, mu: float) -> np.ndarray:
    parameters = np.asarray(model.config.suggested_init(), dtype=np.float64)
    parameters[model.config.poi_index] = mu
    return np.asarray(model.expected_data(parameters))


def expected_significance(spec: dict[str, Any]) -> float:
    """Median expected discovery significance Z0 of ``mu = 1`` (q0 on its Asimov data).

    Raises
    ------
    InputError
        When pyhf's fit gives no finite significance.
    """
    pyhf.set_backend("numpy")
    model = pyhf.Workspace(spec).model()
    data = _asimov_data(model, 1.0)
    p_value = float(pyhf.infer.hypotest(0.0, data, model, test_stat="q0"))
    significance = float(norm.isf(p_value))
    if not math.isfinite(significance):
        raise InputError(
            f"pyhf gave no finite expected significance (p0 = {p_value}); check that the "
            "signal is not negligible against the background"
        )
    return significance


def expected_results(spec: dict[str, Any]) -> Expected:
    """Expected discovery significance and upper limit on ``mu`` of a workspace.

    A limit that lies beyond the bound of ``mu`` (a signal negligible against the
    background and its MC statistical uncertainties) is ``None``, with the reason in
    :attr:`Expected.note`.

    Raises
    ------
    InputError
        When pyhf gives no finite significance.
    """
    significance = expected_significance(spec)
    model = pyhf.Workspace(spec).model()
    try:
        limits = _expected_limits(model, _asimov_data(model, 0.0))
    except InputError as error:
        return Expected(significance, None, [], str(error))
    return Expected(significance, limits[2], limits)


def _cls_band(model: pyhf.pdf.Model, data: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Expected CLs at each ``mu`` of the grid: ``(len(grid), 5)``, the −2σ … +2σ bands.

    Far above the limit pyhf's CLs is 0/0; it is 0 there.
    """
    band = [pyhf.infer.hypotest(mu, data, model, return_expected_set=True)[1] for mu in grid]
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(np.asarray(band, dtype=np.float64), nan=0.0)


def _expected_limits(model: pyhf.pdf.Model, data: np.ndarray) -> list[float]:
    """The expected 95 % CL upper limits on ``mu`` (ascending: −2σ … +2σ) by CLs scans.

    A coarse scan up to a fifth of the bound of ``mu`` (widened until every band crosses
    the level), then a fine scan between the crossings; CLs is interpolated linearly.
    """
    poi_bound = float(model.config.suggested_bounds()[model.config.poi_index][1])
    top = poi_bound / 5
    while True:
        grid = np.linspace(0.0, top, 21)[1:]
        band = _cls_band(model, data, grid)
        if np.all(band[-1] < LIMIT_LEVEL):
            break
        if top >= poi_bound:
            raise InputError(
                f"the expected CLs of mu = {poi_bound:.3g} is still above {LIMIT_LEVEL}: no "
                "expected upper limit on mu; the signal is negligible against the background "
                "and its uncertainties (use a larger --lumi, more simulated events, or finer "
                "bins near score 1)"
            )
        top = min(2 * top, poi_bound)
    crossings = [int(np.argmax(band[:, k] < LIMIT_LEVEL)) for k in range(band.shape[1])]
    low = grid[max(min(crossings) - 1, 0)] if min(crossings) > 0 else 0.0
    fine = np.linspace(low, grid[max(crossings)], 21)
    band = _cls_band(model, data, fine)
    return sorted(
        float(np.interp(LIMIT_LEVEL, band[::-1, k], fine[::-1])) for k in range(band.shape[1])
    )


def asimov_significance(signal: float, background: float) -> float:
    """``sqrt(2 ((s + b) ln(1 + s/b) - s))``: the median discovery significance of s on b.

    Raises
    ------
    InputError
        For ``b <= 0`` (undefined) or ``s < 0``.
    """
    if not background > 0 or signal < 0:
        raise InputError(
            "the Asimov significance needs b > 0 and s >= 0, got "
            f"s = {signal:g}, b = {background:g}"
        )
    return math.sqrt(2 * ((signal + background) * math.log1p(signal / background) - signal))


@dataclass(frozen=True)
class CutAndCount:
    """The best single score cut of the templates, counted.

    Attributes
    ----------
    threshold : float
        Events with a score at or above it (a bin edge) are counted.
    signal, background : float
        Expected counts above the cut.
    significance : float
        The Asimov-formula significance of those counts.
    """

    threshold: float
    signal: float
    background: float
    significance: float


def cut_and_count(templates: Sequence[Template], edges: np.ndarray) -> CutAndCount:
    """The bin edge whose cut maximises the Asimov significance of the summed templates."""
    signal = sum(t.counts for t in templates if t.signal)
    background = sum(t.counts for t in templates if not t.signal)
    signal_above = np.cumsum(np.asarray(signal)[::-1])[::-1]
    background_above = np.cumsum(np.asarray(background)[::-1])[::-1]
    best: CutAndCount | None = None
    for index, (s, b) in enumerate(zip(signal_above, background_above, strict=True)):
        if b > 0 and s >= 0:
            candidate = CutAndCount(
                float(edges[index]), float(s), float(b), asimov_significance(s, b)
            )
            if best is None or candidate.significance > best.significance:
                best = candidate
    if best is None:
        raise InputError("no score cut leaves a positive background: the templates are empty")
    return best


def counting_workspace(signal: float, background: float) -> dict[str, Any]:
    """A one-bin workspace of ``signal`` on ``background`` with no uncertainties."""
    return {
        "channels": [
            {
                "name": CHANNEL,
                "samples": [
                    {
                        "name": "signal",
                        "data": [signal],
                        "modifiers": [{"name": POI, "type": "normfactor", "data": None}],
                    },
                    {"name": "background", "data": [background], "modifiers": []},
                ],
            }
        ],
        "observations": [{"name": CHANNEL, "data": [background]}],
        "measurements": [
            _measurement(_mu_bound(np.array([signal]), np.array([background]), np.zeros(1)))
        ],
        "version": "1.0.0",
    }


def write_workspace(spec: dict[str, Any], path: Path) -> Path:
    """Write the workspace as JSON (validated by pyhf first), atomically."""
    pyhf.Workspace(spec)  # (raises if the schema is broken)
    write_text_atomic(path, json.dumps(spec, indent=1) + "\n")
    return path
