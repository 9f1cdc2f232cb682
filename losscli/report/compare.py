"""Rendering ``loss compare``: models side by side (with a FILE), or losses as curves (without)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from losscli.analysis.compare import CompareReport, ModelLoss
from losscli.analysis.curves import VARIABLE_TEXT, Curve, CurvesReport
from losscli.report.catalogue import PROPERTY_NAMES, property_row
from losscli.report.chart import Panel, Series, terminal_chart
from losscli.report.format import (
    cells_to_markdown,
    fmt_number,
    fmt_params,
    plural,
    write_report,
)

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


def curves_csv_table(report: CurvesReport) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows and columns of csv/markdown output (and of ``to_pandas()``)."""
    return curve_rows(report), ["loss", "params", "variable", "x", "value", "gradient"]


def models_csv_table(report: CompareReport) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows and columns of csv/markdown output (and of ``to_pandas()``)."""
    rows = report.as_dict()["results"]
    for row in rows:
        row["params"] = fmt_params(row["params"])
    return rows, list(rows[0]) if rows else ["loss", "params", "model", "value"]


def curves_dict(report: CurvesReport) -> dict[str, Any]:
    return {
        "command": "compare",
        "grid": [float(v) for v in report.grid],
        "errors": report.errors.text(),
        "curves": [c.as_dict() for c in report.curves],
        "properties": [property_row(spec) for spec in report.specs],
    }


def chart_panels(report: CurvesReport, labels: Sequence[str] | None = None) -> list[Panel]:
    """One panel per grid variable, drawn from the dense chart curves (of ``labels``
    only, when given)."""
    panels = []
    for variable in report.variables():
        series = [
            Series(c.label, [float(x) for x in c.grid], [float(y) for y in c.values])
            for c in report.chart_curves
            if c.variable == variable and (labels is None or c.label in labels)
        ]
        if labels is not None and not series:
            continue
        panels.append(Panel(CHART_TITLES[variable], VARIABLE_TEXT[variable], series))
    return panels


#: The most grid points a curve table shows (evenly spaced, both ends included); JSON,
#: CSV and markdown carry every point of --errors.
TABLE_POINTS = 201


def shown_points(n: int) -> list[int]:
    """Indices of the grid points a table shows: all of them up to TABLE_POINTS."""
    if n <= TABLE_POINTS:
        return list(range(n))
    return sorted({round(i * (n - 1) / (TABLE_POINTS - 1)) for i in range(TABLE_POINTS)})


def _grid_digits(grid: Any, rows: list[int]) -> int:
    """Significant digits that tell the shown grid points apart (at least 4)."""
    points = [float(grid[i]) for i in rows]
    if len(points) < 2:
        return 4
    step = min(abs(b - a) for a, b in zip(points, points[1:]))
    largest = max(abs(p) for p in points)
    if not step > 0 or not largest > 0:
        return 4
    return max(4, min(12, math.ceil(math.log10(largest / step)) + 2))


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
    rows = shown_points(len(curves[0].grid))
    digits = _grid_digits(curves[0].grid, rows)
    for i in rows:
        cells = [fmt_number(float(curves[0].grid[i]), digits=digits)]
        for curve in curves:
            cells.append(fmt_number(float(curve.values[i])))
            cells.append(fmt_number(float(curve.gradients[i])))
        table.add_row(*cells)
    return table


def _column_width(header: str, numbers: Any) -> int:
    """Printed width of one curve-table column's cells (the rows a table shows)."""
    rows = shown_points(len(numbers))
    return max([len(header)] + [len(fmt_number(float(numbers[i]))) for i in rows])


# Column gap of the curve tables: SIMPLE_HEAD's padding of 1 on each side and its separator.
CURVE_GAP = 3


def _chunks(curves: list[Curve], width: int) -> list[list[Curve]]:
    """Split curves into groups whose value and slope columns fit in ``width`` columns."""
    grid = curves[0].grid
    rows = shown_points(len(grid))
    digits = _grid_digits(grid, rows)
    grid_width = max(len(fmt_number(float(grid[i]), digits=digits)) for i in rows)
    groups: list[list[Curve]] = [[]]
    widths = [grid_width]
    for curve in curves:
        pair = [
            _column_width(curve.label, curve.values),
            _column_width(curve.label + "'", curve.gradients),
        ]
        if groups[-1] and _table_width(widths + pair, CURVE_GAP) > width:
            groups.append([])
            widths = [grid_width]
        groups[-1].append(curve)
        widths += pair
    return groups


def render_curves_table(report: CurvesReport, console: Console, color: bool) -> None:
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
        n = len(curves[0].grid)
        if n > TABLE_POINTS:
            notes.append(
                f"{len(shown_points(n))} of the {n:,} grid points shown, evenly spaced "
                f"(--format json or csv: all of them)"
            )
        if variable == "error":
            drawn = [c for c in curves if c.reference.get("y_true", 0.0) != 0.0]
            if drawn:
                shown = join_names(
                    [f"{c.label} at y_true={c.reference['y_true']:g}" for c in drawn]
                )
                kind = "loss" if len(drawn) == 1 else "losses"
                notes.append(f"level-dependent {kind} drawn {shown}")
        elif variable == "probability":
            notes.append("true class 1 (multiclass: the second of two classes)")
        else:
            notes.append("true class 1, score s; at a kink the slope is the mean of both sides")
        console.print(Text("; ".join(notes), style="dim"))
        console.print()

    print_property_table(report.specs, console)


PROPERTY_TITLE = "Properties (the guide's table, from the registry)"
PROPERTY_NOTE = (
    "robust = bounded gradient (large errors do not dominate); sparse = sparse "
    "solutions (hinge-type); convex in the prediction"
)
FULL_HEADERS = {name: name.replace("_", "-") for name in PROPERTY_NAMES}
# Headers for a narrow console, explained under the table.
SHORT_HEADERS = {**FULL_HEADERS, "probabilistic": "prob.", "margin_based": "margin"}
SHORT_NOTE = "prob. = probabilistic; margin = margin-based"
# (headers, column gap) in order of preference; when none fits, a list per loss.
PROPERTY_LAYOUTS = (
    (FULL_HEADERS, 3),
    (FULL_HEADERS, 2),
    (FULL_HEADERS, 1),
    (SHORT_HEADERS, 3),
    (SHORT_HEADERS, 2),
    (SHORT_HEADERS, 1),
)


def print_property_table(specs: list[Any], console: Console) -> None:
    """The guide's property table: losses down, properties across, or a list per loss.

    Loss names always print whole and headers are never cut: the first layout
    of PROPERTY_LAYOUTS that fits the console wins (full or short headers,
    column gap 3, 2 or 1); else one line per loss naming the properties it has.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = [property_row(spec) for spec in specs]
    loss_width = max([len("loss")] + [len(spec.name) for spec in specs])
    for headers, gap in PROPERTY_LAYOUTS:
        widths = [loss_width] + [len(headers[name]) for name in PROPERTY_NAMES]
        if _table_width(widths, gap) > console.width:
            continue
        table = Table(
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            padding=(0, gap - 1, 0, 0),
            title=PROPERTY_TITLE,
            title_justify="left",
        )
        table.add_column("loss", no_wrap=True, min_width=loss_width)
        for name in PROPERTY_NAMES:
            table.add_column(headers[name], justify="center", no_wrap=True)
        for row in rows:
            table.add_row(
                Text(row["loss"]), *("✓" if row[name] else "✗" for name in PROPERTY_NAMES)
            )
        console.print(table)
        note = PROPERTY_NOTE + ("; " + SHORT_NOTE if headers is SHORT_HEADERS else "")
        console.print(Text(note, style="dim"))
        return
    names = ", ".join(FULL_HEADERS.values())
    console.print(Text(PROPERTY_TITLE))
    console.print(Text(f"Each loss with the properties it has (of {names}):", style="dim"))
    for row in rows:
        has = [FULL_HEADERS[name] for name in PROPERTY_NAMES if row[name]]
        for line in property_list_lines(row["loss"], has, console.width):
            console.print(Text(line), no_wrap=True, overflow="ignore")
    console.print()
    console.print(Text(PROPERTY_NOTE, style="dim"))


def property_list_lines(loss: str, has: list[str], width: int) -> list[str]:
    """'mse: convex, smooth', broken between properties, continued under the first one."""
    if not has:
        return [f"{loss}: none of these"]
    lines = [f"{loss}: {has[0]}"]  # a name wider than the console folds (rich)
    indent = " " * (len(loss) + 2)
    for i, name in enumerate(has[1:], start=2):
        comma = 1 if i < len(has) else 0  # room for the "," that may end this line
        if len(lines[-1]) + len(", " + name) + comma <= width:
            lines[-1] += ", " + name
        else:
            lines[-1] += ","
            lines.append(indent + name)
    return lines


def render_curves(report: CurvesReport, fmt: str, console: Console, color: bool = False) -> None:
    """Write the curves report in the requested format."""
    write_report(
        report,
        fmt,
        console,
        payload=curves_dict,
        csv_table=curves_csv_table,
        table=lambda people: render_curves_table(people, console, color),
    )


# --------------------------------------------------------------------------- models


def _value_text(row: ModelLoss, value: float) -> str:
    text = fmt_number(value, percent=row.percent)
    if row.signed and value == value and value != 0:
        text = ("+" + text + " under") if value > 0 else (text + " over")
    return text


def _share_text(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


MODEL_HEADER = "model"
# A model name wrapped at "_"/"-" takes at most this many lines in the table;
# longer names get one block per model instead.
MAX_NAME_LINES = 3
# A wrapped line shorter than this ("b" of "model_" + "b") is unreadable: such a
# name prints whole (a narrower gap) or in a block of its own instead.
MIN_NAME_FRAGMENT = 3
STAT_HEADERS = ("value", "median", "p95", "max", "top 1%")


def wrap_name(name: str, width: int) -> list[str] | None:
    """``name`` in lines of at most ``width`` characters, broken only after "_" or "-".

    None when a part between separators is longer than ``width`` (it would have
    to be split mid-word).
    """
    if len(name) <= width:
        return [name]
    parts = re.findall(r"[^_\-]*[_\-]+|[^_\-]+$", name)
    lines: list[str] = []
    for part in parts:
        if len(part) > width:
            return None
        if lines and len(lines[-1]) + len(part) <= width:
            lines[-1] += part
        else:
            lines.append(part)
    return lines


def _stat_cells(row: ModelLoss) -> list[str]:
    return [
        _value_text(row, row.value),
        fmt_number(row.median, percent=row.percent),
        fmt_number(row.p95, percent=row.percent),
        fmt_number(row.max, percent=row.percent),
        _share_text(row.top1pct_share),
    ]


def _loss_name(row: ModelLoss) -> str:
    return row.label + (" %" if row.percent else "")


def _table_width(widths: list[int], gap: int) -> int:
    """Printed width of a SIMPLE_HEAD table: cells, ``gap`` between columns, the two edges."""
    return sum(widths) + gap * (len(widths) - 1) + 2


def _model_lines(
    names: list[str], other_widths: list[int], width: int, gap: int, wrap: bool
) -> dict[str, list[str]] | None:
    """How each model name prints in a model column next to ``other_widths``.

    Whole names, or (``wrap``) names broken after "_"/"-" into the room left,
    at most MAX_NAME_LINES lines each, none shorter than MIN_NAME_FRAGMENT
    characters; None when the table cannot fit that way.
    """
    room = width - _table_width(other_widths + [0], gap)
    if room < len(MODEL_HEADER):
        return None
    lines: dict[str, list[str]] = {}
    for name in names:
        wrapped = wrap_name(name, room) if wrap else ([name] if len(name) <= room else None)
        if wrapped is None or len(wrapped) > MAX_NAME_LINES:
            return None
        if len(wrapped) > 1 and min(len(line) for line in wrapped) < MIN_NAME_FRAGMENT:
            return None
        lines[name] = wrapped
    return lines


def _new_table(headers: list[str], widths: list[int], left: int, gap: int) -> Any:
    """A table whose columns never wrap: the first ``left`` left-aligned, numbers right."""
    from rich import box
    from rich.table import Table

    # No cell padding: rich < 15 keeps a right padding on the last column even
    # with pad_edge=False (one column too wide, the last one cut). Each gap is
    # the box's one-space divider plus gap - 1 spaces inside one of its two
    # columns: a right-aligned column takes them on its left, a left-aligned
    # one (followed by another left-aligned one) on its right.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=0)
    for i, (header, size) in enumerate(zip(headers, widths)):
        inside = gap - 1 if i >= left or i + 1 < left else 0
        table.add_column(
            header,
            justify="left" if i < left else "right",
            no_wrap=True,
            min_width=size + inside,
        )
    return table


# Column gaps tried, widest first: 3 reads best, 1 still separates the columns.
GAPS = (3, 2, 1)
# (wrap names after "_"/"-", column gap) in order of preference: a gap of 1 is
# the last resort, after wrapping.
SIDE_BY_SIDE_LAYOUTS = ((False, 3), (False, 2), (True, 3), (True, 2), (False, 1), (True, 1))


def print_model_table(
    console: Console,
    headers: list[str],
    rows: list[tuple[str, str, list[str]]],
    models: list[str],
) -> None:
    """Rows of (loss, model, cells): losses down, models within each loss.

    Nothing is split mid-word or mid-number. The first layout of
    SIDE_BY_SIDE_LAYOUTS that fits the console wins (model names whole or
    wrapped after "_"/"-", with a column gap of 3, 2 or 1); else one block
    per model, its name on a line of its own.
    """
    from rich.text import Text

    widths = [max([len(h)] + [len(c[i]) for _, _, c in rows]) for i, h in enumerate(headers)]
    loss_width = max([len("loss")] + [len(label) for label, _, _ in rows])
    names = list(dict.fromkeys(model for _, model, _ in rows))
    for wrap, gap in SIDE_BY_SIDE_LAYOUTS:
        lines = _model_lines(names, [loss_width, *widths], console.width, gap, wrap)
        if lines is None:
            continue
        model_width = max([len(MODEL_HEADER)] + [len(x) for v in lines.values() for x in v])
        table = _new_table(
            ["loss", MODEL_HEADER, *headers], [loss_width, model_width, *widths], 2, gap
        )
        previous = None
        for label, model, cells in rows:
            if previous is not None and label != previous:
                table.add_section()
            shown = label if label != previous else ""
            previous = label
            table.add_row(Text(shown), Text("\n".join(lines[model])), *cells)
        console.print(table)
        return
    all_widths = [loss_width, *widths]
    gap = next((g for g in GAPS if _table_width(all_widths, g) <= console.width), GAPS[-1])
    for model in names:
        number = models.index(model) + 1 if model in models else 0
        console.print(Text(f"Model {number} of {len(models)}: {model}", style="bold"))
        table = _new_table(["loss", *headers], all_widths, 1, gap)
        for label, row_model, cells in rows:
            if row_model == model:
                table.add_row(Text(label), *cells)
        console.print(table)


def _rank_text(rank: int | None) -> str:
    return "-" if rank is None else str(rank)


def render_models_table(report: CompareReport, console: Console) -> None:
    from rich.text import Text

    several = len(report.models) >= 2
    console.print(Text(f"Compare: {report.source}", style="bold"))
    headers = list(STAT_HEADERS) + (["rank"] if several else [])
    rows = [
        (_loss_name(r), r.model, _stat_cells(r) + ([_rank_text(r.rank)] if several else []))
        for r in report.results
    ]
    print_model_table(console, headers, rows, report.models)

    if report.ci_level is not None and several:
        ci_rows = []
        for row in report.results:
            if row.rank in (1, None):  # the best, or no value to compare
                continue
            low, high = row.diff_ci_low, row.diff_ci_high
            interval = "-"
            verdict = ""
            # How far behind the best, as diff_to_best in the JSON and the page: > 0 is
            # worse for losses and scores alike (a score's best - value), so the
            # figures are the same everywhere and an interval above 0 is "worse".
            if low is not None and high is not None:
                interval = (
                    f"[{fmt_number(low, percent=row.percent)}, "
                    f"{fmt_number(high, percent=row.percent)}]"
                )
                verdict = "clearly worse" if low > 0 else "not separable"
            diff = fmt_number(row.diff_to_best, percent=row.percent)
            ci_rows.append((row.label, row.model, [diff, interval, verdict]))
        console.print(
            Text(
                f"Difference to the best model ({100 * report.ci_level:g}% paired-bootstrap "
                "interval)"
            )
        )
        print_model_table(console, ["behind best", "interval", ""], ci_rows, report.models)

    if several:
        console.print(Text(agreement_text(report)))
    if several and report.tests:
        print_tests(report, console)
    caption = [
        f"task {report.task} ({report.task_reason})",
        f"{plural(report.n_rows, 'row')} used, {report.n_dropped:,} dropped",
    ]
    if report.ci_level is not None:
        caption.append(f"bootstrap {plural(report.n_boot, 'resample')}, seed {report.seed}")
    console.print(Text(" · ".join(caption), style="dim"))
    console.print(
        Text(
            "median/p95/max: per-row losses (median, p95: weighted averaged "
            "inverted-CDF percentiles, as in every command: a row's value, or the mean "
            "of the two rows either side when the cumulative weight lands exactly on the "
            "level, e.g. the two middle rows of an even count); top 1%: share of the "
            "total carried by the worst 1% of rows"
            + scalar_note(report)
            + (
                "; signed losses (mbe) rank by absolute value"
                if several and any(r.signed for r in report.results)
                else ""
            )
            + (
                "; scores (higher is better) rank from the highest"
                if several and any(r.higher for r in report.results)
                else ""
            )
            + (
                "; behind best: how far a model trails the best one (value - best;"
                " |value| - |best| for signed losses; best - value for scores), > 0 is"
                " worse"
                if several and report.ci_level is not None
                else ""
            ),
            style="dim",
        )
    )


TEST_NAMES = {"diebold_mariano": "DM (HLN)", "mcnemar": "McNemar"}


def _p_text(p: float) -> str:
    if p != p:
        return "-"
    return "<1e-16" if p < 1e-16 else f"{p:.2g}"


def print_tests(report: CompareReport, console: Console) -> None:
    """The paired tests of equal expected loss, one line per (loss, pair of models).

    Lines of words, not a table: model names wrap whole at spaces, never inside.
    """
    from rich.text import Text

    console.print(Text("Paired tests of equal expected loss (two-sided p; Holm: per loss):"))
    for t in report.tests:
        statistic = "-" if t.statistic != t.statistic else fmt_number(t.statistic)
        console.print(
            Text(
                f"  {t.loss}: {t.model_a} vs {t.model_b} · {TEST_NAMES.get(t.test, t.test)} "
                f"{statistic} · p {_p_text(t.p_value)} · Holm {_p_text(t.p_adjusted)}"
            )
        )


def scalar_note(report: CompareReport) -> str:
    """The footnote for --custom losses that returned one number: why their statistics are '-'."""
    names = list(dict.fromkeys(r.label for r in report.results if r.scalar))
    verb = "returns" if len(names) == 1 else "return"
    text = (
        f"; {join_names(names)} {verb} one number for all rows, so no per-row statistics (-)"
        if names
        else ""
    )
    figures = list(dict.fromkeys(r.label for r in report.results if not r.per_row and not r.scalar))
    if figures:
        text += (
            f"; {join_names(figures)}: a score or a ratio of sums, not a mean of per-row "
            "losses, so no per-row statistics (-)"
        )
    return text


def join_names(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def agreement_text(report: CompareReport) -> str:
    """Whether the losses pick the same best model, then whether the differences could
    be noise: the paired-bootstrap labels with --ci, else the closest gap and --ci."""
    signed = frozenset(r.label for r in report.results if r.signed)
    # Losses that name no best model: tied best values, or none defined and finite.
    undecided = [label for label in report.rankings if label not in report.agreement.best_by_loss]
    sentence = agreement_sentence(report.agreement, signed, undecided)
    if report.agreement.best_model is None:
        return sentence
    return sentence + " " + noise_text(report)


def agreement_sentence(
    agreement: Any, signed: frozenset[str] = frozenset(), undecided: Sequence[str] = ()
) -> str:
    """One sentence on whether the losses pick the same best model, right for 1, 2 or N.

    A signed loss (mbe) is a bias check: its best model has the smaller bias, which
    is not a preference, so it is neither counted among the losses nor disagrees
    (as in the agreement itself), unless only signed losses were chosen. The
    ``undecided`` losses name no best model (tied best values, or none defined
    and finite): said after the verdict, which counts only the others."""
    apart = ""
    if undecided:
        verb = "does" if len(undecided) == 1 else "do"
        apart = (
            f"{join_names(list(undecided))} {verb} not name one best model "
            f"(tied best values, or none defined and finite)."
        )
    best = agreement.best_model
    if best is None:
        # Only bias checks name a model: said as biases, not as a best model.
        biases = [
            f"{model} has the smaller bias ({label})"
            for label, model in agreement.best_by_loss.items()
            if label in signed
        ]
        said = apart or "No loss could rank the models."
        return f"{said} {'; '.join(biases)}." if biases else said
    if apart:
        return f"{_verdict(agreement, signed, best, bool(undecided))} {apart}"
    return _verdict(agreement, signed, best, False)


def _verdict(agreement: Any, signed: frozenset[str], best: str, partial: bool) -> str:
    """The agreement sentence of the losses that name a best model; ``partial``: some
    losses name none (the sentence then says it counts only those that do)."""
    voting = [label for label in agreement.best_by_loss if label not in signed]
    if not voting:  # only bias checks were chosen (see agreement_of)
        voting = list(agreement.best_by_loss)
    # Bias checks whose model is not the best: said after the verdict.
    bias_of: dict[str, list[str]] = {}
    for label, model in agreement.best_by_loss.items():
        if label not in voting and model != best:
            bias_of.setdefault(model, []).append(label)
    biases = [
        f"{model} has the smaller bias ({join_names(labels)})" for model, labels in bias_of.items()
    ]
    # While every bias check picks the best model too, it is counted with the losses
    # (the best model is best on it: its bias is the smaller).
    counted = voting if bias_of else list(agreement.best_by_loss)
    n = len(counted)
    if agreement.agree:
        if n == 1:
            (label,) = counted
            sentence = (
                f"{best} is best on {label}, the only loss that names one best model"
                if partial
                else f"{best} is best on the only loss, {label}"
            )
        else:
            every = "both losses" if n == 2 else f"all {n} losses"
            if partial:
                every += " that name one best model"
            if bias_of or partial:
                every += f" ({join_names(counted)})"
            sentence = f"The losses agree: {best} is best on {every}"
        return "; ".join([sentence, *biases]) + "."
    others: dict[str, list[str]] = {}
    for label in agreement.disagreeing:
        others.setdefault(agreement.best_by_loss[label], []).append(label)
    parts = []
    for model, labels in others.items():
        verb = "prefers" if len(labels) == 1 else "prefer"
        parts.append(f"{join_names(labels)} {verb} {model}")
    count = n - len(agreement.disagreeing)
    return (
        f"The losses disagree: {best} is best on {count} of {n} losses"
        f"{' that name one best model' if partial else ''}; "
        f"{'; '.join(parts + biases)}."
    )


def noise_text(report: CompareReport) -> str:
    """Could the differences be noise? What --ci says, or how close the models are without it."""
    by_loss: dict[str, list[Any]] = {}
    for r in report.results:
        # Losses that name no best model (a tie, no finite value) have no difference to test.
        if r.rank is not None and r.label in report.agreement.best_by_loss:
            by_loss.setdefault(r.label, []).append(r)
    disagreeing = set(report.agreement.disagreeing)
    if report.ci_level is None and report.tests:
        return _tests_text(report)
    if report.ci_level is None:
        gaps = []
        for label, rows in by_loss.items():
            ranked = sorted(rows, key=lambda r: r.rank)
            if len(ranked) >= 2 and math.isfinite(ranked[0].value) and ranked[0].value != 0:
                # In ranking terms (|value| for a signed loss), as diff_to_best.
                gap = ranked[1].diff_to_best / abs(ranked[0].value)
                if math.isfinite(gap):
                    gaps.append((gap, label))
        closest = f" (the closest: {min(gaps)[1]}, {100 * min(gaps)[0]:.2g}% apart)" if gaps else ""
        return (
            f"Without --ci nothing tests whether these differences exceed noise{closest}; "
            "rerun with --ci 0.95 for paired-bootstrap intervals."
        )
    level = f"{100 * report.ci_level:g}%"
    behind = {label: [r for r in rows if r.rank != 1] for label, rows in by_loss.items()}
    # Judged model by model: a row without an interval (a value that overflows) says
    # nothing about noise; the other rows of its loss still do.
    unclear = [
        label
        for label, rows in behind.items()
        if any(r.diff_ci_low is not None and not r.diff_ci_low > 0 for r in rows)
    ]
    no_interval = [
        (label, [r.model for r in rows if r.diff_ci_low is None])
        for label, rows in behind.items()
        if any(r.diff_ci_low is None for r in rows)
    ]
    why = "fewer than 2 rows" if report.n_rows < 2 else "a value that is not finite"
    missing = (
        " No paired interval "
        + join_names([f"for {join_names(models)} on {label}" for label, models in no_interval])
        + f" ({why})."
        if no_interval
        else ""
    )
    if not unclear:
        if not any(r.diff_ci_low is not None for rows in behind.values() for r in rows):
            return missing.strip()
        clear = "every other difference" if no_interval else "every difference"
        return f"At {level} {clear} is clear (paired bootstrap).{missing}"
    # A loss that prefers another model is noise only if the overall best model's
    # difference on it (behind that model) could be 0.
    overall = report.agreement.best_model
    close = [
        label
        for label in disagreeing
        if any(
            r.model == overall and r.diff_ci_low is not None and not r.diff_ci_low > 0
            for r in behind.get(label, [])
        )
    ]
    noise = (
        " so the disagreement may be noise"
        if disagreeing and len(close) == len(disagreeing)
        else ""
    )
    return (
        f"At {level} the models are not separable on {join_names(unclear)} (a paired "
        f"interval is not all above 0){',' if noise else ''}{noise}.{missing}"
    )


#: the level the sentence under the tests table reads Holm-adjusted p-values at.
TEST_ALPHA = 0.05


def _tests_text(report: CompareReport) -> str:
    """What the paired tests say about the best model of each tested loss."""
    clear: list[str] = []
    unclear: list[str] = []
    untested: list[str] = []
    partly: dict[tuple[str, ...], list[str]] = {}  # models without a test -> losses
    contrary: dict[tuple[str, ...], list[str]] = {}  # models the tests favour -> losses
    for label, order in report.rankings.items():
        if label not in report.agreement.best_by_loss:  # a tie, or no finite value
            continue
        best = order[0]
        mine = [t for t in report.tests if t.loss == label and best in (t.model_a, t.model_b)]
        if not mine:
            continue
        others = [t.model_b if t.model_a == best else t.model_a for t in mine]
        # Judged on the tests that gave a p-value; one that gave none (NaN) is named.
        tested = [(t, m) for t, m in zip(mine, others) if t.p_adjusted == t.p_adjusted]
        lacking = tuple(m for t, m in zip(mine, others) if t.p_adjusted != t.p_adjusted)
        if not tested:  # "no test on <loss>" says it for every model
            untested.append(label)
            continue
        if lacking:
            partly.setdefault(lacking, []).append(label)
        # The tests count every row once; weighted values can rank the other way.
        against = tuple(
            m for t, m in tested if t.p_adjusted < TEST_ALPHA and t.favours not in (None, best)
        )
        if against:
            contrary.setdefault(against, []).append(label)
        elif all(t.p_adjusted < TEST_ALPHA for t, _ in tested):
            clear.append(label)
        else:
            unclear.append(label)
    if not clear and not unclear and not untested and not contrary:
        return "--ci 0.95 adds paired-bootstrap intervals of the differences."
    parts = []
    if clear:
        parts.append(f"the best model differs clearly on {join_names(clear)}")
    if unclear:
        parts.append(f"not on {join_names(unclear)} (the difference may be noise)")
    for models, labels in contrary.items():
        parts.append(
            f"the tests favour {join_names(list(models))} on {join_names(labels)} (a test "
            "counts each row once; the values weigh the rows)"
        )
    missing = [f"on {join_names(untested)}"] if untested else []
    missing += [f"of {join_names(list(m))} on {join_names(ls)}" for m, ls in partly.items()]
    if missing:
        parts.append(
            f"no test {'; '.join(missing)} (fewer than 2 rows, or per-row differences"
            " that overflow or never vary)"
        )
    return (
        f"Paired tests (Holm-adjusted p < {TEST_ALPHA:g}): {'; '.join(parts)}; "
        "--ci 0.95 adds paired-bootstrap intervals."
    )


def render_models(report: CompareReport, fmt: str, console: Console) -> None:
    """Write the model comparison in the requested format."""
    write_report(
        report,
        fmt,
        console,
        payload=lambda r: r.as_dict(),
        csv_table=models_csv_table,
        markdown=models_markdown,
        table=lambda people: render_models_table(people, console),
    )


def models_markdown(report: CompareReport) -> str:
    """The table's columns and precision as markdown (numbers as the table prints them)."""
    several = len(report.models) >= 2
    header = ["loss", "model", *STAT_HEADERS] + (["rank"] if several else [])
    rows = [
        [_loss_name(r), r.model, *_stat_cells(r)] + ([_rank_text(r.rank)] if several else [])
        for r in report.results
    ]
    return cells_to_markdown(header, rows, right=2)
