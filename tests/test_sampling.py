"""``heplearn sample``: a trained flow (and a diffusion model) draws events into ROOT files."""

import math

import numpy as np
import pytest
import uproot
from typer.testing import CliRunner

from helpers import TINY_DDPM, assert_one_line_error, flow_config, run_config
from heplearn.cli import app
from heplearn.errors import ConfigError, OutputError
from heplearn.sampling import parse_condition_ranges, safe_branch_name, sample_run
from heplearn.training.fit import train

JET_BRANCHES = ["jet_mass", "jet_sdmass", "jet_tau21", "jet_tau32", "jet_d2"]


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


@pytest.fixture(scope="module")
def flow_run(top, tmp_path_factory):
    return train(flow_config(top, epochs=3, batch_size=64), tmp_path_factory.mktemp("flow") / "run")


def _invoke(*arguments):
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def _read(path):
    return uproot.open(path)["Events"].arrays(library="np")


def test_the_flow_learns_on_a_generated_sample(flow_run):
    history = flow_run.history()
    assert len(history) == 3
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert all(math.isfinite(row["val_loss"]) for row in history)
    assert flow_run.task().kind == "generative"


def test_sample_writes_a_root_file_in_physical_units(flow_run, tmp_path):
    out = tmp_path / "drawn" / "jets.root"
    result = _invoke("sample", flow_run.path, "--n", 500, "--out", out, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert f"wrote 500 events to {out}" in result.stdout
    tree = uproot.open(out)["Events"]
    assert tree.keys() == [*JET_BRANCHES, "jet_pt"]
    events = tree.arrays(library="np")
    assert all(len(values) == 500 for values in events.values())
    assert all(np.isfinite(values).all() for values in events.values())
    # conditions resampled from the test split: jets of 550-650 GeV
    assert 550 <= events["jet_pt"].min() <= events["jet_pt"].max() <= 650
    # de-standardised: jet masses of tens to hundreds of GeV, not standardised values
    assert 30 < np.median(events["jet_mass"]) < 250
    assert [path.name for path in out.parent.iterdir()] == ["jets.root"]


def test_conditions_drawn_in_a_range_stay_in_it(flow_run, tmp_path):
    sample_run(flow_run.path, 300, tmp_path / "range.root", conditions_from={"jet_pt": (600, 610)})
    pt = _read(tmp_path / "range.root")["jet_pt"]
    assert 600 <= pt.min() <= pt.max() <= 610
    assert pt.std() > 1  # spread over the range, not a single value
    result = _invoke(
        "sample",
        flow_run.path,
        "-n",
        50,
        "-o",
        tmp_path / "fixed.root",
        "--condition",
        "jet_pt=620",
    )
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "fixed.root")["jet_pt"], np.float32(620))


def test_the_same_seed_draws_the_same_events(flow_run, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        sample_run(flow_run.path, 200, tmp_path / f"{name}.root", seed=seed)
    first, second, other = (_read(tmp_path / f"{name}.root") for name in "abc")
    for branch in first:
        np.testing.assert_array_equal(first[branch], second[branch])
    assert not np.array_equal(first["jet_mass"], other["jet_mass"])


def test_sampling_a_classifier_is_refused(top, tmp_path):
    run = train(run_config(top, {"name": "logistic", "inputs": ["jet"]}, epochs=1), tmp_path / "x")
    out = tmp_path / "drawn.root"
    result = _invoke("sample", run.path, "--n", 10, "--out", out)
    assert_one_line_error(
        result,
        f"{run.path} is a binary run of model 'logistic'",
        "heplearn sample needs a generative run (model vae, flow, ddpm)",
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        (["--condition", "jet_eta=0:1"], ["['jet_eta'] are not condition columns", "jet_pt"]),
        (["--condition", "jet_pt=650:550"], ["lower edge is above the upper one"]),
        (["--condition", "jet_pt"], ["write column=low:high or column=value"]),
        (["--n", "0"], ["draw at least one event"]),
    ],
)
def test_bad_sample_options_are_one_line_errors(flow_run, tmp_path, options, fragments):
    out = tmp_path / "new" / "drawn.root"
    count = [] if "--n" in options else ["--n", "5"]
    result = _invoke("sample", flow_run.path, *count, "--out", out, *options)
    assert_one_line_error(result, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_kept_without_overwrite(flow_run, tmp_path):
    out = tmp_path / "jets.root"
    out.write_text("mine")
    with pytest.raises(OutputError, match="exists; choose another --out or pass --overwrite"):
        sample_run(flow_run.path, 5, out)
    assert out.read_text() == "mine"
    sample_run(flow_run.path, 5, out, overwrite=True)
    assert len(_read(out)["jet_pt"]) == 5
    with pytest.raises(OutputError, match="is a directory"):
        sample_run(flow_run.path, 5, tmp_path)


def test_condition_options_are_parsed():
    assert parse_condition_ranges(["jet_pt=550:650", "jet_eta=0.5"]) == {
        "jet_pt": (550.0, 650.0),
        "jet_eta": (0.5, 0.5),
    }
    for text in ("jet_pt=a:b", "=1:2", "jet_pt=1:inf"):
        with pytest.raises(ConfigError, match="column=low:high"):
            parse_condition_ranges([text])


def test_branch_names_are_made_safe():
    assert safe_branch_name("log(jet_mass)") == "log_jet_mass"
    assert safe_branch_name("log(part_pt / jet_pt)") == "log_part_pt_jet_pt"
    assert safe_branch_name("jet_pt") == "jet_pt"
    assert safe_branch_name("2 * jet_pt") == "_2_jet_pt"


def test_a_diffusion_model_writes_one_array_branch_per_image(top, tmp_path):
    run = train(run_config(top, TINY_DDPM, epochs=1, threads=1), tmp_path / "ddpm")
    written = sample_run(run.path, 7, tmp_path / "images.root")
    assert written.branches == ["image"]
    tree = uproot.open(tmp_path / "images.root")["Events"]
    assert tree["image"].typename == "float[1][16][16]"
    images = tree["image"].array(library="np")
    assert images.shape == (7, 1, 16, 16)
    assert np.isfinite(images).all()
