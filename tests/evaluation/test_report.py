"""The HTML report: formatting, content, self-containment, and rendering in a real browser."""

import math
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from helpers import chromium_or_skip, run_chromium
from heplearn.errors import InputError
from heplearn.evaluation.plots import SavedPlot, save_figure
from heplearn.evaluation.report import format_number, metric_rows, table_cells, write_report

METRICS = {
    "task": "binary",
    "auc": 0.912345,
    "auc_uncertainty": 0.00213,
    "rejection": {"0.3": 153.27, "0.5": 41.2, "0.8": math.inf},
    "rejection_uncertainty": {"0.3": 12.3, "0.5": 1.7, "0.8": math.inf},
    "rejection_limit": {"0.3": 120.0, "0.5": 30.0, "0.8": 2.0},
    "ks": {"QCD": {"statistic": 0.04, "p_value": 0.4321}},
    "efficiency_vs": {"jet_pt": {"bin_edges": list(range(21))}},
    "confusion_matrix": [[1.0, 2.0], [3.0, 4.0]],
}


@pytest.mark.parametrize(
    ("value", "uncertainty", "text"),
    [
        (0.912345, 0.00213, "0.9123 ± 0.0021"),
        (153.27, 12.3, "153 ± 12"),
        (41.2, None, "41.2"),
        (123456.0, None, "123,456"),
        (3000, None, "3,000"),
        (math.inf, None, "∞"),
        (20.0, math.inf, "20 ± ∞"),
        (math.nan, None, "—"),
        (None, None, "—"),
        (np.float64(0.25), np.float64(0.0), "0.25"),
        (1.0, 1.1e-16, "1"),  # bootstrap replicas all 1 but for rounding
        (2.5e6, 0.04, "2500000.000 ± 0.040"),  # small, but not rounding
        ("top", None, "top"),
        (True, None, "True"),
    ],
)
def test_format_number(value: object, uncertainty: object, text: str) -> None:
    assert format_number(value, uncertainty) == text


def test_metric_rows_pair_values_with_uncertainties_and_skip_arrays() -> None:
    assert metric_rows(METRICS) == [
        ("Task", "binary"),
        ("AUC", "0.9123 ± 0.0021"),
        ("1/ε_B at ε_S = 0.3", "153 ± 12"),
        ("1/ε_B at ε_S = 0.5", "41.2 ± 1.7"),
        ("1/ε_B at ε_S = 0.8", "∞"),
        ("KS statistic (QCD)", "0.04"),
        ("KS p-value (QCD)", "0.4321"),
    ]


def test_table_cells_fold_uncertainty_columns() -> None:
    header, cells = table_cells(
        [{"run": "a", "auc": 0.9, "auc_uncertainty": 0.01}, {"run": "b", "auc": 0.95}]
    )
    assert header == ["Run", "AUC"]
    assert cells == [["a", "0.900 ± 0.010"], ["b", "0.95"]]


def _figures(directory: Path, count: int) -> list[SavedPlot]:
    plots = []
    for index in range(count):
        figure = Figure(figsize=(3, 2))
        figure.subplots().plot([0, 1, 2], [index, 2 * index, 0], label=f"curve {index}")
        plots.append(save_figure(figure, directory / f"plot_{index}", f"Caption number {index}."))
    return plots


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A report with three figures and training curves: four images in all."""
    directory = tmp_path_factory.mktemp("report")
    path = write_report(
        directory / "report.html",
        title="Top tagging <MLP>",
        config_yaml="model:\n  name: mlp  # <script>alert(1)</script>\n",
        data_summary=[
            {"split": "train", "class": "QCD", "events": 1200, "sum_weights": 1199.5},
            {"split": "test", "class": "top", "events": 800, "sum_weights": 801.25},
        ],
        history=[{"epoch": e, "train_loss": 1 / (e + 1), "val_auc": 0.9} for e in range(3)],
        metrics=METRICS,
        figures=_figures(directory, 3),
        extra_tables={"Runs": [{"run": "baseline", "auc": 0.8765}]},
    )
    return path, 4


def test_report_holds_numbers_images_and_captions(report: tuple[Path, int]) -> None:
    path, images = report
    text = path.read_text(encoding="utf-8")
    for expected in (
        "0.9123 ± 0.0021",
        "153 ± 12",
        "1,200",
        "801.2",
        "0.8765",
        "Caption number 2.",
    ):
        assert expected in text
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == images
    assert "&lt;MLP&gt;" in text
    assert "<script>alert" not in text
    assert [p.name for p in path.parent.glob(".*.part")] == []


def test_report_fetches_nothing(report: tuple[Path, int]) -> None:
    text = report[0].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", text)
    assert "http" not in " ".join(re.findall(r"""(?:src|href)=["'][^"']{0,20}""", text))
    assert "<link" not in text
    assert "@import" not in text


def test_a_history_of_one_record_draws_no_training_panel(tmp_path: Path) -> None:
    one = [{"epoch": 0, "train_loss": 0.2, "val_loss": 0.3, "val_auc": 0.9}]
    text = write_report(tmp_path / "one.html", title="t", history=one).read_text()
    assert "<h2>Training</h2>" not in text
    iterations = [{"iteration": i, "train_loss": 1 / i, "val_loss": 1.1 / i} for i in (1, 2, 3)]
    text = write_report(tmp_path / "bdt.html", title="t", history=iterations).read_text()
    assert "Loss per boosting iteration" in text


def test_a_lone_or_wide_figure_spans_the_page_and_every_figure_zooms(tmp_path: Path) -> None:
    small = _figures(tmp_path, 2)
    wide_figure = Figure(figsize=(16, 2))
    wide_figure.subplots().plot([0, 1], [1, 0])
    wide = save_figure(wide_figure, tmp_path / "gallery", "A gallery.")
    text = write_report(tmp_path / "r.html", title="t", figures=[*small, wide]).read_text()
    assert text.count('<figure class="wide"') == 1
    assert text.count('title="click for full size"') == 3
    assert 'classList.toggle("zoomed")' in text
    alone = write_report(tmp_path / "a.html", title="t", figures=small[:1]).read_text()
    assert '<figure class="wide"' in alone


def test_a_table_note_follows_its_table(tmp_path: Path) -> None:
    text = write_report(
        tmp_path / "r.html",
        title="t",
        extra_tables={"Runs": [{"run": "a", "rejection_0.3": "> 12 (limit)"}]},
        table_notes={"Runs": "> N: a lower limit."},
    ).read_text()
    assert '</table><p class="note">&gt; N: a lower limit.</p>' in text


def test_report_refuses_a_figure_that_is_not_png(tmp_path: Path) -> None:
    fake = tmp_path / "plot.png"
    fake.write_text("not an image")
    with pytest.raises(InputError, match="not a PNG"):
        write_report(tmp_path / "report.html", title="t", figures=[fake])
    assert not (tmp_path / "report.html").exists()


def test_report_renders_in_a_browser(report: tuple[Path, int], tmp_path: Path) -> None:
    browser = chromium_or_skip()
    path, images = report
    dom = run_chromium(browser, tmp_path / "profile", "--dump-dom", path.as_uri()).stdout
    assert f'data-images-loaded="{images}"' in dom
    for expected in (
        "0.9123 ± 0.0021",
        "41.2 ± 1.7",
        "Caption number 0.",
        "<th>Metric</th>",
        "<td>1/ε_B at ε_S = 0.3</td>",
        "<td>KS p-value (QCD)</td>",
    ):
        assert expected in dom
    assert "rejection / 0.3" not in dom
    assert "p_value" not in dom
    screenshot = tmp_path / "report.png"
    run_chromium(
        browser,
        tmp_path / "profile",
        f"--screenshot={screenshot}",
        "--window-size=1200,2000",
        path.as_uri(),
    )
    with Image.open(screenshot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 10


def test_browser_check_notices_an_image_that_does_not_decode(
    report: tuple[Path, int], tmp_path: Path
) -> None:
    browser = chromium_or_skip()
    text = report[0].read_text(encoding="utf-8")
    broken = tmp_path / "broken.html"
    broken.write_text(text.replace("base64,iVBOR", "base64,AAAA", 1), encoding="utf-8")
    dom = run_chromium(browser, tmp_path / "profile", "--dump-dom", broken.as_uri()).stdout
    assert f'data-images-loaded="{report[1] - 1}"' in dom
