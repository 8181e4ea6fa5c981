"""What the keys of ``metrics.json`` are called in a table a physicist reads.

``rejection / 0.3`` is shown as "1/ε_B at ε_S = 0.3", ``ks / qcd / p_value`` as
"KS p-value (qcd)", a comparison's ``rejection_0.5`` column as "1/ε_B at ε_S = 0.5".
Keys without a name of their own are shown with spaces for underscores, joined by
" / "; numbers that only explain another row (the limit beside a rejection already quoted
as ``> N``) are left out.
"""

import re
from collections.abc import Sequence

_SPLITS = {"train": "training", "validation": "validation", "test": "test"}

_SCALARS = {
    "task": "Task",
    "class_names": "Classes",
    "background_classes": "Background classes",
    "anomaly_classes": "Anomaly classes",
    "auc": "AUC",
    "auc_macro": "AUC (macro average over one-vs-rest)",
    "accuracy": "Accuracy",
    "mae": "Mean absolute error",
    "rmse": "Root-mean-square error",
    "r2": "R²",
    "bias": "Bias (mean of predicted − true)",
    "run": "Run",
    "split": "Split",
    "class": "Class",
    "events": "Events",
    "sum_weights": "Sum of weights",
}

_WORKING_POINT = {
    "target_signal_efficiency": "target ε_S",
    "threshold": "score threshold",
    "signal_efficiency": "ε_S",
    "background_efficiency": "ε_B",
    "background_rejection": "1/ε_B",
    "precision": "precision (signal purity)",
    "recall": "recall",
}

_KS = {
    "statistic": "KS statistic",
    "p_value": "KS p-value",
    "effective_events_train": "KS effective events, training",
    "effective_events_test": "KS effective events, test",
}

_PASSING = {
    "events": "Background events passing at ε_S = {}",
    "effective": "Background events passing at ε_S = {} (effective)",
}

_HIDDEN = {"rejection_limit", "weighted", "bin_edges"}


def rejection_name(signal_efficiency: str) -> str:
    """``1/ε_B at ε_S = 0.3`` for the key ``0.3``."""
    return f"1/ε_B at ε_S = {signal_efficiency}"


def metric_name(path: Sequence[str]) -> str | None:
    """The row name of a (nested) key of ``metrics.json``, or ``None`` to leave it out.

    Parameters
    ----------
    path : sequence of str
        The keys from the top, e.g. ``("ks", "qcd", "p_value")``.

    Returns
    -------
    str or None
        E.g. ``KS p-value (qcd)``; ``None`` for rows another row already says
        (``rejection_limit``, ``background_passing / … / weighted``).
    """
    path = [str(part) for part in path]
    if not path or _HIDDEN & set(path):
        return None
    head, rest = path[0], path[1:]
    if head in ("train", "test", "validation") and rest:
        inner = metric_name(rest)
        return None if inner is None else f"{inner}, {_SPLITS[head]} split"
    if head == "one_vs_rest" and len(rest) >= 2:
        inner = metric_name(rest[1:])
        return None if inner is None else f"{inner}, {rest[0]} vs rest"
    if head == "two_sample" and rest:
        inner = metric_name(rest)
        return None if inner is None else f"Two-sample classifier: {inner}"
    if head == "events" and len(rest) == 1:
        return f"Events, {_SPLITS.get(rest[0], rest[0])} split"
    if head == "rejection" and len(rest) == 1:
        return rejection_name(rest[0])
    if head == "background_passing" and len(rest) == 2 and rest[1] in _PASSING:
        return _PASSING[rest[1]].format(rest[0])
    if head == "working_point" and len(rest) == 1 and rest[0] in _WORKING_POINT:
        return f"Working point: {_WORKING_POINT[rest[0]]}"
    if head == "ks" and rest and rest[-1] in _KS:
        return f"{_KS[rest[-1]]} ({rest[0]})" if len(rest) == 2 else _KS[rest[-1]]
    if head == "bootstrap" and rest in (["resamples"], ["seed"]):
        return f"Bootstrap {'replicas' if rest == ['resamples'] else 'seed'}"
    if not rest and head in _SCALARS:
        return _SCALARS[head]
    return " / ".join(part.replace("_", " ") for part in path)


def column_name(key: str) -> str:
    """The header of a table column: ``rejection_0.3`` → ``1/ε_B at ε_S = 0.3``.

    Parameters
    ----------
    key : str
        A column key of a comparison, data or weights table.

    Returns
    -------
    str
        The header; unknown keys with spaces for underscores, first letter capitalised;
        a key that holds a space already is a header written for people, kept as it is.
    """
    if " " in key:
        return key
    if match := re.fullmatch(r"rejection_([0-9.]+)", key):
        return rejection_name(match[1])
    if key in _SCALARS:
        return _SCALARS[key]
    text = key.replace("_", " ")
    return text[:1].upper() + text[1:]
