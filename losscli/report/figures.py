"""The data charts (residual histograms, reliability diagrams, group values) with matplotlib.

Drawn from the aggregates of :mod:`losscli.analysis.report` only (bin counts,
reliability bins, group values), never from raw rows, so a chart's size does
not grow with the input. The same panels go into the HTML report as inline
SVG and into ``--plot PATH`` files (png, svg or pdf).

SVG output is deterministic: a fixed hash salt per chart (ids unique within
one report), no date in the metadata, text kept as text.

Names on a chart (titles, axis labels, legends, group ticks) show control
characters and bidi overrides as the terminal's escapes and are cut in the
middle with an ellipsis when long (:func:`fit`); matplotlib's own warnings are
silenced where charts are drawn (:func:`quiet`).
"""

from __future__ import annotations

import io
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from losscli.errors import UsageError, require_modules
from losscli.report.console import safe

PLOT_FORMATS = ("png", "svg", "pdf")
PLOT_EXTRA_HINT = "pip install 'losscli[plot]'"
COLORS = ("#1f6feb", "#d9480f", "#2f9e44", "#7048e8", "#c2255c", "#0c8599", "#e67700")
KEPT = "#4c6ef5"
FLAGGED = "#e8590c"
MAX_GROUP_LOSSES = 4  # per-group charts: the first losses only (the table has them all)
# The longest text a chart shows in each place (characters); longer names are cut in the
# middle with an ellipsis, so the axes keep their room (the tables have the whole name).
TITLE_CHARS = 36
LABEL_CHARS = 44
LEGEND_CHARS = 24
TICK_CHARS = 16
ELLIPSIS = "\u2026"


def fit(text: str, limit: int) -> str:
    """``text`` as a chart shows it: control characters and bidi overrides as the
    terminal's visible escapes (:func:`~losscli.report.console.safe`), and at most
    ``limit`` characters: a longer text keeps its start and end around an ellipsis."""
    text = safe(text)
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 3
    tail = limit - 1 - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def fit_axes(ax: Any, title: str, **style: Any) -> None:
    """Set the title (in ``style``), and pass it, the axis labels and the legend entries
    of ``ax`` through :func:`fit`."""
    ax.set_title(fit(title, TITLE_CHARS), **style)
    ax.xaxis.label.set_text(fit(ax.xaxis.label.get_text(), LABEL_CHARS))
    ax.yaxis.label.set_text(fit(ax.yaxis.label.get_text(), LABEL_CHARS))
    legend = ax.get_legend()
    if legend is not None:
        for text in legend.get_texts():
            text.set_text(fit(text.get_text(), LEGEND_CHARS))


@contextmanager
def quiet() -> Iterator[None]:
    """Where a chart is drawn and saved: matplotlib's warnings (a glyph missing from its
    font, a layout that did not fit) are about the drawing, not the data, and never
    reach the terminal (they would also print the user's text raw)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@dataclass(frozen=True)
class ChartPanel:
    """One axes of a chart: a title and a function that draws into a matplotlib Axes."""

    title: str
    draw: Callable[[Any], None]


def require_matplotlib(what: str = "--plot") -> None:
    """One clear error naming the extra when matplotlib is missing."""
    require_modules(("matplotlib",), what, PLOT_EXTRA_HINT)


def plot_format(path: str) -> str:
    """The file format of a --plot path from its extension, else UsageError."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        raise UsageError(f"--plot {path}: the file name must end in .png, .svg or .pdf")
    return ext


# --------------------------------------------------------------------------- panels


def _bars(ax: Any, edges: Sequence[float], counts: Sequence[int], flagged: Sequence[int]) -> None:
    if not edges:
        ax.text(0.5, 0.5, "no rows", ha="center", va="center", transform=ax.transAxes)
        return
    # One filled step outline a series (not a rectangle a bin): drawing and laying out
    # a page's histograms took ~40% less time (benchmarks/README.md).
    flagged = list(flagged) or [0] * len(counts)
    kept = np.array([c - f for c, f in zip(counts, flagged)], dtype=float)
    ax.stairs(kept, list(edges), fill=True, color=KEPT, label="rows")
    if any(flagged):
        top = kept + np.array(flagged, dtype=float)
        ax.stairs(top, list(edges), baseline=kept, fill=True, color=FLAGGED, label="flagged")
    if max(counts, default=0) > 0 and max(counts) >= 20 * max(1, min(c for c in counts if c)):
        # Outlying bins hold a few rows next to thousands: a log axis keeps them visible.
        _log_rows(ax, max(counts) / max(1, min(c for c in counts if c)))
    ax.set_ylabel("rows")


_SUPERSCRIPT = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


def power_of_ten(value: float) -> str:
    """A log axis's tick label: 1, 10, 10\u00b2, 10\u00b3 ... as plain text (no mathtext)."""
    if not value > 0 or not math.isfinite(value):
        return ""
    exponent = round(math.log10(value))
    if exponent == 0:
        return "1"
    if exponent == 1:
        return "10"
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def _between_powers(value: float) -> str:
    """A minor tick's label on a log axis of under two decades: 2 and 5 times a power of ten."""
    if not value > 0 or not math.isfinite(value):
        return ""
    exponent = math.floor(math.log10(value) + 1e-9)
    lead = value / 10**exponent
    if abs(lead - round(lead)) > 1e-6 or round(lead) not in (2, 5):
        return ""
    # Written as the powers beside it are: 20 and 500 below 10³, 2×10³ from there on.
    return f"{value:g}" if exponent < 3 else f"{round(lead)}\u00d7{power_of_ten(10**exponent)}"


def _log_rows(ax: Any, span: float) -> None:
    """A log y axis labelled at powers of ten in plain text (``span``: largest / smallest count).

    matplotlib's default labels are mathtext, whose parser costs ~0.4 s the
    first time a report draws one; Unicode superscripts read the same. Under
    two decades, 2x and 5x a power of ten are labelled too.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10.0))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: power_of_ten(value)))
    if span < 100:
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: _between_powers(value)))
    else:
        # Unlabelled minor ticks (eight a decade) cost more to lay out than the rest
        # of the chart: over two decades and more the powers of ten suffice.
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_minor_formatter(NullFormatter())


def residual_panel(h: Any) -> ChartPanel:
    """A residual histogram of one model with the flagged rows and the rule's cut-offs."""

    def draw(ax: Any) -> None:
        _bars(ax, h.edges, h.counts, h.flagged)
        for cut in h.cutoffs:
            ax.axvline(cut, color=FLAGGED, linestyle="--", linewidth=1)
        ax.set_xlabel(h.quantity)
        if h.flagged and any(h.flagged):
            ax.legend(loc="upper right", fontsize="small")

    kind = "Residuals" if h.quantity.startswith("Residuals") else h.quantity
    return ChartPanel(f"{kind}: {h.model}", draw)


def p_true_panel(h: Any) -> ChartPanel:
    def draw(ax: Any) -> None:
        _bars(ax, h.edges, h.counts, h.flagged)
        for cut in h.cutoffs:
            ax.axvline(cut, color=FLAGGED, linestyle="--", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_xlabel("Predicted probability of the true class")
        if any(h.flagged):
            ax.legend(loc="upper left", fontsize="small")

    return ChartPanel(f"P(true class): {h.model}", draw)


def value_panel(h: Any) -> ChartPanel:
    def draw(ax: Any) -> None:
        _bars(ax, h.edges, h.counts, [])
        ax.set_xlabel(h.quantity)

    return ChartPanel(f"Per-sample loss: {h.model}", draw)


def reliability_panel(r: Any) -> ChartPanel:
    """Accuracy per confidence bin against the diagonal (a calibrated model lies on it)."""

    def draw(ax: Any) -> None:
        ax.plot([0, 1], [0, 1], color="#868e96", linestyle="--", linewidth=1, label="calibrated")
        for point in r.points:
            ax.bar(
                point["low"],
                point["accuracy"],
                width=max(point["high"] - point["low"], 0.01),
                align="edge",
                color=KEPT,
                alpha=0.35,
                edgecolor=KEPT,
            )
        ax.plot(
            [p["confidence"] for p in r.points],
            [p["accuracy"] for p in r.points],
            color=FLAGGED,
            marker="o",
            linewidth=1.2,
            label=f"model (ece {r.ece:.3g})",
        )
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(r.xlabel)
        ax.set_ylabel(r.ylabel)
        ax.legend(loc="upper left", fontsize="small")

    return ChartPanel(f"Reliability: {r.model}", draw)


def group_panels(report: Any, shown: Any = None) -> list[ChartPanel]:
    """Per loss: each group's value with its interval, one series per model.

    The groups are those the report's table shows (:func:`~losscli.report.format.choose_groups`:
    with many, those with the most rows), numbers in numeric order (2 before 10); the
    axis label says how many of how many. ``shown`` (a
    :class:`~losscli.report.format.ModelChoice`): the losses and models the page shows.
    """
    from losscli.report.format import choose_groups

    choice = choose_groups(report, shown)
    if choice is None:
        return []
    groups = choice.shown
    xlabel = report.group_column or "group"
    if choice.hidden:
        xlabel = f"{fit(xlabel, TICK_CHARS)}: {len(groups)} of {choice.total} groups (most rows)"
    by_loss: dict[str, list[Any]] = {}
    for r in report.results:
        if r.group is not None and (shown is None or shown.shows(r.label, r.model)):
            by_loss.setdefault(r.label, []).append(r)
    panels = []
    for label, rows in list(by_loss.items())[:MAX_GROUP_LOSSES]:

        def draw(ax: Any, rows: list[Any] = rows, label: str = label) -> None:
            place = {g: i for i, g in enumerate(groups)}
            rows = [r for r in rows if r.group in place]
            models = list(dict.fromkeys(r.model for r in rows))
            step = 0.8 / max(1, len(models))
            for m, model in enumerate(models):
                xs, ys, lo, hi = [], [], [], []
                for r in rows:
                    if r.model != model or not math.isfinite(r.value):
                        continue
                    xs.append(place[r.group] - 0.4 + step * (m + 0.5))
                    ys.append(r.value)
                    low = r.ci_low if r.ci_low is not None else r.value
                    high = r.ci_high if r.ci_high is not None else r.value
                    lo.append(max(0.0, r.value - low))
                    hi.append(max(0.0, high - r.value))
                ax.errorbar(
                    xs,
                    ys,
                    yerr=[lo, hi],
                    fmt="o",
                    capsize=3,
                    color=COLORS[m % len(COLORS)],
                    label=model,
                )
            ax.set_xticks(range(len(groups)))
            ax.set_xticklabels(
                [fit(str(g), TICK_CHARS) for g in groups], rotation=30 if len(groups) > 4 else 0
            )
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label)
            if len(models) > 1:
                ax.legend(fontsize="small")

        panels.append(ChartPanel(f"{label} per {report.group_column}", draw))
    return panels


def curve_panels(curves: Any, labels: Sequence[str] | None = None) -> list[ChartPanel]:
    """The guide's "Loss vs Error" figure: one panel per grid variable (the curves of
    ``labels`` only, when given)."""
    from losscli.report.compare import chart_panels

    out = []
    for panel in chart_panels(curves, labels):

        def draw(ax: Any, panel: Any = panel) -> None:
            for i, series in enumerate(panel.series):
                pts = [
                    (float(x), float(y))
                    for x, y in zip(series.xs, series.ys)
                    if math.isfinite(x) and math.isfinite(y)
                ]
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    label=series.label,
                    linewidth=1.6,
                    color=COLORS[i % len(COLORS)],
                )
            ax.set_xlabel(panel.xlabel)
            ax.set_ylabel("loss")
            ax.legend(fontsize="small")

        out.append(ChartPanel(panel.title, draw))
    return out


def data_panels(charts: Any, shown: Any = None) -> list[ChartPanel]:
    """Every data chart of a ChartData, in the report's order.

    ``shown`` (a :class:`~losscli.report.format.ModelChoice`, default all): the charts
    of its ``charted`` models, and the per-group charts of its losses and models.
    """

    def drawn(items: Sequence[Any]) -> list[Any]:
        return [x for x in items if shown is None or x.model in shown.charted]

    panels = [residual_panel(h) for h in drawn(charts.residuals)]
    panels += [reliability_panel(r) for r in drawn(charts.reliability)]
    panels += [p_true_panel(h) for h in drawn(charts.p_true)]
    panels += [value_panel(h) for h in drawn(charts.values)]
    if charts.groups is not None:
        panels += group_panels(charts.groups, shown)
    return panels


# --------------------------------------------------------------------------- output


def _figure(panels: Sequence[ChartPanel], columns: int, width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    count = max(1, len(panels))
    cols = max(1, min(columns, count))
    rows = math.ceil(count / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels):
        panel.draw(ax)
        fit_axes(ax, panel.title, fontsize="medium")
        ax.grid(True, alpha=0.25)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    return fig


def _rc(salt: str) -> Any:
    """Text kept as text (small files), and a fixed hash salt: the same ids on every run."""
    return {"svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10, "svg.hashsalt": salt}


def svg_text(panel: ChartPanel, salt: str, width: float = 4.6, height: float = 3.2) -> str:
    """One panel as an inline <svg> element: deterministic, scaled by CSS (no fixed size)."""
    import matplotlib

    with matplotlib.rc_context(_rc(salt)), quiet():
        fig = _figure([panel], 1, width, height)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "losscli"})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # The viewBox keeps the proportions; CSS gives the width (100% of the column).
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)
    text = text.replace("<svg", f'<svg role="img" aria-label="{_attr(safe(panel.title))}"', 1)
    return _prefix_ids(text, salt + "-")


def _prefix_ids(svg: str, prefix: str) -> str:
    """Make matplotlib's ids (figure_1, axes_1, ...) unique among several inline SVGs."""
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)


def _attr(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


def save_panels(path: str, panels: Sequence[ChartPanel]) -> None:
    """Save the panels in one image (png, svg or pdf), atomically; two panels per row."""
    import matplotlib

    from losscli.atomic import check_writable, write_atomically

    fmt = plot_format(path)
    require_matplotlib()
    check_writable(path)
    with quiet():
        fig = _figure(panels, 2, 5.0, 3.6)

    def save(handle: Any) -> None:
        metadata: dict[str, Any] = {"Creator": "losscli"}
        if fmt == "svg":
            metadata["Date"] = None
        elif fmt == "pdf":
            metadata["CreationDate"] = None
        else:
            metadata = {"Software": "losscli"}
        with matplotlib.rc_context(_rc("losscli")), quiet():
            fig.savefig(handle, format=fmt, metadata=metadata, dpi=110)

    write_atomically(path, save, binary=True)
