"""A normalizing flow as a fast surrogate: its quality, and its speed against the generator.

One run, on one CPU core each: Pythia 8 + FastJet generate a top-vs-qcd sample (one
worker, timed: accepted jets per second of the whole pipeline, files included); the flow
of ``configs/surrogate/flow.yaml`` (jet substructure given the jet pT) is trained on it
(one torch thread, epochs capped) and evaluated with :func:`evaluate_run`: the classifier
two-sample AUC of generated against held-out jets (0.5: indistinguishable) and the
negative log-likelihood on the test split. Then the flow draws jets for conditions
spread over the generated pT window, with one torch thread: *draw* is the model alone
(standardised arrays in memory, best of three), *draw + write* is
:func:`heplearn.sampling.sample_run` into a ROOT file (loading the run included). The
ratio is the surrogate's speed-up over generating the same jets.
"""

import shutil
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.report import Section
from heplearn.generate.run import generate_sample
from heplearn.generate.samples import GenerateOptions

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "surrogate" / "flow.yaml"
SAMPLE = Path("data/bench/surrogate")
RUNS = Path("runs/bench/surrogate")
PT_RANGE = (550.0, 650.0)  # the generated jet-pT window of top-vs-qcd
THREADS = 1
REPEATS = 3


def _generate(events: int) -> tuple[Path, float, int]:
    """A fresh sample of ``events`` jets per class with one worker; its wall time and jets."""
    folder = SAMPLE.with_name(f"{SAMPLE.name}-{events}")
    started = time.perf_counter()
    metadata = generate_sample(
        "top-vs-qcd", GenerateOptions(events=events), folder, workers=1, overwrite=True
    )
    seconds = time.perf_counter() - started
    return folder, seconds, sum(entry["entries"] for entry in metadata["files"])


def _config(folder: Path, epochs: int) -> Any:
    from heplearn.training.config import load_run_config

    return load_run_config(
        CONFIG,
        [
            f"data.sources=[{{files: ['{folder}/*.root'], tree: Events}}]",
            f"training.epochs={epochs}",
            f"training.threads={THREADS}",
            "training.progress_bar=false",
        ],
    )


def _draw_rate(run: Any, count: int) -> float:
    """Jets per second of the flow alone, best of :data:`REPEATS` draws."""
    import numpy as np

    from heplearn.sampling import Sampler

    sampler = Sampler(run)
    physical = sampler.conditions_in_ranges(count, {"jet_pt": PT_RANGE}, seed=1)
    conditions = {
        name: sampler.preprocessing.standardise_input(name, values, np.float64)
        for name, values in physical.items()
    }
    sampler.draw(min(count, 1000), {k: v[:1000] for k, v in conditions.items()})  # warm-up
    best = np.inf
    for repeat in range(REPEATS):
        started = time.perf_counter()
        sampler.draw(count, conditions, seed=repeat)
        best = min(best, time.perf_counter() - started)
    return count / best


def _write_rate(run: Any, count: int, out: Path) -> float:
    from heplearn.sampling import sample_run

    started = time.perf_counter()
    sample_run(run.path, count, out, conditions_from={"jet_pt": PT_RANGE}, overwrite=True)
    return count / (time.perf_counter() - started)


def run(quick: bool = False) -> list[Section]:
    """Train, evaluate and time the flow surrogate against Pythia + FastJet."""
    from heplearn.evaluation.runs import evaluate_run
    from heplearn.training.fit import train

    events = 150 if quick else 1000
    epochs = 2 if quick else 40
    count = 10_000 if quick else 50_000
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        folder, generation_seconds, jets = _generate(events)
        config = _config(folder, epochs)
        started = time.perf_counter()
        flow_run = train(config, RUNS / "flow", overwrite=True)
        training_seconds = time.perf_counter() - started
        metrics = evaluate_run(flow_run).evaluation.metrics
        draw_rate = _draw_rate(flow_run, count)
        write_rate = _write_rate(flow_run, count, RUNS / "sampled.root")
    finally:
        torch.set_num_threads(threads)
    shutil.rmtree(folder)  # regenerated (and timed) by every run
    generation_rate = jets / generation_seconds
    two_sample = metrics["two_sample"]
    row = [
        f"{jets} ({metrics['events']['train']} / {metrics['events']['test']})",
        f"{len(flow_run.history())}",
        f"{training_seconds:.1f} s",
        f"{two_sample['auc']:.3f} ± {two_sample['auc_uncertainty']:.3f}",
        f"{metrics['nll']['test']:.2f} ({metrics['nll']['train']:.2f})",
        f"{generation_rate:,.1f}",
        f"{draw_rate:,.0f}",
        f"{write_rate:,.0f}",
        f"**{draw_rate / generation_rate:,.0f}×**",
    ]
    return [
        Section(
            "Generative: a normalizing flow as a fast surrogate of Pythia + FastJet",
            "The flow of `configs/surrogate/flow.yaml` (a neural spline flow of log jet mass, "
            "soft-drop mass, τ21, τ32, C2 and log D2 given the jet pT) trained on a top-vs-qcd "
            f"sample generated in the same run (top and QCD jets together, split 60/20/20, at "
            f"most {epochs} epochs with early stopping), on one CPU core each. *two-sample AUC*: "
            "a gradient-boosted classifier separating generated from held-out jets (features "
            "and pT), on half of each, with its bootstrap uncertainty (0.5: indistinguishable). "
            "*NLL*: negative log-likelihood per test jet of the standardised features (train in "
            "brackets). *Pythia + FastJet*: accepted jets per second of `heplearn generate` with "
            f"one worker. *flow draw*: {count:,} jets for pT uniform in 550–650 GeV, the model "
            "alone with one torch thread (best of three); *draw + write*: `heplearn sample`'s "
            "`sample_run` into a ROOT file, loading the run included. *speed-up* = flow draw / "
            "Pythia + FastJet.",
            [
                "jets (train / test)",
                "epochs",
                "training time",
                "two-sample AUC",
                "NLL test (train)",
                "Pythia + FastJet [jets/s]",
                "flow draw [jets/s]",
                "draw + write [jets/s]",
                "speed-up",
            ],
            [row],
        )
    ]
