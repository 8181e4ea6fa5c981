"""A run's data and its predictions: loaded in memory, or streamed for streamed runs."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from heplearn.data.dataset import Dataset, load_dataset, spec_files
from heplearn.data.loaders import StreamingDataset
from heplearn.data.processing import ChunkProcessor
from heplearn.data.spec import DatasetSpec, TabularInput
from heplearn.errors import ConfigError, InputError
from heplearn.evaluation.predictions import Predictions
from heplearn.inference import Scorer, ScoringOptions
from heplearn.models.schema import input_schema
from heplearn.parallel import file_workers, local_threads, map_files
from heplearn.run_directory import RunDirectory

SPLITS = ("train", "validation", "test")
OBSERVERS = "__observers__"


def _evaluation_spec(
    run: RunDirectory, data: DatasetSpec | None, observers: Sequence[str], image: str | None
) -> DatasetSpec:
    """The run's data (or ``data``) reduced to the model's inputs, with the extras."""
    spec = data if data is not None else run.config().data
    return _with_extras(spec, _model_inputs_of(run, spec), observers, image)


def _with_extras(
    spec: DatasetSpec, model_spec: DatasetSpec, observers: Sequence[str], image: str | None
) -> DatasetSpec:
    """The model's inputs, plus observers (raw, never standardised) and a gallery image."""
    inputs = dict(model_spec.inputs)
    if image is not None and image not in inputs:
        if image not in spec.inputs or spec.inputs[image].kind != "image":
            images = [n for n, i in spec.inputs.items() if i.kind == "image"]
            raise ConfigError(
                f"evaluation.images: {image!r} is not an image input of the data "
                f"(image inputs: {', '.join(images) or 'none'})"
            )
        inputs[image] = spec.inputs[image]
    if observers:
        inputs[OBSERVERS] = TabularInput(kind="tabular", columns=list(observers))
    standardise = (
        {**model_spec.standardise, OBSERVERS: "none"} if observers else model_spec.standardise
    )
    return model_spec.model_copy(update={"inputs": inputs, "standardise": standardise})


def load_run_data(
    run: RunDirectory,
    data: DatasetSpec | None = None,
    *,
    observers: Sequence[str] = (),
    image: str | None = None,
    scoring: ScoringOptions | None = None,
) -> tuple[Dataset, Scorer]:
    """The run's data (or ``data``) with the run's preprocessing, and its scorer.

    Parameters
    ----------
    run : RunDirectory
        A finished run.
    data : DatasetSpec, optional
        Other data with the inputs the model reads (same names and columns); default the
        run's own spec. The run's preprocessing is applied either way.
    observers : sequence of str
        Expressions evaluated per event and attached as observers (raw values).
    image : str, optional
        An image input of the data attached for galleries.
    scoring : ScoringOptions, optional
        Engine, batch or memory budget, device and precision of the scoring.
    """
    spec = _evaluation_spec(run, data, observers, image)
    scorer = Scorer(run, scoring)  # (before the data: a missing device fails fast)
    return load_dataset(spec, run.config().seed, run.preprocessing()), scorer


def split_predictions(
    dataset: Dataset,
    scorer: Scorer,
    split: str,
    *,
    observers: Sequence[str] = (),
    image: str | None = None,
) -> Predictions:
    """The predictions on one split of data loaded by :func:`load_run_data`."""
    return _predictions_of(dataset.arrays(split), scorer, observers, image)


def streamed_split_predictions(
    run: RunDirectory,
    spec: DatasetSpec,
    scorer: Scorer,
    split: str,
    *,
    observers: Sequence[str] = (),
    chunk_entries: int = 50_000,
) -> Predictions:
    """The predictions on one split, read chunk by chunk as the streaming loader trains.

    Only the predictions (scores, labels, weights, observers) of all the events are kept
    in memory, never their inputs; ``spec`` is the data with the observers
    (:func:`_evaluation_spec`).
    """
    parts = _streamed_parts(run, spec, scorer, split, observers, chunk_entries)
    return _joined(parts, split, observers)


def _streamed_parts(
    run: RunDirectory,
    spec: DatasetSpec,
    scorer: Scorer,
    split: str,
    observers: Sequence[str],
    chunk_entries: int,
    files: Sequence[int] | None = None,
) -> list[Predictions]:
    """The predictions of each batch of the stream (of ``files`` only, when given)."""
    stream = StreamingDataset(
        spec,
        run.preprocessing(),
        split,
        batch_size=4096,
        seed=run.config().seed,
        chunk_entries=chunk_entries,
        shuffle_buffer=0,
        files=files,
    )
    return [
        _predictions_of({name: values.numpy() for name, values in batch.items()}, scorer, observers)
        for batch in stream
    ]


def _joined(parts: list[Predictions], split: str, observers: Sequence[str]) -> Predictions:
    """The predictions of the parts of a split, one after the other."""
    if not parts:
        raise InputError(f"the {split} split of the data holds no events to evaluate")
    embeddings = [part.embeddings for part in parts if part.embeddings is not None]
    return Predictions(
        scores=np.concatenate([part.scores for part in parts]),
        labels=np.concatenate([part.labels for part in parts]),
        weights=np.concatenate([part.weights for part in parts]),
        observers={
            name: np.concatenate([part.observers[name] for part in parts]) for name in observers
        },
        embeddings=np.concatenate(embeddings) if embeddings else None,
    )


@dataclass(frozen=True)
class _FileTask:
    """What a worker needs to score one split of one file of a streamed run (picklable)."""

    run_path: Path
    spec: DatasetSpec
    scoring: ScoringOptions | None
    observers: tuple[str, ...]
    chunk_entries: int


@lru_cache(maxsize=2)
def _worker_scorer(run_path: Path, scoring: ScoringOptions | None) -> Scorer:
    """The scorer of a worker process, built once for all the files it scores."""
    return Scorer(RunDirectory(run_path), scoring)


def _score_file(task: _FileTask, split_and_file: tuple[str, int]) -> list[Predictions]:
    """One split of one file: the unit of a file-parallel evaluation."""
    split, file_index = split_and_file
    scorer = _worker_scorer(task.run_path, task.scoring)
    run = RunDirectory(task.run_path)
    return _streamed_parts(
        run, task.spec, scorer, split, task.observers, task.chunk_entries, [file_index]
    )


def _parallel_split_predictions(
    task: _FileTask, splits: Sequence[str], workers: int, scheduler: str | None
) -> dict[str, Predictions]:
    """Every split, one task per (split, file), joined in file order: the order in which
    one process reads the stream, so the predictions are the same."""
    files = len(list(spec_files(task.spec)))
    items = [(split, index) for split in splits for index in range(files)]
    with file_workers(workers, scheduler) as client:
        results = map_files(partial(_score_file, task), items, client=client)
    return {
        split: _joined(
            [
                part
                for (name, _), parts in zip(items, results, strict=True)
                if name == split
                for part in parts
            ],
            split,
            task.observers,
        )
        for split in splits
    }


def _predictions_of(
    arrays: dict[str, np.ndarray],
    scorer: Scorer,
    observers: Sequence[str],
    image: str | None = None,
) -> Predictions:
    """The predictions on the events of ``arrays`` (a split, or a batch of one)."""
    values = arrays.get(OBSERVERS)
    return Predictions(
        scores=scorer.scores(arrays),
        labels=arrays["label"],
        weights=arrays["weight"],
        observers={name: values[:, i] for i, name in enumerate(observers)}
        if values is not None
        else {},
        images=arrays[image] if image is not None else None,
        embeddings=scorer.embeddings(arrays),
    )


def run_predictions(
    run: RunDirectory,
    data: DatasetSpec | None = None,
    *,
    observers: Sequence[str] = (),
    image: str | None = None,
    splits: Sequence[str] = SPLITS,
    scoring: ScoringOptions | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> dict[str, Predictions]:
    """The run's predictions on every split of its data (or of ``data``).

    Parameters
    ----------
    run : RunDirectory
        A finished run.
    data : DatasetSpec, optional
        Other data with the inputs the model reads (see :func:`load_run_data`).
    observers : sequence of str
        Expressions evaluated per event and attached as observers (raw values).
    image : str, optional
        An image input of the data attached for galleries.
    splits : sequence of str
        The splits to score (scoring the training split of a large sample takes long).
    scoring : ScoringOptions, optional
        Engine, batch or memory budget, device and precision of the scoring.
    workers, scheduler : int, str
        Score the files of a streamed run in parallel, one task per split and file, on a
        local dask cluster of ``workers`` processes or on the cluster of ``scheduler``
        (:func:`heplearn.parallel.map_files`); the predictions are the same.

    A run trained with ``training.streaming`` is evaluated streaming too: its data are
    read chunk by chunk (no image galleries then), so that data larger than memory can
    be evaluated.

    Raises
    ------
    ConfigError
        For ``workers`` or ``scheduler`` with a run whose data are loaded in memory.
    """
    streaming = run.config().training.streaming
    parallel = workers != 1 or scheduler is not None
    if parallel and streaming is None:
        raise ConfigError(
            "--workers and --scheduler score the files of a run trained with "
            "training.streaming; this run's data are loaded in memory and scored in one "
            "process (leave both out)"
        )
    if streaming is not None:
        spec = _evaluation_spec(run, data, observers, image=None)
        if parallel:
            threads = local_threads(workers, scheduler)
            if threads is not None:
                scoring = replace(scoring or ScoringOptions(), threads=threads)
            task = _FileTask(run.path, spec, scoring, tuple(observers), streaming.chunk_entries)
            return _parallel_split_predictions(task, splits, workers, scheduler)
        scorer = Scorer(run, scoring)
        return {
            split: streamed_split_predictions(
                run,
                spec,
                scorer,
                split,
                observers=observers,
                chunk_entries=streaming.chunk_entries,
            )
            for split in splits
        }
    dataset, scorer = load_run_data(run, data, observers=observers, image=image, scoring=scoring)
    return {
        split: split_predictions(dataset, scorer, split, observers=observers, image=image)
        for split in splits
    }


def _model_inputs_of(run: RunDirectory, spec: DatasetSpec) -> DatasetSpec:
    """``spec`` reduced to the run's inputs, which it must define exactly as the run did."""
    expected = run.schema()
    found = input_schema(spec)
    problems = [
        f"{name} ({', '.join(info.columns)})"
        for name, info in expected.items()
        if name not in found or found[name] != info
    ]
    if problems:
        raise ConfigError(
            f"the data must define the inputs the model was trained on: {'; '.join(problems)}"
        )
    inputs = {name: spec.inputs[name] for name in expected}
    standardise = {k: v for k, v in spec.standardise.items() if k in expected}
    return spec.model_copy(update={"inputs": inputs, "standardise": standardise})


def evaluation_columns(
    run: RunDirectory, data: DatasetSpec | None = None, observers: Sequence[str] = ()
) -> set[str]:
    """The branches that :func:`run_predictions` reads from the files of ``data``."""
    return ChunkProcessor(_evaluation_spec(run, data, observers, None), 0).required_columns


def raw_weight_predictions(run: RunDirectory, data: DatasetSpec, split: str) -> Predictions:
    """The run's predictions on one split of ``data``, with the spec's raw event weights.

    The weights are the product of the spec's ``weights.product`` and nothing else: no
    normalisation, class balance or reweighting (the run's standardisation of the inputs
    still applies). Expected event counts need them: a cross-section per event times a
    luminosity.
    """
    fitted = run.preprocessing()
    unscaled = replace(
        fitted, class_scales=dict.fromkeys(fitted.class_scales, 1.0), reweighting=None
    )
    spec = _evaluation_spec(run, data, (), None)
    dataset = load_dataset(spec, run.config().seed, unscaled)
    return split_predictions(dataset, Scorer(run), split)
