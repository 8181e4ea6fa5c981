"""Which examples the galleries pick, and what the image figures show."""

import numpy as np

from heplearn.evaluation.gallery import class_average_figure, gallery_figure, select_examples


def test_binary_selection_picks_the_extremes() -> None:
    scores = np.array([0.95, 0.05, 0.52, 0.9, 0.1, 0.47, 0.8])
    labels = np.array([1, 0, 1, 0, 1, 0, 1])
    groups = select_examples(scores, labels, ["QCD", "top"], count=2)
    assert list(groups) == [
        "most top-like",
        "most QCD-like",
        "most uncertain",
        "most confidently wrong",
    ]
    np.testing.assert_array_equal(groups["most top-like"], [0, 3])
    np.testing.assert_array_equal(groups["most QCD-like"], [1, 4])
    np.testing.assert_array_equal(groups["most uncertain"], [2, 5])
    # wrong: index 3 (background at 0.9) and index 4 (signal at 0.1), 0.9 from the truth
    # each, and index 5 (background at 0.47 is right), so only those two
    np.testing.assert_array_equal(np.sort(groups["most confidently wrong"]), [3, 4])


def test_multiclass_selection_uses_the_top_probability() -> None:
    scores = np.array([[0.8, 0.1, 0.1], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8], [0.1, 0.7, 0.2]])
    labels = np.array([0, 1, 2, 0])
    groups = select_examples(scores, labels, ["g", "q", "t"], count=1)
    assert list(groups) == [
        "most g-like",
        "most q-like",
        "most t-like",
        "most uncertain",
        "most confidently wrong",
    ]
    assert groups["most q-like"].tolist() == [3]
    assert groups["most uncertain"].tolist() == [1]
    assert groups["most confidently wrong"].tolist() == [3]


def test_gallery_shows_one_panel_per_selected_example() -> None:
    generator = np.random.default_rng(0)
    images = generator.exponential(1.0, (20, 2, 6, 6))
    images[3] = 0.0  # an empty jet must not break the log colour scale
    scores = generator.random(20)
    scores[3] = 0.99
    labels = generator.integers(0, 2, 20)
    groups = select_examples(scores, labels, ["b", "s"], count=3)
    figure = gallery_figure(images, groups, scores, labels, ["b", "s"])
    shown = [axes for axes in figure.axes if axes.images]
    assert len(shown) == sum(len(indices) for indices in groups.values())
    first = shown[0].images[0].get_array()
    np.testing.assert_array_equal(np.ma.getmaskarray(first), np.ones((6, 6), dtype=bool))
    assert {axes.get_ylabel() for axes in shown[:: len(groups["most s-like"])]} == {r"$\Delta\eta$"}
    assert shown[-1].get_xlabel() == r"$\Delta\phi$"


def test_class_averages_are_weighted_means_over_channels() -> None:
    images = np.zeros((4, 2, 3, 3))
    images[0, 0, 0, 0] = 2.0
    images[1, 1, 0, 0] = 4.0
    images[2, 0, 1, 1] = 1.0
    images[3, 0, 2, 2] = 3.0
    labels = np.array([0, 0, 1, 1])
    weights = np.array([1.0, 3.0, 1.0, 1.0])
    figure = class_average_figure(images, labels, weights, ["q", "g"])
    panels = [axes for axes in figure.axes if axes.images]
    background = panels[0].images[0].get_array()
    assert background[0, 0] == (1 * 2.0 + 3 * 4.0) / 4
    assert np.ma.is_masked(background[1, 1])
    signal = panels[1].images[0].get_array()
    assert (signal[1, 1], signal[2, 2]) == (0.5, 1.5)
    assert panels[0].images[0].norm is panels[1].images[0].norm
    assert (panels[0].get_ylabel(), panels[1].get_xlabel()) == (r"$\Delta\eta$", r"$\Delta\phi$")
