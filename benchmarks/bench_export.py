"""Inference speed of the exported ONNX models against PyTorch eager, on the same jets.

Each model is trained for one epoch on synthetic jets (its weights do not change its
speed), exported with :func:`heplearn.deploy.export_onnx` (which checks ONNX Runtime
against PyTorch on the test split; the largest difference goes in the table), and then
both score the same raw test jets, repeated to the wanted number: ONNX Runtime runs the
exported file, PyTorch eager runs the same computation (:class:`ScoringModel`: the
run's standardisation, the network, the sigmoid) without gradients. Both use the same
number of CPU threads, one by default: a single thread is how per-event inference runs
in an experiment's framework, and several threads on a shared machine make PyTorch's
OpenMP waits, not the models, dominate the times. The two run in turns, a few times, and
each keeps its best time.
"""

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import onnxruntime
import torch
import uproot

from benchmarks.report import Section
from heplearn.data.dataset import load_dataset
from heplearn.deploy.export import export_onnx
from heplearn.inference.onnx_graph import ScoringModel
from heplearn.models.registry import select_inputs
from heplearn.models.schema import batch_keys
from heplearn.run_directory import RunDirectory
from heplearn.training.fit import train

REPEATS = 5
THREADS = 1
SINGLE_JETS = 50  # jets scored one at a time (batch 1)
# every family in its default configuration; cnn on 40×40 two-channel images
MODELS: dict[str, dict[str, Any]] = {
    "mlp": {"name": "mlp", "inputs": ["jet"]},
    "cnn": {"name": "cnn", "inputs": ["image"]},
    "pfn": {"name": "pfn", "inputs": ["particles"]},
    "particlenet-lite": {"name": "particlenet-lite", "inputs": ["particles"]},
    "part-small": {"name": "part-small", "inputs": ["particles", "vectors"], "vectors": "vectors"},
}
QUICK_MODELS = ("mlp", "pfn")


def write_jets(path: Path, n_jets: int, seed: int = 1, basket_entries: int | None = None) -> None:
    """Random jets in the generator's branch layout: a Poisson(40) number of constituents.

    ``basket_entries``: jets per basket, as a generator writing its events in chunks makes
    them (default: one basket of all the jets).
    """
    rng = np.random.default_rng(seed)
    counts = np.maximum(rng.poisson(40, n_jets), 1)
    total = int(counts.sum())
    pt = rng.exponential(10.0, total).astype(np.float32)
    deta = rng.normal(0, 0.3, total).astype(np.float32)
    dphi = rng.normal(0, 0.3, total).astype(np.float32)
    flat = {
        "pt": pt,
        "deta": deta,
        "dphi": dphi,
        "energy": pt * np.cosh(deta),
        "px": pt * np.cos(dphi),
        "py": pt * np.sin(dphi),
        "pz": pt * np.sinh(deta),
        "charge": rng.integers(-1, 2, total).astype(np.float32),
    }
    particles = ak.zip({name: ak.unflatten(values, counts) for name, values in flat.items()})
    jets = {
        "is_signal": rng.integers(0, 2, n_jets).astype(np.int32),
        "jet_pt": ak.to_numpy(ak.sum(particles.pt, axis=1)).astype(np.float32),
        "jet_mass": rng.normal(120, 40, n_jets).astype(np.float32),
        "jet_nparticles": counts.astype(np.float32),
        "part": particles,
    }
    with uproot.recreate(path) as file:
        file.mktree(
            "Events",
            {
                name: values.type if name == "part" else values.dtype
                for name, values in jets.items()
            },
        )
        step = basket_entries or n_jets
        for start in range(0, n_jets, step):
            file["Events"].extend(
                {name: values[start : start + step] for name, values in jets.items()}
            )


def write_jet_files(folder: Path, count: int, jets_per_file: int) -> list[Path]:
    """``count`` files of :func:`write_jets` (seeds 1, 2, ...) in a new ``folder``."""
    folder.mkdir(parents=True)
    paths = [folder / f"jets_{index}.root" for index in range(count)]
    for index, path in enumerate(paths):
        write_jets(path, jets_per_file, seed=index + 1)
    return paths


def jets_config(path: Path, model: dict[str, Any], length: int) -> dict[str, Any]:
    columns = ["part_deta", "part_dphi", "log(part_pt)", "log(part_energy)", "part_charge"]
    particles = {"kind": "particles", "length": length, "sort_by": "part_pt"}
    data = {
        "sources": [{"files": [str(path)]}],
        "label": "is_signal",
        "classes": ["background", "signal"],
        "inputs": {
            "jet": {"kind": "tabular", "columns": ["jet_pt", "jet_mass", "jet_nparticles"]},
            "particles": {**particles, "columns": columns},
            "vectors": {**particles, "columns": ["part_px", "part_py", "part_pz", "part_energy"]},
            "image": {
                "kind": "image",
                "bins": 40,
                "channels": ["part_charge != 0", "part_charge == 0"],
            },
        },
        "standardise": {"vectors": "none"},
    }
    training = {"epochs": 1, "batch_size": 128, "progress_bar": False}
    return {"seed": 1, "data": data, "model": model, "training": training}


def _best_seconds(
    first: Callable[[], object], second: Callable[[], object], repeats: int = REPEATS
) -> tuple[float, float]:
    """Best times of two functions, run in turns so that both see the same machine load."""
    first(), second()  # warm-up: allocations, ONNX Runtime's first-run planning
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for index, function in enumerate((first, second)):
            started = time.perf_counter()
            function()
            best[index] = min(best[index], time.perf_counter() - started)
    return best[0], best[1]


def _raw_test_jets(run: RunDirectory, n_jets: int) -> dict[str, np.ndarray]:
    """The run's raw test jets (standardisation off), repeated to ``n_jets``."""
    config = run.config()
    raw = dataclasses.replace(run.preprocessing(), standardisation={})
    arrays = load_dataset(config.model_data(), config.seed, raw).arrays("test")
    repeats = -(-n_jets // len(arrays["label"]))
    return {
        name: np.ascontiguousarray(np.concatenate([values] * repeats)[:n_jets])
        for name, values in arrays.items()
    }


def _rows(
    run: RunDirectory, label: str, n_jets: int, batches: tuple[int, ...], threads: int
) -> list[list[str]]:
    report = export_onnx(run)
    config = run.config()
    schema = select_inputs(config.model, run.schema())
    scoring = ScoringModel(
        run.load_model(),
        schema,
        config.model_data(),
        run.preprocessing().scaling(),
        run.task(),
    ).eval()
    names = batch_keys(schema)
    jets = _raw_test_jets(run, n_jets)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # idle ONNX Runtime threads would otherwise spin and steal the CPU from PyTorch's turn
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        str(report.path), options, providers=["CPUExecutionProvider"]
    )
    rows = []
    for batch in batches:
        events = n_jets if batch > 1 else min(n_jets, SINGLE_JETS)
        chunks = [
            {name: jets[name][start : start + batch] for name in names}
            for start in range(0, events, batch)
        ]
        tensors = [[torch.from_numpy(chunk[name]) for name in names] for chunk in chunks]

        def run_torch(tensors: list[list[torch.Tensor]] = tensors) -> None:
            with torch.no_grad():
                for inputs in tensors:
                    scoring(*inputs)

        def run_onnx(chunks: list[dict[str, np.ndarray]] = chunks) -> None:
            for chunk in chunks:
                session.run(["scores"], chunk)

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            torch_seconds, onnx_seconds = _best_seconds(run_torch, run_onnx)
        finally:
            torch.set_num_threads(previous)
        rows.append(
            [
                label,
                f"{batch}",
                f"{events}",
                f"{events / torch_seconds:,.0f}",
                f"{events / onnx_seconds:,.0f}",
                f"**{torch_seconds / onnx_seconds:.2f}×**",
                f"{report.max_abs_difference:.1e}",
                f"{report.size_bytes / 1e6:.2f}",
            ]
        )
    return rows


def run(quick: bool = False) -> list[Section]:
    """Jets per second of ONNX Runtime and PyTorch eager for each exported model."""
    names = QUICK_MODELS if quick else tuple(MODELS)
    train_jets, n_jets, length = (400, 512, 30) if quick else (1_000, 768, 100)
    batches = (256,) if quick else (1, 256)
    threads = THREADS
    section = Section(
        "ONNX export: ONNX Runtime vs PyTorch eager inference",
        f"Synthetic jets ({length} particles of 5 features, padded; 40×40 two-channel "
        "images; 3 jet features), raw inputs as the data layer reads them. Each family "
        "in its default configuration, trained one epoch and exported with "
        "`heplearn.deploy.export_onnx`; *max |Δ|* is its check of ONNX Runtime against "
        "PyTorch on the test split. Both score the same jets in batches of the given size "
        f"(batch 1 on {SINGLE_JETS} jets), {threads} CPU threads each, best of {REPEATS} runs "
        "taken in turns; "
        f"ONNX Runtime {onnxruntime.__version__}, torch {torch.__version__}. "
        "*ratio* = PyTorch time / ONNX Runtime time (above 1: ONNX Runtime is faster).",
        [
            "model",
            "batch",
            "jets",
            "PyTorch eager [jets/s]",
            "ONNX Runtime [jets/s]",
            "ratio",
            "max abs Δ score",
            "file [MB]",
        ],
    )
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "jets.root"
        write_jets(path, train_jets)
        for name in names:
            run_directory = train(jets_config(path, MODELS[name], length), Path(directory) / name)
            section.rows.extend(_rows(run_directory, name, n_jets, batches, threads))
    return [section]
