"""Physics: the top-tagging configs of ``configs/top-vs-qcd/`` on a generated sample, with floors.

Each config is trained with its own settings (epochs capped for the CPU unless asked
otherwise) on a generated top-vs-QCD sample, once or with several training seeds on the
same split (:func:`heplearn.evaluation.seeds.train_seeds`, the machinery of
``heplearn train --seeds``), and measured on the test split: AUC and background rejection
1/ε_B at ε_S = 0.3 and 0.5, mean ± standard deviation over the seeds, with the background
jets passing each working point; where some seed has fewer than ten, the rejection is the
smallest of the seeds' 95 % CL lower limits. The floors are a cut on the jet mass (the
mass itself as discriminant) and the soft-drop mass + τ32 BDT (``bdt.yaml``). A second
table sets the published numbers on the public top-tagging set beside ours.

``make bench`` runs it small (2,000 jets per class, one training per config, a few
epochs). The issue's version, at realistic statistics, is run on its own and writes its
two sections into ``docs/benchmarks.md``, keeping the others::

    python -m benchmarks.bench_physics --events 50000 --seeds 3 --models all --epochs config

The sample is generated once per size into ``data/bench/top-vs-qcd-<events>`` and reused;
its generation time (from its ``metadata.json``) is stated in the table's text.
"""

import argparse
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import Section, write_report
from benchmarks.samples import (
    CONFIGS,
    generation_cost,
    sample_size,
    top_vs_qcd_config,
    top_vs_qcd_sample,
)

QUICK_EVENTS = 300
DEFAULT_EVENTS = 2000
OUT = Path("runs/bench/physics")

# epochs on two CPU cores (the configs ask for 20 to 30, with early stopping); None: no epochs
CAPPED_EPOCHS: dict[str, int | None] = {
    "logistic": 15,
    "mlp": 30,
    "bdt": None,
    "forest": None,
    "cnn": 12,
    "deepsets": 15,
    "pfn": 15,
    "efn": 15,
    "particlenet-lite": 8,
    "particlenet": 3,
    "part-small": 2,
    "part": 1,
    "lorentznet": 3,
    "lgatr": 2,
}
# what `make bench` trains (the paper-sized networks and the Lorentz-equivariant ones are
# left to --models all)
DEFAULT_MODELS = (
    "logistic",
    "mlp",
    "bdt",
    "cnn",
    "deepsets",
    "pfn",
    "efn",
    "particlenet-lite",
    "part-small",
)
EFFICIENCIES = ("0.3", "0.5")
FLOOR_LABELS = {"bdt": "soft-drop mass + τ32 BDT (floor)", "jet_mass": "jet-mass cut (floor)"}


@dataclass(frozen=True)
class Published:
    """A published result on the public top-tagging set, and our config of that network."""

    tagger: str
    auc: float
    rejection: str
    source: str
    configs: tuple[str, ...]


# AUC and 1/ε_B at ε_S = 0.3 on the public top-tagging set, as the papers quote them
PUBLISHED = (
    Published(
        "ParticleNet",
        0.9858,
        "1615",
        "Qu, Gouskos, Phys. Rev. D 101 (2020) 056019, arXiv:1902.08570",
        ("particlenet", "particlenet-lite"),
    ),
    Published(
        "ParT",
        0.9858,
        "1602",
        "Qu, Li, Qian, ICML 2022, arXiv:2202.03772",
        ("part", "part-small"),
    ),
    Published(
        "LorentzNet",
        0.9868,
        "2195",
        "Gong et al., JHEP 07 (2022) 030, arXiv:2201.08187",
        ("lorentznet",),
    ),
    Published(
        "PFN",
        0.9819,
        "888",
        "Komiske, Metodiev, Thaler, JHEP 01 (2019) 121, as compared in arXiv:1902.08570",
        ("pfn",),
    ),
)
PUBLIC_SAMPLE = (
    "The published numbers are on the public top-tagging set (Kasieczka et al., SciPost "
    "Phys. 7 (2019) 014, arXiv:1902.09914: 14 TeV Pythia 8 jets of 550–650 GeV through the "
    "Delphes ATLAS detector card, 1.2 M training and 400 k test jets), a different sample "
    "from ours (generated here, particle-level detector model, far fewer jets), with the "
    "papers' full-size networks and trainings: only the ordering of the taggers compares, "
    "not the values."
)


@dataclass(frozen=True)
class Measured:
    """One row of the physics table: a config over its seeds, or a floor."""

    label: str
    summary: dict[str, Any]
    seconds: list[float]
    epochs: str


def epochs_per_model(models: Sequence[str], requests: Sequence[str]) -> dict[str, int | None]:
    """The epochs of each model: the caps, then each ``--epochs`` request in order.

    Parameters
    ----------
    models : sequence of str
        Config names.
    requests : sequence of str
        ``config`` (each config's own epochs), ``N`` (every network) or ``MODEL=N``.

    Returns
    -------
    dict
        Model → epochs to set, ``None`` for the config's own (and for the tree models).
    """
    epochs = {model: CAPPED_EPOCHS.get(model) for model in models}
    for request in requests:
        name, _, value = request.rpartition("=")
        if request == "config":
            epochs = dict.fromkeys(models)
        elif not value.isdigit() or int(value) < 1 or (name and name not in epochs):
            raise SystemExit(f"--epochs {request}: write config, N or MODEL=N (MODEL trained here)")
        elif name:
            epochs[name] = int(value)
        else:
            epochs = {m: None if CAPPED_EPOCHS.get(m, 0) is None else int(value) for m in models}
    return epochs


def _epochs_run(runs: Sequence[Any], asked: int | None) -> str:
    """``8 of 8``: the epochs the seeds ran of those asked, and how many still improved."""
    from heplearn.evaluation.run_warnings import convergence_warnings

    histories = [run.history() for run in runs]
    counts = sorted({sum(1 for row in history if "epoch" in row) for history in histories})
    if asked is None:  # trees: no epochs
        return "—"
    ran = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    improving = sum(1 for history in histories if convergence_warnings(history))
    still = f", still improving in {improving} of {len(runs)}" if improving else ""
    return f"{ran} of {asked}{still}"


def train_model(
    model: str, folder: Path, seeds: int, epochs: int | None, quick: bool, out: Path
) -> Measured:
    """Train one config with ``seeds`` training seeds and summarise its test metrics."""
    from heplearn.evaluation.seeds import train_seeds

    extra = ["evaluation.bootstrap=0"]
    if epochs is not None:
        extra.append(f"training.epochs={1 if quick else epochs}")
    config = top_vs_qcd_config(model, folder, extra)
    result = train_seeds(config, out / model, seeds, overwrite=True)
    summary = result.summary
    seconds = [run["training_seconds"] for run in summary["runs"]]
    asked = None if CAPPED_EPOCHS.get(model, 0) is None else config.training.epochs
    return Measured(
        FLOOR_LABELS.get(model, model), summary, seconds, _epochs_run(result.runs, asked)
    )


def jet_mass_floor(run_path: Path, resamples: int) -> Measured:
    """The jet-mass cut on a run's test split, with bootstrap uncertainties (no training)."""
    from heplearn.evaluation.metrics import roc_summary_uncertainty
    from heplearn.evaluation.run_data import run_predictions
    from heplearn.evaluation.seeds import binary_metrics, summarise_seeds
    from heplearn.run_directory import RunDirectory

    test = run_predictions(RunDirectory(run_path), observers=["jet_mass"], splits=("test",))
    mass, is_signal = test["test"].observers["jet_mass"], test["test"].labels == 1
    weights = test["test"].weights
    summary = summarise_seeds([{"seed": None, **binary_metrics(mass, is_signal, weights)}])
    spread = roc_summary_uncertainty(mass, is_signal, weights, resamples=resamples, seed=0)
    summary["auc"]["std"] = float(spread[0])
    for entry, uncertainty in zip(summary["rejection"].values(), spread[1:], strict=True):
        entry["std"] = float(uncertainty)  # (both in the order of SIGNAL_EFFICIENCIES)
    return Measured(FLOOR_LABELS["jet_mass"], summary, [], "—")


def _rejection_cells(summary: dict[str, Any], efficiency: str) -> list[str]:
    """The rejection (mean ± spread, or ``> limit``) and the background jets behind it."""
    from heplearn.evaluation.limits import lower_limit_number
    from heplearn.evaluation.report import format_number

    entry = summary["rejection"][efficiency]
    background = summary["runs"][0]["test_events"]["background"]
    events = ", ".join(f"{n:,}" for n in entry["background_events"])
    if entry["mean"] is None:
        rejection = f"> {lower_limit_number(entry['limit'])} (95 % CL)"
    else:
        rejection = format_number(entry["mean"], entry["std"])
    return [rejection, f"{events} of {background:,}"]


def physics_rows(measured: Sequence[Measured]) -> list[list[str]]:
    """The table's rows: AUC, each working point's rejection and background, time, epochs."""
    from heplearn.evaluation.report import format_number

    rows = []
    for entry in measured:
        summary = entry.summary
        cells = [entry.label, format_number(summary["auc"]["mean"], summary["auc"]["std"])]
        for efficiency in EFFICIENCIES:
            cells += _rejection_cells(summary, efficiency)
        spread = statistics.stdev(entry.seconds) if len(entry.seconds) > 1 else None
        seconds = (
            f"{format_number(statistics.mean(entry.seconds), spread)} s" if entry.seconds else "—"
        )
        rows.append([*cells, seconds, entry.epochs])
    return rows


def published_rows(measured: Sequence[Measured]) -> list[list[str]]:
    """Published AUC and 1/ε_B at ε_S = 0.3 beside ours for the same network."""
    from heplearn.evaluation.report import format_number

    ours = {entry.label: entry.summary for entry in measured}
    rows = []
    for paper in PUBLISHED:
        here = [name for name in paper.configs if name in ours]
        measured_auc = (
            "; ".join(
                f"{name} {format_number(ours[name]['auc']['mean'], ours[name]['auc']['std'])}"
                for name in here
            )
            or "not run"
        )
        measured_rejection = (
            "; ".join(f"{name} {_rejection_cells(ours[name], '0.3')[0]}" for name in here)
            or "not run"
        )
        rows.append(
            [
                paper.tagger,
                f"{paper.auc:.4f}",
                paper.rejection,
                measured_auc,
                measured_rejection,
                paper.source,
            ]
        )
    return rows


def physics_sections(
    events: int,
    models: Sequence[str],
    seeds: int,
    epoch_requests: Sequence[str] = (),
    *,
    quick: bool = False,
    out: Path = OUT,
) -> list[Section]:
    """Train and measure ``models`` on a sample of ``events`` jets per class; two sections."""
    folder = top_vs_qcd_sample(events)
    epochs = epochs_per_model(models, epoch_requests)
    measured = [train_model(m, folder, seeds, epochs[m], quick, out) for m in models]
    resamples = 50
    first_run = out / models[0] / measured[0].summary["runs"][0]["run"]
    measured.append(jet_mass_floor(first_run, resamples))
    ordered = sorted(measured, key=lambda entry: -entry.summary["auc"]["mean"])
    trained = ", ".join(
        f"{m} {'1' if quick and epochs[m] else epochs[m] or 'as its config'}"
        for m in models
        if CAPPED_EPOCHS.get(m, 0) is not None
    )
    spread = (
        f"mean ± standard deviation over {seeds} trainings with training seeds "
        f"{measured[0].summary['seeds'][0]}..{measured[0].summary['seeds'][-1]} on the same "
        "split (the spread a new training shows, as the papers quote it; it leaves out the "
        "statistical uncertainty of the test sample; a spread of zero, as for the BDT, whose "
        "boosting does not depend on the seed, is not printed)"
        if seeds > 1
        else "one training per config, so no spread over seeds (`--seeds 3` gives it)"
    )
    physics = Section(
        "Physics: top tagging on the generated sample",
        f"Test-split AUC and background rejection 1/ε_B at ε_S = 0.3 and 0.5 on a generated "
        f"top-vs-QCD sample ({sample_size(folder)}; {generation_cost(folder)}; jets of "
        f"550–650 GeV, particle-level detector model): {spread}. Each row is a config of "
        f"`configs/top-vs-qcd/`, epochs: {trained} (a network may stop earlier on its "
        "validation loss; the last column says how many it ran and whether the validation "
        "loss still improved at the end). Beside each rejection: the background jets "
        "passing the cut, per seed, of the test split's background; where some seed has "
        "fewer than 10, the rejection is quoted as `> N`, the smallest of the seeds' "
        "one-sided 95 % CL lower limits (Clopper–Pearson), a limit on every seed's "
        f"rejection. The jet-mass cut uses the mass itself as the discriminant (its "
        f"uncertainties: {resamples} bootstrap replicas of the test jets); the soft-drop "
        "mass + τ32 BDT is `bdt.yaml`. Training time: wall time of one training (loading "
        "included), mean over seeds. `python -m benchmarks.bench_physics --help` for the "
        "size, seeds, models and epochs.",
        [
            "tagger",
            "AUC",
            "1/ε_B at ε_S = 0.3",
            "background jets passing (ε_S = 0.3)",
            "1/ε_B at ε_S = 0.5",
            "background jets passing (ε_S = 0.5)",
            "training time",
            "epochs",
        ],
        physics_rows(ordered),
    )
    published = Section(
        "Physics: published top-tagging numbers beside ours",
        f"{PUBLIC_SAMPLE} Ours: the table above (same sample, seeds and epochs).",
        [
            "network",
            "published AUC",
            "published 1/ε_B at ε_S = 0.3",
            "AUC here (config)",
            "1/ε_B at ε_S = 0.3 here (config)",
            "source",
        ],
        published_rows(measured),
    )
    return [physics, published]


def run(quick: bool = False) -> list[Section]:
    """``make bench``: the default models, one training each, on 2,000 jets per class."""
    events = QUICK_EVENTS if quick else DEFAULT_EVENTS
    return physics_sections(events, DEFAULT_MODELS, seeds=1, quick=quick)


def main() -> None:
    """The physics table at a chosen size, seeds, models and epochs; into docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--events", type=int, default=DEFAULT_EVENTS, help="generated jets per class"
    )
    parser.add_argument("--seeds", type=int, default=1, help="trainings per config (≥ 3: spreads)")
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(DEFAULT_MODELS),
        help="configs of configs/top-vs-qcd to train, or 'all' (default: those of make bench)",
    )
    parser.add_argument(
        "--epochs",
        action="append",
        default=[],
        metavar="SPEC",
        help="'config' (each config's own epochs), N (every network) or MODEL=N; repeatable, "
        "applied in order over the CPU caps",
    )
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    arguments = parser.parse_args()
    available = sorted(p.stem for p in CONFIGS.glob("*.yaml") if p.stem != "data")
    models = available if arguments.models == ["all"] else arguments.models
    unknown = sorted(set(models) - set(available))
    if unknown:
        parser.error(f"no config {', '.join(unknown)} in {CONFIGS}; there are {available}")
    if arguments.seeds < 1:
        parser.error("--seeds: at least 1")
    sections = physics_sections(arguments.events, models, arguments.seeds, arguments.epochs)
    write_report(sections, arguments.out, keep_others=True)
    for section in sections:
        print(section.markdown())


if __name__ == "__main__":
    main()
