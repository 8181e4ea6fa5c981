"""Anomaly detection: autoencoders trained on QCD jets only, scoring top jets as anomalies.

The models never see a top jet: they learn to reconstruct QCD jet features
(``configs/anomaly/``), and the reconstruction error is the anomaly score. The table
gives the test-split AUC and background rejection 1/ε_B at ε_S = 0.3 with top jets as
the signal, next to the jet mass used directly as the anomaly score.
"""

import time
from pathlib import Path

import numpy as np

from benchmarks.report import Section
from benchmarks.samples import sample_size, top_vs_qcd_sample
from heplearn.evaluation import metrics

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "anomaly"
MODELS = ("autoencoder", "vae")


def _roc_row(label: str, scores: np.ndarray, is_top: np.ndarray, weights: np.ndarray) -> list[str]:
    roc = metrics.roc_curve(scores, is_top, weights)
    auc, rejection = metrics.roc_summary(roc, [0.3])
    uncertainty = metrics.roc_summary_uncertainty(scores, is_top, weights, resamples=50)
    return [
        label,
        f"{auc:.3f} ± {uncertainty[0]:.3f}",
        f"{rejection:.1f} ± {uncertainty[1]:.1f}",
    ]


def run(quick: bool = False) -> list[Section]:
    """Train each autoencoder on the QCD jets of a generated sample and score top jets."""
    from heplearn.evaluation.run_data import run_predictions
    from heplearn.evaluation.runs import evaluate_run
    from heplearn.training.config import load_run_config
    from heplearn.training.fit import train

    folder = top_vs_qcd_sample(300 if quick else 2000)
    out = Path("runs/bench/anomaly")
    rows = []
    test = None
    for model in MODELS:
        config = load_run_config(
            CONFIGS / f"{model}.yaml",
            [
                f"data.sources=[{{files: ['{folder}/*.root'], tree: Events}}]",
                "training.progress_bar=false",
                "evaluation.bootstrap=0",
                *(["training.epochs=2"] if quick else []),
            ],
        )
        started = time.perf_counter()
        run = train(config, out / model, overwrite=True)
        seconds = time.perf_counter() - started
        clustering = evaluate_run(run).evaluation.metrics["clustering"]
        test = run_predictions(run, observers=["jet_mass"], splits=("test",))["test"]
        row = _roc_row(model, test.scores, test.labels == 1, test.weights)
        rows.append([*row, f"{clustering['adjusted_rand_index']:.2f}", f"{seconds:.0f} s"])
    assert test is not None
    mass = _roc_row("jet mass", test.observers["jet_mass"], test.labels == 1, test.weights)
    rows.append([*mass, "—", "—"])
    return [
        Section(
            "Anomaly detection: top jets as anomalies for autoencoders trained on QCD",
            f"Autoencoders trained on the QCD jets of a generated top-vs-qcd sample "
            f"({sample_size(folder)}; seven jet features, 2-dimensional latent space, "
            "`configs/anomaly/`). Anomaly score: the reconstruction error. Test split, top "
            "jets as signal; uncertainties from a 50-replica Poisson bootstrap. The adjusted "
            "Rand index compares k-means clusters of the latent space with the true classes "
            "(0: chance, 1: identical). The jet mass as the anomaly score is the baseline.",
            ["anomaly score", "AUC", "1/ε_B at ε_S = 0.3", "adjusted Rand index", "training"],
            rows,
        )
    ]
