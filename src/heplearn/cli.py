"""The ``heplearn`` command line: one typer app, one line per error, exit code 2."""

import functools
import os
import shlex
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml
from pydantic import ValidationError

from heplearn import __version__
from heplearn.cli_group import (
    USER_ERROR_EXIT_CODE,
    HeplearnGroup,
    interruption_says_how_to_resume,
    leaves_no_empty_directory,
    misconfiguration_message,
    print_error,
)
from heplearn.config import merge_union_errors, yaml_error_message
from heplearn.errors import ConfigError, HeplearnError

app = typer.Typer(
    name="heplearn",
    help="From collider data to trained, evaluated and deployable neural networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=HeplearnGroup,
)
_state = {"debug": False}

Command = TypeVar("Command", bound=Callable[..., Any])


def reports_errors(command: Command) -> Command:
    """Turn user errors into one line on stderr and exit code 2 (traceback with --debug).

    User errors are heplearn errors and Lightning refusing the hardware settings.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Exception as error:
            message = (
                str(error) if isinstance(error, HeplearnError) else misconfiguration_message(error)
            )
            if _state["debug"] or message is None:
                raise
            print_error(message)
            raise typer.Exit(USER_ERROR_EXIT_CODE) from None

    return wrapper  # type: ignore[return-value]


def config_error(error: ValidationError) -> ConfigError:
    """Rephrase a pydantic validation error in terms of command-line flags."""
    problems = []
    for item in merge_union_errors(error.errors()):
        location = [str(part) for part in item["loc"]]
        if location[:1] == ["detector"]:
            name = "--detector-config key " + ".".join(location[1:])
        else:
            name = "--" + ".".join(location).replace("_", "-")
        message = item["msg"].removeprefix("Value error, ")
        problems.append(message if not item["loc"] else f"{name}: {message}")
    return ConfigError("; ".join(problems))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"heplearn {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of any error.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """From collider data to trained, evaluated and deployable neural networks."""
    _state["debug"] = debug


class Detector(StrEnum):
    """Detector models of ``heplearn generate``."""

    particle = "particle"
    calo = "calo"


class FileFormat(StrEnum):
    """Output formats of ``heplearn generate``."""

    root = "root"
    parquet = "parquet"


def _detector_settings(kind: Detector, config: Path | None) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if config is not None:
        try:
            loaded = yaml.safe_load(config.read_text())
        except OSError as error:
            raise ConfigError(f"cannot read --detector-config {config}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"--detector-config {yaml_error_message(config, error)}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--detector-config {config} must hold a mapping of parameters")
        settings.update(loaded)
    settings["kind"] = kind.value
    return settings


@app.command()
@reports_errors
def generate(
    sample: Annotated[
        str,
        typer.Argument(help="top-vs-qcd, jets5, hww-vs-dy or higgs-4l (see docs/samples.md)."),
    ],
    events: Annotated[
        int, typer.Option("--events", "-n", help="Accepted events per process (per class).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    seed: Annotated[int, typer.Option(help="Seed of the whole sample.")] = 42,
    workers: Annotated[
        int | None, typer.Option(help="Local worker processes (default: all cores).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a dask.distributed scheduler to run the blocks on."),
    ] = None,
    detector: Annotated[Detector, typer.Option(help="Detector model.")] = Detector.particle,
    detector_config: Annotated[
        Path | None,
        typer.Option(help="YAML file of detector parameters (see docs/samples.md)."),
    ] = None,
    pt_min: Annotated[
        float | None,
        typer.Option(help="Jet samples: lower edge of the leading-jet pT window [GeV]."),
    ] = None,
    pt_max: Annotated[
        float | None,
        typer.Option(help="Jet samples: upper edge of the leading-jet pT window [GeV]."),
    ] = None,
    eta_max: Annotated[float, typer.Option(help="Jet samples: leading-jet |η| acceptance.")] = 2.0,
    jet_radius: Annotated[float, typer.Option(help="Jet samples: anti-kT radius R.")] = 0.8,
    ecm: Annotated[float, typer.Option(help="pp centre-of-mass energy [GeV].")] = 14_000.0,
    events_per_file: Annotated[int, typer.Option(help="Maximum entries per file.")] = 100_000,
    file_format: Annotated[
        FileFormat, typer.Option("--format", help="Output format.")
    ] = FileFormat.root,
    pythia: Annotated[
        list[str] | None,
        typer.Option(
            "--pythia",
            help="Extra Pythia setting, read after the process settings, e.g. "
            "'TimeShower:alphaSvalue = 0.15' (repeatable).",
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a sample already in --out.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Generate a labelled sample with Pythia 8 and FastJet into ROOT or Parquet files."""
    from heplearn.generate.registry import get_sample
    from heplearn.generate.run import METADATA_NAME, generate_sample
    from heplearn.generate.samples import GenerateOptions

    get_sample(sample)
    try:
        options = GenerateOptions(
            events=events,
            seed=seed,
            detector=_detector_settings(detector, detector_config),
            ecm_gev=ecm,
            pt_min=pt_min,
            pt_max=pt_max,
            eta_max=eta_max,
            jet_radius=jet_radius,
            events_per_file=events_per_file,
            format=file_format.value,
            pythia_settings=tuple(pythia or ()),
        )
    except ValidationError as error:
        raise config_error(error) from None
    metadata = generate_sample(
        sample,
        options,
        out,
        workers=workers or os.cpu_count() or 1,
        scheduler=scheduler,
        overwrite=overwrite,
        progress=not quiet,
    )
    entries = sum(entry["entries"] for entry in metadata["files"])
    typer.echo(
        f"wrote {entries} events in {len(metadata['files'])} file(s) to {out} "
        f"({metadata['seconds']:.0f} s); description in {out / METADATA_NAME}"
    )


@app.command()
@reports_errors
def demo(
    out: Annotated[Path, typer.Option(help="Where the demo puts its sample.")] = Path("data/demo"),
    events: Annotated[int, typer.Option(help="Jets per class.")] = 2000,
    runs: Annotated[Path, typer.Option(help="Where the demo puts its runs.")] = Path("runs/demo"),
) -> None:
    """Generate top vs QCD jets, train a BDT, a CNN and ParticleNet-Lite, evaluate, compare."""
    from heplearn.demo import run_demo

    run_demo(out, events, runs)


FileWorkersFlag = Annotated[
    int, typer.Option("--workers", help="Files processed at a time on a local dask cluster.")
]
SchedulerFlag = Annotated[
    str | None,
    typer.Option(help="Address of a dask.distributed scheduler (tcp://host:8786) for the files."),
]


@app.command()
@reports_errors
def shuffle(
    files: Annotated[list[str], typer.Argument(help="Input ROOT files or globs.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    max_memory: Annotated[
        str, typer.Option(help="Memory budget of each process, e.g. 1GB or 512MiB.")
    ] = "1GB",
    seed: Annotated[int, typer.Option(help="Seed of the shuffle.")] = 42,
    tree: Annotated[
        str | None, typer.Option(help="Tree name (optional when the files hold one tree).")
    ] = None,
    entries_per_file: Annotated[
        int | None, typer.Option(help="Entries per output file (default: as many files as inputs).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace files already in --out.")] = False,
    workers: FileWorkersFlag = 1,
    scheduler: SchedulerFlag = None,
) -> None:
    """Shuffle ROOT files larger than memory with sequential reads only (two passes)."""
    from heplearn.data.readers import expand_files
    from heplearn.data.shuffle import parse_memory, shuffle_files

    report = shuffle_files(
        expand_files(files),
        out,
        max_memory=parse_memory(max_memory),
        seed=seed,
        tree=tree,
        entries_per_file=entries_per_file,
        overwrite=overwrite,
        workers=workers,
        scheduler=scheduler,
    )
    typer.echo(
        f"shuffled {report.entries} entries of {len(report.input_files)} file(s) into "
        f"{len(report.output_files)} file(s) in {out} ({report.buckets} buckets)"
    )


@app.command()
@reports_errors
def train(
    config: Annotated[Path, typer.Argument(help="Run config YAML (seed, data, model, training).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The run directory to write.")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config key, e.g. training.epochs=3 (repeatable)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue a killed run in --out from its last checkpoint.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace a run already in --out.")] = False,
    devices: Annotated[
        str | None, typer.Option(help="Devices (processes) to train on: a number or auto.")
    ] = None,
    strategy: Annotated[str | None, typer.Option(help="auto, ddp or ddp_spawn.")] = None,
    accelerator: Annotated[str | None, typer.Option(help="auto, cpu, gpu, cuda or mps.")] = None,
    num_nodes: Annotated[
        int | None,
        typer.Option(help="Machines of a multi-node run (see docs/guide-many-machines.md)."),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            help="Train N times with training seeds seed, seed+1, ... on the same split into "
            "OUT/seed_<n>, and report mean ± spread of AUC and 1/ε_B (OUT/seeds.json)."
        ),
    ] = None,
) -> None:
    """Train the model of CONFIG on its data and write everything to a run directory."""
    from heplearn.run_directory import RunDirectory
    from heplearn.training.config import load_run_config
    from heplearn.training.fit import is_launched_rank
    from heplearn.training.fit import train as train_run

    overrides = list(set_ or [])
    for key, value in (
        ("devices", devices),
        ("strategy", strategy),
        ("accelerator", accelerator),
        ("num_nodes", num_nodes),
    ):
        if value is not None:
            overrides.append(f"training.{key}={value}")
    if seeds is not None:
        _train_seeds(load_run_config(config, overrides), out, seeds, resume, overwrite)
        return
    again = ["heplearn", "train", str(config), "--out", str(out), "--resume"]
    again += [part for override in overrides for part in ("--set", override)]
    with interruption_says_how_to_resume(
        shlex.join(again), lambda: RunDirectory(out).last_checkpoint.is_file()
    ):
        run = train_run(load_run_config(config, overrides), out, resume=resume, overwrite=overwrite)
    if is_launched_rank():  # (the other DDP processes: rank 0 reports the run)
        return
    info = run.info()
    best = info.get("best_val_loss")
    summary = f", best validation loss {best:.4g}" if best is not None else ""
    typer.echo(f"trained {info['model']} into {run.path}{summary}")


def _train_seeds(config: Any, out: Path, seeds: int, resume: bool, overwrite: bool) -> None:
    """``train --seeds N``: N trainings and one line of mean ± spread over them."""
    from heplearn.evaluation.report import format_number
    from heplearn.evaluation.seeds import rejection_text, train_seeds

    if resume:
        raise ConfigError("--resume continues one run; resume each OUT/seed_<n> on its own")
    if seeds < 2:
        raise ConfigError(f"--seeds {seeds}: a spread needs at least 2 trainings")
    result = train_seeds(config, out, seeds, overwrite=overwrite)
    summary = result.summary
    rejections = ", ".join(
        f"{rejection_text(entry)} at ε_S = {efficiency}"
        for efficiency, entry in summary["rejection"].items()
    )
    typer.echo(
        f"trained {seeds} seeds {summary['seeds'][0]}..{summary['seeds'][-1]} into {out}: "
        f"AUC {format_number(summary['auc']['mean'], summary['auc']['std'])}, 1/ε_B "
        f"{rejections} (mean ± standard deviation over seeds)"
    )
    typer.echo(f"summary: {result.path}")


class ScoringEngine(StrEnum):
    """Engines of ``predict`` and ``evaluate``."""

    torch = "torch"
    onnx = "onnx"


class ScoringPrecision(StrEnum):
    """Precisions of the forward pass of ``predict`` and ``evaluate``."""

    full = "32"
    bf16 = "bf16"


# The scoring options that predict and evaluate share (see heplearn.inference.ScoringOptions).
EngineFlag = Annotated[
    ScoringEngine,
    typer.Option(
        "--engine",
        help="torch (eager PyTorch) or onnx (the exported graph in ONNX Runtime, CPU).",
    ),
]
BatchSizeFlag = Annotated[
    int | None,
    typer.Option(
        help="Events per forward pass (default: the most --memory-budget allows; on a CPU "
        "at most 48 MiB of activations, which stay in the caches)."
    ),
]
MemoryBudgetFlag = Annotated[
    str | None,
    typer.Option(
        help="Memory for scoring beyond the libraries and the model, e.g. 1GB: half for the "
        "forward pass, half for the events being read (default: a quarter of the available "
        "memory, at most 256 MiB).",
    ),
]
ScoringAcceleratorFlag = Annotated[
    str, typer.Option("--accelerator", help="auto (a GPU when present), cpu, gpu, cuda or mps.")
]
ScoringDevicesFlag = Annotated[
    str, typer.Option("--devices", help="Devices to score on: 1 or auto (one per process).")
]
PrecisionFlag = Annotated[
    ScoringPrecision,
    typer.Option("--precision", help="32, or bf16 (bfloat16 autocast; for GPUs)."),
]


def _scoring_options(
    engine: ScoringEngine,
    batch_size: int | None,
    memory_budget: str | None,
    accelerator: str,
    devices: str,
    precision: ScoringPrecision,
    on_cluster: bool = False,
) -> Any:
    """The ScoringOptions of the flags (the device is checked before any data is read:
    where this process scores; on a cluster's workers, ``on_cluster``, only its name)."""
    from heplearn.data.shuffle import parse_memory
    from heplearn.inference import ScoringOptions
    from heplearn.inference.devices import check_accelerator, scoring_device
    from heplearn.inference.onnx_engine import require_cpu

    if engine.value == "onnx":  # checked without torch, which ONNX Runtime does without
        check_accelerator(accelerator, devices)
        require_cpu(accelerator)
    elif on_cluster:  # the GPUs are the workers', found where they score
        check_accelerator(accelerator, devices)
    else:
        scoring_device(accelerator, devices)
    return ScoringOptions(
        engine=engine.value,
        batch_size=batch_size,
        memory_budget=parse_memory(memory_budget) if memory_budget is not None else None,
        accelerator=accelerator,
        devices=devices,
        precision=precision.value,
    )


@app.command()
@reports_errors
def predict(
    run: Annotated[Path, typer.Argument(help="A run directory (the --out of heplearn train).")],
    files: Annotated[list[str], typer.Argument(help="Input files or globs to score.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the score files.")],
    keep: Annotated[
        list[str] | None,
        typer.Option("--keep", help="Branch to copy beside the scores (repeatable)."),
    ] = None,
    tree: Annotated[str | None, typer.Option(help="Tree of the input files.")] = None,
    chunk_entries: Annotated[
        int, typer.Option(help="Entries read and scored at a time.")
    ] = 100_000,
    overwrite: Annotated[bool, typer.Option(help="Replace existing score files.")] = False,
    engine: EngineFlag = ScoringEngine.torch,
    batch_size: BatchSizeFlag = None,
    memory_budget: MemoryBudgetFlag = None,
    accelerator: ScoringAcceleratorFlag = "auto",
    devices: ScoringDevicesFlag = "auto",
    precision: PrecisionFlag = ScoringPrecision.full,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    workers: FileWorkersFlag = 1,
    scheduler: SchedulerFlag = None,
) -> None:
    """Score new files with a trained run: one friend tree of scores per input file."""
    from heplearn.data.readers import expand_files
    from heplearn.deploy.predict import predict_files
    from heplearn.run_directory import RunDirectory

    scoring = _scoring_options(
        engine, batch_size, memory_budget, accelerator, devices, precision, scheduler is not None
    )
    with leaves_no_empty_directory(out):
        written = predict_files(
            RunDirectory(run),
            expand_files(files),
            out,
            keep=keep or [],
            tree=tree,
            chunk_entries=chunk_entries,
            overwrite=overwrite,
            scoring=scoring,
            progress=not quiet,
            workers=workers,
            scheduler=scheduler,
        )
    for item in written:
        typer.echo(f"{item.source} -> {item.output} ({item.entries} entries, tree Scores)")


@app.command()
@reports_errors
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run directory (the --out of heplearn train).")],
    data: Annotated[
        Path | None, typer.Option(help="Evaluate on another dataset spec (YAML).")
    ] = None,
    observer: Annotated[
        list[str] | None,
        typer.Option(help="Variable for efficiency-vs and sculpting plots (repeatable)."),
    ] = None,
    working_point: Annotated[
        float | None, typer.Option(help="Signal efficiency of the working-point cut.")
    ] = None,
    style: Annotated[str | None, typer.Option(help="Plot style: CMS, ATLAS or LHCb.")] = None,
    variation: Annotated[
        list[str] | None,
        typer.Option(
            help="A generator variation NAME=SPEC (a folder of files made like the run's, "
            "or a dataset spec) for the robustness section (repeatable)."
        ),
    ] = None,
    engine: EngineFlag = ScoringEngine.torch,
    batch_size: BatchSizeFlag = None,
    memory_budget: MemoryBudgetFlag = None,
    accelerator: ScoringAcceleratorFlag = "auto",
    devices: ScoringDevicesFlag = "auto",
    precision: PrecisionFlag = ScoringPrecision.full,
    workers: FileWorkersFlag = 1,
    scheduler: SchedulerFlag = None,
) -> None:
    """Metrics, plots and an HTML report of a run, all with event weights."""
    from heplearn.data.spec import load_dataset_spec
    from heplearn.evaluation.limits import with_quoted_rejections
    from heplearn.evaluation.report import format_number
    from heplearn.evaluation.robustness import parse_variations
    from heplearn.evaluation.runs import evaluate_run
    from heplearn.run_directory import RunDirectory
    from heplearn.training.config import EvaluationConfig

    # (on a cluster the workers score, but for the variations, which score here)
    on_cluster = scheduler is not None and not variation
    scoring = _scoring_options(
        engine, batch_size, memory_budget, accelerator, devices, precision, on_cluster
    )
    directory = RunDirectory(run)
    settings = directory.config().evaluation.model_dump()
    changes = {"observers": observer, "working_point": working_point, "style": style}
    settings.update({key: value for key, value in changes.items() if value is not None})
    try:
        evaluation_settings = EvaluationConfig.model_validate(settings)
    except ValidationError as error:
        raise config_error(error) from None
    spec = load_dataset_spec(data) if data else None
    variations = parse_variations(variation or [], spec or directory.config().data)
    result = evaluate_run(
        directory,
        spec,
        evaluation_settings,
        variations,
        scoring=scoring,
        workers=workers,
        scheduler=scheduler,
    )
    metrics = result.evaluation.metrics
    headline = ""
    if "auc" in metrics:  # (numbers as the report shows them)
        rejection = format_number(
            with_quoted_rejections(metrics)["rejection"].get("0.5"),
            metrics.get("rejection_uncertainty", {}).get("0.5"),
        )
        auc = format_number(metrics["auc"], metrics.get("auc_uncertainty"))
        headline = f": AUC {auc}, 1/ε_B at ε_S = 0.5 {rejection}"
    typer.echo(f"evaluated {run}{headline}")
    for name, entry in metrics.get("robustness", {}).get("variations", {}).items():
        delta, spread = entry["delta_auc"], entry["delta_auc_uncertainty"]
        efficiency = entry["nominal_threshold"]["signal_efficiency"]
        typer.echo(
            f"variation {name}: dAUC {delta:+.4f} ± {spread:.4f}, "
            f"ε_S at the nominal cut {efficiency:.3f}"
        )
    for warning in metrics.get("warnings", []):
        typer.echo(f"warning: {warning}")
    typer.echo(f"metrics: {result.metrics_path}")
    typer.echo(f"report:  {result.report_path}")


@app.command()
@reports_errors
def compare(
    runs: Annotated[
        list[Path], typer.Argument(help="Run directories; the first is the reference.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the comparison.")],
    baseline: Annotated[
        list[str] | None,
        typer.Option(help="A variable used directly as discriminant, e.g. jet_mass (repeatable)."),
    ] = None,
    bootstrap: Annotated[
        int | None,
        typer.Option(
            help="Bootstrap replicas for uncertainties (default: the first run's "
            "evaluation.bootstrap, as evaluate uses)."
        ),
    ] = None,
) -> None:
    """Overlaid rejection curves with a ratio panel, and a table of AUC and 1/ε_B."""
    from heplearn.evaluation.runs import compare_run_directories
    from heplearn.run_directory import RunDirectory

    comparison = compare_run_directories(
        [RunDirectory(path) for path in runs], out, baselines=baseline or [], bootstrap=bootstrap
    )
    typer.echo(f"comparison: {comparison.html} (table {comparison.markdown})")


class ExportFormat(StrEnum):
    """Export formats."""

    onnx = "onnx"


@app.command()
@reports_errors
def export(
    run: Annotated[Path, typer.Argument(help="A run directory (the --out of heplearn train).")],
    export_format: Annotated[
        ExportFormat, typer.Option("--format", help="Export format.")
    ] = ExportFormat.onnx,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File or folder (default: the run).")
    ] = None,
    opset: Annotated[int | None, typer.Option(help="ONNX opset (18 to 23).")] = None,
    check: Annotated[
        bool, typer.Option(help="Compare ONNX Runtime with PyTorch on the test split.")
    ] = True,
) -> None:
    """Export a trained network to ONNX (raw inputs in, scores out), checked against PyTorch."""
    from heplearn.deploy.export import export_onnx
    from heplearn.run_directory import RunDirectory

    report = export_onnx(RunDirectory(run), out, opset=opset, check=check)
    typer.echo(report.summary())


@app.command()
@reports_errors
def sample(
    run: Annotated[Path, typer.Argument(help="A generative run (the --out of heplearn train).")],
    n: Annotated[int, typer.Option("--n", "-n", help="Events to draw.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The ROOT file to write.")],
    seed: Annotated[int, typer.Option(help="Seed of the conditions and the drawing.")] = 0,
    condition: Annotated[
        list[str] | None,
        typer.Option(
            help="Draw a condition column uniformly in a range, column=low:high, or fix it, "
            "column=value (repeatable; default: resample the run's test split)."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --out file.")] = False,
) -> None:
    """Draw new events from a generative run (e.g. a flow) into a ROOT file, tree Events."""
    from heplearn.sampling import TREE, parse_condition_ranges, sample_run

    ranges = parse_condition_ranges(condition) if condition else None
    written = sample_run(run, n, out, conditions_from=ranges, seed=seed, overwrite=overwrite)
    typer.echo(
        f"wrote {written.events} events to {written.path} (tree {TREE}: "
        f"{', '.join(written.branches)})"
    )


@app.command()
@reports_errors
def reweight(
    run: Annotated[
        Path, typer.Argument(help="A binary run trained on source (class 0) vs target (class 1).")
    ],
    files: Annotated[
        list[str] | None, typer.Argument(help="Files of the source kind to weight (globs).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder of the weight files (default: beside each file); with --closure, "
            "of the closure (default: the run).",
        ),
    ] = None,
    tree: Annotated[str | None, typer.Option(help="Tree of the input files.")] = None,
    closure: Annotated[
        bool,
        typer.Option(
            "--closure",
            help="Instead of weighting files: check the weights on the run's test split "
            "(histograms, two-sample AUC before and after).",
        ),
    ] = False,
    clip: Annotated[
        float, typer.Option(help="Keep the target probability p between clip and 1 - clip.")
    ] = 1e-3,
    normalise: Annotated[
        bool, typer.Option(help="Scale the weights to mean 1 over all the files.")
    ] = True,
    chunk_entries: Annotated[
        int, typer.Option(help="Entries read and scored at a time.")
    ] = 100_000,
    overwrite: Annotated[bool, typer.Option(help="Replace existing weight files.")] = False,
) -> None:
    """Density-ratio weights w = p/(1-p) from a classifier, or their closure test."""
    from heplearn.run_directory import RunDirectory

    if closure == bool(files):
        raise ConfigError(
            "give the files to weight, or --closure to check the run on its test split, not both"
        )
    if closure:
        from heplearn.evaluation.closure import reweighting_closure

        result = reweighting_closure(RunDirectory(run), out, clip=clip)
        metrics = result.metrics
        typer.echo(
            f"two-sample AUC {metrics['source']} vs {metrics['target']}: "
            f"{result.before.auc:.3f} ± {result.before.auc_uncertainty:.3f} before, "
            f"{result.after.auc:.3f} ± {result.after.auc_uncertainty:.3f} after reweighting "
            f"({result.after.events} held-out events)"
        )
        shapes = ", ".join(
            f"{name} {entry['before']:.3g} -> {entry['after']:.3g}"
            for name, entry in metrics["chi2_per_ndf"].items()
        )
        typer.echo(f"shape chi2/ndf before -> after reweighting: {shapes}")
        typer.echo(f"closure: {result.json_path}")
        typer.echo(f"report:  {result.report_path}")
        return
    from heplearn.data.readers import expand_files
    from heplearn.deploy.reweight import WEIGHTS_TREE, reweight_files

    written = reweight_files(
        RunDirectory(run),
        expand_files(files or []),
        out,
        tree=tree,
        clip=clip,
        normalise=normalise,
        chunk_entries=chunk_entries,
        overwrite=overwrite,
    )
    for item in written:
        typer.echo(f"{item.source} -> {item.output} ({item.entries} entries, tree {WEIGHTS_TREE})")


@app.command()
@reports_errors
def templates(
    run: Annotated[Path, typer.Argument(help="A binary run (the --out of heplearn train).")],
    data: Annotated[
        Path,
        typer.Option(
            help="Dataset spec (YAML) with one source per process; weights in pb per event."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of the outputs.")],
    lumi: Annotated[float, typer.Option(help="Integrated luminosity in fb⁻¹.")],
    bins: Annotated[
        str, typer.Option(help="Score bins: a number over [0, 1], or edges like 0,0.5,0.9,1.")
    ] = "10",
    variation: Annotated[
        list[str] | None,
        typer.Option(
            help="A generator variation NAME=SPEC (a folder of files made like --data's, or "
            "a dataset spec): up/down templates and a nuisance parameter (repeatable)."
        ),
    ] = None,
    split: Annotated[
        str,
        typer.Option(help="Events used: test (the test split, scaled up) or all (new samples)."),
    ] = "test",
    stat_errors: Annotated[
        bool, typer.Option(help="Put the MC statistical uncertainties (staterror) in the fit.")
    ] = True,
) -> None:
    """Score templates per process (ROOT, hist), a pyhf workspace, expected Z0 and limit."""
    from heplearn.data.spec import load_dataset_spec
    from heplearn.deploy.handoff import write_handoff
    from heplearn.deploy.templates import parse_bins
    from heplearn.evaluation.robustness import parse_variations
    from heplearn.run_directory import RunDirectory

    spec = load_dataset_spec(data)
    result = write_handoff(
        RunDirectory(run),
        spec,
        parse_bins(bins),
        lumi,
        out,
        variations=parse_variations(variation or [], spec),
        split=split,
        stat_errors=stat_errors,
    )
    yields = ", ".join(f"{name} {count:.4g}" for name, count in result.yields.items())
    expected, counting = result.expected, result.counting
    typer.echo(f"expected events at {lumi:g} fb^-1: {yields}")
    typer.echo(f"expected discovery significance (pyhf): Z0 = {expected.significance:.3f}")
    if expected.upper_limit is None:
        typer.echo(f"expected 95% CL upper limit on mu (pyhf, CLs): none; {expected.note}")
    else:
        band = expected.upper_limit_band
        typer.echo(
            f"expected 95% CL upper limit on mu (pyhf, CLs): {expected.upper_limit:.3g} "
            f"(68% band {band[1]:.3g}-{band[3]:.3g})"
        )
    typer.echo(
        f"cut-and-count at score >= {counting.threshold:.3g}: s = {counting.signal:.4g}, "
        f"b = {counting.background:.4g}, Asimov Z = {counting.significance:.3f}"
    )
    typer.echo(f"templates: {result.root_path}")
    typer.echo(f"workspace: {result.workspace_path}")
    typer.echo(f"results:   {result.results_path}")
