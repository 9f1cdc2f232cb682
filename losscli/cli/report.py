"""``loss report FILE``: one self-contained HTML page with every analysis of FILE."""

from __future__ import annotations

import os
from typing import Any

import click

from losscli.cli.options import MAX_RESAMPLES, input_options, join_options, loss_options

COMPRESSED = (".gz", ".bz2", ".xz")
PAGE_EXTENSIONS = (".html", ".htm")


def default_output(file: str) -> str:
    """``<stem>.loss-report.html`` in the current directory (never next to the input)."""
    if file == "-":
        return "stdin.loss-report.html"
    if any(c in file for c in "*?["):  # a glob: named by its folder before the wildcards
        plain = []
        for part in file.split("/"):
            if any(c in part for c in "*?["):
                break
            plain.append(part)
        file = "/".join(plain) or "data"
    name = os.path.basename(os.path.normpath(file)) or "data"
    for ext in COMPRESSED:
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    stem = os.path.splitext(name)[0] or name
    return f"{stem}.loss-report.html"


def check_page_path(path: str) -> None:
    """UsageError unless --output names an HTML file: ``-o out.pdf`` wrote HTML into a .pdf.

    ``-`` (stdout), an existing device or FIFO and ``/dev/fd/N`` are written as they
    are; an empty name is left to the check of every output path (its own message).
    """
    from losscli.atomic import is_direct
    from losscli.errors import UsageError

    if path == "-" or not path.strip() or is_direct(path):
        return
    if not path.lower().endswith(PAGE_EXTENSIONS):
        raise UsageError(
            f"--output {path}: loss report writes an HTML page; give a file name ending "
            f"in .html or .htm, or - for stdout"
        )


def reproducing_command(ctx: click.Context, file: str) -> str:
    """``loss report FILE`` plus every option given on the command line, shell-quoted.

    A word holding control characters or bidi overrides is written ``$'...'`` with
    visible escapes (:func:`~losscli.report.console.shell_word`): the page shows
    it as the terminal would, and pasting it into bash or zsh runs the same command.
    """
    return _command(ctx, file, "report")


def groups_command(ctx: click.Context, file: str) -> str:
    """The ``loss compute`` that gives every value of the page as CSV: the same input,
    losses, groups, level, resamples and seed (the page may show some groups, losses or
    models).

    The options given to report that compute takes too (all but -o, --rule and
    --threshold), and --ci, which compute leaves off by default.
    """
    from losscli.cli.compute import compute

    words = _command(ctx, file, "compute", only=frozenset(p.name for p in compute.params if p.name))
    if ctx.get_parameter_source("ci") is not click.core.ParameterSource.COMMANDLINE:
        words += f" --ci {ctx.params['ci']:g}"
    return words + " --format csv"


def left_out_commands(ctx: click.Context, file: str, data: Any) -> dict[str, str]:
    """The commands that give what the page may leave out with many models or losses, with
    the report's own input options (see :func:`losscli.report.html.render_html`): every
    row of compute, compare and sensitivity as CSV, every model's data charts (none for
    several joined files, which --plot refuses), every curve, and recommend's JSON."""
    from losscli.cli.compare import compare
    from losscli.cli.compute import compute
    from losscli.cli.recommend import recommend
    from losscli.cli.sensitivity import sensitivity
    from losscli.report.html import curves_command

    def run(command: click.Command, drop: frozenset[str] = frozenset()) -> str:
        only = frozenset(p.name for p in command.params if p.name) - drop
        return _command(ctx, file, command.name or "", only=only)

    ci = ""
    if ctx.get_parameter_source("ci") is not click.core.ParameterSource.COMMANDLINE:
        ci = f" --ci {ctx.params['ci']:g}"  # compare leaves out intervals by default
    charts = ""
    if not ctx.params.get("more_files"):
        # The charts of regression and classification come with the outlier rule.
        plotted = (
            run(sensitivity)
            if data.sensitivity is not None
            else run(compute, frozenset({"ci", "n_boot", "seed"}))
        )
        charts = plotted + " --plot charts.png"
    return {
        "compute": groups_command(ctx, file),
        "compare": run(compare) + ci + " --format csv",
        "sensitivity": run(sensitivity) + " --format csv",
        "charts": charts,
        "curves": curves_command(data),
        "recommend": run(recommend) + " --format json",
    }


def _command(ctx: click.Context, file: str, name: str, only: frozenset[str] | None = None) -> str:
    from losscli.report.console import shell_word

    parts = ["loss", name, file, *ctx.params.get("more_files", ())]
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        if only is not None and param.name not in only:
            continue
        if ctx.get_parameter_source(param.name) is not click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        flag = param.opts[0] if param.opts[0].startswith("--") else param.opts[-1]
        if param.is_flag:
            if value:
                parts.append(flag)
            continue
        values = value if param.multiple else (value,)
        for v in values:
            parts += [
                flag,
                v if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else str(v),
            ]
    return " ".join(shell_word(part) for part in parts)


def _created() -> str:
    """UTC now, or SOURCE_DATE_EPOCH when set (reproducible builds)."""
    from datetime import datetime, timezone

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (
        datetime.fromtimestamp(int(epoch), timezone.utc)
        if epoch and epoch.isdigit()
        else datetime.now(timezone.utc)
    )
    return when.strftime("%Y-%m-%d %H:%M UTC")


@click.command("report")
@click.argument("file", metavar="FILE")
@join_options
@input_options
@loss_options
@click.option(
    "--output",
    "-o",
    metavar="PATH",
    help="Where to write the page, a name ending in .html or .htm (default: "
    "FILE-stem.loss-report.html in the current directory; - for stdout).",
)
@click.option(
    "--ci",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Level of the bootstrap intervals (values, and differences to the best model).",
)
@click.option(
    "--bootstrap",
    "n_boot",
    type=click.IntRange(min=10, max=MAX_RESAMPLES),
    default=1000,
    show_default=True,
    help=f"Bootstrap resamples for the intervals (10 to {MAX_RESAMPLES:,}).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Random seed of the bootstrap (a whole number >= 0).",
)
@click.option("--group-by", metavar="COL", help="Also compute every loss per value of this column.")
@click.option(
    "--rule",
    type=click.Choice(("mad", "iqr"), case_sensitive=False),
    default=None,
    help="Regression outlier rule of the sensitivity section (as loss sensitivity).",
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Cut-off of the outlier rule (as loss sensitivity --threshold).",
)
@click.pass_context
def report(
    ctx: click.Context,
    file: str,
    losses: tuple[str, ...],
    output: str | None,
    ci: float,
    n_boot: int,
    seed: int,
    group_by: str | None,
    rule: str | None,
    threshold: float | None,
    **kwargs: Any,
) -> None:
    """Write one self-contained HTML report of FILE: losses, models, data, advice.

    The page holds the compute table with bootstrap intervals (per group with
    --group-by), the model comparison (rankings, paired intervals of the
    difference to the best, agreement), the data (residual histograms with the
    flagged outliers, or reliability diagrams and P(true class) histograms),
    the outlier sensitivity, the loss curves and their properties, and the
    recommendation with the guide's rules and quotes. It is the output of
    compute, compare, sensitivity and recommend on the same data: every number
    equals their --format json output.

    The file loads nothing from anywhere (inline SVG charts, inline styles),
    stays small whatever the input size, prints on A4 and reads on a phone.
    Needs the report extra: pip install 'losscli[report]'.

    \b
    Examples:
      loss report preds.csv          # writes preds.loss-report.html here
      loss report preds.csv --pred-col a --pred-col b --group-by segment
      loss report preds.csv -o - > report.html
      loss report model_a.csv model_b.csv --on id   # two models' files joined
    """
    from losscli.api import report_data
    from losscli.cli.common import api_warnings, check_outputs, input_paths, note, write_atomically
    from losscli.cli.options import api_input_kwargs, api_join_kwargs, join_data
    from losscli.report.format import choose_groups, choose_models
    from losscli.report.html import (
        groups_left_out,
        models_left_out,
        render_html,
        require_report_extra,
    )

    require_report_extra()
    path = default_output(file) if output is None else output
    files = join_data(file, kwargs)
    check_outputs(input_paths(files, kwargs), [("--output", path)])
    check_page_path(path)
    with api_warnings():
        data = report_data(
            files,
            losses=losses,
            ci=ci,
            n_boot=n_boot,
            seed=seed,
            group_by=group_by,
            rule=(rule or "mad").lower(),
            threshold=threshold,
            **api_input_kwargs(kwargs),
            **api_join_kwargs(kwargs),
        )
    from losscli import __version__

    every_group = groups_command(ctx, file) if group_by is not None else None
    commands = left_out_commands(ctx, file, data)
    page = render_html(
        data,
        command=reproducing_command(ctx, file),
        created=_created(),
        version=__version__,
        groups_command=every_group,
        commands=commands,
    )
    for line in data.compute.notes:
        note(f"Note: {line}")
    shown = choose_models(data.compute, data.compare)
    left_out = groups_left_out(choose_groups(data.compute, shown))
    if left_out and every_group:
        note(f"Note: {left_out} {every_group}")
    left_out = models_left_out(shown)
    if left_out:
        note(f"Note: {left_out} {commands['compute']}")

    def write(handle: Any) -> None:
        handle.write(page)

    write_atomically(path, write)
    if path != "-":
        click.echo(f"Report written to {path}", err=True)
