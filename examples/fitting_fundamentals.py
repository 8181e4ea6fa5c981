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
# # Fitting fundamentals: regression, under- and over-fitting, regularisation
#
# Before architectures come the questions every fit raises, whether the model is a
# straight line or a deep network: how flexible should it be, how do we know it learnt
# the physics rather than the statistical fluctuations of its training sample, and how
# do we hold it back? This example works through them on top and QCD jets (the
# `top-vs-qcd` sample, leading-jet pT 550–650 GeV):
#
# 1. linear least squares and polynomials of rising degree: under-fitting, over-fitting
#    and the validation curve;
# 2. a regression with heplearn (`target:` in the dataset spec): the jet mass from
#    substructure variables, linear against an MLP, judged by MAE, R² and the parity
#    plot of `heplearn evaluate`;
# 3. logistic regression and networks of rising width on few training jets: training and
#    validation loss per epoch;
# 4. regularisation: L1 and L2 penalties on a logistic regression, and an L2 penalty on
#    the weights of a logistic regression of jet images.
#
# Run it with `.venv/bin/python examples/fitting_fundamentals.py` (about 10 minutes on
# two cores), or with `HEPLEARN_EXAMPLES_SMALL=1` for a one-minute check.

# %%
import json

import numpy as np
import torch
import uproot
from common import generate, heplearn_cli, save_figure, show, size, work_in_output_root
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression

import heplearn
from heplearn.data.dataset import load_dataset
from heplearn.data.spec import DatasetSpec

work_in_output_root()
EVENTS = size(300, 2000)  # jets per class
EPOCHS = size(2, 30)
SCAN_EPOCHS = size(2, 60)  # long enough for the wide networks to over-fit
SAMPLE = "data/examples/top-vs-qcd"
RUNS = "runs/examples/fitting_fundamentals"
SOURCES = [{"files": [f"{SAMPLE}/*.root"], "tree": "Events"}]
SUBSTRUCTURE = ["jet_sdmass", "jet_tau21", "jet_tau32", "jet_c2", "jet_d2", "jet_nparticles"]

generate("top-vs-qcd", EVENTS, SAMPLE)

# %% [markdown]
# ## 1. Least squares and the degree of a polynomial
#
# Soft drop removes soft, wide-angle radiation from a jet; the ungroomed mass is larger
# than the groomed one by an amount that depends on the jet. We predict the jet mass
# from the soft-drop mass of QCD jets with polynomials of degree 0 to 12, fitted by least
# squares on only 25 jets and judged on all the others.
#
# A straight line is linear regression: the coefficients minimising the squared
# residuals solve the normal equations, which `numpy.linalg.lstsq` solves for us.

# %%
events = uproot.concatenate(
    f"{SAMPLE}/*.root:Events", ["jet_sdmass", "jet_mass", "is_signal"], library="np"
)
is_qcd = events["is_signal"] == 0
soft_drop = events["jet_sdmass"][is_qcd] / 100  # in units of 100 GeV
jet_mass = events["jet_mass"][is_qcd] / 100
fit_events = 25
x_fit, y_fit = soft_drop[:fit_events], jet_mass[:fit_events]
x_check, y_check = soft_drop[fit_events:], jet_mass[fit_events:]

design = np.stack([np.ones_like(x_fit), x_fit], axis=1)
(intercept, slope), *_ = np.linalg.lstsq(design, y_fit, rcond=None)
print(f"straight line: jet mass = {100 * intercept:.1f} GeV + {slope:.3f} x soft-drop mass")

# %% [markdown]
# Now the validation curve: the mean squared error on the 25 fitted jets always falls
# as the degree rises (a more flexible model can always follow its points more closely),
# while on the other jets it falls, flattens and rises again once the polynomial follows
# the fluctuations of its 25 jets. Too low a degree under-fits, too high over-fits.

# %%
degrees = np.arange(13)
fit_error, check_error, fits = [], [], {}
for degree in degrees:
    polynomial = np.polynomial.Polynomial.fit(x_fit, y_fit, degree)
    fits[degree] = polynomial
    fit_error.append(np.mean((polynomial(x_fit) - y_fit) ** 2))
    check_error.append(np.mean((polynomial(x_check) - y_check) ** 2))
best_degree = int(degrees[np.argmin(check_error)])
print(f"lowest validation error at degree {best_degree}")

figure = Figure(figsize=(11, 4))
curve_axes, fit_axes = figure.subplots(1, 2)
curve_axes.plot(degrees, fit_error, marker="o", label="25 fitted jets")
curve_axes.plot(degrees, check_error, marker="o", label=f"{len(x_check)} other jets")
curve_axes.set_yscale("log")
curve_axes.set_xlabel("polynomial degree")
curve_axes.set_ylabel("mean squared error [(100 GeV)²]")
curve_axes.legend()
grid = np.linspace(x_fit.min(), x_fit.max(), 200)
fit_axes.scatter(x_check[:500], y_check[:500], s=4, color="lightgrey", label="other jets")
fit_axes.scatter(x_fit, y_fit, s=14, color="black", label="fitted jets")
for degree in (0, 1, best_degree, 12):
    fit_axes.plot(grid, fits[degree](grid), label=f"degree {degree}")
fit_axes.set_ylim(0, 2.5)
fit_axes.set_xlabel("soft-drop mass [100 GeV]")
fit_axes.set_ylabel("jet mass [100 GeV]")
fit_axes.legend(fontsize="small")
save_figure(figure, f"{RUNS}/polynomials.png")

# %% [markdown]
# ## 2. A regression with heplearn: the jet mass from substructure
#
# A dataset spec with `target:` instead of labels is a regression. The inputs are the
# substructure variables without the mass itself; the target is the jet mass in GeV.
# heplearn standardises the inputs and, for the network, the target too (with the
# training split's mean and standard deviation, kept in the run), so that targets in any
# unit suit the initial weights; predictions and metrics come back in GeV. With a
# regression target the `logistic` model (one linear layer, mean squared error) *is*
# linear regression; the MLP adds hidden layers. The linear model, with few parameters
# and a convex loss, takes a larger learning rate than the MLP. Top and QCD jets are
# mixed, so the mass ranges from a few GeV to beyond the top mass.

# %%
regression_data = {
    "sources": SOURCES,
    "target": "jet_mass",
    "inputs": {"substructure": {"kind": "tabular", "columns": SUBSTRUCTURE}},
}
regressions = {}
for name, model, learning_rate in (
    ("linear", {"name": "logistic"}, 0.01),
    ("mlp", {"name": "mlp", "widths": [64, 64]}, 0.001),
):
    training = {
        "epochs": EPOCHS,
        "batch_size": 128,
        "optimizer": {"lr": learning_rate},
        "progress_bar": False,
    }
    config = {"seed": 42, "data": regression_data, "model": model, "training": training}
    regressions[name] = heplearn.train(config, f"{RUNS}/mass-{name}", overwrite=True)

# %% [markdown]
# `heplearn evaluate` writes the regression metrics into `metrics.json` — the mean
# absolute error, the root mean squared error, the mean residual (bias) and the
# coefficient of determination R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², all weighted and on the
# test split — and draws the parity plot (predicted against true) and the residuals in
# bins of the true value.

# %%
for name, run in regressions.items():
    heplearn_cli("evaluate", str(run.path))
    values = json.loads((run.path / "metrics.json").read_text())
    print(
        f"{name}: MAE {values['mae']:.1f} GeV, RMSE {values['rmse']:.1f} GeV, "
        f"bias {values['bias']:+.1f} GeV, R² {values['r2']:.3f} "
        f"(training split: R² {values['train']['r2']:.3f})"
    )
show(f"{RUNS}/mass-linear/plots/parity.png")
show(f"{RUNS}/mass-mlp/plots/parity.png")

# %% [markdown]
# The linear model's coefficients belong to the standardised inputs and target: times
# the target's standard deviation, each is the change of the predicted mass for a change
# of one standard deviation in its variable.

# %%
linear = regressions["linear"]
mass_mean, mass_spread = linear.task().target_mean, linear.task().target_std
print(f"jet mass: mean {mass_mean:.1f} GeV, standard deviation {mass_spread:.1f} GeV")
linear_weights = torch.load(linear.path / "model.pt", weights_only=True)
for name, value in zip(SUBSTRUCTURE, linear_weights["head.output.weight"][0].tolist(), strict=True):
    print(f"{name:>15}: {mass_spread * value:+7.1f} GeV per standard deviation")

# %% [markdown]
# ## 3. Classification: model size and over-fitting
#
# Logistic regression is the linear model of classification: a weighted sum of the
# inputs through a sigmoid, trained with the binary cross-entropy. Networks with hidden
# layers of rising width can draw more and more complicated boundaries between top and
# QCD jets. To make over-fitting visible we train on only 10 % of the jets and let every
# network run for the same number of epochs, without early stopping.

# %%
classification_data = {
    "sources": SOURCES,
    "label": "is_signal",
    "classes": ["qcd", "top"],
    "inputs": {"substructure": {"kind": "tabular", "columns": SUBSTRUCTURE}},
    "split": {"train": 0.1, "validation": 0.3, "test": 0.6},
}
scan_training = {"epochs": SCAN_EPOCHS, "batch_size": 32, "progress_bar": False}
WIDTHS = (2, 8, 32, 128, 512)
models = {"logistic": {"name": "logistic"}} | {
    f"mlp-{width}": {"name": "mlp", "widths": [width, width]} for width in WIDTHS
}
histories = {}
for name, model in models.items():
    config = {"seed": 42, "data": classification_data, "model": model, "training": scan_training}
    histories[name] = heplearn.train(config, f"{RUNS}/size-{name}", overwrite=True).history()
    last = histories[name][-1]
    print(
        f"{name:>9}: after {len(histories[name])} epochs training loss {last['train_loss']:.3f}, "
        f"validation loss {last['val_loss']:.3f}, validation AUC {last['val_auc']:.3f}"
    )

# %% [markdown]
# Left, the validation curve: the losses after the last epoch against the width of the
# hidden layers. Right, the loss per epoch of the widest network: its training loss keeps
# falling while its validation loss, past its minimum, rises — the epoch of the minimum is
# where early stopping (`training.early_stopping`) would have kept the weights.

# %%
figure = Figure(figsize=(11, 4))
size_axes, epoch_axes = figure.subplots(1, 2)
size_axes.plot(
    WIDTHS, [histories[f"mlp-{w}"][-1]["train_loss"] for w in WIDTHS], marker="o", label="training"
)
size_axes.plot(
    WIDTHS, [histories[f"mlp-{w}"][-1]["val_loss"] for w in WIDTHS], marker="o", label="validation"
)
size_axes.axhline(
    histories["logistic"][-1]["val_loss"], ls=":", color="grey", label="logistic, validation"
)
size_axes.set_xscale("log")
size_axes.set_xlabel("width of the two hidden layers")
size_axes.set_ylabel("binary cross-entropy after the last epoch")
size_axes.legend()
widest = histories[f"mlp-{WIDTHS[-1]}"]
epochs = [row["epoch"] + 1 for row in widest]
epoch_axes.plot(epochs, [row["train_loss"] for row in widest], label="training")
epoch_axes.plot(epochs, [row["val_loss"] for row in widest], label="validation")
epoch_axes.set_xlabel("epoch")
epoch_axes.set_ylabel(f"loss, hidden layers of {WIDTHS[-1]}")
epoch_axes.legend()
save_figure(figure, f"{RUNS}/model_size.png")

# %% [markdown]
# ## 4. Regularisation
#
# A penalty on the size of the weights, added to the loss, holds a flexible model back:
# λ Σ|w| (L1, lasso) or λ Σw² (L2, ridge). scikit-learn's `LogisticRegression` takes
# the inverse strength C = 1/λ; `l1_ratio` chooses L1 (1) or L2 (0). On the standardised
# substructure variables of the training split, as the penalty grows (C falls) every
# coefficient shrinks towards zero; with L1 they reach exactly zero one after another,
# which selects the variables that matter most.

# %%
dataset = load_dataset(DatasetSpec.model_validate(classification_data | {"split": {}}), seed=42)
train = dataset.arrays("train")
strengths = np.logspace(-3, 1, 13)
paths = {}
for penalty, l1_ratio in (("L1", 1.0), ("L2", 0.0)):
    paths[penalty] = np.array(
        [
            LogisticRegression(C=c, l1_ratio=l1_ratio, solver="saga", max_iter=5000)
            .fit(train["substructure"], train["label"], sample_weight=train["weight"])
            .coef_[0]
            for c in strengths
        ]
    )
print("variables kept by L1 (non-zero coefficients) against C:")
for c, coefficients in zip(strengths, paths["L1"], strict=True):
    kept = [name for name, value in zip(SUBSTRUCTURE, coefficients, strict=True) if value != 0]
    print(f"  C = {c:8.3f}: {', '.join(kept) or 'none'}")

figure = Figure(figsize=(11, 4))
for axes, (penalty, path) in zip(figure.subplots(1, 2, sharey=True), paths.items(), strict=True):
    for index, name in enumerate(SUBSTRUCTURE):
        axes.plot(strengths, path[:, index], marker=".", label=name)
    axes.set_xscale("log")
    axes.set_xlabel("C = 1/λ (weaker penalty →)")
    axes.set_title(f"{penalty} penalty")
    axes.axhline(0, color="black", lw=0.5)
axes.legend(fontsize="small")
figure.axes[0].set_ylabel("coefficient of the standardised variable")
save_figure(figure, f"{RUNS}/regularisation_paths.png")

# %% [markdown]
# The same with heplearn: `training.optimizer.weight_decay` adds the L2 penalty to the
# gradient (with `name: adam`; `adamw`, the default, decays the weights directly, which
# for plain gradient descent is the same thing). A logistic regression of 20 × 20 jet
# images (each divided by its hardest pixel, so that pixels lie between 0 and 1) has one
# weight per pixel: its weights form an image, the template the model compares each jet
# with — red pixels pull towards top, blue towards QCD.
#
# Without a penalty the template is red almost everywhere (a top jet lights more pixels)
# and blue at the hard core of QCD jets; the pixels near the edges, which few jets
# reach, keep weights that those few jets (or the random start) set. A mild penalty
# clears them and keeps the structure; a strong one leaves little but the core, and the
# validation loss rises: the model now under-fits.

# %%
image_data = {
    "sources": SOURCES,
    "label": "is_signal",
    "classes": ["qcd", "top"],
    "inputs": {
        "image": {
            "kind": "image",
            "bins": 20,
            "extent": 0.8,
            "rotate": True,
            "flip": True,
            "normalise": "max",
        }
    },
}
DECAYS = (0.0, 0.001, 0.1)
templates = {}
for decay in DECAYS:
    config = {
        "seed": 42,
        "data": image_data,
        "model": {"name": "logistic"},
        "training": {
            "epochs": EPOCHS,
            "batch_size": 64,
            "optimizer": {"name": "adam", "lr": 1e-3, "weight_decay": decay},
            "progress_bar": False,
        },
    }
    run = heplearn.train(config, f"{RUNS}/image-l2-{decay:g}", overwrite=True)
    weights = torch.load(run.path / "model.pt", weights_only=True)["head.output.weight"][0]
    templates[decay] = weights.reshape(20, 20).numpy()
    print(
        f"weight decay {decay:g}: |w| = {weights.norm():.2f}, "
        f"best validation loss {run.info()['best_val_loss']:.4f}"
    )

figure = Figure(figsize=(11, 3.6))
for axes, (decay, template) in zip(figure.subplots(1, len(DECAYS)), templates.items(), strict=True):
    limit = np.abs(template).max()
    shown = axes.imshow(template, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes.set_title(f"weight decay {decay:g}")
    axes.set_xticks([])
    axes.set_yticks([])
    figure.colorbar(shown, ax=axes, shrink=0.8)
save_figure(figure, f"{RUNS}/image_templates.png")
