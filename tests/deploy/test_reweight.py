"""``heplearn reweight``: weights beside the events, the density ratio, refusals named."""

from pathlib import Path

import numpy as np
import pytest
import uproot

from helpers import run_heplearn
from heplearn.cli import USER_ERROR_EXIT_CODE
from heplearn.deploy.reweight import (
    WEIGHT_BRANCH,
    WEIGHTS_TREE,
    reweight_files,
    weights_from_scores,
)
from heplearn.errors import ConfigError, InputError, OutputError
from heplearn.training.fit import train

# trains reweighting runs on generated events
pytestmark = pytest.mark.slow

EVENTS = 3000
SHIFT, WIDTH = 0.8, 1.2
FEATURES = ["x_shifted", "x_wider"]


def write_sample(path: Path, *, shift: float, width: float, seed: int, events: int = EVENTS):
    generator = np.random.default_rng(seed)
    with uproot.recreate(path) as file:
        file["Events"] = {
            "x_shifted": generator.normal(shift, 1.0, events),
            "x_wider": generator.normal(0.0, width, events),
        }
    return path


def true_log_ratio(x_shifted: np.ndarray, x_wider: np.ndarray) -> np.ndarray:
    """log p_target / p_source of the two Gaussian features (up to a constant)."""
    return SHIFT * x_shifted - x_wider**2 / 2 * (1 / WIDTH**2 - 1)


def run_config(folder: Path, classes: int = 2) -> dict:
    names = ["nominal", "varied", "third"][:classes]
    shapes = [(0.0, 1.0), (SHIFT, WIDTH), (-1.0, 0.7)]
    sources = [
        {
            "files": [str(write_sample(folder / f"{name}.root", shift=s, width=w, seed=index))],
            "label": name,
        }
        for index, (name, (s, w)) in enumerate(zip(names, shapes, strict=False))
    ]
    data = {
        "sources": sources,
        "classes": names,
        "inputs": {"features": {"kind": "tabular", "columns": FEATURES}},
        "weights": {"balance_classes": True},
    }
    model = {"name": "bdt", "max_iter": 100, "learning_rate": 0.05, "max_leaf_nodes": 4}
    return {"seed": 1, "data": data, "model": model}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("reweight")


@pytest.fixture(scope="module")
def run(folder):
    return train(run_config(folder), folder / "run")


@pytest.fixture
def source(folder, tmp_path):
    """A fresh source-like file (not the training one), in its own folder."""
    return write_sample(tmp_path / "new_nominal.root", shift=0.0, width=1.0, seed=99, events=2500)


def read_weights(path: Path) -> np.ndarray:
    return uproot.open(path)[WEIGHTS_TREE][WEIGHT_BRANCH].array(library="np")


def test_weights_are_written_beside_the_events_one_per_entry(run, source):
    written = reweight_files(run, [source], chunk_entries=700)
    assert written[0].output == source.parent / "new_nominal_weights.root"
    weights = read_weights(written[0].output)
    assert written[0].entries == len(weights) == 2500
    assert np.all(np.isfinite(weights))
    assert np.all(weights > 0)
    assert weights.mean() == pytest.approx(1.0, rel=1e-4)


def test_the_weights_estimate_the_density_ratio(run, source):
    weights = read_weights(reweight_files(run, [source])[0].output)
    events = uproot.open(source)["Events"].arrays(FEATURES, library="np")
    truth = true_log_ratio(events["x_shifted"], events["x_wider"])
    assert np.corrcoef(np.log(weights), truth)[0, 1] > 0.9
    # reweighted source moments move to the target's (mean 0.8, width 1.4)
    mean = np.average(events["x_shifted"], weights=weights)
    spread = np.sqrt(np.average(events["x_wider"] ** 2, weights=weights))
    assert mean == pytest.approx(SHIFT, abs=0.15)
    assert spread == pytest.approx(WIDTH, abs=0.15)


def test_several_files_share_one_normalisation_and_can_go_elsewhere(run, source, tmp_path):
    other = write_sample(tmp_path / "other.root", shift=0.0, width=1.0, seed=7, events=500)
    written = reweight_files(run, [source, other], tmp_path / "weights", normalise=True)
    assert [item.output.parent for item in written] == [tmp_path / "weights"] * 2
    weights = np.concatenate([read_weights(item.output) for item in written])
    assert len(weights) == 3000
    assert weights.mean() == pytest.approx(1.0, rel=1e-4)
    raw = reweight_files(run, [other], tmp_path / "raw", normalise=False)
    assert read_weights(raw[0].output).mean() != pytest.approx(1.0, rel=1e-4)


def test_existing_weights_need_overwrite(run, source):
    reweight_files(run, [source])
    with pytest.raises(OutputError, match="--overwrite"):
        reweight_files(run, [source])
    reweight_files(run, [source], overwrite=True)


def test_the_clip_bounds_the_weights():
    weights = weights_from_scores(np.array([0.0, 0.5, 1.0]), clip=0.01)
    np.testing.assert_allclose(weights, [0.01 / 0.99, 1.0, 0.99 / 0.01])
    with pytest.raises(ConfigError, match="clip"):
        weights_from_scores(np.array([0.5]), clip=0.5)


def test_files_without_the_run_variables_are_refused_by_name(run, tmp_path):
    unrelated = tmp_path / "leptons.root"
    with uproot.recreate(unrelated) as file:
        file["Events"] = {"mll": np.ones(4), "ptll": np.ones(4)}
    with pytest.raises(InputError, match="none of the variables") as error:
        reweight_files(run, [unrelated], tmp_path / "out")
    assert "x_shifted" in str(error.value)
    assert "x_wider" in str(error.value)
    assert str(unrelated) in str(error.value)
    partial = tmp_path / "partial.root"
    with uproot.recreate(partial) as file:
        file["Events"] = {"x_shifted": np.ones(4)}
    with pytest.raises(InputError, match=r"partial.root.*lacks the branch\(es\) x_wider"):
        reweight_files(run, [partial], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_multiclass_run_is_refused(tmp_path):
    multiclass = train(run_config(tmp_path, classes=3), tmp_path / "three")
    with pytest.raises(ConfigError, match="three is a multiclass run; reweighting needs a binary"):
        reweight_files(multiclass, [tmp_path / "nominal.root"])


def test_the_cli_writes_weights_and_names_bad_input(run, source, tmp_path):
    result = run_heplearn("reweight", str(run.path), str(source), "--out", str(tmp_path / "w"))
    assert result.returncode == 0, result.stderr
    assert "new_nominal_weights.root (2500 entries, tree Weights)" in result.stdout
    assert len(read_weights(tmp_path / "w" / "new_nominal_weights.root")) == 2500
    neither = run_heplearn("reweight", str(run.path))
    assert neither.returncode == USER_ERROR_EXIT_CODE
    assert "--closure" in neither.stderr
    assert len(neither.stderr.strip().splitlines()) == 1
