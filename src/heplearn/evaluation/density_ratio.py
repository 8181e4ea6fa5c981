"""Density-ratio weights from a reweighting classifier (the classifier-based reweighting).

A binary classifier trained to tell a source sample (class 0) from a target sample
(class 1) gives the target probability ``p``; ``p / (1 - p)`` estimates the density ratio
target/source, the weight that makes the source look like the target. ``heplearn
reweight`` (:mod:`heplearn.deploy.reweight`) writes these weights beside new files and the
closure test (:mod:`heplearn.evaluation.closure`) checks them on the test split.
"""

import numpy as np

from heplearn.errors import ConfigError
from heplearn.run_directory import RunDirectory

DEFAULT_CLIP = 1e-3
"""Scores are clipped to ``[1e-3, 1 - 1e-3]``: weights stay within about ``[1e-3, 1e3]``."""


def require_binary(run: RunDirectory) -> tuple[str, str]:
    """Check that ``run`` separates two samples; return their names (source, target).

    Raises
    ------
    ConfigError
        For a multi-class or regression run.
    """
    task = run.task()
    if task.kind != "binary":
        raise ConfigError(
            f"{run.path} is a {task.kind} run; reweighting needs a binary classifier trained "
            "to separate a source sample (class 0) from a target sample (class 1)"
        )
    names = run.class_names() or ["source", "target"]
    return names[0], names[1]


def weights_from_scores(scores: np.ndarray, clip: float = DEFAULT_CLIP) -> np.ndarray:
    """Density-ratio weights ``w = p / (1 - p)`` from target probabilities ``p``.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(N,)`` probability of the target class.
    clip : float
        ``p`` is clipped to ``[clip, 1 - clip]`` first, so every weight is positive and
        finite.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` float64 weights.
    """
    if not 0 < clip < 0.5:
        raise ConfigError(f"the score clip must lie in (0, 0.5), got {clip:g}")
    probability = np.clip(np.asarray(scores, dtype=np.float64), clip, 1 - clip)
    return probability / (1 - probability)
