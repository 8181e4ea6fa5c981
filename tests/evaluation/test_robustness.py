"""Robustness to generator variations: a top tagger on samples with other shower settings."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from helpers import run_config, run_heplearn
from heplearn.config import parse_spec
from heplearn.data.spec import DatasetSpec
from heplearn.errors import ConfigError, InputError
from heplearn.evaluation.robustness import parse_variations, rebased_spec, variation_predictions
from heplearn.evaluation.run_data import run_predictions
from heplearn.evaluation.runs import evaluate_run
from heplearn.training.fit import train

# The samples of tests/generate/test_pythia.py (shared through the session cache): final-state
# showers with alpha_s far below and above the default.
SHOWER = {"events": 30, "events_per_file": 100, "seed": 11}
SOFT, HARD = "TimeShower:alphaSvalue = 0.08", "TimeShower:alphaSvalue = 0.2"


@pytest.fixture(scope="module")
def tagged(generated_sample, tmp_path_factory):
    top = generated_sample("top-vs-qcd", events=300, workers=2)
    config = run_config(top, {"name": "bdt", "inputs": ["jet"], "max_iter": 60})
    # a loose working point, so that background events of the small variations pass the cut
    config["evaluation"] = {"observers": ["jet_mass"], "bootstrap": 20, "working_point": 0.95}
    run = train(config, tmp_path_factory.mktemp("robust") / "bdt")
    spec = run.config().data
    variations = {
        "soft": rebased_spec(
            spec, generated_sample("top-vs-qcd", **SHOWER, pythia_settings=[SOFT])
        ),
        "hard": rebased_spec(
            spec, generated_sample("top-vs-qcd", **SHOWER, pythia_settings=[HARD])
        ),
    }
    return run, variations, evaluate_run(run, variations=variations)


def _weighted_mean(values, weights):
    return np.sum(values * weights) / np.sum(weights)


def test_differences_to_the_nominal_are_those_of_the_predictions(tagged):
    run, variations, result = tagged
    robustness = result.evaluation.metrics["robustness"]
    nominal = run_predictions(run, observers=["jet_mass"], splits=("test",))["test"]
    threshold = robustness["nominal"]["threshold"]
    nominal_auc = roc_auc_score(nominal.labels, nominal.scores, sample_weight=nominal.weights)
    assert robustness["nominal"]["auc"] == pytest.approx(nominal_auc, abs=1e-9)
    predictions = variation_predictions(run, variations, ["jet_mass"])
    for name in ("soft", "hard"):
        entry = robustness["variations"][name]
        varied = predictions[name]
        assert len(varied) == 60  # every event of the variation: it was never trained on
        auc = roc_auc_score(varied.labels, varied.scores, sample_weight=varied.weights)
        assert entry["delta_auc"] == pytest.approx(auc - nominal_auc, abs=1e-9)
        assert 0 < entry["delta_auc_uncertainty"] < 0.2
        signal, background = varied.labels == 1, varied.labels == 0
        passed = varied.scores >= threshold
        at_cut = entry["nominal_threshold"]
        assert at_cut["signal_efficiency"] == pytest.approx(
            varied.weights[signal & passed].sum() / varied.weights[signal].sum()
        )
        assert 0 < at_cut["signal_efficiency_uncertainty"] < 0.3
        shift = entry["background_after_cut"]["jet_mass"]
        nominal_passed = (nominal.labels == 0) & (nominal.scores >= threshold)
        expected = _weighted_mean(
            varied.observers["jet_mass"][background & passed], varied.weights[background & passed]
        ) - _weighted_mean(
            nominal.observers["jet_mass"][nominal_passed], nominal.weights[nominal_passed]
        )
        assert shift["shift"] == pytest.approx(expected)
        assert shift["shift_uncertainty"] > 0
        assert set(entry["delta_rejection"]) == {"0.3", "0.5", "0.8"}


def test_metrics_json_and_the_report_have_the_robustness_and_the_weights(tagged):
    run, _, result = tagged
    written = json.loads(result.metrics_path.read_text())
    assert set(written["robustness"]["variations"]) == {"soft", "hard"}
    weights = written["weights"]["test"]
    # top-vs-qcd events are unweighted: the effective size is the number of events
    for name in ("qcd", "top"):
        assert weights[name]["effective_events"] == pytest.approx(weights[name]["events"])
        assert weights[name]["negative_fraction"] == 0
    report = result.report_path.read_text()
    assert "Robustness to generator variations" in report
    assert "Event weights (test split)" in report
    assert "Δ(1/ε_B) at ε_S = 0.5" in report
    assert (run.path / "plots" / "robustness_rejection.png").is_file()
    assert (run.path / "plots" / "robustness_background.png").is_file()


def test_a_variation_lacking_the_inputs_is_named_in_one_line(tagged, generated_sample):
    run, _, _ = tagged
    leptons = generated_sample("hww-vs-dy", events=60)
    result = run_heplearn("evaluate", str(run.path), "--variation", f"dilepton={leptons}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "variation 'dilepton'" in lines[0]
    assert "lacks the branches the run reads: jet_d2, jet_mass" in lines[0]


def test_the_training_files_are_not_a_variation(tagged):
    run, _, _ = tagged
    with pytest.raises(InputError, match="a file the run was trained on"):
        variation_predictions(run, {"same": run.config().data})


def test_variation_options_are_checked(tmp_path):
    spec = parse_spec(
        DatasetSpec,
        {
            "sources": [{"files": ["data/a/*.root"], "label": 0}],
            "inputs": {"x": {"kind": "tabular", "columns": ["x"]}},
        },
    )
    parsed = parse_variations([f"up={tmp_path}"], spec)
    assert parsed["up"].sources[0].files == [str(tmp_path / "*.root")]
    with pytest.raises(ConfigError, match="write NAME=SPEC"):
        parse_variations(["up"], spec)
    with pytest.raises(ConfigError, match="given twice"):
        parse_variations([f"up={tmp_path}", f"up={tmp_path}"], spec)
    with pytest.raises(ConfigError, match="no such folder or dataset-spec"):
        parse_variations([f"up={tmp_path / 'nope'}"], spec)
