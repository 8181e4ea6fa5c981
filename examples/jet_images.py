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
# # Jet tagging with convolutional networks on jet images
#
# Can a network tell a hadronically decaying top quark from a light-quark or gluon jet
# by looking at a picture of the jet? A boosted top leaves three hard prongs inside one
# large-radius jet; a QCD jet is mostly one hard core with soft radiation around it.
# Drawn as a pT-weighted histogram in the (η, φ) plane, a *jet image*, this is a task for
# the image classifiers of computer vision.
#
# This example follows the blog post *Jet tagging in one hour with convolutional neural
# networks* (A. Monteux, preliminary work with S. Macaluso and D. Shih towards
# arXiv:1803.00107): top and QCD jets with leading-jet pT between 750 and 950 GeV, and
# three classifiers of the same images — a logistic regression, a multilayer perceptron
# and a convolutional network. The study found, at a top-tagging efficiency of 60 %, a
# mistag rate of about 1 in 10 QCD jets for the logistic regression and about 1 in 40 for
# the CNN, a factor two better than the MLP; at 80 % efficiency the CNN mistagged about
# 1 in 15.
#
# Differences from the study: Pythia 8 generates the hard process too (no MadGraph), the
# jets are anti-kT R = 0.8 (not 1.0), and the images are finer (40 × 40 pixels of
# 0.04 × 0.04 against 16 × 22 pixels of 0.12 × 10°), centred on the jet axis, rotated
# and flipped into a standard orientation, with charged and neutral particles in two
# channels — the improvements of the published paper. The number of jets is far
# smaller (4000 per class by default against about 36 000), which limits the CNN most.
#
# Run it with `.venv/bin/python examples/jet_images.py` (about 15 minutes on two
# cores), or with `HEPLEARN_EXAMPLES_SMALL=1` for a one-minute check.

# %%
from pathlib import Path

import numpy as np
from common import (
    CONFIGS,
    generate,
    heplearn_cli,
    save_figure,
    show,
    size,
    work_in_output_root,
)
from matplotlib.figure import Figure

import heplearn
from heplearn.data.dataset import load_dataset
from heplearn.evaluation import metrics
from heplearn.evaluation.plots import show_image
from heplearn.evaluation.run_data import run_predictions
from heplearn.evaluation.runs import evaluate_run
from heplearn.run_directory import RunDirectory
from heplearn.training.config import RunConfig, load_run_config

work_in_output_root()
EVENTS = size(100, 4000)  # jets per class
EPOCHS = {"logistic": size(2, 20), "mlp": size(2, 20), "cnn": size(1, 10)}
BOOTSTRAP = size(10, 100)
SAMPLE = "data/examples/top-vs-qcd-750-950"
RUNS = "runs/examples/jet_images"

# %% [markdown]
# ## Top and QCD jets between 750 and 950 GeV
#
# `heplearn generate top-vs-qcd` generates t t̄ (both W → qq′) and QCD dijet events,
# clusters anti-kT R = 0.8 jets with FastJet and keeps the leading jet when its pT lies
# in the window and, for tops, when the top and its three decay quarks lie inside the
# jet.

# %%
generate("top-vs-qcd", EVENTS, SAMPLE, pt_min=750, pt_max=950)

# %% [markdown]
# ## The three models, from the shipped configs
#
# `configs/top-vs-qcd/` holds one config per model, all reading the dataset spec
# `data.yaml` beside them: `logistic.yaml` (one linear layer on the flattened image),
# `mlp.yaml` (three hidden layers of 64; it reads the jet substructure variables, so we
# point it at the image with `model.inputs=[image]`) and `cnn.yaml` (three convolution
# blocks of 32, 64 and 64 filters, then a dense layer of 128). The overrides below are
# those of `heplearn train CONFIG --set KEY=VALUE`.

# %%
MODELS = ("logistic", "mlp", "cnn")


def config_of(model: str) -> RunConfig:
    """The shipped config of ``model``, reading this example's sample.

    Parameters
    ----------
    model : str
        ``logistic``, ``mlp`` or ``cnn``: a config of ``configs/top-vs-qcd/``.

    Returns
    -------
    RunConfig
        The validated config with this example's files, epochs and images.
    """
    overrides = [
        f"data.sources=[{{files: ['{SAMPLE}/*.root'], tree: Events}}]",
        f"training.epochs={EPOCHS[model]}",
        "training.progress_bar=false",
        f"evaluation.bootstrap={BOOTSTRAP}",
    ]
    if model == "mlp":
        overrides.append("model.inputs=[image]")
    return load_run_config(CONFIGS / "top-vs-qcd" / f"{model}.yaml", overrides)


configs = {model: config_of(model) for model in MODELS}
image_spec = configs["cnn"].data.inputs["image"]
print(
    f"images: {image_spec.bins} x {image_spec.bins} pixels over ±{image_spec.extent} in η and φ, "
    f"channels {image_spec.channels}, centred on the {image_spec.centre}, "
    f"rotated: {image_spec.rotate}, flipped: {image_spec.flip}, "
    f"normalised to unit {image_spec.normalise}"
)

# %% [markdown]
# ## What the images look like
#
# The CNN's reduced spec (`config.model_data()`) holds only the image input, so loading
# it builds the images of every jet and nothing else. Below: one jet of each class
# and the average of all training jets of each class (charged and neutral channels
# summed, log colour scale). The average top jet has two bright regions along the
# vertical axis, onto which the rotation turns every jet's principal axis: the hard
# subjets of the top decay. The average QCD jet has a single core.

# %%
images = load_dataset(configs["cnn"].model_data(), seed=42).arrays("train")
top = images["image"][images["label"] == 1].sum(axis=1)
qcd = images["image"][images["label"] == 0].sum(axis=1)
panels = {
    "one top jet": top[0],
    "one QCD jet": qcd[0],
    "average top jet": top.mean(axis=0),
    "average QCD jet": qcd.mean(axis=0),
}
figure = Figure(figsize=(12, 3.2))
for axes, (title, image) in zip(figure.subplots(1, 4), panels.items(), strict=True):
    show_image(axes, image)
    axes.set_title(title)
save_figure(figure, f"{RUNS}/images.png")

# %% [markdown]
# ## Training
#
# `heplearn.train` writes each run directory; `history.csv` holds the losses and the
# validation AUC of every epoch, and the weights of the epoch with the lowest validation
# loss are kept.

# %%
runs = {}
for model, config in configs.items():
    print(f"training {model} for {config.training.epochs} epochs")
    runs[model] = heplearn.train(config, f"{RUNS}/{model}", overwrite=True)

figure = Figure(figsize=(11, 4))
loss_axes, auc_axes = figure.subplots(1, 2)
for model, run in runs.items():
    history = run.history()
    epochs = [row["epoch"] + 1 for row in history]
    (line,) = loss_axes.plot(
        epochs, [row["val_loss"] for row in history], marker="o", label=f"{model}, validation"
    )
    loss_axes.plot(
        epochs,
        [row["train_loss"] for row in history],
        ls="--",
        color=line.get_color(),
        label=f"{model}, training",
    )
    auc_axes.plot(epochs, [row["val_auc"] for row in history], marker="o", label=model)
loss_axes.set_xlabel("epoch")
loss_axes.set_ylabel("weighted binary cross-entropy")
loss_axes.legend(fontsize="small")
auc_axes.set_xlabel("epoch")
auc_axes.set_ylabel("validation AUC")
auc_axes.legend()
save_figure(figure, f"{RUNS}/training_history.png")

# %% [markdown]
# As in the study, the CNN learns fastest per epoch. A training loss that keeps falling
# while the validation loss stalls is the sign of overtraining: the network starts to
# learn its training jets rather than tops and QCD jets. The logistic regression learns
# slowly: its inputs, pixels holding fractions of the jet pT, are small, and its loss is
# usually still falling after its 20 epochs.
#
# ## ROC curves and background rejection: `heplearn compare`
#
# In the field, a tagger is quoted by its background rejection 1/ε_B at a fixed signal
# efficiency ε_S, and drawn as 1/ε_B against ε_S on a log scale. `heplearn compare`
# overlays the runs, divides each by the first (the ratio panel), and adds the jet mass
# used directly as the discriminant for reference.

# %%
heplearn_cli(
    "compare",
    *(f"{RUNS}/{model}" for model in MODELS),
    "--baseline",
    "jet_mass",
    "--out",
    f"{RUNS}/compare",
    "--bootstrap",
    str(BOOTSTRAP),
)
print(Path(f"{RUNS}/compare/comparison.md").read_text())
show(f"{RUNS}/compare/rejection_comparison.png")

# %% [markdown]
# ## The mistag rate at 60 % and 80 % top efficiency
#
# The study's headline numbers: for each model, the cut on the score that keeps 60 %
# (80 %) of the top jets of the test split, and the fraction of QCD jets that pass it,
# with bootstrap uncertainties, next to the values read from the study's figure.

# %%
EFFICIENCIES = [0.6, 0.8]
PUBLISHED = {"logistic": ("1/10", "—"), "mlp": ("≈1/20", "—"), "cnn": ("1/40", "1/15")}


def rejection_at(run: RunDirectory) -> tuple[np.ndarray, np.ndarray]:
    """Background rejection 1/ε_B at ε_S = 60 % and 80 % on the test split, with uncertainties.

    Parameters
    ----------
    run : RunDirectory
        A trained binary run.

    Returns
    -------
    tuple of numpy.ndarray
        The rejections and their bootstrap standard deviations.
    """
    test = run_predictions(run, splits=("test",))["test"]
    is_top = test.labels == 1
    roc = metrics.roc_curve(test.scores, is_top, test.weights)
    replicas = metrics.bootstrap_roc(
        test.scores,
        is_top,
        test.weights,
        lambda curve: metrics.background_rejection(curve, EFFICIENCIES),
        resamples=max(BOOTSTRAP, 2),
    )
    return metrics.background_rejection(roc, EFFICIENCIES), metrics.bootstrap_uncertainty(replicas)


print(f"{'model':>9} | {'1/ε_B at ε_S = 60 %':>19} | study | {'1/ε_B at ε_S = 80 %':>19} | study")
for model, run in runs.items():
    (at_60, at_80), (error_60, error_80) = rejection_at(run)
    published_60, published_80 = PUBLISHED[model]
    print(
        f"{model:>9} | {at_60:11.1f} ± {error_60:5.1f} | {published_60:>5} | "
        f"{at_80:11.1f} ± {error_80:5.1f} | {published_80:>5}"
    )

# %% [markdown]
# The published MLP value follows from the study's statement that the CNN is "a factor
# of 2 better than a multilayer perceptron"; the others are read from its text. The
# ordering — CNN above MLP above logistic regression — is the point; the absolute numbers
# depend on the pT window, the jet radius, the image preprocessing and above all the
# number of training jets.
#
# ## What the CNN finds top-like
#
# `heplearn evaluate` (here `evaluate_run`) writes metrics, plots and an HTML report into
# each run directory. For image models the report shows a gallery of test jets: the most
# top-like, the most QCD-like, the most uncertain (score nearest 0.5) and the most
# confidently wrong, each titled with its true class and score, and the average image of
# each class. As in the study, the most top-like jets show three prongs and the most
# QCD-like a single hard core; the confidently wrong ones are QCD jets with top-like
# substructure and top jets whose energy sits in one subjet.

# %%
for model, run in runs.items():
    result = evaluate_run(run)
    print(f"{model}: AUC {result.evaluation.metrics['auc']:.3f}; report {result.report_path}")
print(f"galleries: {RUNS}/cnn/plots/gallery.png (and .pdf), {RUNS}/cnn/plots/class_averages.png")
show(f"{RUNS}/cnn/plots/gallery.png")
show(f"{RUNS}/cnn/plots/class_averages.png")
