"""``heplearn generate``: run a sample's blocks on local processes or a dask cluster, write files.

Blocks run in any order on any worker; the main process assembles each file from its
blocks as soon as they are all in, shuffles files that mix processes, and writes it
atomically. ``metadata.json`` is written last, so its presence marks a complete sample.
"""

import json
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from heplearn.data.labels import METADATA_NAME, sample_labels
from heplearn.errors import OutputError
from heplearn.extras import require
from heplearn.files import atomic_path
from heplearn.generate.block import BlockResult, generate_block
from heplearn.generate.plan import Block, OutputFile, blocks_per_process, plan_files
from heplearn.generate.pythia import check_settings
from heplearn.generate.registry import get_sample
from heplearn.generate.samples import (
    Column,
    GenerateOptions,
    Process,
    Sample,
    concatenate_columns,
)
from heplearn.io import EXTENSIONS, write_events
from heplearn.parallel import file_workers
from heplearn.versions import package_versions

__all__ = ["METADATA_NAME", "generate_sample"]


def _run_blocks(
    sample_name: str,
    options: GenerateOptions,
    blocks: list[Block],
    workers: int,
    scheduler: str | None,
) -> Iterator[tuple[Block, BlockResult]]:
    """Yield each block with its result, in order of completion."""
    if scheduler is not None:
        yield from _run_on_dask(sample_name, options, blocks, scheduler)
    elif workers == 1:
        for block in blocks:
            yield block, generate_block(sample_name, options, block)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {
                pool.submit(generate_block, sample_name, options, block): block for block in blocks
            }
            for future in as_completed(futures):
                yield futures[future], future.result()


def _run_on_dask(
    sample_name: str, options: GenerateOptions, blocks: list[Block], scheduler: str
) -> Iterator[tuple[Block, BlockResult]]:
    with file_workers(1, scheduler) as client:
        futures = {
            client.submit(generate_block, sample_name, options, block, pure=False): block
            for block in blocks
        }
        distributed = require("distributed", "dask", "--scheduler")
        for future, result in distributed.as_completed(futures, with_results=True):
            yield futures[future], result


def _file_columns(
    sample: Sample,
    output: OutputFile,
    results: dict[Block, BlockResult],
    processes: list[Process],
    block_counts: dict[int, int],
    seed: int,
) -> dict[str, Column]:
    """Concatenate a file's blocks, add event number, label and XSWeight; shuffle mixtures."""
    parts = []
    for block in output.blocks:
        result = results[block]
        count = block.n_events
        # Each block estimates sigma on its own; averaging over a process's blocks makes the
        # weights of the whole process sum to its fiducial cross-section (pb).
        xs_weight = result.cross_section_pb / result.generated / block_counts[block.process_index]
        parts.append(
            {
                "event": np.arange(block.first_event, block.first_event + count, dtype=np.int64),
                sample.label_branch: np.full(count, processes[block.process_index].label, np.int32),
                "XSWeight": np.full(count, xs_weight),
                **result.columns,
            }
        )
    columns = concatenate_columns(parts)
    if len({block.process_index for block in output.blocks}) > 1:
        rng = np.random.default_rng([seed, output.index, len(output.group)])
        order = rng.permutation(len(columns["event"]))
        columns = {name: values[order] for name, values in columns.items()}
    return columns


def _prepare_output(out_dir: Path, overwrite: bool) -> None:
    """Check ``out_dir`` can take a new sample; create it. Raise before writing anything."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file, not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise OutputError(
                f"--out {out_dir} is not empty; pass --overwrite to replace a sample there, "
                "or choose an empty directory"
            )
        _remove_previous_sample(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".heplearn-write-test"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise OutputError(
            f"cannot write to --out {out_dir}: {error.strerror or error}; "
            "choose a writable directory"
        ) from None


def _remove_previous_sample(out_dir: Path) -> None:
    """Delete the files a previous ``heplearn generate`` listed in its metadata."""
    metadata = out_dir / METADATA_NAME
    if not metadata.is_file():
        return
    try:
        listed = [entry["name"] for entry in json.loads(metadata.read_text())["files"]]
    except (ValueError, KeyError, TypeError):
        listed = []
    for name in listed:
        (out_dir / Path(name).name).unlink(missing_ok=True)
    metadata.unlink()


def _progress(enabled: bool) -> Any:
    if not enabled:
        return nullcontext(None)
    return Progress(
        TextColumn("[bold]generating[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("accepted events"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )


def generate_sample(
    sample_name: str,
    options: GenerateOptions,
    out_dir: Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Generate a sample into ``out_dir`` and return its metadata.

    Parameters
    ----------
    sample_name : str
        One of :data:`heplearn.generate.registry.SAMPLES`.
    options : GenerateOptions
        Event count, seed, detector and sample options, and extra Pythia settings (checked
        with a throw-away Pythia before anything is written or any worker starts).
    out_dir : Path
        Output directory; must be empty or absent unless ``overwrite``.
    workers : int, optional
        Local worker processes (ignored with ``scheduler``).
    scheduler : str, optional
        Address of a dask.distributed scheduler to run the blocks on.
    overwrite : bool, optional
        Replace a sample already in ``out_dir``.
    progress : bool, optional
        Show a progress bar of accepted events and their rate.

    Returns
    -------
    dict
        The content of ``out_dir/metadata.json``.
    """
    sample = get_sample(sample_name)
    options = sample.resolve(options)
    check_settings(options.pythia_settings)
    processes = sample.processes(options)
    files = plan_files(processes, options.events, options.events_per_file, options.seed)
    block_counts = blocks_per_process(files)
    if workers < 1:
        raise OutputError(f"--workers must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    _prepare_output(out_dir, overwrite)

    extension = EXTENSIONS[options.format]
    pending = {output: len(output.blocks) for output in files}
    owner = {block: output for output in files for block in output.blocks}
    results: dict[Block, BlockResult] = {}
    generated = dict.fromkeys(range(len(processes)), 0)
    sigma_sum = dict.fromkeys(range(len(processes)), 0.0)
    written: list[dict[str, Any]] = []
    total = len(processes) * options.events
    started = datetime.now(UTC)
    branches: dict[str, None] = {}
    with _progress(progress) as bar:
        task = bar.add_task("generate", total=total, rate="") if bar else None
        blocks = [block for output in files for block in output.blocks]
        for block, result in _run_blocks(sample_name, options, blocks, workers, scheduler):
            results[block] = result
            generated[block.process_index] += result.generated
            sigma_sum[block.process_index] += result.cross_section_pb * result.generated
            if bar is not None:
                bar.advance(task, block.n_events)
                elapsed = (datetime.now(UTC) - started).total_seconds()
                rate = bar.tasks[0].completed / max(elapsed, 1e-9)
                bar.update(task, rate=f"{rate:,.0f}/s")
            output = owner[block]
            pending[output] -= 1
            if pending[output] == 0:
                columns = _file_columns(
                    sample, output, results, processes, block_counts, options.seed
                )
                name = output.name(extension)
                write_events(columns, out_dir / name, options.format, sample.tree_name)
                branches.update(dict.fromkeys(columns))
                written.append(
                    {"name": name, "group": output.group, "entries": len(columns["event"])}
                )
                for done in output.blocks:
                    del results[done]

    metadata = {
        "sample": sample.name,
        "summary": sample.summary,
        "format": options.format,
        "tree": sample.tree_name if options.format == "root" else None,
        "label_branch": sample.label_branch,
        "classes": list(sample.class_names),
        "labels": sample_labels(branches),
        "options": options.model_dump(mode="json"),
        "processes": [
            {
                "name": process.name,
                "label": process.label,
                "group": process.group,
                "settings": list(process.settings),
                "note": process.cross_section_note,
                "cross_section_pb": sigma_sum[index] / generated[index],
                "generated": generated[index],
                "accepted": options.events,
                "efficiency": options.events / generated[index],
            }
            for index, process in enumerate(processes)
        ],
        "files": sorted(written, key=lambda entry: entry["name"]),
        "seeds": [
            {
                "process": processes[block.process_index].name,
                "first_event": block.first_event,
                "events": block.n_events,
                "pythia_seed": block.seed,
            }
            for output in files
            for block in output.blocks
        ],
        "created": started.isoformat(timespec="seconds"),
        "seconds": (datetime.now(UTC) - started).total_seconds(),
        "versions": package_versions(),
    }
    with atomic_path(out_dir / METADATA_NAME) as temporary:
        temporary.write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata
