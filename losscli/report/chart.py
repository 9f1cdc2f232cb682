"""Charts of loss against error: in the terminal with plotext, to PNG/SVG with matplotlib.

Both draw the same series: (label, xs, ys) triples grouped into panels, one
panel per grid variable (error, probability of the true class, margin). In
the terminal each curve gets its own marker character, so the chart reads
without colour; colour is added only when writing to a colour terminal.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from losscli.atomic import check_writable, write_atomically
from losscli.errors import LossCliError

MARKERS = ("•", "+", "x", "o", "*", "#", "=", "~", "%", "@")
IMAGE_FORMATS = ("png", "svg", "pdf")
PLOT_EXTRA_HINT = "pip install 'losscli[plot]'"


@dataclass(frozen=True)
class Series:
    """One curve of a chart."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]


@dataclass(frozen=True)
class Panel:
    """One chart: a title, an x-axis label and its curves."""

    title: str
    xlabel: str
    series: Sequence[Series]


def _finite_points(series: Series) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for x, y in zip(series.xs, series.ys):
        if math.isfinite(x) and math.isfinite(y):
            xs.append(float(x))
            ys.append(float(y))
    return xs, ys


def terminal_chart(panel: Panel, *, width: int = 80, height: int = 20, color: bool = False) -> str:
    """The panel drawn as text, ``width`` columns wide; deterministic when ``color`` is off."""
    import plotext

    fig = plotext.figure
    fig.clear()
    fig.theme("simple")  # coloured curves on the terminal's own background
    fig.plot_size(max(width, 30), max(height, 10))
    for i, series in enumerate(panel.series):
        xs, ys = _finite_points(series)
        if not xs:
            continue
        signal = fig.signal(xs, ys, marker=MARKERS[i % len(MARKERS)])
        signal.label(series.label)
        signal.lines()
        fig.draw(signal)
    # Centred at the top: loss curves are lowest in the middle of the grid.
    canvas_width = max(width, 30) - 8
    fig.legend(x=canvas_width // 2, y=0, ha="center", va="top")
    fig.title(panel.title)
    fig.label(panel.xlabel, "x")
    text = fig.build().string(colorless=not color)
    fig.clear()
    lines = [line.rstrip() for line in str(text).splitlines()]
    return "\n".join(lines).rstrip("\n") + "\n"


def check_image_path(path: str) -> str:
    """The image format of ``path`` from its extension ('png', 'svg' or 'pdf'), else ValueError."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in IMAGE_FORMATS:
        raise ValueError(f"--plot {path}: the file name must end in .png, .svg or .pdf")
    return ext


def save_chart(path: str, panels: Sequence[Panel], *, ylabel: str = "loss") -> None:
    """Save the panels side by side as PNG, SVG or PDF, atomically (temp file, then rename)."""
    fmt = check_image_path(path)
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise LossCliError(
            f"--plot needs matplotlib, which is not installed; install it with: {PLOT_EXTRA_HINT}"
        ) from None
    import matplotlib

    from losscli.report.figures import fit_axes, quiet

    check_writable(path)

    count = max(1, len(panels))
    fig = Figure(figsize=(5.0 * count, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, count, squeeze=False)[0]
    with quiet():
        for ax, panel in zip(axes, panels):
            for series in panel.series:
                xs, ys = _finite_points(series)
                ax.plot(xs, ys, label=series.label, linewidth=1.8)
            ax.set_xlabel(panel.xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
            ax.legend()
            fit_axes(ax, panel.title)

    def save(handle: Any) -> None:
        # Fixed metadata and hash salt keep the SVG identical from run to run.
        metadata: dict[str, Any] = {"Software": "losscli"}
        if fmt == "svg":
            metadata = {"Date": None}
        elif fmt == "pdf":
            metadata = {"Creator": "losscli", "CreationDate": None}
        with matplotlib.rc_context({"svg.hashsalt": "losscli"}), quiet():
            fig.savefig(handle, format=fmt, metadata=metadata, dpi=120)

    write_atomically(path, save, binary=True)
