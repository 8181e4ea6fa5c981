"""Several trainings that differ only in their seed: mean ± spread of AUC and 1/ε_B.

Tagging papers quote a network's AUC and background rejection as the mean and standard
deviation over several trainings from different random initialisations on the same
events. :func:`train_seeds` trains the run config ``n`` times with ``training.seed`` =
``seed``, ``seed + 1``, ... (the split follows the run's ``seed`` and stays the same), each
into ``OUT/seed_<training seed>/``, scores the common test split with each, and writes
``OUT/seeds.json``::

    {"seeds": [42, 43, 44],
     "runs": [{"seed": 42, "run": "seed_42", "training_seconds": ...,
               "test_events": {"signal": ..., "background": ...}, "auc": ...,
               "rejection": {"0.3": ...}, "rejection_limit": {...},
               "background_passing": {...}}, ...],
     "auc": {"mean": ..., "std": ...},
     "rejection": {"0.3": {"mean": ..., "std": ..., "limit": ...,
                           "background_events": [25, 31, 22]}, ...}}

``std`` is the sample standard deviation over the seeds (``ddof = 1``): the spread a new
training would show, not the uncertainty of the mean (divide by ``√n`` for that).

Rejections on few background events
-----------------------------------
A rejection is summarised by its mean and spread only where **every** seed's rejection
rests on at least :data:`~heplearn.evaluation.limits.MIN_BACKGROUND_EVENTS` background
events passing the cut (the rule of the single-run tables). Otherwise ``mean`` and
``std`` are ``null`` and the rejection is quoted as ``limit``: the **smallest of the
seeds' one-sided 95 % CL lower limits** (each a Clopper–Pearson limit on that seed's
passing background, :mod:`heplearn.evaluation.limits`), with ``background_events``, the
raw background count passing the cut for each seed. ``limit`` is filled in for every
working point.

Why the smallest limit, and not one limit from the background counts summed over seeds:
the seeds score **the same test events**, so their passing counts are strongly correlated
(the same QCD jets tend to pass for every seed), not independent trials. Summing ``n``
seeds' counts over ``n`` times the background would claim up to ``n`` times more
information than the test sample holds: its uncertainty shrinks by ``√n`` and, with no
background passing, its limit is ``n`` times what one test sample supports. The smallest
per-seed limit needs no assumption about that correlation: where it lies above the
weakest seed's rejection, that seed's own limit does too, which happens with at most 5 %
probability; so it is a 95 % CL lower limit on every seed's rejection at once, and
therefore on their mean.
"""

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from heplearn.errors import ConfigError
from heplearn.evaluation.evaluate import write_metrics
from heplearn.evaluation.kfold import kfold_predictions
from heplearn.evaluation.limits import (
    CONFIDENCE_LEVEL,
    MIN_BACKGROUND_EVENTS,
    lower_limit_number,
    passing_background,
)
from heplearn.evaluation.metrics import SIGNAL_EFFICIENCIES, roc_curve, roc_summary
from heplearn.evaluation.report import format_number
from heplearn.evaluation.run_data import run_predictions
from heplearn.run_directory import RunDirectory
from heplearn.training.config import RunConfig
from heplearn.training.fit import train
from heplearn.training.kfold import is_kfold

SUMMARY = "seeds.json"


@dataclass(frozen=True)
class SeedSummary:
    """What :func:`train_seeds` trained and measured.

    Attributes
    ----------
    runs : list of RunDirectory
        One run per seed, in seed order.
    summary : dict
        The content of ``seeds.json`` (module docstring); a rejection's ``mean`` and ``std``
        are ``None`` where it is quoted as a limit.
    path : Path
        ``seeds.json``.
    """

    runs: list[RunDirectory]
    summary: dict[str, Any]
    path: Path


def binary_metrics(
    scores: ArrayLike, is_signal: ArrayLike, weights: ArrayLike | None
) -> dict[str, Any]:
    """AUC, rejections, their limits and the background behind them, of one scored sample.

    Parameters
    ----------
    scores, is_signal, weights : array_like
        The scored events (see :func:`heplearn.evaluation.metrics.roc_curve`).

    Returns
    -------
    dict
        ``test_events`` (``{"signal", "background"}``: raw counts), ``auc``, and per
        signal efficiency of :data:`~heplearn.evaluation.metrics.SIGNAL_EFFICIENCIES`
        ``rejection``, ``rejection_limit`` and ``background_passing`` (as in
        ``metrics.json``).
    """
    scores = np.asarray(scores, dtype=np.float64)
    signal = np.asarray(is_signal, dtype=bool)
    roc = roc_curve(scores, signal, weights)
    summary = roc_summary(roc, SIGNAL_EFFICIENCIES)
    passing = passing_background(scores, signal, weights, roc, SIGNAL_EFFICIENCIES)
    names = [f"{e:g}" for e in SIGNAL_EFFICIENCIES]
    return {
        "test_events": {"signal": int(signal.sum()), "background": int((~signal).sum())},
        "auc": float(summary[0]),
        "rejection": dict(zip(names, summary[1:].tolist(), strict=True)),
        "rejection_limit": {n: p.rejection_limit for n, p in zip(names, passing, strict=True)},
        "background_passing": {n: p.counts() for n, p in zip(names, passing, strict=True)},
    }


def run_test_metrics(run: RunDirectory) -> dict[str, Any]:
    """:func:`binary_metrics` of a binary run's test split.

    A k-fold run is measured on all its events, each scored by the model of its fold.
    """
    predict = kfold_predictions if is_kfold(run) else run_predictions
    test = predict(run, splits=("test",))["test"]
    return binary_metrics(test.scores, test.labels == 1, test.weights)


def _mean_and_spread(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (NaN for a single value)."""
    array = np.asarray(values, dtype=np.float64)
    spread = float(array.std(ddof=1)) if array.size > 1 else math.nan
    return {"mean": float(array.mean()), "std": spread}


def _rejection_over_seeds(per_seed: list[dict[str, Any]], efficiency: str) -> dict[str, Any]:
    """Mean ± spread of one working point's rejection, or the smallest limit (module doc)."""
    events = [int(entry["background_passing"][efficiency]["events"]) for entry in per_seed]
    limit = min(float(entry["rejection_limit"][efficiency]) for entry in per_seed)
    measured: dict[str, Any] = {"mean": None, "std": None}
    if min(events) >= MIN_BACKGROUND_EVENTS:
        measured = _mean_and_spread([entry["rejection"][efficiency] for entry in per_seed])
    return {**measured, "limit": limit, "background_events": events}


def summarise_seeds(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over seeds of the AUC and of the rejection at each ε_S.

    Parameters
    ----------
    per_seed : list of dict
        Per seed: ``seed``, ``auc``, and per signal efficiency ``rejection``,
        ``rejection_limit`` and ``background_passing`` (as :func:`binary_metrics` gives
        them), and anything else to keep in ``runs``.

    Returns
    -------
    dict
        ``seeds``, ``runs``, ``auc`` and ``rejection`` (module docstring): a rejection has
        a mean and spread only where every seed's rests on at least
        :data:`~heplearn.evaluation.limits.MIN_BACKGROUND_EVENTS` background events, and
        always the smallest of the seeds' 95 % CL lower limits and their background counts.
        With one seed the spreads are NaN.
    """
    efficiencies = list(per_seed[0]["rejection"])
    return {
        "seeds": [entry["seed"] for entry in per_seed],
        "runs": per_seed,
        "auc": _mean_and_spread([entry["auc"] for entry in per_seed]),
        "rejection": {e: _rejection_over_seeds(per_seed, e) for e in efficiencies},
    }


def rejection_text(rejection: Mapping[str, Any]) -> str:
    """A rejection of :func:`summarise_seeds` for people: ``812 ± 95`` or ``> 1,234 (...)``.

    Parameters
    ----------
    rejection : mapping
        One working point's entry of the summary's ``rejection``.

    Returns
    -------
    str
        The mean ± standard deviation, or, where some seed has fewer than
        :data:`~heplearn.evaluation.limits.MIN_BACKGROUND_EVENTS` background events past
        the cut, the limit with the background events passing for each seed.
    """
    if rejection["mean"] is not None:
        return format_number(rejection["mean"], rejection["std"])
    events = ", ".join(str(n) for n in rejection["background_events"])
    return (
        f"> {lower_limit_number(rejection['limit'])} ({CONFIDENCE_LEVEL * 100:.0f} % CL lower "
        f"limit, the smallest over seeds; background events passing per seed: {events})"
    )


def train_seeds(
    config: RunConfig, out: Path | str, seeds: int, *, overwrite: bool = False
) -> SeedSummary:
    """Train ``config`` with ``seeds`` training seeds and summarise AUC and 1/ε_B over them.

    Parameters
    ----------
    config : RunConfig
        A binary classifier's run config; ``training.seed`` (default ``seed``) is the first
        training seed.
    out : Path or str
        Folder of the runs (``seed_<n>/``) and of ``seeds.json``.
    seeds : int
        Number of trainings (1 gives the summary of one run, without spreads).
    overwrite : bool
        Replace runs already there.

    Returns
    -------
    SeedSummary
        The runs and the summary; each run's entry holds its ``training_seconds`` (the
        wall time of :func:`heplearn.training.fit.train`, loading included).

    Raises
    ------
    ConfigError
        No seed, or a run that is not a binary classifier.
    """
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: train at least once")
    if config.data.classes is not None and len(config.data.classes) != 2:
        raise ConfigError(
            f"--seeds summarises binary classifiers; data.classes lists {config.data.classes}"
        )
    out = Path(out)
    first = config.training_seed
    runs, per_seed = [], []
    for seed in range(first, first + seeds):
        training = config.training.model_copy(update={"seed": seed})
        started = time.perf_counter()
        run = train(
            config.model_copy(update={"training": training}),
            out / f"seed_{seed}",
            overwrite=overwrite,
        )
        seconds = time.perf_counter() - started
        if run.task().kind != "binary":
            raise ConfigError(f"--seeds summarises binary classifiers; {run.path} is not one")
        runs.append(run)
        per_seed.append(
            {
                "seed": seed,
                "run": run.path.name,
                "training_seconds": seconds,
                **run_test_metrics(run),
            }
        )
    summary = summarise_seeds(per_seed)
    return SeedSummary(runs, summary, write_metrics(summary, out / SUMMARY))
