"""Beyond one process: streamed training on 2 gloo processes vs 1, streamed vs in memory,
predict on 2 dask workers vs 1 process.

The data are synthetic jets in the generator's branch layout (:func:`write_jets`), in
``FILES`` files of one basket cluster each, so a stream has ``FILES`` chunks to deal out.
Every measurement runs in a fresh process, as a user runs it:

- **training**: ``heplearn train`` of PFN (default architecture, batch 256) on one process,
  in memory, streamed, streamed with its read-ahead thread off (the A/B of the loader's
  overlap of reading and training), streamed on one thread (what one core does), and
  streamed with ``--devices 2 --strategy ddp`` (gloo; each process gets cores / 2
  threads), and in memory on one thread (streamed vs in memory when reading has a core
  of its own) and on two processes; two independent one-thread trainings side by side
  (no gradients exchanged: what this machine gives two processes at best);
  ParticleNet-Lite (batch 128) streamed on one process, on one thread and on
  two processes, on smaller files (it trains about 20 times slower per jet). Jets/s is
  the training split's jets over the fastest epoch after the first (the epoch's time
  includes its validation pass): this shared machine's speed varies by 10-20 % from
  minute to minute, and the fastest of several epochs is the least disturbed. The peak
  RSS is the kernel's high-water mark of the training process;
- **predict** (the PFN run and the ParticleNet-Lite run, on files sized so that one
  process takes about half a minute on this machine, a cluster's start-up a small part):
  ``heplearn predict`` on ``FILES`` files in a fresh process (PyTorch's threads on every
  core, or ``OMP_NUM_THREADS=1``), with ``--workers 2`` (a local dask cluster of 2
  single-threaded processes; its start-up and each worker's one loading of the run are
  in the time), and with ``--scheduler`` on a cluster of 2 workers that is already
  running and has scored the files once (its workers keep the run loaded). PFN's scoring
  on one thread is mostly its forward pass, reading and writing a fifth of it;
  ParticleNet-Lite's is its forward pass.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.bench_export import jets_config, write_jet_files
from benchmarks.report import Section
from heplearn.parallel import file_workers

FILES = 8
# jets per file to score: one process takes about 30 s over the FILES files here
PREDICT_JETS = {"PFN": 60_000, "ParticleNet-Lite": 32_000}
# the environment every measured process starts with: while a dask cluster started here
# runs, this process's environment holds OMP_NUM_THREADS=1 for the workers it spawns
ENVIRONMENT = dict(os.environ)
# chunks of whole files (each one basket cluster); a buffer smaller than the training
# split, as when streaming data larger than memory, so reading overlaps training
STREAMING = {"chunk_entries": 1000, "shuffle_buffer": 5000}
MODELS: dict[str, dict[str, Any]] = {
    "PFN": {"name": "pfn", "inputs": ["particles"]},
    "ParticleNet-Lite": {"name": "particlenet-lite", "inputs": ["particles"]},
}
BATCH = {"PFN": 256, "ParticleNet-Lite": 128}
LENGTH = 64
# bytes of one buffered event: padded particles (5 features, float32), mask, label, weight
EVENT_BYTES = LENGTH * 5 * 4 + LENGTH + 8 + 4
NOTE = (
    "One process already uses every core of this machine (PyTorch's threads), so on a "
    "machine without a core (or a GPU) for each process a second process adds no "
    "arithmetic: it trades PyTorch's threads for gloo's all-reduce (training) or for a "
    "cluster's start-up and a second loading of the run (dask). The 1-thread rows show "
    "what one core does: the speed-up of 2 processes over them is the scaling to expect "
    "with a core per process."
)

# a training in a fresh process, printing its peak RSS (bytes, its own VmHWM: ru_maxrss
# would start from the parent's peak, carried over at exec) as the last line; "serial"
# turns the streaming loader's read-ahead thread off (the A/B of that overlap)
TRAIN = """
import sys
from pathlib import Path
import yaml
from benchmarks.memory import high_water_mark
from heplearn.training.fit import train
if sys.argv[3] == "serial":
    import heplearn.data.loaders
    heplearn.data.loaders.prefetched = lambda items: items
train(yaml.safe_load(Path(sys.argv[1]).read_text()), sys.argv[2])
print(high_water_mark() or 0)
"""


def _config(
    folder: Path, model: str, epochs: int, streaming: bool, threads: int | None = None
) -> dict[str, Any]:
    config = jets_config(folder / "*.root", MODELS[model], length=LENGTH)
    config["training"].update(
        epochs=epochs, batch_size=BATCH[model], accelerator="cpu", threads=threads
    )
    if streaming:
        config["training"]["streaming"] = STREAMING
    return config


def _train(
    config: dict[str, Any], out: Path, devices: int = 1, read_ahead: bool = True
) -> tuple[float, int | None]:
    """The fastest epoch after the first (seconds) and the peak RSS of one training."""
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(config))
    if devices == 1:
        mode = "overlap" if read_ahead else "serial"
        command = [sys.executable, "-c", TRAIN, str(path), str(out), mode]
    else:
        command = [sys.executable, "-m", "heplearn", "train", str(path), "--out", str(out)]
        command += ["--devices", str(devices), "--strategy", "ddp"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=ENVIRONMENT)
    rss = int(result.stdout.strip().splitlines()[-1]) if devices == 1 else None
    return min(_epoch_seconds(out)[1:]), rss


def _train_side_by_side(config: dict[str, Any], out: Path) -> float:
    """Two independent trainings of ``config`` at once (no gradients exchanged): the
    seconds of an epoch of both together, from each one's fastest epoch after the first."""
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(config))
    runs = [out.with_name(f"{out.name}-{index}") for index in range(2)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", TRAIN, str(path), str(run), "overlap"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=ENVIRONMENT,
        )
        for run in runs
    ]
    for process in processes:
        _, errors = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"a side-by-side training failed:\n{errors.decode()[-2000:]}")
    fastest = [min(_epoch_seconds(run)[1:]) for run in runs]
    return 1 / sum(1 / seconds for seconds in fastest)


def _epoch_seconds(run: Path) -> list[float]:
    """The seconds of each epoch of a run, from its history."""
    header, *rows = (run / "history.csv").read_text().splitlines()
    column = header.split(",").index("seconds")
    return [float(row.split(",")[column]) for row in rows]


def _train_jets(folder: Path, model: str) -> int:
    from heplearn.config import parse_spec
    from heplearn.data.loaders import scan_stream
    from heplearn.data.spec import DatasetSpec

    config = _config(folder, model, 1, True)
    spec = parse_spec(DatasetSpec, config["data"])
    return int(
        scan_stream(spec, config["seed"], STREAMING["chunk_entries"]).split_counts[:, 0].sum()
    )


def _predict_seconds(
    run: Path, files: list[Path], out: Path, *arguments: str, threads: int | None = None
) -> float:
    """Seconds of one ``heplearn predict`` in a fresh process, start-up included
    (``threads``: its ``OMP_NUM_THREADS``)."""
    environment = dict(ENVIRONMENT)
    if threads is not None:
        environment["OMP_NUM_THREADS"] = str(threads)
    command = [sys.executable, "-m", "heplearn", "predict", str(run), *map(str, files)]
    command += ["--out", str(out), "--overwrite", "--quiet", *arguments]
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, text=True, check=True, env=environment)
    return time.perf_counter() - start


def _predict_on_running_cluster(run: Path, files: list[Path], out: Path) -> float:
    """Seconds of ``heplearn predict --scheduler`` on a running cluster of 2 workers,
    after a first job that started them scoring (its workers keep the run loaded)."""
    with file_workers(2, None) as client:  # (this process's environment kept as it was)
        address = client.scheduler.address
        _predict_seconds(run, files, out, "--scheduler", address)
        return _predict_seconds(run, files, out, "--scheduler", address)


def run(quick: bool = False) -> list[Section]:
    """Measure and return the tables."""
    jets_per_file = {"PFN": 1000 if quick else 4000, "ParticleNet-Lite": 200 if quick else 800}
    epochs = 2 if quick else 5
    lite_epochs = 2 if quick else 4
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as temporary:
        root = Path(temporary)
        folders = {model: root / model for model in MODELS}
        for model in MODELS:
            write_jet_files(folders[model], FILES, jets_per_file[model])
        jets = {model: _train_jets(folders[model], model) for model in MODELS}
        pfn = folders["PFN"]
        memory, rss_memory = _train(_config(pfn, "PFN", epochs, False), root / "m")
        streamed, rss_streamed = _train(_config(pfn, "PFN", epochs, True), root / "s")
        serial, rss_serial = _train(_config(pfn, "PFN", epochs, True), root / "r", 1, False)
        one_thread, _ = _train(_config(pfn, "PFN", epochs, True, threads=1), root / "t")
        memory_thread, _ = _train(_config(pfn, "PFN", epochs, False, threads=1), root / "mt")
        pair, _ = _train(_config(pfn, "PFN", epochs, True), root / "d", 2)
        pair_memory, _ = _train(_config(pfn, "PFN", epochs, False), root / "dm", 2)
        side_by_side = _train_side_by_side(_config(pfn, "PFN", epochs, True, threads=1), root / "i")
        lite = folders["ParticleNet-Lite"]
        lite_one, _ = _train(_config(lite, "ParticleNet-Lite", lite_epochs, True), root / "ls")
        lite_thread, _ = _train(
            _config(lite, "ParticleNet-Lite", lite_epochs, True, threads=1), root / "lt"
        )
        lite_pair, _ = _train(_config(lite, "ParticleNet-Lite", lite_epochs, True), root / "ld", 2)
        runs = {"PFN": root / "s", "ParticleNet-Lite": root / "ls"}
        predict_rows = []
        for model, run in runs.items():
            per_file = PREDICT_JETS[model] // (10 if quick else 1)
            scored = write_jet_files(root / f"score-{model}", FILES, per_file)
            seconds = [
                _predict_seconds(run, scored, root / "p1"),
                _predict_seconds(run, scored, root / "pt", threads=1),
                _predict_seconds(run, scored, root / "p2", "--workers", "2"),
                _predict_on_running_cluster(run, scored, root / "p3"),
            ]
            predict_rows += _predict_rows(model, FILES * per_file, *seconds)
    buffered = (jets_per_file["PFN"] + STREAMING["shuffle_buffer"]) * EVENT_BYTES / 1e6
    pfn_jets, lite_jets = jets["PFN"], jets["ParticleNet-Lite"]
    total, lite_total = (FILES * jets_per_file[model] for model in MODELS)

    def rate(model_jets: int, seconds: float) -> str:
        return f"{model_jets / seconds:,.0f}"

    training = Section(
        title="Streamed training on several processes",
        description=(
            f"PFN (default architecture, batch 256 per process) on {total} synthetic jets "
            f"in {FILES} files ({pfn_jets} in the training split) and ParticleNet-Lite (batch "
            f"128 per process) on {lite_total} ({lite_jets} training jets), "
            f"`training.streaming` {json.dumps(STREAMING)} (a chunk is a whole file, one "
            "basket cluster; the buffer is smaller than the "
            "training split, as when the data do not fit in memory); one process vs "
            f"`--devices 2 --strategy ddp` (gloo) on this {cores}-core machine, and streamed "
            "vs in memory on one process. *read-ahead off*: the same streamed run with the "
            "loader's thread that reads the next chunk during training turned off. *1 thread, "
            "in memory* vs *1 thread, streamed*: what streaming costs when reading has a "
            "core of its own (as beside a GPU). *Side by side*: two trainings of one thread "
            "each at once, independent, their jets/s added: the most two processes can "
            "give on this machine, with nothing to exchange or wait for. Jets/s: training "
            "jets over the fastest epoch "
            f"after the first of {epochs} (validation included; the machine is shared, and "
            "its speed varies by 10-20 % from minute to minute). "
            "Peak RSS: the training process's high-water mark; the streamed loader's own "
            "data stay below two chunks as read (the current and the next, with the "
            "current one's events of the split) plus the chunk and the buffer of processed "
            f"events ({jets_per_file['PFN']} + {STREAMING['shuffle_buffer']} events of "
            f"{EVENT_BYTES} bytes: {buffered:.0f} MB) and the metadata of at most 16 files "
            f"kept open between passes, on top of Python, torch and the model. {NOTE}"
        ),
        headers=["model", "run", "jets/s", "ratio", "peak RSS"],
        rows=[
            ["PFN", "1 process, in memory", rate(pfn_jets, memory), "1.00", _mib(rss_memory)],
            [
                "PFN",
                "1 process, streamed",
                rate(pfn_jets, streamed),
                f"**{memory / streamed:.2f}** (vs in memory)",
                _mib(rss_streamed),
            ],
            [
                "PFN",
                "1 process, streamed, read-ahead off",
                rate(pfn_jets, serial),
                f"{memory / serial:.2f} (vs in memory)",
                _mib(rss_serial),
            ],
            [
                "PFN",
                "1 process of 1 thread, in memory",
                rate(pfn_jets, memory_thread),
                f"{memory / memory_thread:.2f} (vs 1 process in memory)",
                "-",
            ],
            [
                "PFN",
                "1 process of 1 thread, streamed",
                rate(pfn_jets, one_thread),
                f"{memory_thread / one_thread:.2f} (vs 1 thread in memory); "
                f"{streamed / one_thread:.2f} (vs 1 process streamed)",
                "-",
            ],
            [
                "PFN",
                "2 processes (gloo), streamed",
                rate(pfn_jets, pair),
                f"**{streamed / pair:.2f}** (vs 1 process streamed); "
                f"**{one_thread / pair:.2f}** (vs 1 thread)",
                "-",
            ],
            [
                "PFN",
                "2 processes (gloo), in memory",
                rate(pfn_jets, pair_memory),
                f"{memory / pair_memory:.2f} (vs 1 process in memory); "
                f"**{memory_thread / pair_memory:.2f}** (vs 1 thread in memory)",
                "-",
            ],
            [
                "PFN",
                "2 independent processes of 1 thread side by side, streamed (no gradients "
                "exchanged: what this machine gives two processes)",
                rate(pfn_jets, side_by_side),
                f"{streamed / side_by_side:.2f} (vs 1 process streamed); "
                f"{one_thread / side_by_side:.2f} (vs 1 thread)",
                "-",
            ],
            ["ParticleNet-Lite", "1 process, streamed", rate(lite_jets, lite_one), "1.00", "-"],
            [
                "ParticleNet-Lite",
                "1 process of 1 thread, streamed",
                rate(lite_jets, lite_thread),
                f"{lite_one / lite_thread:.2f} (vs 1 process streamed)",
                "-",
            ],
            [
                "ParticleNet-Lite",
                "2 processes (gloo), streamed",
                rate(lite_jets, lite_pair),
                f"**{lite_one / lite_pair:.2f}** (vs 1 process streamed); "
                f"**{lite_thread / lite_pair:.2f}** (vs 1 thread)",
                "-",
            ],
        ],
    )
    predict = Section(
        title="predict on a dask cluster",
        description=(
            f"`heplearn predict` of the PFN run and of the ParticleNet-Lite run above on "
            f"{FILES} files each, every time in a fresh process as a user runs it (start-up "
            "included): one process (PyTorch's threads on every core, or "
            "`OMP_NUM_THREADS=1`), vs `--workers 2` (a local dask cluster of 2 "
            "single-threaded processes, each loading the run once for all its files; the "
            "cluster's start-up is in the time), vs `--scheduler` on a cluster of 2 workers "
            "that is already running and has scored the files once (a batch cluster's "
            "workers between jobs: they keep the run loaded). On one thread PFN's scoring is "
            "mostly its forward pass, reading and writing a fifth of it; ParticleNet-Lite's "
            f"is its forward pass. {NOTE}"
        ),
        headers=["model", "run", "jets", "seconds", "jets/s", "speed-up"],
        rows=predict_rows,
    )
    return [training, predict]


def _predict_rows(
    model: str, jets: int, one: float, thread: float, two: float, running: float
) -> list[list[str]]:
    """Rows of one model's predict: 1 process, 1 thread, 2 dask workers (started, running)."""

    def row(run: str, seconds: float, speed_up: str) -> list[str]:
        return [model, run, f"{jets:,}", f"{seconds:.1f}", f"{jets / seconds:,.0f}", speed_up]

    def versus(seconds: float) -> str:
        return f"**{one / seconds:.2f}** (**{thread / seconds:.2f}** vs 1 thread)"

    return [
        row("1 process", one, "1.00"),
        row("1 process of 1 thread", thread, f"{one / thread:.2f}"),
        row("2 dask workers (`--workers 2`, start-up included)", two, versus(two)),
        row("2 dask workers already running (`--scheduler`)", running, versus(running)),
    ]


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f} MiB"


if __name__ == "__main__":
    for section in run(quick="--quick" in sys.argv):
        print(section.markdown())
