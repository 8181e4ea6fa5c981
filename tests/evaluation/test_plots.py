"""Figures: what they draw (axes, scales, data) and how they are saved."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from heplearn.errors import ConfigError, InputError
from heplearn.evaluation.metrics import (
    RocCurve,
    WorkingPoint,
    background_rejection,
    bin_edges,
    binned_efficiency,
    binned_mean_and_spread,
    roc_curve,
    working_point,
)
from heplearn.evaluation.plots import (
    STYLES,
    confusion_matrix_figure,
    efficiency_figure,
    parity_figure,
    plot_style,
    png_bytes,
    rejection_figure,
    rejection_grid,
    residuals_figure,
    roc_figure,
    save_figure,
    score_distribution_figure,
    sculpting_figure,
    training_curves_figure,
)
from heplearn.evaluation.predictions import Predictions

Factory = Callable[..., Predictions]


@pytest.fixture
def known_roc() -> RocCurve:
    generator = np.random.default_rng(0)
    labels = generator.integers(0, 2, 3000)
    return roc_curve(generator.normal(labels, 1.0), labels == 1)


def test_save_figure_writes_png_and_pdf_atomically(tmp_path: Path, known_roc: RocCurve) -> None:
    saved = save_figure(rejection_figure([("a", known_roc)]), tmp_path / "out" / "rejection", "c")
    assert saved.png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert saved.pdf.read_bytes().startswith(b"%PDF")
    assert saved.png.stat().st_size > 1000
    assert saved.caption == "c"
    assert sorted(path.name for path in saved.png.parent.iterdir()) == [
        "rejection.pdf",
        "rejection.png",
    ]


def test_rejection_figure_draws_inverse_background_efficiency_on_log_y(
    known_roc: RocCurve,
) -> None:
    figure = rejection_figure([("model", known_roc)])
    (axes,) = figure.axes
    assert axes.get_yscale() == "log"
    (line,) = axes.get_lines()
    x, y = line.get_xdata(), line.get_ydata()
    assert (x.min(), x.max()) == pytest.approx((0.1, 1.0))
    np.testing.assert_allclose(y, background_rejection(known_roc, x))
    assert axes.get_legend().get_texts()[0].get_text() == "model"


def test_rejection_ratio_panel_divides_by_the_first_curve(known_roc: RocCurve) -> None:
    generator = np.random.default_rng(1)
    labels = generator.integers(0, 2, 3000)
    better = roc_curve(generator.normal(2 * labels, 1.0), labels == 1)
    figure = rejection_figure([("ref", known_roc), ("better", better)], ratio_to_first=True)
    main, ratio = figure.axes
    reference_line, better_line = ratio.get_lines()[:2]
    np.testing.assert_allclose(reference_line.get_ydata(), 1.0)
    assert np.all(better_line.get_ydata() > 1.0)
    assert main.get_yscale() == "log"
    assert ratio.get_yscale() == "linear"


def test_roc_figure_has_linear_unit_axes(known_roc: RocCurve) -> None:
    (axes,) = roc_figure([("model", known_roc)]).axes
    assert (axes.get_xscale(), axes.get_yscale()) == ("linear", "linear")
    assert axes.get_xlim() == (0, 1)
    curve = axes.get_lines()[0]
    assert curve.get_xdata()[-1] == 1.0


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_draws(style: str, known_roc: RocCurve) -> None:
    figure = rejection_figure([("model", known_roc)], style=style)
    assert figure.axes[0].get_yscale() == "log"


def test_unknown_style_is_refused() -> None:
    with pytest.raises(ConfigError, match="ATLAS"), plot_style("Belle"):
        pass


def test_score_distributions_show_ks_p_values(
    binary_predictions: Factory,
) -> None:
    train, test = binary_predictions(seed=1), binary_predictions(seed=2)
    figure = score_distribution_figure(
        train, test, ["QCD", "top"], ks_p_values={"QCD": 0.42, "top": 0.0123}
    )
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert "QCD test (KS p = 0.42)" in labels
    assert "top test (KS p = 0.0123)" in labels
    assert "QCD train" in labels


def test_confusion_matrix_figure_annotates_every_cell() -> None:
    matrix = np.array([[0.8, 0.2], [0.1, 0.9]])
    figure = confusion_matrix_figure(matrix, ["q", "g"], normalised=True)
    texts = sorted(text.get_text() for text in figure.axes[0].texts)
    assert texts == ["0.10", "0.20", "0.80", "0.90"]


def test_regression_figures(regression_predictions: Factory) -> None:
    predictions = regression_predictions(bias=3.0)
    parity = parity_figure(predictions.scores, predictions.labels, predictions.weights)
    assert parity.axes[0].get_xlabel() == "True target"
    residuals = residuals_figure(
        predictions.scores, predictions.labels, predictions.weights, target_name="energy", bins=5
    )
    edges = bin_edges(predictions.labels, 5)
    mean, _ = binned_mean_and_spread(
        predictions.labels, predictions.scores - predictions.labels, predictions.weights, edges
    )
    drawn = residuals.axes[0].containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(drawn, mean)
    assert np.all(np.abs(mean - 3.0) < 2.0)


def test_efficiency_and_sculpting_figures(binary_predictions: Factory) -> None:
    predictions = binary_predictions()
    cut = working_point(roc_curve(predictions.scores, predictions.labels == 1, predictions.weights))
    mass = predictions.observers["jet_mass"]
    edges = bin_edges(mass, 8)
    passed = predictions.scores >= cut.threshold
    signal, background = predictions.labels == 1, predictions.labels == 0
    figure = efficiency_figure(
        binned_efficiency(mass[signal], passed[signal], predictions.weights[signal], edges),
        binned_efficiency(
            mass[background], passed[background], predictions.weights[background], edges
        ),
        observer="jet_mass",
        cut=cut,
    )
    top, bottom = figure.axes
    assert (top.get_yscale(), bottom.get_yscale()) == ("linear", "log")
    assert bottom.get_xlabel() == "jet_mass"
    sculpting = sculpting_figure(
        mass[background],
        predictions.scores[background],
        predictions.weights[background],
        edges,
        observer="jet_mass",
        cut=cut,
    )
    assert len(sculpting.axes[0].get_legend().get_texts()) == 2
    few = sculpting_figure(
        mass[background][:30],
        np.r_[np.ones(5), np.zeros(25)],  # five events pass
        np.ones(30),
        edges,
        observer="jet_mass",
        cut=cut,
    )
    legend = [text.get_text() for text in few.axes[0].get_legend().get_texts()]
    cut_label = rf"score $\geq$ {cut.threshold:.3g} ($\varepsilon_S$ = {cut.signal_efficiency:.2f})"
    assert sorted(legend) == [
        "background, all",
        f"background, {cut_label}: 5 events pass, too few for a shape",
    ]


def test_efficiency_error_bars_at_zero_and_one_and_sparse_bins() -> None:
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    values = np.repeat([0.5, 1.5, 2.5], [10, 10, 2])  # the last bin: two events only
    signal = binned_efficiency(values, np.ones(22, bool), np.ones(22), edges)  # ε_S = 1
    passes = np.repeat([True, False, True], [10, 10, 2])  # ε_B = 1, 0, (1)
    background = binned_efficiency(values, passes, np.ones(22), edges)
    cut = WorkingPoint(0.5, 0.5, 0.5, 0.1, 0.8)
    top, bottom = efficiency_figure(signal, background, observer="x", cut=cut).axes
    points, _, (*_, bars) = top.containers[0]  # (x bars, then y bars)
    np.testing.assert_array_equal(points.get_xdata(), [0.5, 1.5])  # (the sparse bin: not drawn)
    lower_ends = [segment[0][1] for segment in bars.get_segments()]
    np.testing.assert_allclose(lower_ends, 0.15865 ** (1 / 10), rtol=1e-3)  # Clopper–Pearson
    assert [text.get_text() for text in top.texts] == ["1 bin with < 5 signal events not drawn"]
    legend = [text.get_text() for text in bottom.get_legend().get_texts()]
    assert any("no background passes" in text for text in legend)
    assert [text.get_text() for text in bottom.texts] == [
        "1 bin with < 5 background events not drawn"
    ]


def test_rejection_bands_are_shaded_in_both_panels(known_roc: RocCurve) -> None:
    grid = rejection_grid()
    rejection = background_rejection(known_roc, grid)
    bands = {"a": (0.9 * rejection, 1.1 * rejection)}
    main, lower = rejection_figure(
        [("a", known_roc), ("b", known_roc)], ratio_to_first=True, bands=bands
    ).axes
    assert len(main.collections) == len(lower.collections) == 1  # (only "a" has a band)
    band = main.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx(np.nanmax(1.1 * rejection[np.isfinite(rejection)]))


def test_training_curves_with_and_without_auc() -> None:
    history = [{"epoch": e, "train_loss": 1 / (e + 1), "val_loss": 1.2 / (e + 1)} for e in range(4)]
    assert len(training_curves_figure(history).axes) == 1
    with_auc = [record | {"val_auc": 0.8 + 0.01 * record["epoch"]} for record in history]
    loss_axes, auc_axes = training_curves_figure(with_auc).axes
    np.testing.assert_allclose(auc_axes.get_lines()[0].get_ydata(), [0.8, 0.81, 0.82, 0.83])
    assert len(loss_axes.get_lines()) == 2
    with pytest.raises(InputError, match="train_loss"):
        training_curves_figure([{"epoch": 0, "val_auc": 0.9}])


def test_training_curves_count_epochs_from_one() -> None:
    history = [{"epoch": e, "train_loss": 1 / (e + 1)} for e in range(3)]
    (axes,) = training_curves_figure(history).axes
    assert axes.get_xlabel() == "Epoch"
    np.testing.assert_array_equal(axes.get_lines()[0].get_xdata(), [1, 2, 3])


def test_figures_render_in_their_own_style_wherever_they_are_saved(known_roc: RocCurve) -> None:
    """Fonts resolve at draw time: a figure saved outside its style must not change."""

    def render(style: str, inside: str | None) -> bytes:
        figure = rejection_figure([("model", known_roc)], style=style)
        if inside is None:
            return png_bytes(figure)
        with plot_style(inside):
            return png_bytes(figure)

    assert render("CMS", None) == render("CMS", "LHCb")
    assert render("CMS", None) != render("LHCb", None)
