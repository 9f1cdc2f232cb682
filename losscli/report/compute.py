"""Rendering the ``loss compute`` report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from losscli.analysis.results import ComputeReport, LossResult
from losscli.report.format import (
    cells_to_markdown,
    fmt_number,
    fmt_params,
    group_label,
    plural,
    write_report,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


def value_text(result: LossResult, with_ci: bool) -> str:
    """A value as a person reads it: %, sign meaning for mbe, the interval on a second line."""
    text = fmt_number(result.value, percent=result.percent)
    if result.signed and result.value == result.value:
        if result.value > 0:
            text = "+" + text + " under"
        elif result.value < 0:
            text = text + " over"
    if with_ci and result.ci_low is not None:
        low = fmt_number(result.ci_low, percent=result.percent)
        high = fmt_number(result.ci_high, percent=result.percent)
        text += f"\n[{low}, {high}]"
    return text


def _grouped_results(
    report: ComputeReport,
) -> list[tuple[str | None, str, dict[str, LossResult]]]:
    """(group, loss label, {model: result}) in report order."""
    by_key: dict[tuple[str | None, str], dict[str, LossResult]] = {}
    for r in report.results:
        by_key.setdefault((r.group, r.label), {})[r.model] = r
    return [(group, label, cells) for (group, label), cells in by_key.items()]


def _loss_cells(first: LossResult) -> list[str]:
    params = {k: v for k, v in first.params.items() if k != "eps"}
    return [first.loss + (" %" if first.percent else ""), fmt_params(params)]


def _wide_table(report: ComputeReport, with_ci: bool) -> Table:
    """Losses down, models across: the layout for a few models."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    grouped = report.group_column is not None
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    if grouped:
        table.add_column(Text(report.group_column or "group"), overflow="fold")
    table.add_column("loss", no_wrap=True)
    table.add_column("params", style="dim")
    for model in report.models:
        table.add_column(Text(model), justify="right", no_wrap=True)
    previous: str | None = "\0"
    for group, _label, cells in _grouped_results(report):
        row: list[Any] = []
        if grouped:
            if group != previous and previous != "\0":
                table.add_section()
            row.append(Text(group_label(group) if group != previous else ""))
            previous = group
        row.extend(_loss_cells(next(iter(cells.values()))))
        for model in report.models:
            r = cells.get(model)
            row.append(value_text(r, with_ci) if r else "")
        table.add_row(*row)
    return table


def _long_table(report: ComputeReport, with_ci: bool) -> Table:
    """One row per (loss, model): the layout when the models do not fit side by side."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    grouped = report.group_column is not None
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    if grouped:
        table.add_column(Text(report.group_column or "group"), overflow="fold")
    table.add_column("loss", no_wrap=True)
    table.add_column("params", style="dim")
    table.add_column("model", overflow="fold")
    table.add_column("value", justify="right", no_wrap=True)
    previous: tuple[str | None, str] | None = None
    for group, label, cells in _grouped_results(report):
        if previous is not None and previous != (group, label):
            table.add_section()
        first_row = True
        for model in report.models:
            r = cells.get(model)
            if r is None:
                continue
            row: list[Any] = []
            if grouped:
                row.append(Text(group_label(group) if first_row else ""))
            row.extend(_loss_cells(r) if first_row else ["", ""])
            row.extend([Text(model), value_text(r, with_ci)])
            table.add_row(*row)
            first_row = False
        previous = (group, label)
    return table


def _print_narrow(report: ComputeReport, with_ci: bool, console: Console) -> None:
    """The layout when no table fits (a very narrow console): one block per loss.

    Every name is printed whole (folded at the console's edge, never cut): the loss
    with its parameters and group on one line, then each model, its value right-aligned
    beside it, or on the next line when both do not fit.
    """
    from rich.text import Text

    grouped = report.group_column is not None
    width = console.width
    for group, _label, cells in _grouped_results(report):
        first = next(iter(cells.values()))
        loss, params = _loss_cells(first)
        head = [group_label(group)] if grouped else []
        head += [loss] + ([params] if params else [])
        console.print()
        console.print(Text(" · ".join(head), style="bold"), overflow="fold")
        for model in report.models:
            r = cells.get(model)
            if r is None:
                continue
            name = f"  {model}"
            for number, value in enumerate(value_text(r, with_ci).split("\n")):
                shown = name if number == 0 else ""
                room = width - len(shown) - 2
                if len(value) <= room:
                    console.print(Text(shown + value.rjust(width - len(shown))), overflow="fold")
                else:
                    if shown:
                        console.print(Text(shown), overflow="fold")
                    console.print(Text(value.rjust(width)), overflow="fold")
    console.print()


def _fits(table: Table, console: Console) -> bool:
    from rich.measure import Measurement

    # The natural width: no cell wrapped or cut (rich would otherwise truncate names).
    unbounded = console.options.update_width(1_000_000)
    return Measurement.get(console, unbounded, table).maximum <= console.width


def print_footer(console: Console, parts: list[str]) -> None:
    """Footer facts joined by ' · ', breaking between facts rather than inside one."""
    from rich.text import Text

    line = ""
    for part in parts:
        candidate = f"{line} · {part}" if line else part
        if line and len(candidate) > console.width:
            console.print(Text(line, style="dim"))
            line = part
        else:
            line = candidate
    if line:
        console.print(Text(line, style="dim"))


def render_table(report: ComputeReport, console: Console) -> None:
    from rich.text import Text

    with_ci = report.ci_level is not None
    console.print(Text(f"Losses: {report.source}", style="bold"))
    table = _wide_table(report, with_ci)
    if len(report.models) > 1 and not _fits(table, console):
        table = _long_table(report, with_ci)
    if _fits(table, console):
        console.print(table)
    else:
        _print_narrow(report, with_ci, console)
    caption = [
        f"task {report.task} ({report.task_reason})",
        f"{plural(report.n_rows, 'row')} used, {report.n_dropped:,} dropped",
    ]
    if report.from_logits:
        caption.append("predictions read as logits")
    if report.task in ("binary", "multiclass"):
        caption.append(f"eps {report.eps:.3g}")
    if report.ci_level is not None:
        if report.n_rows < 2:  # every resample of one row is that row: no interval
            caption.append(f"no bootstrap CI from {plural(report.n_rows, 'row')} (needs 2)")
        else:
            ci = f"{100 * report.ci_level:g}% bootstrap CI, {report.n_boot} resamples"
            if any(r.group is not None and r.n_rows < 2 for r in report.results):
                ci += " (none for a group of 1 row)"
            caption.append(ci)
    if report.weight_column:
        caption.append(f"weighted by {report.weight_column}")
    print_footer(console, caption)
    if any(r.signed for r in report.results):
        print_footer(
            console,
            ["mbe = mean(y_true - y_pred)", "+ under: under-predicts", "- over: over-predicts"],
        )


def csv_table(report: ComputeReport) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows and columns of csv/markdown output (and of ``to_pandas()``)."""
    rows = report.as_dict()["results"]
    columns = ["loss", "params", "model", "value"]
    if report.ci_level is not None:
        columns += ["ci_low", "ci_high"]
    if report.group_column is not None:
        columns += ["group", "n_rows"]
    return rows, columns


def markdown_table(report: ComputeReport) -> str:
    """The table's layout and precision as markdown: losses down, models across."""
    with_ci = report.ci_level is not None
    grouped = report.group_column is not None
    header = ([report.group_column or "group", "rows"] if grouped else []) + ["loss", "params"]
    header += list(report.models)
    rows = []
    for group, _label, cells in _grouped_results(report):
        first = next(iter(cells.values()))
        row = [group_label(group), f"{first.n_rows:,}"] if grouped else []
        row += _loss_cells(first)
        for model in report.models:
            r = cells.get(model)
            row.append(value_text(r, with_ci).replace("\n", " ") if r else "")
        rows.append(row)
    return cells_to_markdown(header, rows, right=len(header) - len(report.models))


def render(report: ComputeReport, fmt: str, console: Console) -> None:
    """Write the report to ``console`` in the requested format."""
    write_report(
        report,
        fmt,
        console,
        payload=lambda r: r.as_dict(),
        csv_table=csv_table,
        markdown=markdown_table,
        table=lambda people: render_table(people, console),
    )
