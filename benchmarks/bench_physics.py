"""Physics: every model of ``configs/top-vs-qcd/`` on a generated sample, with baselines.

Every model is trained with its config (epochs capped for the CPU) and evaluated on the
test split with :func:`evaluate_run`; a cut on the jet mass is the baseline, beside the
soft-drop mass + τ32 BDT (``bdt.yaml``).
"""

import time
from pathlib import Path

from benchmarks.report import Section
from benchmarks.samples import sample_size, top_vs_qcd_config, top_vs_qcd_sample

# epochs for the physics table on two CPU cores (the configs ask for up to 30)
PHYSICS_EPOCHS = {
    "logistic": 15,
    "mlp": 30,
    "bdt": None,
    "cnn": 12,
    "deepsets": 15,
    "pfn": 15,
    "efn": 15,
    "particlenet-lite": 8,
    "part-small": 2,
}


def _physics_section(folder: Path, quick: bool, out: Path) -> Section:
    from heplearn.evaluation.runs import compare_run_directories, evaluate_run
    from heplearn.training.fit import train

    runs = []
    times = {}
    for model, epochs in PHYSICS_EPOCHS.items():
        extra = [] if epochs is None else [f"training.epochs={1 if quick else epochs}"]
        config = top_vs_qcd_config(model, folder, [*extra, "evaluation.bootstrap=0"])
        started = time.perf_counter()
        run = train(config, out / "physics" / model, overwrite=True)
        times[model] = time.perf_counter() - started
        evaluate_run(run)
        runs.append(run)
    comparison = compare_run_directories(
        runs, out / "physics" / "compare", baselines=["jet_mass"], bootstrap=50
    )
    rows = []
    for row in comparison.rows:
        name = str(row["run"])
        label = "jet-mass cut" if name == "jet_mass" else name
        rows.append(
            [
                label,
                f"{row['auc']:.4f} ± {row['auc_uncertainty']:.4f}",
                f"{row['rejection_0.3']:.1f} ± {row['rejection_0.3_uncertainty']:.1f}",
                f"{row['rejection_0.5']:.1f} ± {row['rejection_0.5_uncertainty']:.1f}",
                f"{times[name]:.0f} s" if name in times else "—",
            ]
        )
    return Section(
        "Physics: top tagging on the generated sample",
        f"Test-split AUC and background rejection 1/ε_B at ε_S = 0.3 and 0.5 (bootstrap "
        f"uncertainties, 50 replicas) on a generated top-vs-qcd sample ({sample_size(folder)}, "
        "jets of 550–650 GeV, particle-level detector model). Each model uses its config in "
        "`configs/top-vs-qcd/` with the epochs capped for two CPU cores: "
        + ", ".join(f"{m} {e}" for m, e in PHYSICS_EPOCHS.items() if e)
        + ". The jet-mass cut uses the mass itself as the discriminant; `bdt` is the soft-drop "
        "mass + τ32 BDT.",
        ["tagger", "AUC", "1/ε_B at ε_S = 0.3", "1/ε_B at ε_S = 0.5", "training time"],
        rows,
    )


def run(quick: bool = False) -> list[Section]:
    """AUC and rejection of every model on a generated top-vs-qcd sample."""
    folder = top_vs_qcd_sample(300 if quick else 2000)
    return [_physics_section(folder, quick, Path("runs/bench"))]
