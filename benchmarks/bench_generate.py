"""Generation speed: our pipeline against a bare Pythia loop, and scaling with workers.

The bare loop is the limit: it generates the same number of events with the same
settings and does nothing with them. Our pipeline additionally selects final-state
particles, applies the detector model, clusters with FastJet, matches the truth and
computes substructure for the accepted jets. Both include one Pythia initialisation.
"""

import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.report import Section
from heplearn.generate.block import generate_block
from heplearn.generate.plan import Block, block_seed
from heplearn.generate.pythia import new_pythia
from heplearn.generate.registry import get_sample
from heplearn.generate.run import generate_sample
from heplearn.generate.samples import GenerateOptions

SAMPLES = ("top-vs-qcd", "jets5")


def _per_worker_rows(sample_name: str, events: int) -> list[list[str]]:
    sample = get_sample(sample_name)
    options = sample.resolve(GenerateOptions(events=events))
    rows = []
    for index, process in enumerate(sample.processes(options)):
        block = Block(index, 0, events, block_seed(options.seed, index, 0))
        started = time.perf_counter()
        result = generate_block(sample_name, options, block)
        ours = time.perf_counter() - started

        started = time.perf_counter()
        pythia = new_pythia(process.settings, block.seed, options.ecm_gev)
        for _ in range(result.generated):
            pythia.next()
        bare = time.perf_counter() - started
        rows.append(
            [
                f"{sample_name} / {process.name}",
                f"{events}",
                f"{result.generated}",
                f"{events / ours:.1f}",
                f"{events / bare:.1f}",
                f"**{bare / ours:.2f}**",
            ]
        )
    return rows


def _scaling_row(sample_name: str, events: int) -> list[str]:
    seconds = {}
    for workers in (1, 2):
        out = Path(tempfile.mkdtemp(prefix="heplearn-bench-"))
        try:
            started = time.perf_counter()
            generate_sample(sample_name, GenerateOptions(events=events), out, workers=workers)
            seconds[workers] = time.perf_counter() - started
        finally:
            shutil.rmtree(out)
    return [
        sample_name,
        f"{events}",
        f"{seconds[1]:.1f}",
        f"{seconds[2]:.1f}",
        f"**{seconds[1] / seconds[2]:.2f}×**",
    ]


def run(quick: bool = False) -> list[Section]:
    """Measure per-worker throughput against the bare loop, and 1 → 2 worker scaling."""
    block_events = 50 if quick else 400
    per_worker = Section(
        "Generation: accepted jets per second per worker vs a bare Pythia loop",
        "One block of accepted events per process (one worker, one Pythia initialisation "
        "each). *bare limit* generates the same number of events with `pythia.next()` and "
        "nothing else; *ratio* = bare time / our time (target ≥ 0.8).",
        [
            "sample / process",
            "accepted",
            "generated",
            "ours [jets/s]",
            "bare limit [jets/s]",
            "ratio",
        ],
    )
    for sample_name in SAMPLES:
        per_worker.rows.extend(_per_worker_rows(sample_name, block_events))
    scaling_events = 100 if quick else 1200
    scaling = Section(
        "Generation: scaling from 1 to 2 local workers",
        "Wall time of `generate_sample` for the whole sample (per process the given number "
        "of accepted events), including worker start-up and writing the files "
        "(target ≥ 1.8×).",
        ["sample", "events per class", "1 worker [s]", "2 workers [s]", "speed-up"],
    )
    scaling.rows.append(_scaling_row("top-vs-qcd", scaling_events))
    return [per_worker, scaling]
