"""The HTML report: one self-contained file with the metrics, the data, and every figure.

Images are embedded as base64 PNG, the style sheet is inline, and nothing is fetched from
anywhere, so the file can be mailed or archived on its own. A few lines of inline script
record, once the page has loaded, how many images decoded (``data-images-loaded`` on
``<body>``), so a headless-browser test can check that the figures really render.
"""

import base64
import html
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from heplearn.errors import InputError
from heplearn.evaluation.metric_names import column_name, metric_name
from heplearn.evaluation.plots import SavedPlot, png_bytes, training_curves_figure
from heplearn.files import atomic_path

UNCERTAINTY_SUFFIX = "_uncertainty"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_LONGEST_LIST = 10

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 2rem auto; max-width: 1400px; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid #d0d7de; padding-bottom: 0.2rem;
     margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; }
th { background: #f3f4f6; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.figures { display: grid; gap: 1.5rem;
           grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); }
figure { margin: 0; }
figure.wide { grid-column: 1 / -1; }
figure img { width: 100%; height: auto; border: 1px solid #e5e7eb; cursor: zoom-in; }
figure.wide img { max-width: 100%; width: auto; display: block; margin: 0 auto; }
figure.zoomed { position: fixed; inset: 0; z-index: 10; margin: 0; padding: 1rem;
                overflow: auto; background: rgba(255, 255, 255, 0.97); cursor: zoom-out; }
figure.zoomed img { width: auto; max-width: none; cursor: zoom-out; }
figcaption { font-size: 0.85rem; color: #4b5563; margin-top: 0.3rem; }
p.note { font-size: 0.85rem; color: #4b5563; max-width: 60rem; }
ul.warnings { background: #fff8e1; border-left: 4px solid #f0a500; padding: 0.6rem 2rem; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
"""

_SCRIPT = """
document.addEventListener("click", function (event) {
  var figure = event.target.closest("figure");
  if (figure) { figure.classList.toggle("zoomed"); }
});
document.addEventListener("keydown", function (event) {
  if (event.key === "Escape") {
    document.querySelectorAll("figure.zoomed").forEach(function (figure) {
      figure.classList.remove("zoomed");
    });
  }
});
window.addEventListener("load", function () {
  var loaded = Array.prototype.filter.call(document.images, function (image) {
    return image.complete && image.naturalWidth > 0;
  });
  document.body.dataset.imagesLoaded = String(loaded.length);
});
"""


_ROUNDING = 1e-9
_WIDE_PIXELS = 1200  # (wider figures, like image galleries, get the page's full width)
# A cell that reads as a number (right-aligned): "0.91 ± 0.02", "1,234", "> 13 (...)", "∞".
_NUMBER = re.compile(r"^(> )?[−-]?(\d[\d,]*(\.\d+)?(e[+-]?\d+)?|∞)(\s|$)|^—$")


def format_number(value: Any, uncertainty: Any = None) -> str:
    """Format a metric for people: ``0.9213 ± 0.0021``, ``1,234``, ``∞``, ``—``.

    Parameters
    ----------
    value : Any
        A number, ``None`` or NaN (shown as ``—``), ``inf`` (``∞``), or anything else
        (shown with :class:`str`).
    uncertainty : Any, optional
        A positive uncertainty sets the decimals (two significant digits of it); ``inf``
        shows as ``± ∞``; ``None``, NaN, zero, or a spread of rounding errors (below
        1e-9 of the value, as when every bootstrap replica gives the same number) are
        left out.

    Returns
    -------
    str
        The text, not HTML-escaped.
    """
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    number = float(value)
    if math.isnan(number):
        return "—"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    spread = float(uncertainty) if isinstance(uncertainty, numbers.Real) else math.nan
    if spread <= _ROUNDING * abs(number):  # (a spread of rounding errors is no uncertainty)
        spread = math.nan
    if spread > 0 and math.isfinite(spread):
        decimals = max(0, 1 - math.floor(math.log10(spread)))
        return f"{number:.{decimals}f} ± {spread:.{decimals}f}"
    text = f"{number:,.0f}" if 1e4 <= abs(number) < 1e15 else f"{number:.4g}"
    return f"{text} ± ∞" if spread == math.inf else text


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | numbers.Number)


def _format_value(value: Any, uncertainty: Any) -> str | None:
    """A cell's text; ``None`` for values too long for a table (arrays belong in plots)."""
    if _is_scalar(value):
        return format_number(value, uncertainty)
    if isinstance(value, Sequence) and len(value) <= _LONGEST_LIST and all(map(_is_scalar, value)):
        return ", ".join(format_number(item) for item in value)
    return None


def metric_rows(
    metrics: Mapping[str, Any],
    uncertainties: Mapping[str, Any] | None = None,
    path: tuple[str, ...] = (),
) -> list[tuple[str, str]]:
    """Flatten nested metrics into ``(name, text)`` rows, values paired with uncertainties.

    Rows are named for people by :func:`heplearn.evaluation.metric_names.metric_name`
    (``rejection / 0.5`` is "1/ε_B at ε_S = 0.5"), which also leaves out the rows another
    row already says. A key ``X_uncertainty``
    beside ``X`` is shown as ``X ± uncertainty`` (also for nested dictionaries of the same
    shape) and not as a row of its own. Lists longer than ten entries and lists of lists
    (per-bin arrays, confusion matrices) are left out: the figures show them.

    Parameters
    ----------
    metrics : mapping
        The metrics, as from :func:`heplearn.evaluation.evaluate.evaluate_predictions`.
    uncertainties : mapping, optional
        Uncertainties of the same shape as ``metrics`` (used in the recursion).
    path : tuple of str
        The keys above ``metrics`` (used in the recursion).

    Returns
    -------
    list of tuple of str
        Row name and formatted value.
    """
    rows = []
    for key, value in metrics.items():
        if key.endswith(UNCERTAINTY_SUFFIX) and key.removesuffix(UNCERTAINTY_SUFFIX) in metrics:
            continue
        uncertainty = metrics.get(f"{key}{UNCERTAINTY_SUFFIX}", (uncertainties or {}).get(key))
        if isinstance(value, Mapping):
            nested = uncertainty if isinstance(uncertainty, Mapping) else None
            rows += metric_rows(value, nested, (*path, str(key)))
        elif (name := metric_name((*path, str(key)))) is None:
            continue
        elif (text := _format_value(value, uncertainty)) is not None:
            rows.append((name, text))
    return rows


def table_cells(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of a table given as records.

    Columns are the keys in order of first appearance, headed for people by
    :func:`heplearn.evaluation.metric_names.column_name`; a column ``X_uncertainty`` beside
    ``X`` is folded into it as ``X ± uncertainty``. Missing cells show as ``—``, lists too
    long for a cell as ``…``.

    Parameters
    ----------
    rows : sequence of mapping
        One record per table row.

    Returns
    -------
    tuple
        ``(header, cells)``: column headers and one list of texts per row.
    """
    columns = list(dict.fromkeys(key for row in rows for key in row))
    shown = [
        column
        for column in columns
        if not (
            column.endswith(UNCERTAINTY_SUFFIX)
            and column.removesuffix(UNCERTAINTY_SUFFIX) in columns
        )
    ]
    cells = []
    for row in rows:
        texts = [
            _format_value(row.get(column), row.get(f"{column}{UNCERTAINTY_SUFFIX}"))
            for column in shown
        ]
        cells.append([text if text is not None else "…" for text in texts])
    return [column_name(column) for column in shown], cells


def _html_table(header: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    def cell(text: str) -> str:
        numeric = _NUMBER.match(text) is not None
        return (
            f'<td class="number">{html.escape(text)}</td>'
            if numeric
            else f"<td>{html.escape(text)}</td>"
        )

    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    body = "".join(f"<tr>{''.join(cell(text) for text in row)}</tr>" for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _png_width(png: bytes) -> int:
    """The width in pixels of a PNG, from its header chunk."""
    return int.from_bytes(png[16:20], "big")


def _figure_html(png: bytes, caption: str, wide: bool = False) -> str:
    """A figure; ``wide`` (or an image wider than a column holds) spans the page."""
    data = base64.b64encode(png).decode("ascii")
    css = ' class="wide"' if wide or _png_width(png) > _WIDE_PIXELS else ""
    return (
        f'<figure{css} title="click for full size">'
        f'<img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _figure_png(figure: SavedPlot | Path) -> tuple[bytes, str]:
    """The PNG bytes and caption of a saved plot, or of a bare PNG path (captioned by name)."""
    path = figure.png if isinstance(figure, SavedPlot) else Path(figure)
    if not path.is_file():
        raise InputError(f"figure {path} does not exist")
    data = path.read_bytes()
    if not data.startswith(_PNG_SIGNATURE):
        raise InputError(f"figure {path} is not a PNG file; the report embeds PNG images")
    caption = figure.caption if isinstance(figure, SavedPlot) else path.stem.replace("_", " ")
    return data, caption


def write_report(
    path: Path,
    *,
    title: str,
    config_yaml: str | None = None,
    data_summary: Sequence[Mapping[str, Any]] = (),
    history: Sequence[Mapping[str, float]] | None = None,
    metrics: Mapping[str, Any] | None = None,
    figures: Sequence[SavedPlot | Path] = (),
    extra_tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    style: str = "CMS",
    warnings: Sequence[str] = (),
    table_notes: Mapping[str, str] | None = None,
) -> Path:
    """Write one self-contained HTML report, atomically.

    Sections appear only when there is something to show, in this order: warnings,
    metrics, data, extra tables, training curves, figures, configuration. A figure wider
    than a column (an image gallery), or the only figure, spans the page; clicking a
    figure shows it at full size (again, or Escape, to close).

    Parameters
    ----------
    path : Path
        The HTML file; its directory must exist.
    title : str
        Page title and heading.
    config_yaml : str, optional
        The run's configuration, shown verbatim.
    data_summary : sequence of mapping
        Rows of the data table, e.g. from
        :func:`heplearn.evaluation.predictions.data_summary`.
    history : sequence of mapping, optional
        Training history, one record per epoch or boosting iteration (see
        :func:`heplearn.evaluation.plots.training_curves_figure`); drawn as a figure when
        it has more than one record.
    metrics : mapping, optional
        Metrics, shown as a flat table (see :func:`metric_rows`).
    figures : sequence of SavedPlot or Path
        Figures to embed: saved plots with their captions, or PNG paths (captioned with
        the file name).
    extra_tables : mapping of str to sequence of mapping, optional
        More tables, by heading (see :func:`table_cells`).
    style : str
        mplhep style of the training-curve figure.
    warnings : sequence of str
        Warnings about the numbers (:mod:`heplearn.evaluation.run_warnings`), listed at the
        top of the page.
    table_notes : mapping of str to str, optional
        A note under an extra table, by its heading (e.g. what ``> N`` means).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        If a figure file is missing or not a PNG.
    """
    path = Path(path)
    sections = []
    if warnings:
        items = "".join(f"<li>{html.escape(text)}</li>" for text in warnings)
        sections.append(("Warnings", f'<ul class="warnings">{items}</ul>'))
    if metrics:
        rows = metric_rows(metrics)
        sections.append(("Metrics", _html_table(["Metric", "Value"], [list(row) for row in rows])))
    if data_summary:
        sections.append(("Data", _html_table(*table_cells(data_summary))))
    for heading, table in (extra_tables or {}).items():
        note = (table_notes or {}).get(heading)
        below = f'<p class="note">{html.escape(note)}</p>' if note else ""
        sections.append((heading, _html_table(*table_cells(table)) + below))
    if history and len(history) > 1:  # (one point is no curve)
        curves = png_bytes(training_curves_figure(history, style=style))
        step = "boosting iteration" if "iteration" in history[0] else "epoch"
        caption = f"Loss per {step} on the training and validation data (and validation AUC)."
        sections.append(("Training", f'<div class="figures">{_figure_html(curves, caption)}</div>'))
    if figures:
        alone = len(figures) == 1
        embedded = "".join(_figure_html(*_figure_png(figure), wide=alone) for figure in figures)
        sections.append(("Figures", f'<div class="figures">{embedded}</div>'))
    if config_yaml:
        sections.append(("Configuration", f"<pre>{html.escape(config_yaml)}</pre>"))
    body = "".join(
        f"<section><h2>{html.escape(heading)}</h2>{content}</section>"
        for heading, content in sections
    )
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>{body}<script>{_SCRIPT}</script></body></html>\n"
    )
    with atomic_path(path) as temporary:
        temporary.write_text(document, encoding="utf-8")
    return path
