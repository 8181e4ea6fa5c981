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
# # A survey of architectures
#
# Each kind of data has the network that respects its structure. This example follows
# the survey of architectures of the CoDaS-HEP 2024 machine-learning lessons
# (J. Pivarski, lesson 4) with heplearn's models and generated samples:
#
# - **images** → a convolutional network: five jet classes (g, q, W, Z, t) and their
#   confusion matrix;
# - **ragged collections** → Deep Sets: the muons of H → ZZ* → 4ℓ events, straight from
#   awkward arrays, learned independently of their order;
# - **particle clouds as graphs** → ParticleNet-Lite (EdgeConv on k-nearest-neighbour
#   graphs), and **as sequences with attention** → a small Particle Transformer, both
#   on top against QCD jets;
# - **autoencoders** → a two-dimensional embedding of jet substructure, per class.
#
# Run it with `.venv/bin/python examples/architectures.py` (about 20 minutes on two
# cores), or with `HEPLEARN_EXAMPLES_SMALL=1` for a two-minute check.

# %%
from pathlib import Path

import awkward as ak
import numpy as np
import uproot
from common import (
    CONFIGS,
    generate,
    heplearn_cli,
    show,
    size,
    work_in_output_root,
)

import heplearn
from heplearn.evaluation.runs import evaluate_run
from heplearn.training.config import load_run_config

work_in_output_root()
BOOTSTRAP = size(10, 100)
RUNS = "runs/examples/architectures"

# %% [markdown]
# ## Convolutional network on five classes of jet images
#
# The `jets5` sample holds the five classes of the hls4ml jet data set near pT = 1 TeV:
# gluon and light-quark jets, and W, Z and top jets whose decay products all lie inside
# the jet. The calorimeter detector model (`--detector calo`) turns neutral particles
# into calorimeter cells, as in the data set's images. The CNN is `configs/jets5/cnn.yaml`:
# three blocks of convolution, batch normalisation and 2 × 2 max-pooling on a 40 × 40
# image, then a dense layer and five outputs with a softmax.

# %%
JETS5 = "data/examples/jets5"
generate("jets5", size(40, 1000), JETS5, detector="calo")
cnn_config = load_run_config(
    CONFIGS / "jets5" / "cnn.yaml",
    [
        f"data.sources=[{{files: ['{JETS5}/*.root'], tree: Events}}]",
        f"training.epochs={size(1, 10)}",
        "training.progress_bar=false",
        f"evaluation.bootstrap={BOOTSTRAP}",
    ],
)
cnn = heplearn.train(cnn_config, f"{RUNS}/jets5-cnn", overwrite=True)
cnn_metrics = evaluate_run(cnn).evaluation.metrics

# %% [markdown]
# The confusion matrix counts the test jets of each true class (row) by the class the
# network finds most probable (column); normalised per row, its diagonal is the fraction
# of each class identified correctly. Next to it, the diagonal of the lesson's matrix
# (its CNN on 20 × 20 hls4ml images, counted on all its jets): both confuse gluons with
# quarks and Z with W bosons, whose jets differ only by the boson mass and the quark
# flavours.

# %%
CLASSES = cnn_config.data.classes
LESSON_ORDER = ["g", "q", "t", "W", "Z"]
LESSON_COUNTS = np.array(  # rows: true class, columns: predicted class, in LESSON_ORDER
    [
        [4433, 5166, 3105, 2629, 694],
        [3652, 8662, 1347, 1652, 415],
        [635, 95, 11915, 1927, 1503],
        [1502, 956, 195, 12425, 1022],
        [998, 869, 556, 6444, 7203],
    ]
)
lesson_diagonal = {
    name: LESSON_COUNTS[index, index] / LESSON_COUNTS[index].sum()
    for index, name in enumerate(LESSON_ORDER)
}
matrix = np.array(cnn_metrics["confusion_matrix_normalised"])
print(f"accuracy {cnn_metrics['accuracy']:.3f}; rows: true class, columns: predicted class")
print("true |" + "".join(f"{name:>7}" for name in CLASSES) + " | lesson")
for index, name in enumerate(CLASSES):
    row = "".join(f"{value:7.2f}" for value in matrix[index])
    print(f"{name:>4} |{row} | {lesson_diagonal[name]:6.2f}")
show(f"{RUNS}/jets5-cnn/plots/confusion_matrix_normalised.png")

# %% [markdown]
# ## Deep Sets on ragged muons, from awkward arrays
#
# In the `higgs-4l` sample every event has its own number of electrons and muons, stored
# as ragged (jagged) branches. uproot reads them as awkward arrays, one list per event,
# with no detour through Python lists.

# %%
HIGGS = "data/examples/higgs-4l"
generate("higgs-4l", size(100, 3000), HIGGS)
events = uproot.concatenate(f"{HIGGS}/higgs_*.root:Events", filter_name="muon_*")
print(events.type)
print("muon pT of the first events:", events.muon_pt[:4].tolist())
counts = ak.num(events.muon_pt)
print("events with 0, 1, 2, ... muons:", np.bincount(ak.to_numpy(counts)).tolist())

# %% [markdown]
# A network that reads a padded array of muons would learn their order and the padding
# values. A Deep Set (Zaheer et al., 2017) is permutation invariant by construction:
# the same network Φ maps every muon to a latent vector, the vectors are summed over
# the muons of the event, and a second network F maps the sum to the output,
# `F(Σᵢ Φ(μᵢ))`. If Φ learns the muon four-momenta, F can form the invariant mass of
# their sum — the variable that finds the Higgs boson.
#
# In the dataset spec, a `particles` input lists per-muon columns (expressions of the
# ragged branches, here the four-momentum of a massless muon and its charge); heplearn
# pads them to `length` muons with vectorised awkward operations and passes a mask of
# the real ones, which the sum respects. Events with fewer than two muons (4e) carry no
# information for this network and are left out.

# %%
muon_data = {
    "sources": [
        {"files": [f"{HIGGS}/higgs_*.root"], "tree": "Events", "label": "higgs"},
        {"files": [f"{HIGGS}/zz_*.root"], "tree": "Events", "label": "zz"},
    ],
    "classes": ["zz", "higgs"],
    "selection": "nmuon >= 2",
    "inputs": {
        "muons": {
            "kind": "particles",
            "columns": [
                "muon_pt * cos(muon_phi)",
                "muon_pt * sin(muon_phi)",
                "muon_pt * sinh(muon_eta)",
                "muon_pt * cosh(muon_eta)",
                "muon_charge",
            ],
            "length": 6,
            "sort_by": "muon_pt",
        }
    },
}
deepsets_config = {
    "seed": 42,
    "data": muon_data,
    "model": {"name": "deepsets", "phi": [64, 64, 64], "f": [64, 64]},
    "training": {
        "epochs": size(2, 30),
        "batch_size": 128,
        "schedule": {"name": "cosine"},
        "early_stopping": {"patience": 5},
        "progress_bar": False,
    },
    "evaluation": {"observers": ["m4l"], "bootstrap": BOOTSTRAP},
}
deepsets = heplearn.train(deepsets_config, f"{RUNS}/higgs-deepsets", overwrite=True)
print(f"Deep Sets on muons: test AUC {evaluate_run(deepsets).evaluation.metrics['auc']:.3f}")

# %% [markdown]
# For reference, the four-lepton mass itself, used as a discriminant through a window
# around 125 GeV (`-abs(m4l - 125)`: the closer, the more Higgs-like), on the same test
# events.

# %%
heplearn_cli(
    "compare",
    f"{RUNS}/higgs-deepsets",
    "--baseline",
    "-abs(m4l - 125)",
    "--out",
    f"{RUNS}/higgs-compare",
    "--bootstrap",
    str(BOOTSTRAP),
)
print(Path(f"{RUNS}/higgs-compare/comparison.md").read_text())
show(f"{RUNS}/higgs-deepsets/plots/scores.png")

# %% [markdown]
# ## Graphs and attention on jet constituents: ParticleNet-Lite and ParT
#
# A jet is a cloud of particles. ParticleNet (Qu and Gouskos, arXiv:1902.08570) treats
# it as a graph: each EdgeConv block connects every particle to its k nearest
# neighbours (first in η–φ, then in the learned feature space) and learns from the
# pairs. The Particle Transformer (Qu, Li and Qian, arXiv:2202.03772) lets every
# particle attend to every other, with the attention biased by pairwise physics
# features (ΔR, kT, z, the pair mass) computed from the four-vectors. We train the
# CPU-sized versions of both, `configs/top-vs-qcd/particlenet-lite.yaml` and
# `part-small.yaml`, on the same top and QCD jets (pT 550–650 GeV).

# %%
TOP_VS_QCD = "data/examples/top-vs-qcd"
generate("top-vs-qcd", size(300, 2000), TOP_VS_QCD)
cloud_runs = {}
CONSTITUENTS = size(30, 100)  # constituents kept per jet (fewer for the quick check)
for model, epochs in (("particlenet-lite", size(1, 8)), ("part-small", size(1, 6))):
    config = load_run_config(
        CONFIGS / "top-vs-qcd" / f"{model}.yaml",
        [
            f"data.sources=[{{files: ['{TOP_VS_QCD}/*.root'], tree: Events}}]",
            f"data.inputs.particles.length={CONSTITUENTS}",
            f"data.inputs.vectors.length={CONSTITUENTS}",
            f"training.epochs={epochs}",
            "training.progress_bar=false",
            f"evaluation.bootstrap={BOOTSTRAP}",
        ],
    )
    cloud_runs[model] = heplearn.train(config, f"{RUNS}/{model}", overwrite=True)
    history = cloud_runs[model].history()
    seconds = sum(row["seconds"] for row in history)
    last_auc = history[-1]["val_auc"]
    print(f"{model}: {len(history)} epochs in {seconds:.0f} s, last validation AUC {last_auc:.3f}")

# %%
heplearn_cli(
    "compare",
    *(f"{RUNS}/{model}" for model in cloud_runs),
    "--baseline",
    "jet_mass",
    "--out",
    f"{RUNS}/cloud-compare",
    "--bootstrap",
    str(BOOTSTRAP),
)
print(Path(f"{RUNS}/cloud-compare/comparison.md").read_text())
show(f"{RUNS}/cloud-compare/rejection_comparison.png")

# %% [markdown]
# ## Autoencoder embedding
#
# An autoencoder learns to reconstruct the seven jet substructure variables of the
# `jets5` jets (mass, soft-drop mass, τ21, τ32, C2, D2, constituent count) through a
# two-dimensional bottleneck. It is never told the classes: the two latent coordinates
# are what it needs to reconstruct a jet. Drawn per true class, the embedding shows
# which classes the substructure separates on its own; k-means with five clusters on the
# embedding, compared with the true classes, puts a number on it (the adjusted Rand
# index: 1 when the clusters are the classes, 0 by chance).

# %%
autoencoder_config = {
    "seed": 42,
    "data": cnn_config.data.model_dump(mode="json"),
    "model": {"name": "autoencoder", "inputs": ["jet"], "widths": [32, 16], "latent_dim": 2},
    "training": {
        "epochs": size(2, 30),
        "batch_size": 128,
        "optimizer": {"lr": 0.003, "weight_decay": 0.0},
        "progress_bar": False,
    },
    "evaluation": {"bootstrap": BOOTSTRAP},
}
autoencoder = heplearn.train(autoencoder_config, f"{RUNS}/jets5-autoencoder", overwrite=True)
clustering = evaluate_run(autoencoder).evaluation.metrics["clustering"]
print(f"adjusted Rand index of k-means clusters: {clustering['adjusted_rand_index']:.2f}")
print("true |" + "".join(f"{f'c{k + 1}':>7}" for k in range(clustering["clusters"])))
for name, row in clustering["contingency"].items():
    total = sum(row) or 1.0
    print(f"{name:>4} |" + "".join(f"{value / total:7.2f}" for value in row))
show(f"{RUNS}/jets5-autoencoder/plots/embedding.png")

# %% [markdown]
# ## Summary
#
# One dataset spec per kind of input — `image`, `particles` (padded, with a mask) and
# `tabular` — and one model name per architecture: `cnn`, `deepsets`/`pfn`,
# `particlenet-lite`, `part-small`, `autoencoder`. Every run directory holds what
# `heplearn evaluate`, `predict` and `export` need; the reports are under
# `runs/examples/architectures/`.

# %%
for path in sorted(Path(RUNS).glob("*/report.html")):
    print(path)
