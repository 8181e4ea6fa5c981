"""On-disk shuffle: time and memory against a plain chunked copy of the same files.

The baseline reads every chunk of the inputs with uproot and writes it unchanged to a
TTree (same chunk size, same compression): the least any tool that rewrites the data
must do. The shuffle reads and writes the data twice (buckets, then outputs), but the
buckets are raw uncompressed arrays, so its extra pass costs much less than the first:
compressing the output dominates both. Both run in a fresh child process each, so that
their peak memory can be measured above the baseline of an idle process.
"""

import json
import math
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from benchmarks.memory import high_water_mark, reset_high_water_mark
from benchmarks.report import Section
from heplearn.io import BASKET_ENTRIES

FILES = 4
TREE = "Events"
MEAN_PARTICLES = 30
SAMPLE_SECONDS = 0.002


def _write_inputs(directory: Path, megabytes: float, seed: int = 1) -> list[Path]:
    """Synthetic ntuples: scalars and a jagged particle group with one counter ``npart``.

    Written in blocks of ``BASKET_ENTRIES`` entries (as heplearn writes its trees), so that
    the baskets have the size of those of analysis ntuples (a few hundred kB per branch)
    rather than one per file.
    """
    import uproot

    # About 16 bytes per particle and 40 per event on disk (random floats barely compress).
    entries = int(megabytes * 1e6 / (40 + 16 * MEAN_PARTICLES) / FILES)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(FILES):
        path = directory / f"input_{index}.root"
        with uproot.recreate(path) as file:
            tree = None
            for start in range(0, entries, BASKET_ENTRIES):
                block = _block(rng, index * entries + start, min(BASKET_ENTRIES, entries - start))
                if tree is None:
                    tree = file.mktree(
                        TREE,
                        {
                            name: v.type if isinstance(v, ak.Array) else v.dtype
                            for name, v in block.items()
                        },
                        counter_name=lambda branch: "npart",
                    )
                tree.extend(block)
        paths.append(path)
    return paths


def _block(rng: np.random.Generator, first_event: int, entries: int) -> dict[str, Any]:
    counts = rng.poisson(MEAN_PARTICLES, entries)
    total = int(counts.sum())
    columns: dict[str, Any] = {
        "event": np.arange(first_event, first_event + entries, dtype=np.int64),
        "weight": rng.normal(1.0, 0.1, entries),
        "met": rng.exponential(30.0, entries).astype(np.float32),
        "label": rng.integers(0, 2, entries).astype(np.int32),
    }
    for name, values in {
        "pt": rng.exponential(10.0, total),
        "eta": rng.normal(0.0, 2.0, total),
        "phi": rng.uniform(-np.pi, np.pi, total),
        "energy": rng.exponential(20.0, total),
    }.items():
        columns[f"part_{name}"] = ak.unflatten(values.astype(np.float32), counts)
    return columns


def plain_copy(inputs: list[str], out_dir: str, max_memory: int) -> None:
    """The baseline: read every chunk with uproot and append it unchanged to a TTree."""
    import uproot

    from heplearn.data import shuffle

    chunk_bytes = int(max_memory * shuffle.CHUNK_FRACTION)
    for index, path in enumerate(inputs):
        with (
            uproot.open(path) as source,
            uproot.recreate(
                Path(out_dir) / f"copy_{index:04d}.root", compression=source.file.compression
            ) as output,
        ):
            tree = source[TREE]
            counters = {
                branch.name: branch.count_branch.name
                for branch in tree.branches
                if branch.count_branch is not None
            }
            wanted = [b.name for b in tree.branches if b.name not in set(counters.values())]
            step = tree.num_entries_for(chunk_bytes, filter_name=wanted)
            copy = None
            counter_of = counters.get
            for chunk in tree.iterate(filter_name=wanted, step_size=step, library="ak"):
                data = {
                    name: chunk[name] if name in counters else np.asarray(chunk[name])
                    for name in wanted
                }
                if copy is None:
                    copy = output.mktree(
                        TREE,
                        {
                            name: values.type if isinstance(values, ak.Array) else values.dtype
                            for name, values in data.items()
                        },
                        counter_name=counter_of,
                    )
                copy.extend(data)


def run_shuffle(inputs: list[str], out_dir: str, max_memory: int) -> dict[str, Any]:
    """The shuffle, as the CLI calls it."""
    from heplearn.data.shuffle import shuffle_files

    report = shuffle_files(inputs, Path(out_dir), max_memory=max_memory, seed=1)
    return {"buckets": report.buckets, "resplit": report.resplit_buckets}


def _warm_up(path: str, out_dir: str) -> None:
    """Read and write a few entries, so that lazily loaded code is part of the baseline."""
    import uproot

    scratch = Path(out_dir) / "warm-up.root"
    with uproot.open(path) as source:
        sample = source[TREE].arrays(["event", "part_pt"], entry_stop=100, library="ak")
    with uproot.recreate(scratch) as output:
        tree = output.mktree(TREE, {"event": np.int64, "part_pt": sample["part_pt"].type})
        tree.extend({"event": np.asarray(sample["event"]), "part_pt": sample["part_pt"]})
    scratch.unlink()


def measure(task: str, inputs: list[str], out_dir: str, max_memory: int) -> dict[str, Any]:
    """Run one task in this (child) process: wall time and peak RSS above the idle baseline.

    The baseline is this process's RSS (psutil) after the imports and a small warm-up read
    and write. The peak is the larger of the RSS sampled by psutil every 2 ms and, on
    Linux, the kernel's high-water mark (``VmHWM``, reset just before the task).
    """
    import psutil
    import uproot  # noqa: F401  (part of the baseline, as for any user of the tool)

    import heplearn.data.shuffle  # noqa: F401

    _warm_up(inputs[0], out_dir)
    process = psutil.Process()
    baseline = process.memory_info().rss
    has_high_water_mark = reset_high_water_mark()
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    functions: dict[str, Callable[..., Any]] = {"copy": plain_copy, "shuffle": run_shuffle}
    started = time.perf_counter()
    extra = functions[task](inputs, out_dir, max_memory)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    high_water = (high_water_mark() or 0) if has_high_water_mark else 0
    return {
        "seconds": seconds,
        "peak_above_baseline": max(peak, high_water) - baseline,
        "sampled_peak_above_baseline": peak - baseline,
        "method": "psutil samples + VmHWM" if has_high_water_mark else "psutil samples",
        "baseline": baseline,
        "extra": extra,
    }


def _in_child(task: str, inputs: list[Path], out_dir: Path, max_memory: int) -> dict[str, Any]:
    arguments = json.dumps([task, [str(path) for path in inputs], str(out_dir), max_memory])
    code = (
        "import json, sys\n"
        "from benchmarks.bench_shuffle import measure\n"
        "print(json.dumps(measure(*json.loads(sys.argv[1]))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, arguments],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"benchmark child for {task!r} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _row(inputs: list[Path], work: Path, max_memory: int) -> list[str]:
    import uproot

    size = sum(path.stat().st_size for path in inputs)
    entries = 0
    for path in inputs:
        with uproot.open(path) as file:
            entries += file[TREE].num_entries
    results = {}
    for task in ("copy", "shuffle"):
        out_dir = work / f"{task}-{max_memory}"
        out_dir.mkdir()
        results[task] = _in_child(task, inputs, out_dir, max_memory)
        shutil.rmtree(out_dir)
    copy, shuffled = results["copy"], results["shuffle"]
    mib = 2**20
    return [
        f"{size / 1e6:.0f} MB, {entries:,} entries",
        f"{copy['seconds']:.1f}",
        f"{shuffled['seconds']:.1f}",
        f"**{shuffled['seconds'] / copy['seconds']:.2f}**",
        f"{max_memory / mib:.0f} MiB",
        f"{shuffled['extra']['buckets']}",
        f"{copy['peak_above_baseline'] / mib:.0f} MiB",
        f"**{shuffled['peak_above_baseline'] / mib:.0f} MiB**",
    ]


def run(quick: bool = False) -> list[Section]:
    """Time the shuffle against a plain chunked copy, and measure its peak memory."""
    megabytes = 20 if quick else 200
    section = Section(
        "On-disk shuffle vs a plain copy",
        f"Synthetic ntuples ({FILES} files; scalars and a jagged particle group of "
        f"~{MEAN_PARTICLES} particles per event with one counter). *copy* reads every chunk "
        "with uproot and writes it unchanged to a TTree (same chunk size and compression); "
        "*shuffle* is `shuffle_files` (two sequential passes through temporary buckets); "
        "*ratio* = shuffle / copy. Inputs are written with baskets of "
        f"{BASKET_ENTRIES} entries. Each task runs in a fresh child process with a warm page "
        "cache; *peak RSS* is measured there above the child's RSS (psutil) after imports "
        "and a small warm-up read and write: the larger of psutil samples every 2 ms and the "
        "kernel's high-water mark (Linux `VmHWM`, reset just before the task). The chunk "
        "size of both tasks derives from `--max-memory`.",
        [
            "input",
            "copy [s]",
            "shuffle [s]",
            "ratio",
            "--max-memory",
            "buckets",
            "copy peak RSS",
            "shuffle peak RSS",
        ],
    )
    work = Path(tempfile.mkdtemp(prefix="heplearn-bench-shuffle-"))
    try:
        inputs = _write_inputs(work, megabytes)
        data_mib = sum(path.stat().st_size for path in inputs) / 2**20
        for fraction in (1 / 8, 1 / 2):
            max_memory = max(4, math.ceil(data_mib * fraction)) * 2**20
            section.rows.append(_row(inputs, work, max_memory))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [section]
