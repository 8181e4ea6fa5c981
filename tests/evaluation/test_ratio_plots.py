import numpy as np
import pytest

from heplearn.errors import InputError
from heplearn.evaluation.ratio_plots import HistogramSample, ratio_histograms_figure


def test_one_histogram_and_one_ratio_panel_per_feature():
    rng = np.random.default_rng(0)
    real = HistogramSample("real", rng.normal(size=(500, 3)))
    same = HistogramSample("generated", real.values.copy(), np.full(500, 2.0))
    figure = ratio_histograms_figure([real, same], ["mass", "tau21", "pt"], bins=10)
    axes = figure.axes
    assert len(axes) == 6
    assert [a.get_xlabel() for a in axes[1::2]] == ["mass", "tau21", "pt"]
    # identical shapes (weights only change the normalisation): every ratio is exactly 1
    (points,) = axes[1].containers
    ratio_values = points.lines[0].get_ydata()
    assert np.allclose(ratio_values[np.isfinite(ratio_values)], 1.0)


def test_features_are_labelled_for_physicists():
    rng = np.random.default_rng(1)
    real = HistogramSample("real", rng.normal(size=(100, 3)))
    figure = ratio_histograms_figure(
        [real], ["jet_mass", "jet_tau32", "x"], bins=5, labels={"x": "My $x$ [cm]"}
    )
    assert [a.get_xlabel() for a in figure.axes[1::2]] == [
        "Jet mass [GeV]",
        r"Jet $\tau_{32}$",
        "My $x$ [cm]",
    ]


def test_values_that_do_not_fit_the_columns_are_refused():
    with pytest.raises(InputError, match="expected \\(events, 2\\)"):
        ratio_histograms_figure([HistogramSample("a", np.zeros((10, 3)))], ["x", "y"])


def test_a_sample_far_from_the_reference_stays_in_the_picture():
    rng = np.random.default_rng(1)
    real = HistogramSample("real", rng.normal(0, 1, size=(500, 1)))
    far = HistogramSample("generated", rng.normal(20, 1, size=(500, 1)))
    top = ratio_histograms_figure([real, far], ["x"], bins=20).axes[0]
    low, high = top.get_xlim()
    assert low < 0 and high > 20
