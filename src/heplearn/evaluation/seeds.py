"""Several trainings that differ only in their seed: mean ± spread of AUC and 1/ε_B.

Tagging papers quote a network's AUC and background rejection as the mean and standard
deviation over several trainings from different random initialisations on the same
events. :func:`train_seeds` trains the run config ``n`` times with ``training.seed`` =
``seed``, ``seed + 1``, ... (the split follows the run's ``seed`` and stays the same), each
into ``OUT/seed_<training seed>/``, scores the common test split with each, and writes
``OUT/seeds.json``::

    {"seeds": [42, 43, 44],
     "runs": [{"seed": 42, "run": "seed_42", "auc": ..., "rejection": {"0.3": ...},
               "rejection_limit": {...}, "background_passing": {...}}, ...],
     "auc": {"mean": ..., "std": ...},
     "rejection": {"0.3": {"mean": ..., "std": ...}, ...}}

``std`` is the sample standard deviation over the seeds (``ddof = 1``): the spread a new
training would show, not the uncertainty of the mean (divide by ``√n`` for that). A rejection
that is infinite for some seed (no background passes) has an infinite mean and no spread;
the per-seed ``rejection_limit`` and ``background_passing`` say how far it can be trusted.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.errors import ConfigError
from heplearn.evaluation.evaluate import write_metrics
from heplearn.evaluation.kfold import kfold_predictions
from heplearn.evaluation.limits import passing_background
from heplearn.evaluation.metrics import SIGNAL_EFFICIENCIES, roc_curve, roc_summary
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
        The content of ``seeds.json`` (module docstring), with ``inf`` where the file
        holds ``null``.
    path : Path
        ``seeds.json``.
    """

    runs: list[RunDirectory]
    summary: dict[str, Any]
    path: Path


def _test_metrics(run: RunDirectory) -> dict[str, Any]:
    """AUC, rejections and their limits on the run's test split (binary runs).

    A k-fold run is measured on all its events, each scored by the model of its fold.
    """
    predict = kfold_predictions if is_kfold(run) else run_predictions
    test = predict(run, splits=("test",))["test"]
    signal = test.labels == 1
    roc = roc_curve(test.scores, signal, test.weights)
    summary = roc_summary(roc, SIGNAL_EFFICIENCIES)
    passing = passing_background(test.scores, signal, test.weights, roc, SIGNAL_EFFICIENCIES)
    names = [f"{e:g}" for e in SIGNAL_EFFICIENCIES]
    return {
        "auc": float(summary[0]),
        "rejection": dict(zip(names, summary[1:].tolist(), strict=True)),
        "rejection_limit": {n: p.rejection_limit for n, p in zip(names, passing, strict=True)},
        "background_passing": {n: p.counts() for n, p in zip(names, passing, strict=True)},
    }


def _mean_and_spread(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        return {"mean": float(np.inf), "std": float(np.nan)}
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1))}


def summarise_seeds(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over seeds of the AUC and of the rejection at each ε_S.

    Parameters
    ----------
    per_seed : list of dict
        Per seed: ``seed``, ``auc`` and ``rejection`` (``{ε_S: 1/ε_B}``), and anything else
        to keep in ``runs``.

    Returns
    -------
    dict
        ``seeds``, ``runs``, ``auc`` and ``rejection`` (module docstring).
    """
    efficiencies = list(per_seed[0]["rejection"])
    return {
        "seeds": [entry["seed"] for entry in per_seed],
        "runs": per_seed,
        "auc": _mean_and_spread([entry["auc"] for entry in per_seed]),
        "rejection": {
            e: _mean_and_spread([entry["rejection"][e] for entry in per_seed]) for e in efficiencies
        },
    }


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
        Number of trainings, at least 2.
    overwrite : bool
        Replace runs already there.

    Returns
    -------
    SeedSummary
        The runs and the summary.

    Raises
    ------
    ConfigError
        Fewer than two seeds, or a run that is not a binary classifier.
    """
    if seeds < 2:
        raise ConfigError(f"--seeds {seeds}: a spread needs at least 2 trainings")
    if config.data.classes is not None and len(config.data.classes) != 2:
        raise ConfigError(
            f"--seeds summarises binary classifiers; data.classes lists {config.data.classes}"
        )
    out = Path(out)
    first = config.training_seed
    runs, per_seed = [], []
    for seed in range(first, first + seeds):
        training = config.training.model_copy(update={"seed": seed})
        run = train(
            config.model_copy(update={"training": training}),
            out / f"seed_{seed}",
            overwrite=overwrite,
        )
        if run.task().kind != "binary":
            raise ConfigError(f"--seeds summarises binary classifiers; {run.path} is not one")
        runs.append(run)
        per_seed.append({"seed": seed, "run": run.path.name, **_test_metrics(run)})
    summary = summarise_seeds(per_seed)
    return SeedSummary(runs, summary, write_metrics(summary, out / SUMMARY))
