# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # H → WW against Drell–Yan, with event weights, from ROOT ntuples
#
# The classic first exercise of deep learning in an analysis (W. Verbeke, *Deep learning
# in high energy physics*, exercises for the EOS PhD days): separate gluon-fusion
# H → WW → 2ℓ2ν from Drell–Yan Z/γ* → ℓℓ with a dense network on six analysis variables,
# reading ROOT ntuples with uproot and weighting every event by a product of branches.
#
# The exercise used CMS ntuples (`GluGluHToWWTo2L2Nu_M125.root`,
# `DYJetsToLL_M-10to50-LO.root`, `DYJetsToLL_M-50-LO.root`). Here
# `heplearn generate hww-vs-dy` makes ntuples with the same tree, branch names and
# weight branches with Pythia 8 (see `docs/samples.md`). We follow the exercise step by
# step: first with plain uproot and numpy, as it teaches, then with the heplearn call
# that does the same. At the end the data are streamed chunk by chunk and shuffled on
# disk, as for a sample larger than memory.
#
# Run it with `.venv/bin/python examples/hww_vs_dy.py` (about 15 minutes on two cores,
# most of it generating events), or with `HEPLEARN_EXAMPLES_SMALL=1` for a one-minute
# check whose numbers mean nothing.

# %%
import awkward as ak
import numpy as np
import uproot
from common import generate, heplearn_cli, save_figure, show, size, work_in_output_root
from matplotlib.figure import Figure

import heplearn
from heplearn.data.dataset import load_dataset
from heplearn.data.loaders import StreamingDataset, fit_streaming_preprocessing
from heplearn.data.spec import DatasetSpec
from heplearn.evaluation.runs import evaluate_run

work_in_output_root()
EVENTS = size(60, 2000)  # accepted events per process: one signal, two backgrounds
EPOCHS = size(2, 30)
BATCH_SIZE = size(64, 512)
BOOTSTRAP = size(10, 100)  # replicas for the uncertainties of the metrics
SAMPLE = "data/examples/hww-vs-dy"
RUNS = "runs/examples/hww_vs_dy"

# %% [markdown]
# ## The ntuples
#
# One file series per process: `hww_*.root` (signal), `dy_m10to50_*.root` and
# `dy_m50_*.root` (the two Drell–Yan mass ranges). The command below is what you would
# type in a shell; a second run of the example reuses the sample.

# %%
generate("hww-vs-dy", EVENTS, SAMPLE)
FILES = {
    "hww": f"{SAMPLE}/hww_*.root",
    "dy_m10to50": f"{SAMPLE}/dy_m10to50_*.root",
    "dy_m50": f"{SAMPLE}/dy_m50_*.root",
}

# %% [markdown]
# ## Exercise 1: trees, branches, and standardising a branch
#
# `uproot.open` gives a dictionary-like view of a file; its keys are the objects in it
# (with their cycle number, `;1`). The tree's keys are its branches.

# %%
signal_file = uproot.open(f"{SAMPLE}/hww_0000.root")
print("objects in the file:", signal_file.keys())
tree = signal_file["Events"]
print(f"{tree.num_entries} entries; branches:")
print(", ".join(tree.keys()))

# %% [markdown]
# Gradient descent is much better behaved when every input is of order one. The
# standardised variable `(x - mean) / std` has mean 0 and standard deviation 1; here for
# the transverse mass of the leading lepton and the missing momentum, `mtw1`.

# %%
mtw1 = tree["mtw1"].array(library="np")
mtw1_mean, mtw1_std = np.mean(mtw1), np.std(mtw1)
mtw1_standardised = (mtw1 - mtw1_mean) / mtw1_std
print(f"mtw1: mean {mtw1_mean:.2f} GeV, standard deviation {mtw1_std:.2f} GeV")
print(
    f"standardised: mean {mtw1_standardised.mean():.1e}, "
    f"standard deviation {mtw1_standardised.std():.3f}"
)

figure = Figure(figsize=(9, 3.5))
raw_axes, standard_axes = figure.subplots(1, 2)
raw_axes.hist(mtw1, bins=30)
raw_axes.set_xlabel("mtw1 [GeV]")
standard_axes.hist(mtw1_standardised, bins=30)
standard_axes.set_xlabel("(mtw1 - mean) / std")
raw_axes.set_ylabel("H → WW events")
save_figure(figure, f"{RUNS}/mtw1.png")

# %% [markdown]
# ## Exercise 2: the input variables of each sample as one array
#
# A dictionary of arrays per sample, then one 2-d array per sample. The exercise asks for
# `(variables, events)`; PyTorch, scikit-learn and heplearn put the events first,
# `(events, variables)`, which `np.stack(..., axis=1)` gives directly.

# %%
INPUTS = ["ptll", "mth", "uperp", "upara", "ptTOT_cut", "mTOT_cut"]
WEIGHT_BRANCHES = [
    "XSWeight",
    "SFweight2l",
    "LepSF2l__ele_mvaFall17V1Iso_WP90__mu_cut_Tight_HWWW",
    "LepCut2l__ele_mvaFall17V1Iso_WP90__mu_cut_Tight_HWWW",
    "GenLepMatch2l",
    "METFilter_MC",
]


def read_sample(pattern: str, branches: list[str]) -> dict[str, np.ndarray]:
    """Read branches of every file matching ``pattern`` into numpy arrays.

    Parameters
    ----------
    pattern : str
        A glob of ROOT files holding the tree ``Events``.
    branches : list of str
        The branches to read.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per branch, the files one after the other.
    """
    return uproot.concatenate(f"{pattern}:Events", branches, library="np")


def as_matrix(arrays: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    """Stack the named arrays into one ``(events, variables)`` array."""
    return np.stack([arrays[name] for name in names], axis=1)


samples = {name: read_sample(pattern, INPUTS + WEIGHT_BRANCHES) for name, pattern in FILES.items()}
signal_inputs = as_matrix(samples["hww"], INPUTS)
background_inputs = np.concatenate(
    [as_matrix(samples[name], INPUTS) for name in ("dy_m10to50", "dy_m50")]
)
print("signal:", signal_inputs.shape, " background (both DY samples):", background_inputs.shape)

# %% [markdown]
# ## Exercise 3: event weights and labels
#
# The weight of an event is the product of the weight branches (cross-section per
# generated event times the scale factors). Each class is then divided by its mean weight,
# so that both classes weigh the same on average and the loss is of order one; for the
# background this is done *after* merging the two DY samples, so that their relative
# cross-sections survive.
#
# Labels: the exercise gives 0 to the signal; here, as in heplearn, the signal is
# class 1 (`classes: [drell-yan, hww]`), which makes the network's output the signal
# probability and the ROC curve a signal efficiency against a background efficiency.


# %%
def event_weights(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The product of the weight branches, event by event."""
    return np.prod([arrays[name] for name in WEIGHT_BRANCHES], axis=0)


signal_weights = event_weights(samples["hww"])
background_weights = np.concatenate(
    [event_weights(samples[name]) for name in ("dy_m10to50", "dy_m50")]
)
for name in ("dy_m10to50", "dy_m50"):
    print(f"{name}: sum of raw weights {event_weights(samples[name]).sum():.1f} pb")
signal_weights = signal_weights / signal_weights.mean()
background_weights = background_weights / background_weights.mean()
signal_labels = np.ones(len(signal_inputs), dtype=np.int64)
background_labels = np.zeros(len(background_inputs), dtype=np.int64)
print(
    f"mean weight after normalisation: signal {signal_weights.mean():.3f}, "
    f"background {background_weights.mean():.3f}; "
    f"events with weight 0: {int((signal_weights == 0).sum() + (background_weights == 0).sum())}"
)

# %% [markdown]
# ### The same with a heplearn dataset spec
#
# A `DatasetSpec` says it all at once: the files of each class, the inputs, the weight
# product and its normalisation (per class, to a mean of 1 — the default), and the
# split. The same mapping, written in YAML, is the `data:` section of a config
# (`configs/hww-vs-dy/data.yaml`, `docs/config.md`).

# %%
data = {
    "sources": [
        {"files": [FILES["hww"]], "tree": "Events", "label": "hww"},
        {"files": [FILES["dy_m10to50"], FILES["dy_m50"]], "tree": "Events", "label": "drell-yan"},
    ],
    "classes": ["drell-yan", "hww"],
    "inputs": {"features": {"kind": "tabular", "columns": INPUTS}},
    "weights": {
        "product": WEIGHT_BRANCHES,
        "normalise": {"to": "mean", "value": 1.0, "per_class": True},
    },
    "split": {"train": 0.6, "validation": 0.2, "test": 0.2},
}
spec = DatasetSpec.model_validate(data)
dataset = load_dataset(spec, seed=42)
for row in dataset.summary():
    print(
        f"{row['split']:>10} {row['class']:>9}: {row['events']:5d} events, "
        f"sum of weights {row['sum_of_weights']:8.1f}"
    )

# %% [markdown]
# heplearn normalises the weights on all events (every split), exactly as above: the
# sorted weights of each class agree with the ones computed by hand.

# %%
splits = [dataset.arrays(split) for split in ("train", "validation", "test")]
weights = np.concatenate([arrays["weight"] for arrays in splits])
labels = np.concatenate([arrays["label"] for arrays in splits])
for label, by_hand in ((1, signal_weights), (0, background_weights)):
    same = np.allclose(np.sort(weights[labels == label]), np.sort(by_hand), rtol=1e-5)
    print(f"class {spec.classes[label]}: weights equal to the ones by hand: {same}")

# %% [markdown]
# ## Exercise 4: shuffle jointly, then split
#
# Inputs, labels and weights must be shuffled with one permutation, so that each event
# keeps its own label and weight. Then the arrays are cut into training, validation and
# test sets.


# %%
def split_in_three(
    array: np.ndarray, validation_fraction: float, test_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut an array (along its first axis) into training, validation and test parts.

    Parameters
    ----------
    array : numpy.ndarray
        The array to cut, already shuffled.
    validation_fraction, test_fraction : float
        Fractions of the events in the validation and the test part.

    Returns
    -------
    tuple of numpy.ndarray
        Training, validation and test parts.
    """
    validation_start = int(len(array) * (1 - validation_fraction - test_fraction))
    test_start = int(len(array) * (1 - test_fraction))
    return array[:validation_start], array[validation_start:test_start], array[test_start:]


rng = np.random.default_rng(42)
order = rng.permutation(len(signal_inputs))
signal_parts = [
    split_in_three(array[order], 0.2, 0.2)
    for array in (signal_inputs, signal_labels, signal_weights)
]
print("signal events in train, validation, test:", [len(part) for part in signal_parts[0]])

# %% [markdown]
# heplearn assigns each event to a split from a hash of (seed, file, entry number), so
# the same event lands in the same split whether the data are read in memory or
# streamed, and in any chunking. `load_dataset` then shuffles the events of every split
# jointly; `dataset.arrays(split)` holds the aligned inputs, labels and weights.

# %%
train = dataset.arrays("train")
print({name: values.shape for name, values in train.items()})
print("standardisation fitted on the training split:")
standardisation = dataset.preprocessing.standardisation["features"]
for name, mean, std in zip(INPUTS, standardisation["mean"], standardisation["std"], strict=True):
    print(f"  {name:>9}: mean {mean:8.2f}, std {std:8.2f}")

# %% [markdown]
# ## Exercise 5: train the network and look at its output
#
# A run config holds a seed, the dataset spec, the model and the training settings;
# `heplearn.train` writes everything to a run directory. The same config as YAML is
# `configs/hww-vs-dy/mlp.yaml` (which reads ten variables instead of six), and
# `heplearn train configs/hww-vs-dy/mlp.yaml --out runs/hww-mlp` trains it from a shell.
# The weights enter the loss: each event's binary cross-entropy is multiplied by its
# weight.

# %%
config = {
    "seed": 42,
    "data": data,
    "model": {"name": "mlp", "widths": [64, 64], "activation": "relu"},
    "training": {
        "epochs": EPOCHS,
        "batch_size": BATCH_SIZE,
        "schedule": {"name": "cosine"},
        "early_stopping": {"patience": 5},
        "progress_bar": False,
    },
    "evaluation": {"observers": ["mll", "mth"], "bootstrap": BOOTSTRAP},
}
run = heplearn.train(config, f"{RUNS}/mlp", overwrite=True)
for row in run.history():
    print(
        f"epoch {row['epoch']:3.0f}: training loss {row['train_loss']:.4f}, "
        f"validation loss {row['val_loss']:.4f}, validation AUC {row['val_auc']:.3f}"
    )

# %% [markdown]
# `evaluate_run` (the `heplearn evaluate` command) scores every split and writes
# `metrics.json`, the plots and `report.html` into the run directory. The score
# distributions of the training (filled) and test (points) events lie on top of each
# other when the network has not learnt features of its training events only: the
# Kolmogorov–Smirnov p-value of each class measures it (a tiny p-value hints at
# overtraining).

# %%
evaluation = evaluate_run(run)
metrics = evaluation.evaluation.metrics
print(
    f"test AUC {metrics['auc']:.3f} ± {metrics['auc_uncertainty']:.3f}, "
    f"training AUC {metrics['train']['auc']:.3f}"
)
for name, ks in metrics["ks"].items():
    print(f"KS test, train against test, {name}: p-value {ks['p_value']:.2f}")
print(f"report: {evaluation.report_path}")
show(f"{RUNS}/mlp/plots/scores.png")
show(f"{RUNS}/mlp/plots/roc.png")

# %% [markdown]
# The run directory is all a later step needs: `heplearn predict` applies the same
# preprocessing and model to new files and writes the score of every event into a
# friend tree, in the same order as the events.

# %%
heplearn_cli(
    "predict",
    f"{RUNS}/mlp",
    f"{SAMPLE}/hww_0000.root",
    "--out",
    f"{RUNS}/scores",
    "--keep",
    "event",
    "--overwrite",
)
friend = uproot.open(f"{RUNS}/scores/hww_0000_scores.root")["Scores"].arrays()
print(friend.fields, "first scores:", np.round(ak.to_numpy(friend.score_hww[:5]), 3))

# %% [markdown]
# ## Exercise 6: data larger than memory
#
# ### Streaming
#
# With `training.streaming` heplearn reads the files chunk by chunk (`chunk_entries`
# entries at a time, never a whole file), shuffles the events within a buffer and
# trains on the batches it yields. The weights and the standardisation are fitted in one
# sequential pass first. Chunks follow the basket clusters of the ROOT file, so no
# basket is decompressed twice.

# %%
CHUNK = size(50, 1000)  # entries read at a time
streaming_config = {
    **config,
    "training": {
        **config["training"],
        "streaming": {"chunk_entries": CHUNK, "shuffle_buffer": 2 * CHUNK},
    },
}
streamed = heplearn.train(streaming_config, f"{RUNS}/mlp-streaming", overwrite=True)
streamed_metrics = evaluate_run(streamed).evaluation.metrics
print(f"test AUC in memory {metrics['auc']:.3f}, streamed {streamed_metrics['auc']:.3f}")

# %% [markdown]
# ### Why the files must be shuffled first
#
# A shuffle buffer only mixes events that are near each other in the files. Our files
# hold one process each, so without a buffer the batches come class by class. Here are
# the first batches of a stream without a buffer: the fraction of signal events in each.


# %%
def signal_fraction_of_batches(stream_spec: DatasetSpec, batches: int) -> list[float]:
    """Fraction of signal events in the first training batches of an unbuffered stream.

    Parameters
    ----------
    stream_spec : DatasetSpec
        The data to stream.
    batches : int
        How many batches to look at.

    Returns
    -------
    list of float
        The fraction of label-1 events in each batch.
    """
    preprocessing = fit_streaming_preprocessing(stream_spec, seed=42, chunk_entries=CHUNK)
    stream = StreamingDataset(
        stream_spec,
        preprocessing,
        "train",
        BATCH_SIZE,
        seed=42,
        chunk_entries=CHUNK,
        shuffle_buffer=0,
    )
    fractions = []
    for batch in stream:
        fractions.append(round(float(batch["label"].float().mean()), 2))
        if len(fractions) == batches:
            break
    return fractions


every_file = [FILES["hww"], FILES["dy_m10to50"], FILES["dy_m50"]]
by_branch = {
    **data,
    "sources": [{"files": every_file, "tree": "Events"}],
    "label": "is_signal",
}
print("files as generated:", signal_fraction_of_batches(DatasetSpec.model_validate(by_branch), 8))

# %% [markdown]
# ### Shuffling files larger than memory: `heplearn shuffle`
#
# Reading entries of a ROOT file in random order decompresses a whole basket for every
# entry: unusably slow. `heplearn shuffle` makes two sequential passes instead: it sends
# every entry to one of K temporary bucket files chosen at random, then shuffles each
# bucket in memory and appends it to the output. K is chosen so that a bucket fits the
# memory budget `--max-memory`. We give it a quarter of the size of the data in memory,
# so that the data cannot be shuffled in one go.

# %%
in_memory_bytes = sum(
    uproot.concatenate(f"{pattern}:Events", library="ak").nbytes for pattern in every_file
)
budget = in_memory_bytes // 4
print(f"the sample takes {in_memory_bytes / 1e6:.2f} MB in memory; budget {budget / 1e6:.2f} MB")
heplearn_cli(
    "shuffle",
    *every_file,
    "--out",
    f"{SAMPLE}-shuffled",
    "--max-memory",
    str(budget),
    "--overwrite",
)
shuffled = {**by_branch, "sources": [{"files": [f"{SAMPLE}-shuffled/*.root"], "tree": "Events"}]}
print("shuffled files:", signal_fraction_of_batches(DatasetSpec.model_validate(shuffled), 8))

# %% [markdown]
# On the shuffled files a small shuffle buffer is enough. The labels now come from the
# branch `is_signal` (the files mix the classes), and the weights are normalised per
# class as before.

# %%
shuffled_config = {
    **streaming_config,
    "data": shuffled,
    "training": {
        **config["training"],
        "streaming": {"chunk_entries": CHUNK, "shuffle_buffer": CHUNK},
    },
}
from_shuffled = heplearn.train(shuffled_config, f"{RUNS}/mlp-shuffled", overwrite=True)
shuffled_metrics = evaluate_run(from_shuffled).evaluation.metrics
print(f"test AUC streamed from the shuffled files: {shuffled_metrics['auc']:.3f}")
for name in ("mlp", "mlp-streaming", "mlp-shuffled"):
    print(f"report: {RUNS}/{name}/report.html")
