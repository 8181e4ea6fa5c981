"""Scoring with ``heplearn predict``: end to end against a bare PyTorch loop, engines, memory.

Each model, in its default configuration, is trained for one epoch on synthetic jets in
the generator's branch layout (its weights do not change its speed). The jets to score
are written to ROOT files, and every measurement runs in a fresh process:

- **bare loop**: the files are read and preprocessed once, untimed; then the model runs
  over the preprocessed arrays in ``torch.no_grad()`` at the batch ``predict`` chose, in
  file order and untrimmed, and, for a padding-invariant model, also in length buckets
  (:mod:`heplearn.inference.buckets`: jets of similar length together, each batch cut
  after its longest jet, as ``predict``'s PyTorch engine scores them): the faster of the
  two is the floor that reading and writing are measured against;
- **predict**: :class:`heplearn.deploy.predict.FilePredictor` end to end (reading,
  preprocessing with the next chunk read in a thread, scoring, writing friend trees),
  with the PyTorch engine, with the ONNX Runtime engine the first time (its graph is
  exported and kept in the run directory) and with the ONNX Runtime engine again (the
  kept graph is loaded; PyTorch is not imported), each in a fresh interpreter that
  imports heplearn alone. The "set-up" (the imports, loading the run and measuring the
  memory per jet, for onnx the export or the loading of the kept graph) is timed apart;
  the batch comes from the default memory budget;
- **I/O floor**: the same files read and written with no model, in a fresh interpreter
  that imports uproot alone: the branches ``predict`` reads, each file at once, and a
  friend tree of the same score branches (zeros) written beside it. No ``predict`` can
  beat it; where it is slower than the bare loop (``mlp``: microseconds per batch), the
  ratio to the bare loop says more about ROOT I/O than about scoring, and the *vs I/O
  floor* column says how close ``predict`` comes to reading and writing alone.

The bare loop is timed warm (the better of two passes) and ``predict`` cold (one pass,
as a user runs it), so the ratio is, if anything, conservative.

The peak resident memory is that of the predict process (the kernel's high-water mark,
including Python, the libraries and the model), next to the bound the docs state. A
second table scores ParticleNet-Lite on one file ten times larger: the peak must not
follow the file's size.
"""

import json
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any

from benchmarks.bench_export import jets_config, write_jets
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
BASKET = 2_000  # jets per basket of the files scored, as a generator writes them in chunks
ENGINES = (("torch", "torch"), ("onnx", "onnx, exported now"), ("onnx", "onnx, kept graph"))


def _bare(run_path: str, files: list[str], batch: int, queue: Any) -> None:
    """Jets/s of a torch.no_grad loop over the arrays predict would make (read untimed):
    plain, and in length buckets (``None`` for a model that is not padding-invariant)."""
    import numpy as np
    import torch

    from heplearn.data.batch import mask_key
    from heplearn.deploy.predict import FilePredictor
    from heplearn.inference.buckets import batched
    from heplearn.models.registry import model_family
    from heplearn.parallel import available_cores
    from heplearn.run_directory import RunDirectory

    torch.set_num_threads(available_cores())
    run = RunDirectory(Path(run_path))
    predictor = FilePredictor(run)
    parts = []
    for path in files:
        parts += [arrays for _, arrays in predictor.chunks(predictor.open(Path(path)))]
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
    if not model_family(run.config().model.name).padding_invariant:
        queue.put((events / best, None))
        return
    schema = run.schema()
    particles = {name: mask_key(name) for name in schema if schema[name].kind == "particles"}

    def scores(arrays: dict[str, np.ndarray]) -> np.ndarray:
        inputs = {name: torch.from_numpy(values) for name, values in arrays.items()}
        return task.scores(model(inputs)).numpy()

    bucketed = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        with torch.no_grad():
            for arrays in parts:
                batched(scores, arrays, names, batch, (0,), particles)
        bucketed = min(bucketed, time.perf_counter() - started)
    queue.put((events / best, events / bucketed))


# one predict in a fresh interpreter that imports heplearn alone (a process spawned from
# this module would import torch with the benchmarks); prints one JSON line
PREDICT = """
import json, sys, time
from pathlib import Path

started = time.perf_counter()
from heplearn.deploy.predict import FilePredictor, PredictSettings
from heplearn.inference import ScoringOptions
from heplearn.run_directory import RunDirectory

run_path, out, engine, *files = sys.argv[1:]
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
# VmHWM: this process's own peak (ru_maxrss of a child starts from its parent's)
status = Path("/proc/self/status").read_text().split("VmHWM:")
peak = int(status[1].split()[0]) * 1024 if len(status) > 1 else 0
cost = predictor.scorer.memory_cost()
per_event = cost.per_event if cost else 0
print(json.dumps([setup, rate, batch, peak, per_event, "torch" in sys.modules]))
"""


# the I/O floor: read the branches predict reads and write a friend tree of the same
# score branches, no model, in an interpreter that imports uproot alone; prints jets/s
IO_FLOOR = """
import json, sys, time
from pathlib import Path
import numpy as np, uproot

out, branches, scores, *files = sys.argv[1:]
started = time.perf_counter()
events = 0
for index, path in enumerate(files):
    with uproot.open(path) as file:
        arrays = file["Events"].arrays(branches.split(","), library="ak", how=dict)
    count = len(next(iter(arrays.values())))
    with uproot.recreate(Path(out) / f"floor_{index}.root") as file:
        file.mktree("Scores", dict.fromkeys(scores.split(","), np.float32))
        file["Scores"].extend({name: np.zeros(count, np.float32) for name in scores.split(",")})
    events += count
print(json.dumps(events / (time.perf_counter() - started)))
"""


def _io_floor(run_path: str, files: list[str], out: str) -> float:
    """Jets/s of reading ``predict``'s branches and writing its friend trees, no model."""
    from heplearn.deploy.predict import FilePredictor, score_branch_names
    from heplearn.run_directory import RunDirectory

    run = RunDirectory(Path(run_path))
    branches = ",".join(FilePredictor(run).needed)
    scores = ",".join(score_branch_names(run))
    command = [sys.executable, "-c", IO_FLOOR, out, branches, scores, *files]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"I/O floor failed:\n{done.stderr[-2000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def _predict(run_path: str, files: list[str], out: str, engine: str) -> tuple[Any, ...]:
    """Set-up seconds (imports included), end-to-end jets/s, the batch, the peak RSS of
    one predict process, the memory per jet and whether it imported torch."""
    command = [sys.executable, "-c", PREDICT, run_path, out, engine, *files]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"predict ({engine}) failed:\n{done.stderr[-2000:]}")
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


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
    from heplearn.inference.onnx_cache import SCORING_GRAPH

    rows = []
    bound = default_budget() / 2**20
    results = []
    for engine, label in ENGINES:
        if label == "onnx, exported now":
            shutil.rmtree(Path(run_path) / SCORING_GRAPH.parent, ignore_errors=True)
        results.append((label, _predict(run_path, files, out, engine)))
    plain, bucketed = _in_process(_bare, run_path, files, results[0][1][2])
    bare = max(plain, bucketed or 0.0)  # predict is held to the faster floor
    shown = f"{plain:,.0f}" if bucketed is None else f"{plain:,.0f} / {bucketed:,.0f}"
    floor = _io_floor(run_path, files, out)
    for label, (setup, rate, batch, peak, per_event, torch_loaded) in results:
        rows.append(
            [
                name,
                label,
                f"{events:,}",
                f"{batch:,} ({per_event / 2**20:.2f} MiB/jet)",
                f"{setup:.1f}",
                shown,
                f"{rate:,.0f}",
                f"**{rate / bare:.2f}×**",
                f"{rate / floor:.2f}×",
                f"{peak / 2**20:,.0f} (base + ≤ {bound:,.0f})",
                "yes" if torch_loaded else "no",
            ]
        )
    io_label = "I/O floor: uproot read + friend-tree write, no model"
    rows.append([name, io_label, f"{events:,}", "—", "—", shown, f"{floor:,.0f}"])
    rows[-1] += [f"{floor / bare:.2f}×", "1.00×", "—", "no"]
    return rows


def _size_rows(run_path: str, files: list[str], out: str) -> list[list[str]]:
    """ParticleNet-Lite's peak RSS on the first scoring file and on one ten times larger."""
    rows = []
    for engine, label in (("torch", "torch"), ("onnx", "onnx, kept graph")):
        for path in files:
            _, rate, batch, peak, _, _ = _predict(run_path, [path], out, engine)
            jets = _entries(path)
            rows.append([label, f"{jets:,}", f"{batch:,}", f"{rate:,.0f}", f"{peak / 2**20:,.0f}"])
    return rows


def _entries(path: str) -> int:
    import uproot

    with uproot.open(path) as file:
        return int(file["Events"].num_entries)


def run(quick: bool = False) -> list[Section]:
    """Jets/s of predict (torch and onnx engines) against a bare loop, and peak memory."""
    from heplearn.inference.memory import default_budget
    from heplearn.parallel import available_cores
    from heplearn.training.fit import train

    names = QUICK_MODELS if quick else tuple(MODELS)
    train_jets, events, length = (400, 1_000, 30) if quick else (1_000, 10_000, 100)
    rows: list[list[str]] = []
    size_rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        write_jets(folder / "train.root", train_jets)
        files = []
        for index in range(FILES):
            path = folder / f"score_{index}.root"
            write_jets(path, events // FILES, seed=10 + index, basket_entries=BASKET)
            files.append(str(path))
        larger = folder / "score_10x.root"
        write_jets(larger, 10 * (events // FILES), seed=20, basket_entries=BASKET)
        for name in names:
            run_directory = train(
                jets_config(folder / "train.root", MODELS[name], length), folder / name
            )
            out = folder / f"out_{name}"
            out.mkdir()
            rows += _rows(name, str(run_directory.path), files, str(out), events)
            if name == "particlenet-lite":
                size_rows = _size_rows(str(run_directory.path), [files[0], str(larger)], str(out))
    budget = default_budget() / 2**20
    return [
        Section(
            "Scoring: heplearn predict end to end vs a bare PyTorch loop",
            f"{__doc__.split(chr(10) + chr(10), 1)[1].strip()}\n\n"
            f"{events:,} synthetic jets (Poisson(40) constituents, padded to {length}) in "
            f"{FILES} ROOT files of {events // FILES:,} jets (baskets of {BASKET:,} jets); "
            f"{available_cores()} CPU threads. "
            "The ratio is predict's jets/s (reading and writing included) over the faster bare "
            "loop's; "
            "the set-up is not in it (nor in the I/O floor's: imports). *vs I/O floor*: "
            "predict's jets/s over those of reading and writing the same files with no model. "
            "*torch loaded*: whether the predict process imported PyTorch.",
            [
                "model",
                "engine",
                "jets",
                "batch (memory)",
                "set-up s",
                "bare loop jets/s (plain / length buckets)",
                "predict jets/s",
                "ratio",
                "vs I/O floor",
                "peak RSS MiB (bound)",
                "torch loaded",
            ],
            rows,
        ),
        Section(
            "Scoring: peak memory does not follow the file's size",
            "ParticleNet-Lite (as above) scores one file of the table above and one ten times "
            "larger, each in a fresh process with the default memory budget "
            f"({budget:,.0f} MiB: half for the forward pass, half for two chunks of events). "
            "Chunks hold as many jets as fit their share, so the peak grows with the file "
            "only until a chunk is full.",
            ["engine", "jets in the file", "batch", "predict jets/s", "peak RSS MiB"],
            size_rows,
        ),
    ]
