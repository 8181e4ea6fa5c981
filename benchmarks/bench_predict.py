"""Scoring with ``heplearn predict``: end to end against a bare PyTorch loop, engines, memory.

Each model, in its default configuration, is trained for one epoch on synthetic jets in
the generator's branch layout (its weights do not change its speed). The jets to score
are written to ROOT files, and every measurement runs in a fresh process:

- **bare loop**: the files are read and preprocessed once, untimed; then the model runs
  over the preprocessed arrays in ``torch.no_grad()`` at the batch ``predict`` chose: the
  floor that reading and writing are measured against;
- **predict**: :func:`heplearn.deploy.predict.predict_files` end to end (reading,
  preprocessing with the next chunk read in a thread, scoring, writing friend trees),
  with the PyTorch engine and with the ONNX Runtime engine (its in-memory export is the
  "set-up", timed apart); the batch comes from the default memory budget.

The peak resident memory is that of the predict process (the kernel's high-water mark,
including Python, the libraries and the model), next to the bound the docs state.
"""

import multiprocessing
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any

from benchmarks.bench_export import jets_config, write_jets
from benchmarks.memory import high_water_mark
from benchmarks.report import Section

# default architectures (configs/top-vs-qcd), the inputs of bench_export's synthetic jets
MODELS: dict[str, dict[str, Any]] = {
    "mlp": {"name": "mlp", "inputs": ["jet"]},
    "pfn": {"name": "pfn", "inputs": ["particles"]},
    "particlenet-lite": {"name": "particlenet-lite", "inputs": ["particles"]},
    "part-small": {"name": "part-small", "inputs": ["particles", "vectors"], "vectors": "vectors"},
}
QUICK_MODELS = ("mlp", "particlenet-lite")
FILES = 2


def _bare(run_path: str, files: list[str], batch: int, queue: Any) -> None:
    """Jets/s of a torch.no_grad loop over the arrays predict would make (read untimed)."""
    import torch

    from heplearn.deploy.predict import FilePredictor
    from heplearn.inference.devices import available_cores
    from heplearn.run_directory import RunDirectory

    torch.set_num_threads(available_cores())
    run = RunDirectory(Path(run_path))
    predictor = FilePredictor(run)
    parts = []
    for path in files:
        source = predictor.open(Path(path))
        parts += [arrays for _, arrays in predictor._prepared(_chunks(predictor, source))]
    model, task = run.load_model(), run.task()
    names = predictor.scorer.input_names
    batches = [
        {name: torch.from_numpy(arrays[name][start : start + batch]) for name in names}
        for arrays in parts
        for start in range(0, len(arrays[names[0]]), batch)
    ]
    events = sum(len(b[names[0]]) for b in batches)
    best = float("inf")
    for _ in range(2):  # the first is a warm-up, unless it is faster
        started = time.perf_counter()
        with torch.no_grad():
            for inputs in batches:
                task.scores(model(inputs))
        best = min(best, time.perf_counter() - started)
    queue.put(events / best)


def _chunks(predictor: Any, source: Any) -> Any:
    from heplearn.data.readers import iterate_columns

    return iterate_columns([source], predictor.needed, predictor.chunk_entries(source))


def _predict(run_path: str, files: list[str], out: str, engine: str, queue: Any) -> None:
    """Set-up seconds, end-to-end jets/s, the batch and the peak RSS of one predict."""
    from heplearn.deploy.predict import FilePredictor, PredictSettings
    from heplearn.inference import ScoringOptions
    from heplearn.run_directory import RunDirectory

    started = time.perf_counter()
    predictor = FilePredictor(
        RunDirectory(Path(run_path)), PredictSettings(scoring=ScoringOptions(engine=engine))
    )
    batch = predictor.scorer.batch_size
    setup = time.perf_counter() - started
    started = time.perf_counter()
    events = 0
    for index, path in enumerate(files):
        source = predictor.open(Path(path))
        events += predictor.predict_file(source, Path(out) / f"{engine}_{index}.root").entries
    rate = events / (time.perf_counter() - started)
    # VmHWM belongs to this process's own address space; ru_maxrss would start from the
    # parent's peak, which the kernel carries over into a spawned child at exec
    peak = high_water_mark() or 0
    cost = predictor.scorer.memory_cost()
    queue.put((setup, rate, batch, peak, cost.per_event if cost else 0))


def _in_process(target: Any, *arguments: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*arguments, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=1)
            break
        except Empty:
            if not process.is_alive():
                message = f"{target.__name__} died (exit code {process.exitcode})"
                raise RuntimeError(message) from None
    process.join()
    return result


def _rows(name: str, run_path: str, files: list[str], out: str, events: int) -> list[list[str]]:
    from heplearn.inference.memory import default_budget

    rows = []
    bound = default_budget() / 2**20
    torch_result = _in_process(_predict, run_path, files, out, "torch")
    bare = _in_process(_bare, run_path, files, torch_result[2])
    for engine, result in (("torch", torch_result), ("onnx", None)):
        if result is None:
            result = _in_process(_predict, run_path, files, out, engine)
        setup, rate, batch, peak, per_event = result
        rows.append(
            [
                name,
                engine,
                f"{events:,}",
                f"{batch:,} ({per_event / 2**20:.2f} MiB/jet)",
                f"{setup:.1f}",
                f"{bare:,.0f}",
                f"{rate:,.0f}",
                f"**{rate / bare:.2f}×**",
                f"{peak / 2**20:,.0f} (base + ≤ {bound:,.0f})",
            ]
        )
    return rows


def run(quick: bool = False) -> list[Section]:
    """Jets/s of predict (torch and onnx engines) against a bare loop, and peak memory."""
    from heplearn.inference.devices import available_cores
    from heplearn.training.fit import train

    names = QUICK_MODELS if quick else tuple(MODELS)
    train_jets, events, length = (400, 1_000, 30) if quick else (1_000, 5_000, 100)
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        write_jets(folder / "train.root", train_jets)
        files = []
        for index in range(FILES):
            path = folder / f"score_{index}.root"
            write_jets(path, events // FILES, seed=10 + index)
            files.append(str(path))
        for name in names:
            run_directory = train(
                jets_config(folder / "train.root", MODELS[name], length), folder / name
            )
            out = folder / f"out_{name}"
            out.mkdir()
            rows += _rows(name, str(run_directory.path), files, str(out), events)
    return [
        Section(
            "Scoring: heplearn predict end to end vs a bare PyTorch loop",
            f"{__doc__.split(chr(10) + chr(10), 1)[1].strip()}\n\n"
            f"{events:,} synthetic jets (Poisson(40) constituents, padded to {length}) in "
            f"{FILES} ROOT files; {available_cores()} CPU threads. The ratio is predict's jets/s "
            "(reading and writing included) over the bare loop's; the set-up (loading the run, "
            "measuring the memory per jet, for onnx the export) is not in it.",
            [
                "model",
                "engine",
                "jets",
                "batch (memory)",
                "set-up s",
                "bare loop jets/s",
                "predict jets/s",
                "ratio",
                "peak RSS MiB (bound)",
            ],
            rows,
        )
    ]
