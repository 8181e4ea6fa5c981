"""``heplearn reweight``: classifier-based weights that morph a source sample into a target.

A binary run trained to separate a *source* sample (class 0) from a *target* sample
(class 1), with the classes given the same total weight (``weights.balance_classes``),
learns ``p(x) = P(target | x)``, and

    w(x) = p(x) / (1 - p(x)) ≈ p_target(x) / p_source(x),

the ratio of the two normalised densities (the likelihood-ratio trick; e.g. Andreassen
and Nachman, arXiv:1907.08209). Weighting source events by ``w`` makes their
distributions those of the target. ``p`` is clipped to ``[clip, 1 - clip]`` first
(:data:`DEFAULT_CLIP`), so that a classifier that is (over)confident somewhere cannot
produce infinite or zero weights: ``w`` lies in ``[clip / (1 - clip), (1 - clip) / clip]``.

The scores are computed by :func:`heplearn.deploy.predict.predict_files`, so new files are
read in bounded chunks with the run's preprocessing, exactly as ``heplearn predict`` reads
them. Each file gets ``<stem>_weights.root`` with a tree ``Weights`` and one branch
``weight``, one entry per event in the same order (a friend tree).
"""

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import uproot

from heplearn.data.processing import ChunkProcessor
from heplearn.data.readers import SourceFile, available_columns
from heplearn.deploy.predict import SCORES_TREE, open_events, predict_files, score_branch_names
from heplearn.errors import InputError, OutputError
from heplearn.evaluation.density_ratio import DEFAULT_CLIP, require_binary, weights_from_scores
from heplearn.io import TreeWriter
from heplearn.run_directory import RunDirectory

WEIGHTS_TREE = "Weights"
WEIGHT_BRANCH = "weight"
DEFAULT_CHUNK = 100_000


@dataclass(frozen=True)
class ReweightedFile:
    """One input file and the file of weights written for it.

    Attributes
    ----------
    source : Path
        The events.
    output : Path
        ``<stem>_weights.root``.
    entries : int
        Weights written (one per entry of ``source``).
    """

    source: Path
    output: Path
    entries: int


def weights_path(out_dir: Path | None, source: Path) -> Path:
    """Where the weights of ``source`` go: ``<stem>_weights.root`` in ``out_dir`` or beside it."""
    folder = source.parent if out_dir is None else Path(out_dir)
    return folder / f"{source.stem}_weights.root"


def reweight_files(
    run: RunDirectory | Path,
    files: Sequence[Path],
    out_dir: Path | None = None,
    *,
    tree: str | None = None,
    clip: float = DEFAULT_CLIP,
    normalise: bool = True,
    chunk_entries: int = DEFAULT_CHUNK,
    overwrite: bool = False,
) -> list[ReweightedFile]:
    """Write density-ratio weights for every entry of ``files`` with a reweighting run.

    Parameters
    ----------
    run : RunDirectory or Path
        A finished binary run trained on source (class 0) against target (class 1).
    files : sequence of Path
        Files of the source kind, holding the branches of the run's inputs.
    out_dir : Path, optional
        Folder of the weight files; default: beside each input file.
    tree : str, optional
        Tree of the input files; default: the tree of the run's data when the files have
        it, else their only tree.
    clip : float
        Scores are clipped to ``[clip, 1 - clip]`` before ``w = p / (1 - p)``.
    normalise : bool
        Scale the weights so that their mean over all entries of all ``files`` is 1
        (this also removes a prior left by classes of unequal total weight).
    chunk_entries : int
        Entries read and scored at a time.
    overwrite : bool
        Replace existing weight files.

    Returns
    -------
    list of ReweightedFile
        One per input file, in order.

    Raises
    ------
    ConfigError
        For a run that is not a binary classification, or a clip outside (0, 0.5).
    InputError
        When a file lacks branches the run's inputs need (the file and every missing
        branch are named) or two files would write the same weight file.
    OutputError
        When a weight file exists and ``overwrite`` is false.
    """
    run = run if isinstance(run, RunDirectory) else RunDirectory(Path(run))
    require_binary(run)
    weights_from_scores(np.zeros(0), clip)  # checks the clip before any work
    config = run.config()
    sources = [open_events(Path(path), tree, config.data.sources[0].tree) for path in files]
    if not sources:
        raise InputError("no files to reweight; give at least one ROOT file of the source kind")
    _require_branches(run, sources, ChunkProcessor(config.model_data(), config.seed).input_branches)
    outputs = [weights_path(out_dir, source.path) for source in sources]
    _check_outputs(outputs, overwrite)
    target_branch = score_branch_names(run)[1]
    with tempfile.TemporaryDirectory(prefix="heplearn-reweight-") as scratch:
        scores = _score_files(run, sources, Path(scratch), tree, chunk_entries)
        scale = 1.0
        if normalise:
            total, count = 0.0, 0
            for path in scores:
                for chunk in _weight_chunks(path, target_branch, clip, chunk_entries):
                    total += float(chunk.sum())
                    count += len(chunk)
            scale = count / total if total > 0 else 1.0
        for output in {path.parent for path in outputs}:
            output.mkdir(parents=True, exist_ok=True)
        return [
            _write_weights(source.path, (path, target_branch), output, clip, scale, chunk_entries)
            for source, path, output in zip(sources, scores, outputs, strict=True)
        ]


def _require_branches(run: RunDirectory, sources: Sequence[SourceFile], needed: set[str]) -> None:
    """Name every branch a file lacks; say so plainly when it shares none with the run."""
    for source in sources:
        available = set(available_columns(source))
        missing = sorted(needed - available)
        if not missing:
            continue
        where = f"{source.path}" + (f" (tree {source.tree})" if source.tree else "")
        if len(missing) == len(needed):
            raise InputError(
                f"{where} has none of the variables the reweighting run {run.path} was "
                f"trained on (missing branches: {', '.join(missing)}); reweight files of the "
                "same kind as the run's source sample"
            )
        raise InputError(
            f"{where} lacks the branch(es) {', '.join(missing)} that the reweighting run "
            f"{run.path} reads; reweight files with the same variables as its source sample"
        )


def _check_outputs(outputs: Sequence[Path], overwrite: bool) -> None:
    if len(set(outputs)) != len(outputs):
        raise InputError(
            "two input files share a name and would write the same weight file; "
            "reweight them into separate --out folders"
        )
    existing = [str(path) for path in outputs if path.exists()]
    if existing and not overwrite:
        verb = "exists" if len(existing) == 1 else "exist"
        raise OutputError(f"{', '.join(existing)} {verb} already; use --overwrite to replace them")


def _score_files(
    run: RunDirectory,
    sources: Sequence[SourceFile],
    scratch: Path,
    tree: str | None,
    chunk_entries: int,
) -> list[Path]:
    """Score every file with ``predict_files`` into ``scratch``; the score file of each.

    Files are scored in groups of distinct names (``predict_files`` writes
    ``<stem>_scores.root`` into one folder), one sub-folder per group.
    """
    groups: list[list[int]] = []
    for index, source in enumerate(sources):
        group = next(
            (g for g in groups if all(sources[i].path.name != source.path.name for i in g)), None
        )
        if group is None:
            groups.append([index])
        else:
            group.append(index)
    scores: dict[int, Path] = {}
    for number, group in enumerate(groups):
        written = predict_files(
            run,
            [sources[index].path for index in group],
            scratch / str(number),
            tree=tree,
            chunk_entries=chunk_entries,
        )
        scores.update({index: item.output for index, item in zip(group, written, strict=True)})
    return [scores[index] for index in range(len(sources))]


def _weight_chunks(
    scores_path: Path, target_branch: str, clip: float, chunk_entries: int
) -> Iterator[np.ndarray]:
    """The unnormalised weights of one score file, chunk by chunk."""
    with uproot.open(scores_path) as file:
        tree = file[SCORES_TREE]
        for arrays in tree.iterate([target_branch], step_size=chunk_entries, library="np"):
            yield weights_from_scores(arrays[target_branch], clip)


def _write_weights(
    source: Path,
    scores: tuple[Path, str],
    output: Path,
    clip: float,
    scale: float,
    chunk_entries: int,
) -> ReweightedFile:
    """Write one weight file from its score file (path and target-score branch)."""
    with TreeWriter(output, WEIGHTS_TREE, {WEIGHT_BRANCH: np.float32}) as writer:
        for chunk in _weight_chunks(*scores, clip, chunk_entries):
            writer.extend({WEIGHT_BRANCH: (chunk * scale).astype(np.float32)})
    return ReweightedFile(source, output, writer.entries)
