"""Rendering the ``loss sensitivity`` report: outliers, histogram, tables, verdicts."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from losscli.analysis.sensitivity import (
    NO_VERDICT,
    ONE_NUMBER,
    Histogram,
    InjectionResult,
    ModelOutliers,
    SensitivityReport,
    SensitivityResult,
    format_pct,
    growth_text,
)
from losscli.report.format import (
    fmt_number,
    fmt_params,
    plural,
    write_report,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

CSV_COLUMNS = [
    "loss",
    "params",
    "model",
    "value",
    "value_without_outliers",
    "change_pct",
    "outlier_share",
    "top1pct_share",
    "growth",
    "verdict",
    "abs_change_pct",  # signed losses: the change of |bias| the table's footnote gives
]
HISTOGRAM_HEIGHT = 8
HISTOGRAM_BINS = 60  # the most bins drawn (and the JSON's bins)
HISTOGRAM_MIN_BINS = 10
ROWS_SHOWN = 12  # flagged row numbers printed in the table view (JSON lists up to 100)
BAR = "█"
FLAGGED_BAR = "▒"
SENSITIVE_GROWTH = ("quadratic", "jump", "clipped")


def fmt_pct(value: float | None) -> str:
    """A signed percentage with about 3 significant digits (the verdicts' format too)."""
    return format_pct(value)


def fmt_share(value: float) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{100 * value:.3g}%"


def _rule_text(o: ModelOutliers) -> str:
    if o.rule == "p_true":
        return f"P(true class) < {o.threshold:g}"
    if o.rule == "margin":
        return f"margin t x score < {o.lower:.4g}"
    if o.rule == "iqr":
        return f"outside Tukey's fences, k = {o.threshold:g}"
    return f"|robust z| > {o.threshold:g}"


def _outlier_lines(report: SensitivityReport, o: ModelOutliers) -> list[str]:
    if o.rule in ("p_true", "margin"):
        head = f"Confidently wrong rows in {o.model}: {o.count:,} of {o.n_considered:,}"
    else:
        head = f"Outliers in {o.model}: {o.count:,} of {plural(o.n_considered, 'row')}"
    lines = [f"{head} ({fmt_share(o.fraction)}), {_rule_text(o)}"]
    if o.rule == "p_true" and report.raw_scores:
        lines.append("  raw scores of margin losses, read as logits (softmax)")
    if o.rule == "margin":
        lines.append(
            f"  t = 2y - 1; {o.lower:.4g} = logit({o.threshold:g}), "
            f"P(true class) {o.threshold:g} under a logistic link"
        )
    if o.rule not in ("p_true", "margin") and math.isfinite(o.lower):
        scale_name = "1.2533 x mean abs. deviation" if o.fallback else "1.4826 MAD"
        how = "Q1 - k IQR" if o.rule == "iqr" else "the cut-off"
        lines.append(
            f"  i.e. residual < {fmt_number(o.lower)} or > {fmt_number(o.upper)}"
            + (f" ({how}, Q3 + k IQR)" if o.rule == "iqr" else "")
        )
        lines.append(
            f"  median residual {fmt_number(o.center)}, "
            f"robust sd ({scale_name}) {fmt_number(o.scale)}"
        )
    if o.rows:
        shown = ", ".join(str(r) for r in o.rows[:ROWS_SHOWN])
        more = f", ... ({o.count - ROWS_SHOWN} more)" if o.count > ROWS_SHOWN else ""
        lines.append(f"  rows {shown}{more}")
    return lines


def chart_bins(width: int, n_rows: int) -> int:
    """How many histogram bins fit a console ``width`` (one column each).

    The chart's left margin holds the largest count, at most ``n_rows``.
    """
    margin = len(str(max(n_rows, 1))) + 1
    return max(HISTOGRAM_MIN_BINS, min(HISTOGRAM_BINS, width - margin))


def histogram_lines(h: Histogram, height: int = HISTOGRAM_HEIGHT) -> list[tuple[str, list[bool]]]:
    """The chart as text lines; each line comes with a per-character 'flagged' mask.

    Bar height grows with log(1 + count), so a single outlying row stays visible
    next to a bin of hundreds; every non-empty bin is at least one cell high.
    """
    if not h.counts:
        return []
    top = max(h.counts)
    heights = [
        0 if c == 0 else max(1, round(height * math.log1p(c) / math.log1p(top))) for c in h.counts
    ]
    label_top, label_bottom = str(top), "1"
    margin = max(len(label_top), len(label_bottom)) + 1
    out: list[tuple[str, list[bool]]] = []
    for level in range(height, 0, -1):
        label = label_top if level == height else (label_bottom if level == 1 else "")
        prefix = label.rjust(margin - 1) + ("┤" if label else "│")
        chars, marks = [], []
        for bar, flagged in zip(heights, h.flagged):
            filled = bar >= level
            chars.append((FLAGGED_BAR if flagged else BAR) if filled else " ")
            marks.append(filled and flagged > 0)
        out.append((prefix + "".join(chars), [False] * len(prefix) + marks))
    # The axis, with the rule's cut-offs marked.
    lo, hi = h.edges[0], h.edges[-1]
    n = len(h.counts)
    width = (hi - lo) / n if n else 1.0

    def column(x: float) -> int:
        return min(n - 1, max(0, int((x - lo) / width))) if width > 0 else 0

    axis = ["─"] * n
    for c in h.cutoffs:
        if lo <= c <= hi:
            axis[column(c)] = "┴"
    out.append((" " * (margin - 1) + "└" + "".join(axis), [False] * (margin + n)))
    # Labels under the axis: the ends and the cut-offs, left to right, never overlapping.
    labels = [(0, fmt_number(lo))]
    labels += [(column(c), fmt_number(c)) for c in h.cutoffs if lo <= c <= hi]
    labels.append((n - len(fmt_number(hi)), fmt_number(hi)))
    text = [" "] * (n + 12)
    last_end = -1
    for pos, label in sorted(labels):
        start = max(pos - len(label) // 2 if 0 < pos < n - len(label) else pos, 0)
        start = min(start, max(n - len(label), 0))  # within the chart's width
        if start <= last_end:
            continue
        text[start : start + len(label)] = list(label)
        last_end = start + len(label)
    line = " " * margin + "".join(text).rstrip()
    out.append((line, [False] * len(line)))
    return out


def _render_histogram(h: Histogram, o: ModelOutliers, console: Console) -> None:
    from rich.text import Text

    cut = " and ".join(fmt_number(c) for c in h.cutoffs)
    console.print(
        Text(
            f"{h.quantity} ({h.model}): {len(h.counts)} bins of "
            f"{fmt_number(h.edges[1] - h.edges[0], digits=3)}, bar height ~ log(count)",
            style="bold",
        )
    )
    for line, marks in histogram_lines(h):
        text = Text()
        for ch, flagged in zip(line, marks + [False] * (len(line) - len(marks))):
            text.append(ch, style="red" if flagged else ("cyan" if ch == BAR else ""))
        console.print(text)
    legend = f"{FLAGGED_BAR} = bins holding flagged rows ({o.count})"
    if cut:
        legend += f"; ┴ = cut-off{'s' if len(h.cutoffs) > 1 else ''} {cut}"
    console.print(Text(legend, style="dim"))


def _measured_width(console: Console, table: Table) -> int:
    from rich.measure import Measurement

    # Measured without the console's limit: the width the table needs uncut.
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def _table(
    keys: list[str], columns: list[tuple[str, str]], rows: list[list[Text]], shown: list[int]
) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in keys:
        table.add_column(header, no_wrap=True)
    for j in shown:
        header, justify = columns[j]
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row[: len(keys)], *(row[len(keys) + j] for j in shown))
    return table


def print_fitted(
    console: Console, keys: list[str], columns: list[tuple[str, str]], rows: list[list[Text]]
) -> None:
    """A table whose cells are never cut, whatever the console width.

    Columns keep the width of their content (no_wrap). When the whole table is
    wider than the console, the rows are shown in several tables, each with the
    ``keys`` columns and as many of the others as fit; when not even one more
    column fits, each row becomes a block of "header: value" lines.
    """
    from rich.text import Text

    width = console.width
    groups: list[list[int]] = []
    current: list[int] = []
    for j in range(len(columns)):
        if _measured_width(console, _table(keys, columns, rows, current + [j])) <= width:
            current.append(j)
            continue
        if not current:
            groups = []
            break
        groups.append(current)
        current = [j]
        if _measured_width(console, _table(keys, columns, rows, current)) > width:
            groups = []
            break
    else:
        if current:
            groups.append(current)
    if groups:
        for shown in groups:
            console.print(_table(keys, columns, rows, shown))
            console.print()
        return
    for row in rows:  # too narrow for any table: one block per row
        console.print(Text(" ").join(row[: len(keys)]), style="bold")
        for j, (header, _) in enumerate(columns):
            console.print(Text(f"  {header.replace(chr(10), ' ')}: ") + row[len(keys) + j])
    console.print()


def _verdict_text(verdict: str) -> Text:
    from rich.text import Text

    style = {"sensitive": "red", "robust": "green"}.get(verdict, "yellow")
    return Text(verdict, style=style)


def _results_table(report: SensitivityReport, console: Console) -> None:
    """One table per model (a model column would not fit 80 columns)."""
    from rich.text import Text

    several = len(report.models) > 1
    columns = [
        ("value", "right"),
        ("without\noutliers", "right"),
        ("change", "right"),
        ("outlier\nshare", "right"),
        ("top 1%\nshare", "right"),
        ("verdict", "left"),
    ]
    for model in report.models:
        if several:
            console.print(Text(f"Model {model}", style="bold"))
        mine = [r for r in report.results if r.model == model]
        rows = [
            [
                Text(r.label + ("*" if r.signed else "")),
                Text(fmt_number(r.value, percent=r.percent)),
                Text(fmt_number(r.value_without_outliers, percent=r.percent)),
                Text(fmt_pct(r.change_pct)),
                Text(fmt_share(r.outlier_share)),
                Text(fmt_share(r.top1pct_share)),
                _verdict_text(r.verdict),
            ]
            for r in mine
        ]
        print_fitted(console, ["loss"], columns, rows)
        footnotes = False
        for r in mine:
            if r.signed:
                console.print(
                    Text(
                        f"* {r.label} is signed: the flagged rows move the bias from "
                        f"{fmt_number(r.value_without_outliers)} to {fmt_number(r.value)} "
                        f"(|bias| {fmt_pct(r.abs_change_pct)}); shares are of sum |e|",
                        style="dim",
                    )
                )
                footnotes = True
            if r.verdict == NO_VERDICT:
                what = (
                    "is a ratio of sums over all rows"
                    if r.ratio
                    else f"returned a scalar ({ONE_NUMBER})"
                )
                console.print(
                    Text(
                        f"{r.label} {what}: no per-row shares (-), {NO_VERDICT}",
                        style="dim",
                    )
                )
                footnotes = True
        if footnotes:
            console.print()


def _injection_table(report: SensitivityReport, console: Console) -> None:
    from rich.text import Text

    several = len(report.models) > 1
    ks: list[float] = []
    for i in report.injection:
        if i.k not in ks:
            ks.append(i.k)
    cells: dict[tuple[str, str], dict[float, InjectionResult]] = {}
    for i in report.injection:
        cells.setdefault((i.label, i.model), {})[i.k] = i
    growth = {(r.label, r.model): r for r in report.results}

    if report.task == "regression":
        if several:
            intro = "Injection: one extra row with residual k x the model's robust sd"
        else:
            scale = fmt_number(next(iter(report.injection_scale.values())))
            intro = f"Injection: one extra row with residual k x {scale} (robust sd)"
    elif report.raw_scores:
        intro = "Injection: one extra row whose true-class raw score is -k (margin -k)"
    else:
        intro = "Injection: one extra row whose true-class logit is -k (other logits 0)"
    console.print(Text(intro, style="bold"))
    if report.task != "regression" and not report.from_logits and not report.raw_scores:
        console.print(
            Text(
                "Probabilities are clipped at eps, so log losses stop growing near "
                "k = -ln(eps) (36 for eps 2.2e-16): growth 'clipped', bounded only by eps.",
                style="dim",
            )
        )
    keys = ["% change"] + (["model"] if several else [])
    columns = [(f"k={k:g}", "right") for k in ks] + [("growth", "left")]
    rows: list[list[Text]] = []
    for (label, model), by_k in cells.items():
        result = growth[(label, model)]
        row = [Text(label)] + ([Text(model)] if several else [])
        row += [Text(_injection_cell(by_k[k], result) if k in by_k else "") for k in ks]
        text = growth_text(result.growth, result.growth_exponent)
        row.append(Text(text, style="red" if result.growth in SENSITIVE_GROWTH else ""))
        rows.append(row)
    print_fitted(console, keys, columns, rows)
    notes = []
    if any(r.signed for r in report.results):
        notes.append("signed losses show the value with the row (=), not a % change")
    if any(
        r.growth in ("quadratic", "linear") and r.growth_exponent is not None
        for r in report.results
    ):
        notes.append("b = growth exponent at large k (change ~ k^b)")
    if notes:
        console.print(Text("; ".join(notes) + ".", style="dim"))
        console.print()


def _injection_cell(i: InjectionResult, result: SensitivityResult) -> str:
    """% change; for a signed loss the value itself (the bias with the row)."""
    if result.signed:
        return "n/a" if i.value is None else f"={i.value:+.4g}"
    return fmt_pct(i.change_pct)


def _verdict_lines(report: SensitivityReport, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    several = len(report.models) > 1
    console.print(Text("Verdicts", style="bold"))
    grid = Table.grid(padding=(0, 1), pad_edge=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    rows = []
    for r in report.results:
        who = f"{r.label} ({r.model})" if several else r.label
        text = _verdict_text(r.verdict)
        if r.verdict == NO_VERDICT and not r.ratio:
            text.append(f" ({ONE_NUMBER})")
        text.append(": " + "; ".join(r.reasons))
        rows.append((Text(" " + who), text))
    # Too narrow for the names beside their verdicts (COLUMNS=20): each name whole on
    # its own line, its verdict folded below it.
    if max((len(name) for name, _ in rows), default=0) + 20 > console.width:
        for name, verdict in rows:
            console.print(name, overflow="fold")
            console.print(Text("   ") + verdict, overflow="fold")
        console.print(Text(""))
    else:
        for name, verdict in rows:
            grid.add_row(name, verdict)
        console.print(grid)
    console.print(
        Text(
            "sensitive = a max (one row sets it), growth ~k^2 (b >= 1.5), a jump, bounded "
            "only by clipping at eps, the flagged rows or one bad row (k <= 100) change it "
            "by >= 100%, or the worst 1% carry >= 50%; rmse and rmsle are judged on the "
            "mean under their root.",
            style="dim",
        )
    )


def render_table(report: SensitivityReport, console: Console) -> None:
    from rich.text import Text

    console.print(Text(f"Outlier sensitivity: {report.source}", style="bold"))
    caption = [
        f"task {report.task} ({report.task_reason})",
        f"{plural(report.n_rows, 'row')} used, {report.n_dropped:,} dropped",
    ]
    if report.from_logits:
        caption.append("predictions read as logits")
    console.print(Text(" · ".join(caption), style="dim"))
    by_model = {h.model: h for h in report.histograms}
    for o in report.outliers:
        console.print()
        for line in _outlier_lines(report, o):
            console.print(Text(line))
        h = by_model.get(o.model)
        if h is not None and h.counts:
            console.print()
            _render_histogram(h, o, console)
    console.print()
    _results_table(report, console)
    _injection_table(report, console)
    _verdict_lines(report, console)


def results_rows(report: SensitivityReport) -> list[dict[str, object]]:
    """The long/tidy rows of csv and markdown output."""
    rows = []
    for r in report.results:
        row = r.as_dict()
        row["params"] = fmt_params(r.params)
        rows.append(row)
    return rows


def csv_table(report: SensitivityReport) -> tuple[list[dict[str, object]], list[str]]:
    """The rows and columns of csv/markdown output (and of ``to_pandas()``)."""
    return results_rows(report), list(CSV_COLUMNS)


def render(report: SensitivityReport, fmt: str, console: Console) -> None:
    """Write the report to ``console`` in the requested format."""
    write_report(
        report,
        fmt,
        console,
        payload=lambda r: r.as_dict(),
        csv_table=csv_table,
        table=lambda people: render_table(people, console),
    )


__all__ = ["SensitivityResult", "render", "render_table", "histogram_lines", "fmt_pct"]
