"""``heplearn predict``: a run's scores for new files, written beside them as friend trees."""

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from heplearn.data.batch import batch_arrays
from heplearn.data.prefetch import prefetched
from heplearn.data.preprocessing import Preprocessing
from heplearn.data.processing import ChunkProcessor, Scaling
from heplearn.data.readers import (
    SourceFile,
    check_columns,
    check_option_names,
    chunk_ranges,
    open_source,
    read_ranges,
)
from heplearn.data.spec import DatasetSpec, ParticlesInput
from heplearn.deploy.kfold import FoldScoring
from heplearn.errors import InputError
from heplearn.files import remove_stale_temporaries
from heplearn.inference import Scorer, ScoringOptions
from heplearn.inference.memory import default_budget
from heplearn.io import Column, TreeWriter
from heplearn.parallel import file_workers, local_threads, map_files
from heplearn.run_directory import RunDirectory
from heplearn.training.kfold import is_kfold

SCORES_TREE = "Scores"
DEFAULT_CHUNK = 100_000


@dataclass(frozen=True)
class PredictedFile:
    """One input file and the file of scores written for it."""

    source: Path
    output: Path
    entries: int


# the one branch of a run whose score is a value per event, by task
VALUE_BRANCHES = {
    "regression": "prediction",
    "anomaly": "anomaly_score",
    "generative": "model_loss",
}


def score_branch_names(run: RunDirectory) -> list[str]:
    """``score_<class>`` for every class (classification), else one branch.

    That branch is ``prediction`` (regression), ``anomaly_score`` (autoencoders: the
    reconstruction error) or ``model_loss`` (generative models: a flow's negative
    log-likelihood).
    """
    task = run.task()
    names = run.class_names()
    if task.scores_values or not names:
        return [VALUE_BRANCHES.get(task.kind, "prediction")]
    return [f"score_{name}" for name in names]


def output_path(out_dir: Path, source: Path) -> Path:
    """Where the scores of ``source`` go: ``OUT/<stem>_scores.root``."""
    return out_dir / f"{source.stem}_scores.root"


@dataclass(frozen=True)
class PredictSettings:
    """What every file of a prediction shares, besides the run (picklable, for workers).

    Attributes
    ----------
    keep : tuple of str
        Branches copied next to the scores.
    tree : str, optional
        Tree of the input files (default: the run's, or the only one).
    chunk_entries : int
        Most entries read and scored at a time; fewer when the memory budget needs it.
    scoring : ScoringOptions
        Engine, batch or memory budget, device and precision of the scoring.
    """

    keep: tuple[str, ...] = ()
    tree: str | None = None
    chunk_entries: int = DEFAULT_CHUNK
    scoring: ScoringOptions = field(default_factory=ScoringOptions)


class FilePredictor:
    """Scores files one at a time with one run: what a process builds once.

    Reading and preprocessing the next chunk of a file happens in a thread while the
    current chunk is scored (:func:`heplearn.data.prefetch.prefetched`). Chunks hold at
    most a quarter of the memory budget each (two are in flight), the forward pass at
    most half (:class:`heplearn.inference.Scorer`).

    Parameters
    ----------
    run : RunDirectory
        A finished run.
    settings : PredictSettings
        Branches to keep, tree, chunking and scoring options.
    """

    def __init__(self, run: RunDirectory, settings: PredictSettings | None = None) -> None:
        self.settings = settings or PredictSettings()
        # the config's data section only: its model section would import the model zoo
        self.spec = run.model_data()
        self.processor = ChunkProcessor(self.spec, run.config_data()["seed"])
        # a k-fold run scores each event with the model of its fold (deploy/kfold.py)
        self.folds = FoldScoring(run, self.settings.scoring) if is_kfold(run) else None
        self.preprocessing = self.folds.preprocessing[0] if self.folds else run.preprocessing()
        # particle inputs are standardised while they are padded (one array, not a padded
        # one and its standardised copy), the others by Preprocessing.standardise: the same
        # float32 arithmetic, the same values
        self._scaling = {} if self.folds else _padded_scaling(self.spec, self.preprocessing)
        self._standardisation = replace(
            self.preprocessing,
            standardisation={
                name: values
                for name, values in self.preprocessing.standardisation.items()
                if name not in self._scaling
            },
        )
        self._run = run
        self.branch_names = score_branch_names(run)
        self.needed = sorted(
            self.processor.input_branches
            | set(self.settings.keep)
            | (self.folds.branches if self.folds else set())
        )
        # the reading plan of each opened file, until it is scored
        self._ranges: dict[SourceFile, list[tuple[int, int]]] = {}

    @cached_property
    def scorer(self) -> Scorer:
        """The run's model on the scoring engine, loaded when first needed: a process that
        only checks the files (the client of a dask job) never loads it, nor torch."""
        return self.folds.scorers[0] if self.folds else Scorer(self._run, self.settings.scoring)

    def open(self, path: Path, plan: bool = True) -> SourceFile:
        """The events of an input file, checked for every branch the model needs.

        Parameters
        ----------
        path : Path
            The input file.
        plan : bool
            Also plan the chunks it is read in (in the same opening of the file), for
            :meth:`predict_file` in this process; False only checks the branches.

        Raises
        ------
        InputError
            Naming the missing branches (with close matches).
        """
        source = open_events(path, self.settings.tree, self.spec.sources[0].tree)
        check_option_names(source, self.settings.keep, "--keep")
        if plan:  # (checks the branches too)
            self._ranges[source] = self.plan(source)
        else:
            check_columns(source, self.needed)
        return source

    def _chunk_budget(self) -> tuple[list[str], int, float]:
        """The branches read, a chunk's share of the budget and the bytes per entry that
        preprocessing adds: the padded inputs (float32) and their masks, counted twice (a
        standardised copy is made of the inputs that are not standardised while padded)."""
        budget = (self.settings.scoring.memory_budget or default_budget()) // 4
        padded = 2 * sum(
            math.prod(info.shape) * 4 + (info.shape[0] if info.kind == "particles" else 0)
            for info in self.scorer.schema.values()
        )
        return self.needed, budget, float(padded)

    def plan(self, source: SourceFile) -> list[tuple[int, int]]:
        """The ``[start, stop)`` entry ranges ``source`` is read and scored in: at most
        ``chunk_entries`` and a quarter of the memory budget each, ending on basket
        clusters (:func:`heplearn.data.readers.chunk_ranges`)."""
        names, budget, padded = self._chunk_budget()
        return chunk_ranges(
            source,
            names,
            budget,
            extra_bytes_per_entry=padded,
            most_entries=self.settings.chunk_entries,
        )

    def predict_file(
        self, source: SourceFile, output: Path, on_chunk: Callable[[int], None] | None = None
    ) -> PredictedFile:
        """Write the scores of every entry of ``source`` to ``output``, atomically.

        Parameters
        ----------
        source : SourceFile
            An input file from :meth:`open`.
        output : Path
            The ROOT file to write (tree ``Scores``); written under a temporary name and
            renamed when complete.
        on_chunk : callable, optional
            Called with the number of entries of each chunk once it is scored.
        """
        # an empty file still gets an (empty) tree of the score branches
        empty = dict.fromkeys(self.branch_names, np.float32)
        with TreeWriter(output, SCORES_TREE, empty) as writer:
            for columns, arrays in prefetched(self.chunks(source)):
                branches: dict[str, Column] = dict(self._scored(arrays))
                branches.update({name: columns[name] for name in self.settings.keep})
                writer.extend(branches)
                if on_chunk is not None:
                    on_chunk(len(next(iter(branches.values()))))
        return PredictedFile(source.path, output, writer.entries)

    def _scored(self, arrays: Any) -> dict[str, np.ndarray]:
        """The score branches (and latent ones) of one chunk prepared by :meth:`chunks`."""
        if self.folds is not None:
            return self.folds.scored(arrays, self._branches)
        return self._branches(self.scorer, arrays)

    def _branches(self, scorer: Scorer, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        branches = _score_branches(scorer.scores(arrays), self.branch_names)
        branches.update(_latent_branches(scorer.embeddings(arrays)))
        return branches

    def chunks(self, source: SourceFile) -> Iterator[tuple[dict[str, Any], Any]]:
        """The chunks of ``source`` in entry order, as they are scored: the ``keep`` columns
        and the standardised model inputs with their masks (for a k-fold run, what
        :meth:`heplearn.deploy.kfold.FoldScoring.prepare` makes of them).

        The file is opened once and read in the ranges planned by :meth:`open` (within a
        quarter of the memory budget each, on basket clusters).
        """
        ranges = self._ranges.pop(source, None) or self.plan(source)
        read = read_ranges(source, self.needed, ranges)
        for (start, _), columns in zip(ranges, read, strict=True):
            inputs, masks = self.processor.model_inputs(columns, self._scaling)
            arrays: Any
            if self.folds is not None:
                arrays = self.folds.prepare(self.spec, source, start, columns, inputs, masks)
            else:
                arrays = batch_arrays(
                    self._standardisation.standardise(self.spec, inputs, masks), masks
                )
            yield {name: columns[name] for name in self.settings.keep}, arrays


def predict_files(
    run: RunDirectory,
    files: Sequence[Path],
    out_dir: Path,
    *,
    keep: Sequence[str] = (),
    tree: str | None = None,
    chunk_entries: int = DEFAULT_CHUNK,
    overwrite: bool = False,
    scoring: ScoringOptions | None = None,
    progress: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
) -> list[PredictedFile]:
    """Apply a run's preprocessing and model to every entry of new files.

    Each input file gets ``OUT/<stem>_scores.root`` with a tree ``Scores`` holding one
    entry per input entry, in the same order (no selection is applied), so it can be
    added as a friend tree. A model with a latent space (an autoencoder) also writes
    each event's embedding, ``latent_0``, ``latent_1``, .... Files are read
    ``chunk_entries`` at a time or fewer (memory stays within the budget of
    ``scoring``), the next chunk while the current one is scored, and written under a
    temporary name, renamed when complete.

    Parameters
    ----------
    run : RunDirectory
        A finished run.
    files : sequence of Path
        Input files (ROOT, Parquet or HDF5) holding the branches the model's inputs need.
    out_dir : Path
        Output directory (created).
    keep : sequence of str
        Branches copied next to the scores (e.g. ``event``, ``jet_pt``).
    tree : str, optional
        Tree of the input files; default: the tree named in the run's dataset spec when
        the files have it, else the only tree.
    chunk_entries : int
        Most entries read and scored at a time.
    overwrite : bool
        Replace existing outputs.
    scoring : ScoringOptions, optional
        Engine, batch or memory budget, device and precision.
    progress : bool
        Show a progress bar (files, events, jets/s) on the terminal.
    workers : int
        Score that many files at a time on a local dask cluster (1: in this process).
    scheduler : str, optional
        Score the files on the dask cluster of this scheduler (see
        :func:`heplearn.parallel.map_files`); the outputs are the same.

    Raises
    ------
    InputError
        When a file lacks a branch the model needs (all of them are named, with close
        matches) or an output exists without ``overwrite``.
    ConfigError
        For a device that is not there, scoring options that do not go together, or a
        scheduler that cannot be reached (nothing is written then).
    """
    scoring = scoring or ScoringOptions()
    threads = local_threads(workers, scheduler)
    if threads is not None and scoring.threads is None:
        scoring = replace(scoring, threads=threads)
    settings = PredictSettings(tuple(keep), tree, chunk_entries, scoring)
    predictor = FilePredictor(run, settings)
    local = workers == 1 and scheduler is None
    # every file is checked for every branch before anything is written; the workers of
    # a dask job plan their own reading (and load the model where they run)
    sources = [predictor.open(path, plan=local) for path in files]
    outputs = [output_path(out_dir, source.path) for source in sources]
    existing = [str(path) for path in outputs if path.exists()]
    if existing and not overwrite:
        verb = "exists" if len(existing) == 1 else "exist"
        raise InputError(f"{', '.join(existing)} {verb} already; use --overwrite to replace them")
    if len({path.name for path in outputs}) != len(outputs):
        raise InputError("two input files share a name; score them into separate --out folders")
    with ScoringProgress(progress, len(sources), sum(s.entries for s in sources)) as bar:
        if local:
            out_dir.mkdir(parents=True, exist_ok=True)
            written = []
            for source, output in zip(sources, outputs, strict=True):
                written.append(predictor.predict_file(source, output, bar.advance))
                bar.file_done()
            return written

        def done(item: PredictedFile) -> None:
            bar.advance(item.entries)
            bar.file_done()

        with file_workers(workers, scheduler) as client:
            out_dir.mkdir(parents=True, exist_ok=True)
            return map_files(
                partial(predict_one_file, run.path, settings),
                [(source.path, output) for source, output in zip(sources, outputs, strict=True)],
                client=client,
                on_result=done,
            )


@lru_cache(maxsize=2)
def _predictor(run_path: Path, settings: PredictSettings) -> FilePredictor:
    """The predictor of a worker process, built once for all the files it scores."""
    return FilePredictor(RunDirectory(run_path), settings)


def predict_one_file(
    run_path: Path, settings: PredictSettings, paths: tuple[Path, Path]
) -> PredictedFile:
    """Score one ``(input, output)`` pair: the task of a dask worker."""
    source, output = paths
    predictor = _predictor(run_path, settings)
    remove_stale_temporaries(output)
    return predictor.predict_file(predictor.open(source), output)


class ScoringProgress:
    """A progress bar of files, events and jets/s on a terminal's stderr.

    Nothing is shown when disabled or when stderr is not a terminal (a batch job's log,
    a pipe): stdout keeps one line per file, stderr the one line of an error.
    """

    def __init__(self, enabled: bool, files: int, events: int) -> None:
        self.files = files
        self.done = 0
        self.started = time.perf_counter()
        self.scored = 0
        self._bar: Progress | None = None
        console = Console(stderr=True)
        if enabled and console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]scoring[/bold]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("events, {task.fields[files]}, {task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._task = self._bar.add_task("scoring", total=events, files="", rate="")
            self._update()

    def __enter__(self) -> "ScoringProgress":
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, events: int) -> None:
        """Count ``events`` more scored events."""
        self.scored += events
        if self._bar is not None:
            self._bar.advance(self._task, events)
            self._update()

    def file_done(self) -> None:
        """Count one more finished file."""
        self.done += 1
        self._update()

    def _update(self) -> None:
        if self._bar is None:
            return
        seconds = max(time.perf_counter() - self.started, 1e-9)
        rate = f"{self.scored / seconds:,.0f} jets/s" if self.scored else ""
        self._bar.update(self._task, files=f"file {self.done}/{self.files}", rate=rate)


def open_events(path: Path, tree: str | None, default_tree: str | None = None) -> SourceFile:
    """Open a file of events: in ``tree`` when it is given, else in ``default_tree`` (the
    run's) when the file has it, else in the file's only tree.

    The tree is found as every reader finds it
    (:func:`heplearn.data.readers.root.find_tree`): a tree that is not there, or a file of
    several trees, is an InputError naming the file and listing its trees.
    """
    if tree is not None or default_tree is None:
        return open_source(path, "auto", tree)
    try:
        return open_source(path, "auto", default_tree)
    except InputError:
        return open_source(path, "auto", None)  # the run's tree name is only a default


def _padded_scaling(spec: DatasetSpec, preprocessing: Preprocessing) -> Scaling:
    """The standardisation of the particle inputs, applied while they are padded
    (:func:`heplearn.data.padding.pad_collection`)."""
    return {
        name: scale
        for name, scale in preprocessing.scaling().items()
        if isinstance(spec.inputs.get(name), ParticlesInput)
    }


def _latent_branches(embeddings: np.ndarray | None) -> dict[str, np.ndarray]:
    """``latent_0``, ``latent_1``, ...: the embedding of a model with a latent space."""
    if embeddings is None:
        return {}
    values = np.asarray(embeddings, np.float32)
    return {f"latent_{index}": values[:, index] for index in range(values.shape[1])}


def _score_branches(scores: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    scores = np.asarray(scores, np.float32)
    if len(names) == 1:
        return {names[0]: scores}
    if scores.ndim == 1:  # binary: the signal probability
        return {names[0]: 1 - scores, names[1]: scores}
    return {name: scores[:, index] for index, name in enumerate(names)}
