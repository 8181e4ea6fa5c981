"""Score templates for a fit: weighted histograms of a binary run's score per process.

A *process* is one source of the dataset spec (one class of it, when a source holds
several): ``hww``, ``dy_m50``, ``dy_m10to50``. Its name is its class name, or, when
several sources share a class, the name of the source's first file pattern without
extension and wildcards (``dy_m50_*.root`` → ``dy_m50``). Processes of the run's signal
class (label 1) are signal, all others background.

Expected counts are ``Σ w × L / f``: ``w`` the product of the spec's weight branches (a
cross-section per event in pb, as ``XSWeight``; no normalisation), ``L`` the integrated
luminosity in pb⁻¹, ``f`` the fraction of the events in the split used (the test split by
default, so that the run's training events stay out of the templates). The MC statistical
uncertainty of a bin is ``sqrt(Σ (w L / f)²)``.

A variation (``NAME=SPEC``, as for ``heplearn evaluate --variation``) is an independent
sample: all its events make every process's *up* template; the *down* template is the
mirror ``2 × nominal − up`` (clipped at 0).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import hist
import numpy as np
import uproot

from heplearn.data.spec import DatasetSpec, Source
from heplearn.errors import ConfigError, InputError
from heplearn.evaluation.run_data import raw_weight_predictions
from heplearn.files import atomic_path
from heplearn.run_directory import RunDirectory

PICOBARN_PER_FEMTOBARN = 1000.0
ROOT_FILE = "templates.root"
SPLIT_CHOICES = ("test", "all")


@dataclass
class Template:
    """The score histogram of one process, its MC variance and its variations.

    Attributes
    ----------
    name : str
        Process name.
    signal : bool
        Whether it is signal (scaled by the signal strength μ in a fit).
    counts : numpy.ndarray
        Expected events per bin at the luminosity.
    variances : numpy.ndarray
        ``Σ (w L / f)²`` per bin.
    up : dict of str to numpy.ndarray
        Counts of each variation.
    """

    name: str
    signal: bool
    counts: np.ndarray
    variances: np.ndarray
    up: dict[str, np.ndarray] = field(default_factory=dict)

    def down(self, variation: str) -> np.ndarray:
        """The mirrored template ``2 × nominal − up``, clipped at zero."""
        return np.clip(2 * self.counts - self.up[variation], 0.0, None)

    def histogram(self, edges: np.ndarray, counts: np.ndarray | None = None) -> hist.Hist:
        """A weighted ``hist.Hist`` of the score (nominal, or ``counts`` with no variances)."""
        histogram = hist.Hist(
            hist.axis.Variable(edges, name="score", label="Classifier score"),
            storage=hist.storage.Weight(),
        )
        values = self.counts if counts is None else counts
        variances = self.variances if counts is None else np.zeros_like(counts)
        histogram.view()["value"] = values
        histogram.view()["variance"] = variances
        return histogram


def parse_bins(text: str) -> np.ndarray:
    """``--bins``: a number of equal bins over [0, 1], or increasing edges ``0,0.5,0.9,1``.

    Raises
    ------
    ConfigError
        For edges that do not increase, lie outside the score range [0, 1] of a binary
        classifier, or fewer than one bin.
    """
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise ConfigError(
            f"--bins {text!r}: give a number of bins (10) or comma-separated edges "
            "(0,0.5,0.8,0.9,1)"
        ) from None
    if len(numbers) == 1:
        count = int(numbers[0])
        if count != numbers[0] or count < 1:
            raise ConfigError(f"--bins {text!r}: a number of bins must be a whole number ≥ 1")
        return np.linspace(0.0, 1.0, count + 1)
    edges = np.array(numbers)
    if np.any(np.diff(edges) <= 0):
        raise ConfigError(f"--bins {text!r}: the edges must increase")
    if edges[0] < 0 or edges[-1] > 1:
        raise ConfigError(
            f"--bins {text!r}: the edges leave the score range [0, 1] of a binary classifier; "
            "bins there can hold no events"
        )
    return edges


def _pattern_stem(source: Source) -> str:
    name = Path(source.files[0]).name
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", name)
    return re.sub(r"[_.-]*[*?\[\]]+.*$", "", stem) or stem


def _split_fraction(spec: DatasetSpec, split: str) -> float:
    if split == "all":
        return 1.0
    if spec.split.event_column is not None:
        return len(spec.split.test_remainders) / spec.split.modulus
    return spec.split.test


def _process_events(
    run: RunDirectory, spec: DatasetSpec, split: str
) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
    """``(name, label, scores, weights)`` of every process of ``spec``, in source order."""
    class_names = run.class_names() or []
    found: list[tuple[Source, int, np.ndarray, np.ndarray]] = []
    for source in spec.sources:
        single = spec.model_copy(update={"sources": [source]})
        splits = ("train", "validation", "test") if split == "all" else (split,)
        parts = [raw_weight_predictions(run, single, part) for part in splits]
        scores = np.concatenate([part.scores for part in parts])
        labels = np.concatenate([part.labels for part in parts])
        weights = np.concatenate([part.weights for part in parts]).astype(np.float64)
        for label in np.unique(labels):
            chosen = labels == label
            found.append((source, int(label), scores[chosen], weights[chosen]))
    sources_of_class: dict[int, int] = {}
    for _, label, _, _ in found:
        sources_of_class[label] = sources_of_class.get(label, 0) + 1
    processes = []
    for source, label, scores, weights in found:
        name = class_names[label] if label < len(class_names) else str(label)
        if sources_of_class[label] > 1:
            name = _pattern_stem(source)
        processes.append((name, label, scores, weights))
    names = [name for name, *_ in processes]
    if len(set(names)) != len(names):
        raise ConfigError(
            f"the processes of the spec are not told apart by their names {names}; give the "
            "sources of one class file patterns with distinct names"
        )
    return processes


def _histogram(
    scores: np.ndarray, weights: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    counts = np.histogram(scores, bins=edges, weights=weights)[0]
    variances = np.histogram(scores, bins=edges, weights=weights**2)[0]
    return counts, variances


def build_templates(
    run: RunDirectory,
    data: DatasetSpec,
    edges: np.ndarray,
    luminosity_pb: float,
    *,
    variations: Mapping[str, DatasetSpec] | None = None,
    split: str = "test",
) -> list[Template]:
    """The score templates of every process of ``data``, with its variations.

    Parameters
    ----------
    run : RunDirectory
        A binary run.
    data : DatasetSpec
        One source per process (or sources labelled by a branch); weights in pb per event.
    edges : numpy.ndarray
        Bin edges of the score (see :func:`parse_bins`).
    luminosity_pb : float
        Integrated luminosity in pb⁻¹.
    variations : mapping of str to DatasetSpec, optional
        Variation samples with the same processes.
    split : {"test", "all"}
        The nominal events used: the test split (scaled up by its fraction), or all events
        (for a sample the run never trained on). Variations always use all their events.

    Returns
    -------
    list of Template
        Signal processes first, then the backgrounds.

    Raises
    ------
    ConfigError
        A run that is not binary, an unknown split, a non-positive luminosity, a
        variation that lacks a process.
    """
    if run.task().kind != "binary":
        raise ConfigError(f"templates need a binary run; {run.path} is {run.task().kind}")
    if split not in SPLIT_CHOICES:
        raise ConfigError(f"--split must be one of {', '.join(SPLIT_CHOICES)}, got {split!r}")
    if not luminosity_pb > 0:
        raise ConfigError(f"--lumi must be positive, got {luminosity_pb:g}")
    scale = luminosity_pb / _split_fraction(data, split)
    templates = []
    for name, label, scores, weights in _process_events(run, data, split):
        counts, variances = _histogram(scores, weights * scale, edges)
        templates.append(Template(name, label == 1, counts, variances))
    by_name = {template.name: template for template in templates}
    for variation, spec in (variations or {}).items():
        varied = {
            name: _histogram(scores, weights * luminosity_pb, edges)
            for name, _, scores, weights in _process_events(run, spec, "all")
        }
        missing = sorted(set(by_name) - set(varied))
        if missing:
            raise ConfigError(
                f"variation {variation!r} lacks the processes {', '.join(missing)} of the "
                "nominal data; give it the same sources"
            )
        for name, template in by_name.items():
            template.up[variation] = varied[name][0]
    return sorted(templates, key=lambda template: not template.signal)


def check_background(templates: Sequence[Template], edges: np.ndarray) -> None:
    """Refuse bins without positive expected background: a fit cannot use them.

    Raises
    ------
    InputError
        Naming the score bins and the remedy (fewer or wider bins).
    """
    background = sum(t.counts for t in templates if not t.signal)
    if isinstance(background, int):
        raise InputError("the data hold no background process to fit against")
    empty = np.flatnonzero(~(background > 0))
    if empty.size:
        bins = ", ".join(f"[{edges[i]:.3g}, {edges[i + 1]:.3g})" for i in empty)
        raise InputError(
            f"no background is expected in the score bin(s) {bins} (after the weights): a "
            "fit of those bins is undefined; merge them with their neighbours (fewer "
            "--bins, or edges such as 0,0.5,0.8,1) or use more simulated events"
        )


def write_root(templates: Sequence[Template], edges: np.ndarray, path: Path) -> Path:
    """Write every template as a ``hist`` histogram (TH1D) into a ROOT file, atomically.

    Names follow the HistFactory/combine convention: ``{process}`` for the nominal,
    ``{process}_{variation}Up`` and ``{process}_{variation}Down``.
    """
    with atomic_path(path) as temporary, uproot.recreate(temporary) as file:
        for template in templates:
            file[template.name] = template.histogram(edges)
            for variation in template.up:
                up = template.histogram(edges, template.up[variation])
                down = template.histogram(edges, template.down(variation))
                file[f"{template.name}_{variation}Up"] = up
                file[f"{template.name}_{variation}Down"] = down
    return path
