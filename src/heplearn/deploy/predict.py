"""``heplearn predict``: a run's scores for new files, written beside them as friend trees."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import uproot

from heplearn.data.processing import ChunkProcessor
from heplearn.data.sources import SourceFile, iterate_columns, open_source
from heplearn.errors import InputError
from heplearn.files import atomic_path
from heplearn.generate.writers import branch_types, tree_branches
from heplearn.inference import Scorer
from heplearn.run_directory import RunDirectory

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


def predict_files(
    run: RunDirectory,
    files: Sequence[Path],
    out_dir: Path,
    *,
    keep: Sequence[str] = (),
    tree: str | None = None,
    chunk_entries: int = DEFAULT_CHUNK,
    overwrite: bool = False,
) -> list[PredictedFile]:
    """Apply a run's preprocessing and model to every entry of new files.

    Each input file gets ``OUT/<stem>_scores.root`` with a tree ``Scores`` holding one
    entry per input entry, in the same order (no selection is applied), so it can be
    added as a friend tree. A model with a latent space (an autoencoder) also writes
    each event's embedding, ``latent_0``, ``latent_1``, .... Files are read
    ``chunk_entries`` at a time (memory stays bounded) and written under a temporary
    name, renamed when complete.

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
        Entries read and scored at a time.
    overwrite : bool
        Replace existing outputs.

    Raises
    ------
    InputError
        When a file lacks a branch the model needs (all of them are named, with close
        matches) or an output exists without ``overwrite``.
    """
    config = run.config()
    spec = config.model_data()
    processor = ChunkProcessor(spec, config.seed)
    preprocessing = run.preprocessing()
    scorer = Scorer(run)
    branch_names = score_branch_names(run)
    sources = [open_events(path, tree or spec.sources[0].tree) for path in files]
    outputs = [output_path(out_dir, source.path) for source in sources]
    existing = [str(path) for path in outputs if path.exists()]
    if existing and not overwrite:
        raise InputError(f"{', '.join(existing)} exist already; use --overwrite to replace them")
    if len({path.name for path in outputs}) != len(outputs):
        raise InputError("two input files share a name; score them into separate --out folders")
    needed = sorted(processor.input_branches | set(keep))
    # every file is checked for every branch before anything is written
    chunks = iterate_columns(sources, needed, chunk_entries)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    pending = next(chunks, None)
    for source, output in zip(sources, outputs, strict=True):
        entries = 0
        with atomic_path(output) as temporary, uproot.recreate(temporary) as file:
            scores_tree = None
            while pending is not None and pending[0] is source:
                _, _, columns = pending
                inputs, masks = processor.model_inputs(columns)
                arrays = preprocessing.standardise(spec, inputs, masks)
                arrays.update({f"{name}_mask": mask for name, mask in masks.items()})
                branches = _score_branches(scorer.scores(arrays), branch_names)
                branches.update(_latent_branches(scorer.embeddings(arrays)))
                branches.update(tree_branches({name: columns[name] for name in keep}))
                if scores_tree is None:
                    scores_tree = file.mktree(SCORES_TREE, branch_types(branches))
                scores_tree.extend(branches)
                entries += len(next(iter(branches.values())))
                pending = next(chunks, None)
            if scores_tree is None:  # an empty file still gets an (empty) tree
                file.mktree(SCORES_TREE, dict.fromkeys(branch_names, np.float32))
        written.append(PredictedFile(source.path, output, entries))
    return written


def open_events(path: Path, tree: str | None) -> SourceFile:
    """Open a file of events in ``tree``, or in its only tree when it has no such tree."""
    try:
        return open_source(path, "auto", tree)
    except InputError:
        if tree is None:
            raise
        return open_source(path, "auto", None)  # the spec's tree name is only a default


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
