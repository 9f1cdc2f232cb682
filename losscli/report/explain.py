"""Rendering ``loss explain``: the intervals where a loss is not convex, and a chart of d2L/dz2."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

from losscli.analysis.convexity import ConvexityReport, chart_scale
from losscli.report.chart import MARKERS
from losscli.report.format import fmt_number, write_report

if TYPE_CHECKING:
    from rich.console import Console

CURVE_POINTS = 101  # points per curve in JSON (the analysis itself uses a finer grid)
MIN_WIDTH = 20  # the narrowest chart (the console is never narrower)


def _label(y_true: float) -> int | float:
    return int(y_true) if float(y_true).is_integer() else y_true


def _article(word: str) -> str:
    """'an' before a vowel sound (identity), else 'a' (sigmoid, softmax)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def interval_rows(report: ConvexityReport) -> list[dict[str, Any]]:
    return [{"y_true": _label(i.y_true), "from": i.start, "to": i.end} for i in report.nonconvex]


def explain_dict(report: ConvexityReport) -> dict[str, Any]:
    """The JSON object of SPEC section 5 (plus params, the curves and notes)."""
    curves = []
    for curve in report.curves:
        step = max(1, (curve.output.size - 1) // (CURVE_POINTS - 1))
        curves.append(
            {
                "y_true": _label(curve.y_true),
                "output": curve.output[::step].tolist(),
                "second_derivative": curve.second_derivative[::step].tolist(),
            }
        )
    return {
        "command": "explain",
        "loss": report.loss,
        "link": report.link,
        "convex": report.convex,
        "nonconvex": interval_rows(report),
        "params": dict(report.params),
        "output": report.output_name,
        "curves": curves,
        "notes": list(report.notes),
    }


def chart(report: ConvexityReport, width: int, color: bool) -> str:
    """d2L/dz2 against the link's output, one curve per y_true, with the zero line.

    Drawn with plotext's figure API like :mod:`losscli.report.chart`, but with the
    legend below the plot: the curves of d2L/dz2 fill the top of the canvas.
    """
    import plotext

    scale = chart_scale(report.curves)
    fig = plotext.figure
    fig.clear()
    width = max(width, MIN_WIDTH)
    fig.plot_size(width, 18)
    legend = []
    for i, curve in enumerate(report.curves):
        marker = MARKERS[i % len(MARKERS)]
        finite = np.isfinite(curve.second_derivative)
        shown = scale.apply(curve.second_derivative[finite])
        signal = fig.signal(curve.output[finite].tolist(), shown.tolist(), marker=marker)
        signal.lines()
        fig.draw(signal)
        legend.append(f"{marker} y_true={_label(curve.y_true)}")
    if report.curves:
        low = min(float(c.output[0]) for c in report.curves)
        high = max(float(c.output[-1]) for c in report.curves)
        zero = fig.signal([low, high], [0.0, 0.0], marker="-")
        zero.lines()
        fig.draw(zero)
        legend.append("- zero")
    title = f"d2L/dz2 of {report.label}, {report.link} link (below zero: not convex)"
    if scale.symlog:
        fig.ruler("y").ticks(list(scale.ticks), list(scale.labels))
        title = (
            f"d2L/dz2 of {report.label}, {report.link} link, symlog y axis (below 0: not convex)"
        )
    fig.title(title)
    fig.label(report.output_name, "x")
    text = fig.build().string(colorless=not color)
    fig.clear()
    lines = [line.rstrip() for line in str(text).splitlines()]
    lines += _entries(legend, width)
    notes = []
    if report.curves and all(not np.any(c.second_derivative) for c in report.curves):
        notes.append("d2L/dz2 is 0 on the whole grid: every curve lies on the zero line")
    if scale.symlog:
        notes.append(
            f"y axis: symlog - linear within +-{scale.threshold:g}, logarithmic beyond "
            f"(d2L/dz2 spans orders of magnitude)"
        )
    for note in notes:
        lines += textwrap.wrap(note, width, break_on_hyphens=False)
    return "\n".join(lines) + "\n"


def _entries(entries: list[str], width: int, gap: str = "   ") -> list[str]:
    """Legend entries side by side, as many per line as fit in ``width``; an entry is
    never split (one wider than the line is folded on its own)."""
    lines: list[str] = []
    for entry in entries:
        if lines and len(lines[-1]) + len(gap) + len(entry) <= width:
            lines[-1] += gap + entry
        else:
            lines += textwrap.wrap(entry, width, break_on_hyphens=False) or [""]
    return lines


def render_table(report: ConvexityReport, console: Console, color: bool) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    verdict = "convex" if report.convex else "NOT convex"
    console.print(
        Text(
            f"{report.label} with {_article(report.link)} {report.link} link is {verdict} "
            f"in the pre-activation z",
            style="bold",
        )
    )
    console.file.write(chart(report, min(console.width, 100), color))
    if report.nonconvex:
        table = Table(
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            title="Where d2L/dz2 < 0 (non-convex)",
            title_justify="left",
        )
        table.add_column("y_true", justify="right")
        table.add_column(f"from ({report.output_name})", justify="right")
        table.add_column("to", justify="right")
        for row in interval_rows(report):
            table.add_row(
                str(row["y_true"]),
                fmt_number(row["from"], digits=6),
                fmt_number(row["to"], digits=6),
            )
        console.print(table)
    else:
        console.print(Text("d2L/dz2 >= 0 everywhere on the grid: no non-convex interval."))
    lines = [
        "d2L/dz2 is the second derivative of the loss with respect to the pre-activation z, "
        "evaluated through the loss's own kernel (stable log-sigmoid/softmax form, no "
        "clipping); boundaries are refined by bisection."
    ]
    if report.link == "softmax":
        lines.append("softmax is analysed with two classes, logits (0, z): it equals the sigmoid.")
    if report.link == "identity" and report.output_name == "prediction":
        lines.append(
            "identity link: the grid is the prediction itself; ends of intervals at the "
            "grid's edge mean 'and beyond'."
        )
    lines.extend(report.notes)
    for line in lines:
        console.print(Text(line, style="dim"))


def csv_table(report: ConvexityReport) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows and columns of csv/markdown output (and of ``to_pandas()``)."""
    head = {"loss": report.loss, "link": report.link, "convex": report.convex}
    # A convex loss still gets one row, so scripts always find the verdict.
    rows = [{**head, **row} for row in interval_rows(report)] or [head]
    return rows, ["loss", "link", "convex", "y_true", "from", "to"]


def render(report: ConvexityReport, fmt: str, console: Console, color: bool = False) -> None:
    """Write the explain report in the requested format."""
    write_report(
        report,
        fmt,
        console,
        payload=explain_dict,
        csv_table=csv_table,
        table=lambda people: render_table(people, console, color),
    )
