"""Rendering the ``loss compute`` report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from losscli.analysis.results import ComputeReport, LossResult
from losscli.report.format import fmt_number, fmt_params, rows_to_csv, rows_to_markdown, to_json

if TYPE_CHECKING:
    from rich.console import Console


def value_text(result: LossResult, with_ci: bool) -> str:
    """A value as a person reads it: %, sign meaning for mbe, the interval when asked."""
    text = fmt_number(result.value, percent=result.percent)
    if result.signed and result.value == result.value:
        if result.value > 0:
            text = "+" + text + " under"
        elif result.value < 0:
            text = text + " over"
    if with_ci and result.ci_low is not None:
        low = fmt_number(result.ci_low, percent=result.percent)
        high = fmt_number(result.ci_high, percent=result.percent)
        text += f" [{low}, {high}]"
    return text


def render_table(report: ComputeReport, console: Console) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    with_ci = report.ci_level is not None
    grouped = report.group_column is not None
    console.print(Text(f"Losses: {report.source}", style="bold"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    if grouped:
        table.add_column(Text(report.group_column or "group"), overflow="fold")
    table.add_column("loss", no_wrap=True)
    table.add_column("params", overflow="fold", style="dim")
    for model in report.models:
        table.add_column(Text(model), justify="right", overflow="fold")

    by_key: dict[tuple[str | None, str], dict[str, LossResult]] = {}
    order: list[tuple[str | None, str]] = []
    for r in report.results:
        key = (r.group, r.label)
        if key not in by_key:
            by_key[key] = {}
            order.append(key)
        by_key[key][r.model] = r
    previous_group: str | None = "\0"
    for group, label in order:
        cells = by_key[(group, label)]
        first = next(iter(cells.values()))
        row: list[Any] = []
        if grouped:
            shown = "(all)" if group is None else group
            row.append(Text(shown if group != previous_group else ""))
            if group != previous_group and previous_group != "\0":
                table.add_section()
            previous_group = group
        params = {k: v for k, v in first.params.items() if k != "eps"}
        row.append(first.loss + (" %" if first.percent else ""))
        row.append(fmt_params(params))
        for model in report.models:
            r = cells.get(model)
            row.append(value_text(r, with_ci) if r else "")
        table.add_row(*row)
    console.print(table)
    caption = [
        f"task {report.task} ({report.task_reason})",
        f"{report.n_rows:,} rows used, {report.n_dropped:,} dropped",
    ]
    if report.from_logits:
        caption.append("predictions read as logits")
    if report.task in ("binary", "multiclass"):
        caption.append(f"eps {report.eps:.3g}")
    if with_ci:
        caption.append(f"{100 * report.ci_level:g}% bootstrap CI, {report.n_boot} resamples")
    console.print(Text(" · ".join(caption), style="dim"))
    if any(r.signed for r in report.results):
        console.print(
            Text(
                "mbe = mean(y_true - y_pred): + under = the model under-predicts on average,"
                " - over = over-predicts.",
                style="dim",
            )
        )


def render(report: ComputeReport, fmt: str, console: Console) -> None:
    """Write the report to ``console`` in the requested format."""
    if fmt == "json":
        console.file.write(to_json(report.as_dict()) + "\n")
        return
    if fmt in ("csv", "markdown"):
        rows = report.as_dict()["results"]
        columns = ["loss", "params", "model", "value"]
        if report.ci_level is not None:
            columns += ["ci_low", "ci_high"]
        if report.group_column is not None:
            columns.append("group")
        text = rows_to_csv(rows, columns) if fmt == "csv" else rows_to_markdown(rows, columns)
        console.file.write(text)
        return
    render_table(report, console)
