"""Beyond one process: streamed training on 2 gloo processes vs 1, streamed vs in memory,
predict on 2 dask workers vs 1 process.

The data are synthetic jets in the generator's branch layout (:func:`write_jets`), in
``FILES`` files of one basket cluster each, so a stream has ``FILES`` chunks to deal out.
Every measurement runs in a fresh process, as a user runs it:

- **training** (PFN, default architecture, batch 256): ``heplearn train`` on one process,
  streamed and in memory, and streamed with ``--devices 2 --strategy ddp`` (gloo; Lightning
  gives each process ``cores / 2`` threads). Jets/s is the training split's jets over the
  fastest epoch after the first (the epoch's time includes its validation pass). The
  peak RSS is the kernel's high-water mark of the training process;
- **predict** (the PFN run): ``predict_files`` on ``FILES`` files in this process, and
  with ``workers=2`` (a local dask cluster of 2 single-threaded processes, its start-up
  and each worker's loading of the run included in the time).
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

from benchmarks.bench_export import jets_config, write_jets
from benchmarks.report import Section

FILES = 8
STREAMING = {"chunk_entries": 1000, "shuffle_buffer": 20_000}
MODEL = {"name": "pfn", "inputs": ["particles"]}
SHARED = (
    "Measured on an otherwise idle machine. One process already uses both of its 2 cores "
    "(PyTorch's threads), so a second process on the same cores adds no compute, only the "
    "gloo all-reduce (training) or a cluster's start-up and a second loading of the run "
    "(dask): these rows are the cost of the paths on one small machine; their speed-ups need "
    "cores (or a GPU) for each process."
)

# a training in a fresh process, printing its peak RSS (bytes, its own VmHWM: ru_maxrss
# would start from the parent's peak, carried over at exec) as the last line
TRAIN = """
import sys
from pathlib import Path
import yaml
from benchmarks.memory import high_water_mark
from heplearn.training.fit import train
train(yaml.safe_load(Path(sys.argv[1]).read_text()), sys.argv[2])
print(high_water_mark() or 0)
"""


def _write_files(folder: Path, jets_per_file: int) -> list[Path]:
    paths = [folder / f"jets_{index}.root" for index in range(FILES)]
    for index, path in enumerate(paths):
        write_jets(path, jets_per_file, seed=index + 1)
    return paths


def _config(folder: Path, epochs: int, streaming: bool) -> dict[str, Any]:
    config = jets_config(folder / "*.root", MODEL, length=64)
    config["training"].update(epochs=epochs, batch_size=256, accelerator="cpu")
    if streaming:
        config["training"]["streaming"] = STREAMING
    return config


def _train(config: dict[str, Any], out: Path, devices: int) -> tuple[float, int | None]:
    """The fastest epoch after the first (seconds) and the peak RSS of one training."""
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(config))
    if devices == 1:
        command = [sys.executable, "-c", TRAIN, str(path), str(out)]
    else:
        command = [sys.executable, "-m", "heplearn", "train", str(path), "--out", str(out)]
        command += ["--devices", str(devices), "--strategy", "ddp"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    rss = int(result.stdout.strip().splitlines()[-1]) if devices == 1 else None
    rows = (out / "history.csv").read_text().splitlines()[1:]
    header = (out / "history.csv").read_text().splitlines()[0].split(",")
    seconds = [float(row.split(",")[header.index("seconds")]) for row in rows]
    return min(seconds[1:]), rss


def _train_jets(folder: Path) -> int:
    from heplearn.config import parse_spec
    from heplearn.data.loaders import scan_stream
    from heplearn.data.spec import DatasetSpec

    config = _config(folder, 1, True)
    spec = parse_spec(DatasetSpec, config["data"])
    return int(
        scan_stream(spec, config["seed"], STREAMING["chunk_entries"]).split_counts[:, 0].sum()
    )


def _predict_seconds(run: Path, files: list[Path], out: Path, workers: int) -> float:
    from heplearn.deploy.predict import predict_files
    from heplearn.run_directory import RunDirectory

    start = time.perf_counter()
    predict_files(RunDirectory(run), files, out, overwrite=True, workers=workers)
    return time.perf_counter() - start


def run(quick: bool = False) -> list[Section]:
    """Measure and return the tables."""
    jets_per_file = 1000 if quick else 4000
    epochs = 2 if quick else 3
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as temporary:
        root = Path(temporary)
        (root / "data").mkdir()
        files = _write_files(root / "data", jets_per_file)
        jets = _train_jets(root / "data")
        streamed_1, rss_streamed = _train(_config(root / "data", epochs, True), root / "s1", 1)
        memory_1, rss_memory = _train(_config(root / "data", epochs, False), root / "m1", 1)
        streamed_2, _ = _train(_config(root / "data", epochs, True), root / "s2", 2)
        one = _predict_seconds(root / "m1", files, root / "p1", 1)
        two = _predict_seconds(root / "m1", files, root / "p2", 2)
    total = FILES * jets_per_file
    cores = os.cpu_count()
    training = Section(
        title="Streamed training on several processes",
        description=(
            f"PFN (default architecture, batch 256 per process) on {total} synthetic jets in "
            f"{FILES} files ({jets} in the training split), `training.streaming` "
            f"{json.dumps(STREAMING)}; one process vs `--devices 2 --strategy ddp` (gloo) on "
            f"this {cores}-core machine, and streamed vs in memory on one process. Jets/s: "
            "training jets over the fastest epoch after the first (validation included). "
            "Peak RSS: the training process's high-water mark; the streamed loader's own "
            "data stay below about one chunk as read plus the shuffle buffer of processed "
            f"events ({STREAMING['chunk_entries']} + {STREAMING['shuffle_buffer']} events, "
            "each 64 particles x 5 features in float32 plus a mask: about 28 MB), on top of "
            f"Python, torch and the model. {SHARED}"
        ),
        headers=["run", "jets/s", "ratio", "peak RSS"],
        rows=[
            ["1 process, in memory", f"{jets / memory_1:,.0f}", "1.00", _mib(rss_memory)],
            [
                "1 process, streamed",
                f"{jets / streamed_1:,.0f}",
                f"{memory_1 / streamed_1:.2f} (vs in memory)",
                _mib(rss_streamed),
            ],
            [
                "2 processes (gloo), streamed",
                f"{jets / streamed_2:,.0f}",
                f"{streamed_1 / streamed_2:.2f} (vs 1 process streamed)",
                "-",
            ],
        ],
    )
    predict = Section(
        title="predict on a dask cluster",
        description=(
            f"`predict_files` of the PFN run on {FILES} files of {jets_per_file} jets: in this "
            "process vs `workers=2` (a local dask cluster of 2 single-threaded processes; its "
            "start-up and each worker's loading of the run are in the time; on a few "
            f"thousand jets it is most of it). {SHARED}"
        ),
        headers=["run", "seconds", "jets/s", "speed-up"],
        rows=[
            ["1 process", f"{one:.1f}", f"{total / one:,.0f}", "1.00"],
            ["2 dask workers", f"{two:.1f}", f"{total / two:,.0f}", f"{one / two:.2f}"],
        ],
    )
    return [training, predict]


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f} MiB"


if __name__ == "__main__":
    for section in run(quick="--quick" in sys.argv):
        print(section.markdown())
