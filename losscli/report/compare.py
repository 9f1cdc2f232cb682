"""Rendering ``loss compare``: models side by side (with a FILE), or losses as curves (without)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from losscli.analysis.compare import CompareReport, ModelLoss
from losscli.analysis.curves import VARIABLE_TEXT, Curve, CurvesReport
from losscli.report.catalogue import PROPERTY_NAMES, property_row
from losscli.report.chart import Panel, Series, terminal_chart
from losscli.report.format import fmt_number, fmt_params, rows_to_csv, rows_to_markdown, to_json

if TYPE_CHECKING:
    from rich.console import Console

CHART_TITLES = {
    "error": "Loss vs error",
    "probability": "Loss vs predicted probability of the true class",
    "margin": "Loss vs margin",
}
GRID_SYMBOL = {"error": "e", "probability": "p", "margin": "m"}


# --------------------------------------------------------------------------- curves


def curve_rows(report: CurvesReport) -> list[dict[str, Any]]:
    """The tidy rows of csv/markdown: one per (loss, grid point)."""
    rows = []
    for curve in report.curves:
        for x, value, gradient in zip(curve.grid, curve.values, curve.gradients):
            rows.append(
                {
                    "loss": curve.loss,
                    "params": {k: v for k, v in curve.params.items()},
                    "variable": curve.variable,
                    "x": float(x),
                    "value": float(value),
                    "gradient": float(gradient),
                }
            )
    return rows


def curves_dict(report: CurvesReport) -> dict[str, Any]:
    return {
        "command": "compare",
        "grid": [float(v) for v in report.grid],
        "errors": report.errors.text(),
        "curves": [c.as_dict() for c in report.curves],
        "properties": [property_row(spec) for spec in report.specs],
    }


def chart_panels(report: CurvesReport) -> list[Panel]:
    """One panel per grid variable, drawn from the dense chart curves."""
    panels = []
    for variable in report.variables():
        series = [
            Series(c.label, [float(x) for x in c.grid], [float(y) for y in c.values])
            for c in report.chart_curves
            if c.variable == variable
        ]
        panels.append(Panel(CHART_TITLES[variable], VARIABLE_TEXT[variable], series))
    return panels


def _curve_table(variable: str, curves: list[Curve]) -> Any:
    """Grid points down, each curve's value and slope (loss') across."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(GRID_SYMBOL[variable], justify="right", no_wrap=True)
    for curve in curves:
        table.add_column(Text(curve.label), justify="right", no_wrap=True)
        table.add_column(Text(curve.label + "'"), justify="right", no_wrap=True)
    for i, x in enumerate(curves[0].grid):
        cells = [fmt_number(float(x), digits=4)]
        for curve in curves:
            cells.append(fmt_number(float(curve.values[i])))
            cells.append(fmt_number(float(curve.gradients[i])))
        table.add_row(*cells)
    return table


def _column_width(header: str, numbers: Any) -> int:
    """Printed width of one curve-table column, with rich's padding of 2."""
    return max([len(header)] + [len(fmt_number(float(v))) for v in numbers]) + 2


def _chunks(curves: list[Curve], width: int) -> list[list[Curve]]:
    """Split curves into groups whose value and slope columns fit in ``width`` columns."""
    grid_width = max(len(fmt_number(float(x), digits=4)) for x in curves[0].grid) + 2
    groups: list[list[Curve]] = [[]]
    used = grid_width
    for curve in curves:
        need = _column_width(curve.label, curve.values)
        need += _column_width(curve.label + "'", curve.gradients)
        if groups[-1] and used + need > width:
            groups.append([])
            used = grid_width
        groups[-1].append(curve)
        used += need
    return groups


def render_curves_table(report: CurvesReport, console: Console, color: bool) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    width = min(console.width, 100)
    for panel in chart_panels(report):
        console.file.write(terminal_chart(panel, width=width, height=20, color=color))
        console.file.write("\n")
    for variable in report.variables():
        curves = [c for c in report.curves if c.variable == variable]
        symbol = GRID_SYMBOL[variable]
        console.print(Text(f"Values and slopes over the {VARIABLE_TEXT[variable]}"))
        for group in _chunks(curves, console.width):
            console.print(_curve_table(variable, group))
        notes = [f"loss' = d loss / d {symbol}"]
        if variable == "error":
            levels = sorted({c.reference.get("y_true", 0.0) for c in curves})
            if levels != [0.0]:
                shown = ", ".join(
                    f"{c.label} at y_true={c.reference['y_true']:g}"
                    for c in curves
                    if c.reference.get("y_true", 0.0) != 0.0
                )
                notes.append(f"level-dependent losses drawn {shown}")
        elif variable == "probability":
            notes.append("true class 1 (multiclass: the second of two classes)")
        else:
            notes.append("true class 1, score s; at a kink the slope is the mean of both sides")
        console.print(Text("; ".join(notes), style="dim"))
        console.print()

    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title="Properties (the guide's table, from the registry)",
        title_justify="left",
    )
    table.add_column("loss", overflow="fold")
    for name in PROPERTY_NAMES:
        table.add_column(name.replace("_", "-"), justify="center", no_wrap=True)
    for spec in report.specs:
        row = property_row(spec)
        table.add_row(spec.name, *("✓" if row[name] else "✗" for name in PROPERTY_NAMES))
    console.print(table)
    console.print(
        Text(
            "robust = bounded gradient (large errors do not dominate); sparse = sparse "
            "solutions (hinge-type); convex in the prediction",
            style="dim",
        )
    )


def render_curves(report: CurvesReport, fmt: str, console: Console, color: bool = False) -> None:
    """Write the curves report in the requested format."""
    if fmt == "json":
        console.file.write(to_json(curves_dict(report)) + "\n")
        return
    if fmt in ("csv", "markdown"):
        rows = curve_rows(report)
        text = rows_to_csv(rows) if fmt == "csv" else rows_to_markdown(rows)
        console.file.write(text)
        return
    render_curves_table(report, console, color)


# --------------------------------------------------------------------------- models


def _value_text(row: ModelLoss, value: float) -> str:
    text = fmt_number(value, percent=row.percent)
    if row.signed and value == value and value != 0:
        text = ("+" + text + " under") if value > 0 else (text + " over")
    return text


def _share_text(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


def render_models_table(report: CompareReport, console: Console) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    several = len(report.models) >= 2
    console.print(Text(f"Compare: {report.source}", style="bold"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("loss", no_wrap=True)
    table.add_column("model", overflow="fold")
    for header in ("value", "median", "p95", "max", "top 1%") + (("rank",) if several else ()):
        table.add_column(header, justify="right", no_wrap=True)
    previous = None
    for row in report.results:
        if several and previous is not None and row.label != previous:
            table.add_section()
        first = row.label != previous
        previous = row.label
        name = (row.label + (" %" if row.percent else "")) if first else ""
        cells: list[str | Text] = [
            name,
            Text(row.model),
            _value_text(row, row.value),
            fmt_number(row.median, percent=row.percent),
            fmt_number(row.p95, percent=row.percent),
            fmt_number(row.max, percent=row.percent),
            _share_text(row.top1pct_share),
        ]
        if several:
            cells.append(str(row.rank))
        table.add_row(*cells)
    console.print(table)

    if report.ci_level is not None and several:
        ci = Table(
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            title=(
                f"Difference to the best model ({100 * report.ci_level:g}% paired-bootstrap "
                "interval)"
            ),
            title_justify="left",
        )
        ci.add_column("loss", no_wrap=True)
        ci.add_column("model", overflow="fold")
        ci.add_column("minus best", justify="right")
        ci.add_column("interval", justify="right")
        ci.add_column("", no_wrap=True)
        for row in report.results:
            if row.rank == 1:
                continue
            low, high = row.diff_ci_low, row.diff_ci_high
            interval = "-"
            verdict = ""
            if low is not None and high is not None:
                interval = (
                    f"[{fmt_number(low, percent=row.percent)}, "
                    f"{fmt_number(high, percent=row.percent)}]"
                )
                verdict = "clearly worse" if low > 0 else "not separable"
            ci.add_row(
                row.label,
                Text(row.model),
                "+" + fmt_number(row.diff_to_best, percent=row.percent),
                interval,
                verdict,
            )
        console.print(ci)

    if several:
        console.print(Text(_agreement_text(report)))
    caption = [
        f"task {report.task} ({report.task_reason})",
        f"{report.n_rows:,} rows used, {report.n_dropped:,} dropped",
    ]
    if report.ci_level is not None:
        caption.append(f"bootstrap {report.n_boot} resamples, seed {report.seed}")
    console.print(Text(" · ".join(caption), style="dim"))
    console.print(
        Text(
            "median/p95/max: per-row losses; top 1%: share of the total carried by the worst 1% "
            "of rows"
            + (
                "; signed losses (mbe) rank by absolute value"
                if several and any(r.signed for r in report.results)
                else ""
            ),
            style="dim",
        )
    )


def _agreement_text(report: CompareReport) -> str:
    agreement = report.agreement
    n = len(agreement.best_by_loss)
    if agreement.best_model is None:
        return "No loss could rank the models."
    if agreement.agree:
        return f"The losses agree: {agreement.best_model} is best on all {n} losses."
    others: dict[str, list[str]] = {}
    for label in agreement.disagreeing:
        others.setdefault(agreement.best_by_loss[label], []).append(label)
    detail = "; ".join(f"{', '.join(labels)} prefer {model}" for model, labels in others.items())
    count = n - len(agreement.disagreeing)
    return (
        f"The losses disagree: {agreement.best_model} is best on {count} of {n} losses; {detail}."
    )


def render_models(report: CompareReport, fmt: str, console: Console) -> None:
    """Write the model comparison in the requested format."""
    if fmt == "json":
        console.file.write(to_json(report.as_dict()) + "\n")
        return
    if fmt in ("csv", "markdown"):
        rows = report.as_dict()["results"]
        for row in rows:
            row["params"] = fmt_params(row["params"])
        text = rows_to_csv(rows) if fmt == "csv" else rows_to_markdown(rows)
        console.file.write(text)
        return
    render_models_table(report, console)
