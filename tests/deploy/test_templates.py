"""The statistical hand-off on hww-vs-dy: score templates, a pyhf workspace, expectations."""

import json

import numpy as np
import pyhf
import pytest
import uproot
from typer.testing import CliRunner

from helpers import read_events
from heplearn.cli import app
from heplearn.config import parse_spec
from heplearn.data.spec import DatasetSpec
from heplearn.deploy.handoff import write_handoff
from heplearn.deploy.templates import Template, build_templates, check_background, parse_bins
from heplearn.deploy.workspace import (
    asimov_significance,
    counting_workspace,
    cut_and_count,
    expected_results,
    expected_significance,
    workspace_spec,
)
from heplearn.errors import ConfigError, InputError
from heplearn.training.fit import train

WEIGHTS = [
    "XSWeight",
    "SFweight2l",
    "LepSF2l__ele_mvaFall17V1Iso_WP90__mu_cut_Tight_HWWW",
    "LepCut2l__ele_mvaFall17V1Iso_WP90__mu_cut_Tight_HWWW",
    "GenLepMatch2l",
    "METFilter_MC",
]
EDGES = np.array([0.0, 0.5, 0.9, 1.0])
LUMINOSITY_PB = 10.0  # (small: the data's Poisson errors dominate the MC statistics)


def _spec(sample, extra_weights=()):
    return parse_spec(
        DatasetSpec,
        {
            "sources": [
                {"files": [f"{sample}/hww_*.root"], "label": "hww"},
                {"files": [f"{sample}/dy_m50_*.root"], "label": "drell-yan"},
                {"files": [f"{sample}/dy_m10to50_*.root"], "label": "drell-yan"},
            ],
            "classes": ["drell-yan", "hww"],
            "inputs": {"features": {"kind": "tabular", "columns": ["ptll", "mll", "mth"]}},
            "weights": {"product": [*WEIGHTS, *extra_weights]},
        },
    )


@pytest.fixture(scope="module")
def hww(generated_sample, tmp_path_factory):
    sample = generated_sample("hww-vs-dy", events=60)
    config = {
        "seed": 5,
        "data": _spec(sample).model_dump(mode="json"),
        "model": {"name": "bdt", "max_iter": 40},
    }
    run = train(config, tmp_path_factory.mktemp("templates") / "bdt")
    return sample, run


@pytest.fixture(scope="module")
def templates(hww):
    sample, run = hww
    # A "variation" that scales every weight by 1.1: a pure normalisation change.
    variations = {"scale": _spec(sample, ["1.1"])}
    return build_templates(
        run, _spec(sample), EDGES, LUMINOSITY_PB, variations=variations, split="all"
    )


def test_templates_hold_the_weighted_yield_of_each_process(hww, templates):
    sample, _ = hww
    assert [(t.name, t.signal) for t in templates] == [
        ("hww", True),
        ("dy_m50", False),
        ("dy_m10to50", False),
    ]
    for template in templates:
        events = read_events(sample, template.name)
        weights = np.prod([np.asarray(events[name], np.float64) for name in WEIGHTS], axis=0)
        assert template.counts.sum() == pytest.approx(weights.sum() * LUMINOSITY_PB, rel=1e-5)
        assert template.variances.sum() == pytest.approx(
            np.sum((weights * LUMINOSITY_PB) ** 2), rel=1e-5
        )
        np.testing.assert_allclose(template.up["scale"], 1.1 * template.counts, rtol=1e-5)
        np.testing.assert_allclose(template.down("scale"), 0.9 * template.counts, rtol=1e-4)


def test_the_workspace_has_mu_staterror_and_the_variation(templates):
    spec = workspace_spec(templates)
    model = pyhf.Workspace(spec).model()
    assert model.config.poi_name == "mu"
    assert {"mu", "scale", "staterror_score"} <= set(model.config.parameters)
    samples = {sample["name"]: sample for sample in spec["channels"][0]["samples"]}
    kinds = {m["type"] for m in samples["hww"]["modifiers"]}
    assert kinds == {"normfactor", "staterror", "normsys", "histosys"}
    assert "normfactor" not in {m["type"] for m in samples["dy_m50"]["modifiers"]}
    normsys = next(m for m in samples["dy_m50"]["modifiers"] if m["type"] == "normsys")
    assert normsys["data"]["hi"] == pytest.approx(1.1, rel=1e-5)
    assert normsys["data"]["lo"] == pytest.approx(1 / 1.1, rel=1e-5)
    histosys = next(m for m in samples["dy_m50"]["modifiers"] if m["type"] == "histosys")
    np.testing.assert_allclose(histosys["data"]["hi_data"], samples["dy_m50"]["data"], rtol=1e-5)


def _at_luminosity(templates, luminosity_pb):
    """The templates (made at LUMINOSITY_PB) at another luminosity: counts scale with L."""
    scale = luminosity_pb / LUMINOSITY_PB
    return [Template(t.name, t.signal, t.counts * scale, t.variances * scale**2) for t in templates]


@pytest.mark.parametrize(
    ("stat_errors", "luminosity_pb", "tolerance"),
    # Without MC uncertainties every count scales with L, and Z exactly as sqrt(L); with
    # them, only where the data's own fluctuations dominate (b of order one event here).
    [(False, 10.0, 1e-3), (True, 1e-3, 0.05)],
)
def test_the_significance_grows_as_the_square_root_of_the_luminosity(
    templates, stat_errors, luminosity_pb, tolerance
):
    significance = [
        expected_significance(
            workspace_spec(_at_luminosity(templates, luminosity), stat_errors=stat_errors)
        )
        for luminosity in (luminosity_pb, 4 * luminosity_pb)
    ]
    assert significance[1] / significance[0] == pytest.approx(2.0, rel=tolerance)


def test_a_cut_and_count_from_the_histograms_agrees_with_the_asimov_formula(templates):
    counting = cut_and_count(templates, EDGES)
    assert counting.threshold in EDGES
    signal = sum(t.counts[EDGES[:-1] >= counting.threshold].sum() for t in templates if t.signal)
    assert counting.signal == pytest.approx(signal)
    expected = expected_results(counting_workspace(counting.signal, counting.background))
    assert expected.significance == pytest.approx(
        asimov_significance(counting.signal, counting.background), rel=1e-4
    )
    assert counting.significance == pytest.approx(expected.significance, rel=1e-4)
    limits = expected.upper_limit_band
    assert limits == sorted(limits) and limits[2] == expected.upper_limit > 0


def test_the_command_writes_root_histograms_a_workspace_and_prints_results(hww, tmp_path):
    sample, run = hww
    data = tmp_path / "data.yaml"
    data.write_text(json.dumps(_spec(sample).model_dump(mode="json")))
    out = tmp_path / "handoff"
    arguments = ["templates", str(run.path), "--data", str(data), "-o", str(out)]
    options = ["--lumi", "0.01", "--bins", "0,0.5,0.9,1", "--split", "all"]
    result = CliRunner().invoke(app, [*arguments, *options])
    assert result.exit_code == 0, result.output
    assert "expected discovery significance (pyhf): Z0 = " in result.stdout
    assert "expected 95% CL upper limit on mu (pyhf, CLs): " in result.stdout
    results = json.loads((out / "results.json").read_text())
    with uproot.open(out / "templates.root") as file:
        histogram = file["hww"].to_hist()
        np.testing.assert_allclose(histogram.values().sum(), results["yields"]["hww"], rtol=1e-6)
        assert histogram.variances() is not None
    workspace = pyhf.Workspace(json.loads((out / "workspace.json").read_text()))
    assert workspace.model().config.poi_name == "mu"


def test_bins_are_checked():
    np.testing.assert_allclose(parse_bins("4"), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(parse_bins("0.5, 0.9,1"), [0.5, 0.9, 1])
    for text, message in (
        ("0,0.5,2", "leave the score range"),
        ("0.5,0.2,1", "must increase"),
        ("2.5", "whole number"),
        ("a,b", "number of bins"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_bins(text)


def test_a_bin_without_background_is_refused():
    signal = Template("s", True, np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    background = Template("b", False, np.array([5.0, 0.0]), np.array([1.0, 0.0]))
    with pytest.raises(InputError, match=r"score bin\(s\) \[0.5, 1\)"):
        check_background([signal, background], np.array([0.0, 0.5, 1.0]))


def test_the_handoff_refuses_score_bins_without_background(hww, tmp_path):
    sample, run = hww
    with pytest.raises(InputError, match=r"no background is expected in the score bin\(s\) "):
        write_handoff(run, _spec(sample), np.array([0, 0.001, 0.002, 1]), 0.01, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_the_handoff_refuses_a_variation_without_the_processes(hww, tmp_path):
    sample, run = hww
    only_signal = _spec(sample).model_copy(update={"sources": _spec(sample).sources[:1]})
    with pytest.raises(ConfigError, match="lacks the processes dy_m10to50, dy_m50"):
        write_handoff(
            run, _spec(sample), EDGES, 0.01, tmp_path, variations={"x": only_signal}, split="all"
        )
