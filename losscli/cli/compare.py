"""``loss compare [FILE]``: models side by side, or the losses themselves as curves."""

from __future__ import annotations

from typing import Any

import click

from losscli.cli.options import (
    api_input_kwargs,
    bootstrap_options,
    digits_option,
    format_option,
    input_options,
    join_options,
    loss_options,
)

DEFAULT_CURVE_LOSSES = "mse,mae,huber"  # the guide's "Loss vs Error" figure


def _check_errors(ctx: click.Context, param: click.Parameter, value: str) -> Any:
    from losscli.analysis.curves import parse_grid
    from losscli.errors import UsageError

    try:
        return parse_grid(value)
    except UsageError as exc:
        raise click.BadParameter(exc.message.removeprefix("--errors "), ctx, param) from None


def _check_plot(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from losscli.report.chart import check_image_path

    if value is None:
        return None
    try:
        check_image_path(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: the file name must end in .png, .svg or .pdf", ctx, param
        ) from None
    return value


def _given(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


@click.command("compare")
@click.argument("file", metavar="[FILE]", required=False)
@join_options
@input_options
@loss_options
@format_option
@digits_option
@click.option(
    "--errors",
    default="-3:3:13",
    show_default=True,
    metavar="START:STOP:N",
    callback=_check_errors,
    help="Without FILE: the error grid of regression curves (classification losses use "
    "p = 0.01..0.99 and hinge-type the margin -3..3, with the same N).",
)
@click.option(
    "--plot",
    metavar="PATH",
    callback=_check_plot,
    help="Also save a chart as PATH (.png, .svg or .pdf; needs losscli[plot]): without "
    "FILE the loss curves; with FILE the data charts (residual histograms with the flagged "
    "rows, or reliability diagrams and P(true class) histograms).",
)
@bootstrap_options(
    ci_help="With FILE: paired-bootstrap interval of each model's difference to the best, "
    "at this level, e.g. 0.95."
)
@click.option(
    "--time-col",
    metavar="COL",
    help="With FILE: the rows are a time series sorted by COL (numbers or ISO dates); the "
    "Diebold-Mariano tests then use a Newey-West (HAC) variance.",
)
@click.pass_context
def compare(
    ctx: click.Context,
    file: str | None,
    losses: tuple[str, ...],
    fmt: str,
    errors: Any,
    plot: str | None,
    ci: float | None,
    n_boot: int,
    seed: int,
    time_col: str | None,
    **kwargs: Any,
) -> None:
    """Compare losses: across models in FILE, or as functions of the error without FILE.

    With FILE, every loss for every model (--pred-col repeatable): the value,
    the per-row distribution (median, p95, max, share of the worst 1% of rows;
    median and p95 are the weighted percentile every command uses: the
    averaged inverted CDF: a row's value, or the mean of the two rows either
    side when the cumulative weight lands exactly on the level, such as the
    two middle rows of an even number of equally weighted rows for the median;
    never a linear interpolation, so p95 can differ slightly from numpy's
    default),
    a ranking per loss (mbe by absolute value) and whether the losses agree on
    the best model; --ci adds paired-bootstrap intervals of the difference to
    the best.

    Without FILE, the losses as curves: values and slopes over an error grid
    (regression), the probability of the true class (classification) or the
    margin (hinge-type), the guide's property table and a chart in the terminal
    (default losses: mse,mae,huber, the guide's "Loss vs Error" figure).

    \b
    Examples:
      loss compare --losses mse,mae,huber
      loss compare -l mse,huber:delta=2,log_cosh --errors -5:5:21 --plot c.png
      loss compare -l bce,focal,hinge --format json
      loss compare preds.csv --pred-col model_a --pred-col model_b --ci 0.95
      loss compare model_a.csv model_b.csv --on id    # two models' files joined
    """
    from losscli.errors import UsageError
    from losscli.report.console import make_console

    fmt = fmt.lower()
    if file is None:
        flags = {p.name: p.opts[0] for p in ctx.command.params if p.opts}
        for name in ["ci", "n_boot", "seed", "time_col", *[k for k in kwargs if k != "more_files"]]:
            if _given(ctx, name):
                raise UsageError(
                    f"{flags.get(name, name)} applies to models in a FILE; give a FILE "
                    f"(loss compare FILE ...) or leave it out to compare loss curves"
                )
        from losscli.cli.common import check_outputs, input_paths

        check_outputs(input_paths(None, kwargs), [("--plot", plot)])
        _compare_curves(losses, errors, plot, fmt, make_console())
        return
    if _given(ctx, "errors"):
        raise UsageError("--errors draws loss curves; use it without a FILE")
    _compare_models(file, losses, fmt, ci, n_boot, seed, kwargs, plot, time_col)


def _compare_curves(
    losses: tuple[str, ...], errors: Any, plot: str | None, fmt: str, console: Any
) -> None:
    from losscli.api import compare_losses
    from losscli.report.chart import save_chart
    from losscli.report.compare import chart_panels, render_curves

    result = compare_losses(losses or (DEFAULT_CURVE_LOSSES,), errors=errors)
    if plot:
        save_chart(plot, chart_panels(result))
    color = console.is_terminal and not console.no_color
    render_curves(result, fmt, console, color=color)
    if plot:
        click.echo(f"Chart saved to {plot}", err=True)


def _compare_models(
    file: str,
    losses: tuple[str, ...],
    fmt: str,
    ci: float | None,
    n_boot: int,
    seed: int,
    kwargs: dict[str, Any],
    plot: str | None = None,
    time_col: str | None = None,
) -> None:
    from losscli.api import compare as api_compare
    from losscli.cli.common import api_warnings, data_checked, note
    from losscli.cli.options import api_join_kwargs
    from losscli.report.compare import render_models
    from losscli.report.console import progress_bar, report_console

    data = data_checked(file, kwargs, [], plot)
    with api_warnings():
        # The paired bootstrap (--ci) reads every row into memory first: no bar then.
        with progress_bar(fmt == "table") as bar:
            result = api_compare(
                data,
                losses=losses,
                ci=ci,
                n_boot=n_boot,
                seed=seed,
                progress=bar,
                time_col=time_col,
                **api_input_kwargs(kwargs),
                **api_join_kwargs(kwargs),
            )
        for line in result.notes:
            note(f"Note: {line}")
        render_models(result, fmt, report_console(fmt))
    if plot:
        from losscli.cli.plotting import plot_from_file

        plot_from_file(plot, file, losses, kwargs)
