"""``make demo``: the main job on the built-in default sample, end to end.

Generate (or reuse) a small ``top-vs-qcd`` sample, train a substructure BDT, a CNN on jet
images and ParticleNet-Lite with the configs of ``configs/top-vs-qcd/``, evaluate each,
compare them with a cut on the jet mass, and say where the reports are.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from heplearn.errors import InputError
from heplearn.generate.run import METADATA_NAME, generate_sample
from heplearn.generate.samples import GenerateOptions

DEMO_SAMPLE = "top-vs-qcd"
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / DEMO_SAMPLE


@dataclass(frozen=True)
class DemoModel:
    """One model of the demo: its config in ``configs/top-vs-qcd/`` and the demo's epochs."""

    name: str
    epochs: int | None


DEMO_MODELS = (
    DemoModel("bdt", None),
    DemoModel("cnn", 8),
    DemoModel("particlenet-lite", 6),
)
BASELINE = "jet_mass"
SCOPE = (
    "On a test split of a few hundred jets per class, a rejection of a few hundred rests on "
    "a handful of background jets: the demo shows the tools working end to end, not how good "
    "the taggers are. The physics benchmark (python -m benchmarks.bench_physics, "
    "docs/benchmarks.md) compares them at realistic statistics, over several seeds. Larger "
    "samples of your own: heplearn generate top-vs-qcd --events 50000 --out data/top-vs-qcd, "
    "then heplearn train configs/top-vs-qcd/<model>.yaml."
)
"""What the demo's numbers mean, printed under its table."""


def _existing_sample_matches(sample_dir: Path, options: GenerateOptions) -> bool:
    metadata_path = sample_dir / METADATA_NAME
    if not metadata_path.is_file():
        return False
    metadata = json.loads(metadata_path.read_text())
    wanted = DEMO_SAMPLE, options.model_dump(mode="json")
    stored = metadata.get("sample"), metadata.get("options", {})
    stored_options = {key: stored[1].get(key) for key in wanted[1]}
    return stored[0] == wanted[0] and all(
        stored_options[key] == value
        for key, value in wanted[1].items()
        if key not in ("pt_min", "pt_max")  # filled in by the sample
    )


def demo_sample(out: Path, events: int, console: Console) -> Path:
    """Generate the demo sample into ``out/top-vs-qcd``, or reuse it when it is there."""
    sample_dir = Path(out) / DEMO_SAMPLE
    options = GenerateOptions(events=events)
    if _existing_sample_matches(sample_dir, options):
        console.print(f"reusing the sample in {sample_dir}")
        return sample_dir
    console.print(f"generating {events} top and {events} QCD jets into {sample_dir}")
    generate_sample(
        DEMO_SAMPLE, options, sample_dir, workers=os.cpu_count() or 1, overwrite=True, progress=True
    )
    return sample_dir


def rejection_cell(row: dict[str, Any], efficiency: str) -> str:
    """A row's 1/ε_B ± uncertainty and the background jets passing, or its limit on few jets."""
    from heplearn.evaluation.limits import MIN_BACKGROUND_EVENTS, limit_text
    from heplearn.evaluation.report import format_number

    rejection = row[f"rejection_{efficiency}"]
    events = row[f"background_events_{efficiency}"]
    if events < MIN_BACKGROUND_EVENTS:
        return limit_text(row[f"rejection_limit_{efficiency}"], events)
    number = format_number(rejection, row.get(f"rejection_{efficiency}_uncertainty"))
    return f"{number} ({events} background jets pass)"


def run_demo(
    out: Path,
    events: int,
    runs: Path,
    *,
    models: tuple[DemoModel, ...] = DEMO_MODELS,
    console: Console | None = None,
) -> Path:
    """Generate, train, evaluate and compare; return the comparison directory.

    Parameters
    ----------
    out : Path
        Parent directory of the sample (``out/top-vs-qcd``).
    events : int
        Jets per class.
    runs : Path
        Parent directory of the runs (``runs/<model>``) and of ``runs/compare``.
    models : tuple of DemoModel
        The models to train.
    """
    from heplearn.evaluation.limits import LIMIT_NOTE, with_quoted_rejections
    from heplearn.evaluation.metric_names import rejection_name
    from heplearn.evaluation.report import format_number
    from heplearn.evaluation.runs import compare_run_directories, evaluate_run
    from heplearn.training.config import load_run_config
    from heplearn.training.fit import train

    console = console or Console()
    if not CONFIGS.is_dir():
        raise InputError(
            f"the demo reads its configs from {CONFIGS}: run it from a source checkout "
            "of heplearn (make demo)"
        )
    sample_dir = demo_sample(out, events, console)
    files = f"data.sources=[{{files: ['{sample_dir}/*.root'], tree: Events}}]"
    directories = []
    test_jets = 0
    for model in models:
        overrides = [files] + ([f"training.epochs={model.epochs}"] if model.epochs else [])
        config = load_run_config(CONFIGS / f"{model.name}.yaml", overrides)
        console.rule(f"{model.name}: training ({CONFIGS.name}/{model.name}.yaml)")
        run = train(config, Path(runs) / model.name, overwrite=True)
        result = evaluate_run(run)
        metrics = result.evaluation.metrics
        rejection = with_quoted_rejections(metrics)["rejection"]["0.5"]
        auc = format_number(metrics["auc"], metrics["auc_uncertainty"])
        console.print(
            f"{model.name}: AUC {auc}, {rejection_name('0.5')}: "
            f"{format_number(rejection)}; report {result.report_path}"
        )
        for warning in metrics["warnings"]:
            console.print(f"  warning: {warning}")
        directories.append(run)
        test_jets = metrics["events"]["test"]
    console.rule("comparison")
    comparison = compare_run_directories(
        directories, Path(runs) / "compare", baselines=[BASELINE], bootstrap=100
    )
    table = Table(
        title=f"{DEMO_SAMPLE}, test split of {test_jets} jets ({events} jets per class generated)"
    )
    table.add_column("Model", justify="left")
    for column in ("AUC", rejection_name("0.3"), rejection_name("0.5")):
        table.add_column(column, justify="right")
    for row in comparison.rows:
        table.add_row(
            str(row["run"]),
            format_number(row["auc"], row["auc_uncertainty"]),
            *(rejection_cell(row, efficiency) for efficiency in ("0.3", "0.5")),
        )
    console.print(table)
    console.print(
        f"Uncertainties from 100 bootstrap replicas of the test jets. {LIMIT_NOTE} {SCOPE}"
    )
    for run in directories:
        console.print(f"report of {run.path.name}: {run.path / 'report.html'}")
    console.print(f"comparison: {comparison.html} (plot {comparison.plot.png})")
    return Path(runs) / "compare"
