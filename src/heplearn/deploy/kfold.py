"""``predict`` with a k-fold run: each event scored by the model of its fold.

An event's fold is found as in training (:func:`heplearn.data.splits.event_folds`): from
its event number (``data.split.event_column``, read from the file), or else from the hash
of the run's seed, the file's position among the run's training files and the entry
number. An event of a training file is therefore scored by the one model that did not see
it. A file that was not among the training files (real data, a new sample) is spread over
the folds by the same hash with its position among the other files being scored (or by
event number), so every model scores an equal share and each event exactly one model.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.batch import batch_arrays
from heplearn.data.preprocessing import Preprocessing
from heplearn.data.readers import SourceFile, expand_files
from heplearn.data.spec import DatasetSpec
from heplearn.data.splits import event_folds
from heplearn.inference import Scorer, ScoringOptions
from heplearn.run_directory import RunDirectory
from heplearn.training.kfold import fold_runs

Branches = dict[str, np.ndarray]


@dataclass(frozen=True)
class FoldChunk:
    """A chunk's events prepared for each fold's model: fold per event, inputs per fold."""

    folds: np.ndarray
    arrays: list[dict[str, np.ndarray]]


class FoldScoring:
    """The preprocessing and scorer of every fold of a k-fold run, and each entry's fold.

    Parameters
    ----------
    run : RunDirectory
        A finished k-fold run.
    options : ScoringOptions
        How each fold's model scores.
    """

    def __init__(self, run: RunDirectory, options: ScoringOptions) -> None:
        models = fold_runs(run)
        self.preprocessing: list[Preprocessing] = [model.preprocessing() for model in models]
        self.scorers = [Scorer(model, options) for model in models]
        config = run.config()
        self.seed = config.seed
        self.event_column = config.data.split.event_column
        files = [path for source in config.data.sources for path in expand_files(source.files)]
        self.training_files = {path.resolve(): index for index, path in enumerate(files)}
        self.other_files: dict[Path, int] = {}

    @property
    def branches(self) -> set[str]:
        """Branches the folds need besides the inputs: the event number, if folds use it."""
        return {self.event_column} if self.event_column else set()

    def _file_index(self, source: SourceFile) -> int:
        """The file's position among the training files, else among the other files."""
        path = Path(source.path).resolve()
        if path in self.training_files:
            return self.training_files[path]
        return self.other_files.setdefault(path, len(self.other_files))

    def prepare(
        self,
        spec: DatasetSpec,
        source: SourceFile,
        start: int,
        columns: dict[str, Any],
        inputs: dict[str, np.ndarray],
        masks: dict[str, np.ndarray],
    ) -> FoldChunk:
        """The chunk's events (entries ``start ...`` of ``source``) standardised per fold."""
        count = len(next(iter(columns.values())))
        numbers = None if self.event_column is None else np.asarray(columns[self.event_column])
        entries = np.arange(start, start + count)
        folds = event_folds(
            len(self.scorers), self.seed, self._file_index(source), entries, numbers
        )
        arrays = []
        for fold, preprocessing in enumerate(self.preprocessing):
            chosen = folds == fold
            fold_masks = {name: values[chosen] for name, values in masks.items()}
            fold_inputs = {name: values[chosen] for name, values in inputs.items()}
            prepared = preprocessing.standardise(spec, fold_inputs, fold_masks)
            arrays.append(batch_arrays(prepared, fold_masks))
        return FoldChunk(folds, arrays)

    def scored(
        self, chunk: FoldChunk, branches_of: Callable[[Scorer, dict[str, np.ndarray]], Branches]
    ) -> Branches:
        """Each fold's model scores its own events; the branches keep the file's order."""
        merged: Branches = {}
        for fold, scorer in enumerate(self.scorers):
            chosen = chunk.folds == fold
            for name, values in branches_of(scorer, chunk.arrays[fold]).items():
                if name not in merged:
                    merged[name] = np.zeros((len(chunk.folds), *values.shape[1:]), values.dtype)
                merged[name][chosen] = values
        return merged
