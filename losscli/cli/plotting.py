"""``--plot PATH`` with a FILE (compute, compare, sensitivity): the report's data charts.

The charts are those of ``loss report``: a residual histogram per model with
the flagged outliers (regression), a reliability diagram and a P(true class)
histogram per model (classification on probabilities), the per-sample loss
distribution (structured families), and each group's values with their
intervals when --group-by is given. PNG, SVG or PDF by the file's extension.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

PLOT_HELP = (
    "Also save the data charts as PATH (.png, .svg or .pdf; needs losscli[plot]): "
    "residual histograms with the flagged rows, or reliability diagrams and P(true class) "
    "histograms; per-group values with --group-by."
)


def _check_plot_path(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    from losscli.errors import UsageError
    from losscli.report.figures import plot_format

    if value is None:
        return None
    try:
        plot_format(value)
    except UsageError as exc:
        raise click.BadParameter(
            exc.message.removeprefix(f"--plot {value}: "), ctx, param
        ) from None
    return value


def plot_option(func: F) -> F:
    return click.option("--plot", metavar="PATH", callback=_check_plot_path, help=PLOT_HELP)(func)


def check_plot_target(path: str, file: str, rereads: bool = False) -> None:
    """Before any work: the extension, stdin, matplotlib, the folder, never an input.

    ``rereads``: the command reads FILE a second time for the charts, which
    stdin cannot give.
    """
    from losscli.cli.common import check_outputs
    from losscli.errors import UsageError
    from losscli.report.figures import plot_format, require_matplotlib

    plot_format(path)
    if rereads and file == "-":
        raise UsageError(
            "--plot reads the data a second time, which stdin cannot give; save the data "
            "to a file and pass its path"
        )
    require_matplotlib()
    check_outputs([file], [("--plot", path)])


def refuse_plot_of_join(data: Any) -> None:
    """--plot draws the charts of one FILE; several joined files are refused before any work."""
    from losscli.errors import UsageError

    if isinstance(data, list):
        raise UsageError(
            "--plot draws the charts of one FILE; with several files joined by --on, "
            "leave --plot out (or join the files into one first)"
        )


def plot_from_file(
    path: str,
    file: str,
    losses: tuple[str, ...],
    kwargs: dict[str, Any],
    *,
    groups: Any = None,
    rule: str = "mad",
    threshold: float | None = None,
) -> None:
    """Read FILE again through the API and draw its data charts into ``path``."""
    from losscli.api import data_charts
    from losscli.cli.common import note
    from losscli.cli.options import api_input_kwargs

    inputs = api_input_kwargs(kwargs)
    for name in ("engine", "scheduler"):  # the charts' aggregates are drawn on this machine
        inputs.pop(name, None)
    charts = data_charts(
        file,
        losses=losses,
        groups=groups,
        rule=rule,
        threshold=threshold,
        **inputs,
    )
    for line in charts.notes:
        note(f"Note: {line}")
    _save(path, charts)


def save_data_plot(
    path: str,
    dataset: Any,
    selections: list[Any],
    *,
    rule: str = "mad",
    threshold: float | None = None,
    groups: Any = None,
) -> None:
    """Draw the data charts of ``dataset`` into ``path`` (atomically) and say so on stderr."""
    from losscli.analysis.report import chart_data
    from losscli.cli.common import note

    charts, notes = chart_data(dataset, selections, rule=rule, threshold=threshold, groups=groups)
    for line in notes:
        note(f"Note: {line}")
    _save(path, charts)


def _save(path: str, charts: Any) -> None:
    from losscli.cli.common import note
    from losscli.report.figures import data_panels, save_panels

    panels = data_panels(charts)
    if not panels:
        note("Note: --plot: these data have no chart to draw; no file written")
        return
    save_panels(path, panels)
    click.echo(f"Chart saved to {path}", err=True)
