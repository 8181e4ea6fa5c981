"""On a GPU: training and scoring of ParticleNet and ParT (the paper configurations).

Measured only where PyTorch sees a CUDA GPU (``python -m benchmarks --only gpu``); on any
other machine this module measures nothing and the report keeps the section of the last
GPU run, with the date and machine it was measured on.

The data are synthetic jets in the generator's branch layout
(:func:`benchmarks.bench_export.write_jets`: a Poisson(40) number of constituents, padded
to 100), in ``FILES`` files. Every measurement runs in a fresh process, as a user runs it:

- **training**: :func:`heplearn.training.fit.train` with the paper's batch sizes
  (ParticleNet 384, ParT 256) on the GPU in 32-bit and in ``bf16-mixed`` precision, with
  the data in memory and streamed (``training.streaming``), and on the same machine's CPU
  cores (32-bit, in memory: the baseline). Jets/s is the training jets of an epoch over
  its training part (validation excluded; the GPU is synchronised at both ends), the
  fastest epoch after the first (a warm-up: CUDA's kernels are chosen then). The GPU
  memory is PyTorch's peak allocation of the process;
- **scoring**: :func:`heplearn.deploy.predict.predict_files` of each GPU run on the
  files, after one warm-up file in the same process (the model is loaded, CUDA
  initialised), on the GPU in 32-bit and bf16 and on the CPU cores. Reading the ROOT
  files and writing the friend trees are in the time.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml

from benchmarks.bench_export import jets_config, write_jet_files
from benchmarks.report import Section

FILES = 8
LENGTH = 100
STREAMING = {"chunk_entries": 2000, "shuffle_buffer": 20_000}
MODELS: dict[str, dict[str, Any]] = {
    "ParticleNet": {
        "model": {
            "name": "particlenet",
            "inputs": ["particles"],
            "coordinates": ["part_deta", "part_dphi"],
        },
        "batch_size": 384,
    },
    "ParT": {
        "model": {"name": "part", "inputs": ["particles", "vectors"], "vectors": "vectors"},
        "batch_size": 256,
    },
}
# (label, accelerator, precision, streamed) of each training, the CPU baseline last
TRAININGS = (
    ("GPU, 32-bit, in memory", "gpu", "32-true", False),
    ("GPU, bf16-mixed, in memory", "gpu", "bf16-mixed", False),
    ("GPU, bf16-mixed, streamed", "gpu", "bf16-mixed", True),
    ("CPU, 32-bit, in memory", "cpu", "32-true", False),
)
# (label, accelerator, precision) of each scoring
SCORINGS = (
    ("GPU, 32-bit", "gpu", "32"),
    ("GPU, bf16", "gpu", "bf16"),
    ("CPU, 32-bit", "cpu", "32"),
)

# one training in a fresh process; prints its epochs (training jets, seconds) and the
# peak GPU memory as the last line, in JSON
TRAIN = """
import json, sys
from pathlib import Path
import torch, yaml
from benchmarks.bench_training import TrainTimer
from heplearn.training.fit import train
timer = TrainTimer()
train(yaml.safe_load(Path(sys.argv[1]).read_text()), sys.argv[2], callbacks=[timer])
memory = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0
print(json.dumps({"epochs": timer.epochs, "gpu_memory": memory}))
"""

# one run's scoring of the files in a fresh process, after a warm-up file; prints the
# jets scored, the seconds and the peak GPU memory as the last line, in JSON
SCORE = """
import json, sys, time
from pathlib import Path
import torch
from heplearn.deploy.predict import predict_files
from heplearn.inference import ScoringOptions
from heplearn.run_directory import RunDirectory
run, out, accelerator, precision, warm_up, *files = sys.argv[1:]
options = ScoringOptions(accelerator=accelerator, precision=precision)
score = lambda paths: predict_files(
    RunDirectory(run), [Path(p) for p in paths], Path(out), overwrite=True, scoring=options
)
score([warm_up])
start = time.perf_counter()
written = score(files)
seconds = time.perf_counter() - start
memory = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0
jets = sum(item.entries for item in written)
print(json.dumps({"jets": jets, "seconds": seconds, "gpu_memory": memory}))
"""


def _last_json(command: list[str], log: Path) -> dict[str, Any]:
    """Run a measuring process; its last line of output, as JSON (its output kept in log)."""
    result = subprocess.run(command, capture_output=True, text=True)
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-15:])
        raise RuntimeError(f"{' '.join(command[:3])} ... failed:\n{tail}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _config(
    folder: Path, model: str, accelerator: str, precision: str, streamed: bool, epochs: int
) -> dict[str, Any]:
    config = jets_config(folder / "*.root", MODELS[model]["model"], length=LENGTH)
    config["training"].update(
        epochs=epochs,
        batch_size=MODELS[model]["batch_size"],
        accelerator=accelerator,
        precision=precision,
    )
    if streamed:
        config["training"]["streaming"] = STREAMING
    return config


def _train(config: dict[str, Any], out: Path) -> dict[str, float]:
    """Training jets/s of the fastest epoch after the first, and the peak GPU memory."""
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-c", TRAIN, str(path), str(out)]
    result = _last_json(command, out.with_suffix(".log"))
    rates = [epoch["events"] / epoch["seconds"] for epoch in result["epochs"]]
    return {"rate": max(rates[1:]), "gpu_memory": result["gpu_memory"]}


def _score(
    run: Path, files: list[Path], out: Path, accelerator: str, precision: str
) -> dict[str, float]:
    """Scoring jets/s of the files after a warm-up on the first, and the peak GPU memory."""
    command = [sys.executable, "-c", SCORE, str(run), str(out), accelerator, precision]
    result = _last_json(command + [str(f) for f in files], out.with_suffix(".log"))
    return {"rate": result["jets"] / result["seconds"], "gpu_memory": result["gpu_memory"]}


def _gpu_name() -> str:
    properties = torch.cuda.get_device_properties(0)
    return f"{properties.name} ({properties.total_memory / 2**30:.0f} GiB)"


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB" if value else "—"


def measure(
    root: Path, jets_per_file: int, cpu_jets: int, epochs: int, log: Path | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """Every training and scoring of every model (model → label → rate, gpu_memory).

    A measurement that fails is left out and its error printed (and the rest measured),
    so that one run on a lent GPU gives every number it can; ``log``: each result is
    also added to this JSON file as soon as it is measured.
    """
    files = write_jet_files(root / "jets", FILES, jets_per_file)
    small = root / "cpu"
    write_jet_files(small, 1, cpu_jets)  # the CPU's rates need fewer jets to be measured
    results: dict[str, dict[str, dict[str, float]]] = {}

    def measured(model: str, label: str, measurement: Any, *arguments: Any) -> None:
        try:
            results.setdefault(model, {})[label] = measurement(*arguments)
        except RuntimeError as error:
            print(f"{model}, {label}: {error}", file=sys.stderr)
        if log is not None:
            log.write_text(json.dumps(results, indent=1))
        print(model, label, results.get(model, {}).get(label), flush=True)

    for model in MODELS:
        name = model.lower()
        for index, (label, accelerator, precision, streamed) in enumerate(TRAININGS):
            folder = small if accelerator == "cpu" else files[0].parent
            config = _config(folder, model, accelerator, precision, streamed, epochs)
            out = root / f"{name}-train-{index}"
            measured(model, f"training: {label}", _train, config, out)
        run = root / f"{name}-train-0"
        for index, (label, accelerator, precision) in enumerate(SCORINGS):
            # (the first file is the warm-up)
            scored = [files[0], *files] if accelerator == "gpu" else [small / "jets_0.root"] * 2
            out = root / f"{name}-score-{index}"
            measured(model, f"scoring: {label}", _score, run, scored, out, accelerator, precision)
    return results


def section(results: dict[str, dict[str, dict[str, float]]], sizes: str) -> Section:
    """The table of :func:`measure`'s results, each rate also as a multiple of the CPU's."""
    rows = []
    for model, measured in results.items():
        for label, values in measured.items():
            kind, what = label.split(": ", 1)
            cpu = next((v for k, v in measured.items() if k.startswith(f"{kind}: CPU")), None)
            ratio = f"{values['rate'] / cpu['rate']:.1f}×" if cpu else "—"
            rate, memory = f"{values['rate']:,.0f}", _mib(values["gpu_memory"])
            rows.append([model, kind, what, rate, ratio, memory])
    return Section(
        title="Training and scoring on a GPU",
        description=(
            f"Measured on {_gpu_name()} with {os.cpu_count()} CPU cores, torch "
            f"{torch.__version__}, Lightning {L.__version__}. ParticleNet (k = 16, three "
            "EdgeConv blocks, batch 384) "
            f"and ParT (8 particle and 2 class-attention blocks, batch 256) on {sizes}: "
            "synthetic jets in the generator's branch layout, a Poisson(40) number of "
            f"constituents padded to {LENGTH}. Training jets/s: the training part of the "
            "fastest epoch after the first (validation excluded; the GPU synchronised at "
            f"both ends); streamed: `training.streaming` {json.dumps(STREAMING)}. Scoring "
            "jets/s: `heplearn predict`'s work (reading, preprocessing, the forward pass, "
            "writing the friend trees) in a process that has scored one file already. "
            "× CPU: the same job on this machine's CPU cores (32-bit), in the same run. "
            "GPU memory: PyTorch's peak allocation in the process."
        ),
        headers=["model", "job", "where, precision, data", "jets/s", "× CPU", "GPU memory"],
        rows=rows,
    )


def run(quick: bool = False, log: Path | None = None) -> list[Section]:
    """Measure and return the table; nothing where no CUDA GPU is visible.

    ``log``: a JSON file that holds every result as soon as it is measured (for a lent
    GPU whose time may run out before the table is written).
    """
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU here; the report keeps the last GPU run's section")
        return []
    jets_per_file, cpu_jets = (500, 400) if quick else (8000, 2000)
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as temporary:
        results = measure(
            Path(temporary), jets_per_file, cpu_jets, epochs=2 if quick else 3, log=log
        )
    sizes = (
        f"{FILES} files of {jets_per_file} jets (60 % trained on) on the GPU, "
        f"one file of {cpu_jets} on the CPU"
    )
    return [section(results, sizes)]
