"""``loss sensitivity FILE``: the outlier-sensitivity report."""

from __future__ import annotations

from typing import Any

import click

from losscli.cli.options import (
    digits_option,
    format_option,
    input_from_kwargs,
    input_options,
    loss_options,
)
from losscli.cli.plotting import plot_option


@click.command("sensitivity")
@click.argument("file", metavar="FILE")
@input_options
@loss_options
@format_option
@digits_option
@click.option(
    "--rule",
    type=click.Choice(("mad", "iqr"), case_sensitive=False),
    default=None,
    help="Regression outlier rule: robust z-score from the MAD (default) or Tukey's IQR fences.",
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help=(
        "Cut-off of the rule: |robust z| (mad, default 3.5), the fence multiple k "
        "(iqr, default 1.5), or the probability of the true class below which a "
        "classification row is confidently wrong (default 0.01; for hinge-type "
        "losses on raw scores the margin logit(p), -4.595 by default)."
    ),
)
@plot_option
def sensitivity(
    file: str,
    losses: tuple[str, ...],
    fmt: str,
    rule: str | None,
    threshold: float | None,
    plot: str | None,
    **kwargs: Any,
) -> None:
    """Show how much each loss is driven by a few outlying rows of FILE.

    Rows are flagged per model: regression residuals y_true - y_pred with
    |0.6745 (r - median) / MAD| > 3.5 (or outside Tukey's fences with --rule
    iqr); classification rows whose predicted probability of the true class is
    below 0.01 (hinge-type losses alone on raw scores: margin t x score below
    logit(0.01) = -4.595). Every loss is reported with and without them, with
    the share of the loss they carry, then one synthetic row of k x robust sd
    error (k = 5, 10, 50, 100) is appended to show quadratic against linear
    growth (the exponent b of change ~ k^b), and each loss gets a verdict,
    robust or sensitive (a log loss bounded only by clipping at eps is
    sensitive).

    Large files stream in two passes with bounded memory and the same
    figures (with --custom losses the file is read whole).

    \b
    Examples:
      loss sensitivity preds.csv
      loss sensitivity preds.csv --rule iqr --threshold 3
      loss sensitivity preds.csv -l mse,huber:delta=5 --pred-col a --pred-col b
      loss sensitivity sample_data/binary_imbalanced.csv --threshold 0.05
      loss sensitivity sample_data/hinge_labels.csv -l hinge
      loss sensitivity preds.csv --format json
      loss sensitivity preds.csv --plot residuals.png
    """
    import math

    from losscli.analysis.sensitivity import sensitivity as run_sensitivity
    from losscli.cli.common import check_outputs, choose_losses, input_paths, note, warn
    from losscli.core.registry import Task, custom_losses, select_losses
    from losscli.errors import UsageError
    from losscli.io import load_dataset
    from losscli.report.console import make_console
    from losscli.report.sensitivity import HISTOGRAM_BINS, chart_bins, render

    if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
        raise UsageError(f"--threshold must be a positive number (got {threshold:g})")
    check_outputs(input_paths(file, kwargs), [("--plot", plot)])
    if plot:
        from losscli.cli.plotting import check_plot_target

        check_plot_target(plot, file, rereads=True)
    opts = input_from_kwargs(kwargs)
    if losses:  # typos in --losses fail before the file is read (exit 2)
        select_losses(list(losses), Task.REGRESSION)
    console = make_console()
    in_memory = bool(custom_losses())
    if not in_memory:
        from losscli.analysis.sensitivity_plan import NeedsMemory, sensitivity_plan
        from losscli.cli.plans import run_on_file

        def check_head(head: Any) -> None:
            _check_threshold(head.task, threshold)

        def bins_for(n_rows: int) -> int:
            # The table's histogram has one bin per console column (at most 60, as in JSON).
            return chart_bins(console.width, n_rows) if fmt.lower() == "table" else HISTOGRAM_BINS

        plan = sensitivity_plan(
            lambda head: choose_losses(losses, head),
            rule=(rule or "mad").lower(),
            threshold=threshold,
            bins_for=bins_for,
            check_head=check_head,
        )
        try:
            report = run_on_file(plan, file, opts, show_progress=fmt.lower() == "table")
        except NeedsMemory:
            in_memory = True  # a weighted median whose neighbours were not kept
    if in_memory:
        # --custom losses may return one number for all rows: they need every row at once.
        dataset = load_dataset(file, opts)
        _check_threshold(dataset.task, threshold)
        selections = choose_losses(losses, dataset)
        bins = (
            chart_bins(console.width, dataset.n_rows) if fmt.lower() == "table" else HISTOGRAM_BINS
        )
        report = run_sensitivity(
            dataset, selections, rule=(rule or "mad").lower(), threshold=threshold, bins=bins
        )
    regression = report.task == Task.REGRESSION.value
    for line in report.notes:
        note(f"Note: {line}")
    if rule is not None and not regression:
        note(
            f"Note: --rule applies to regression residuals; {report.task} rows are "
            f"flagged by the probability of the true class"
        )
    render(report, fmt.lower(), console)
    warn(report.warnings)
    if plot:
        from losscli.cli.plotting import plot_from_file

        plot_from_file(
            plot, file, losses, kwargs, rule=(rule or "mad").lower(), threshold=threshold
        )


def _check_threshold(task: Any, threshold: float | None) -> None:
    from losscli.core.registry import Task
    from losscli.errors import UsageError

    if task is not Task.REGRESSION and threshold is not None and threshold >= 1:
        raise UsageError(
            f"--threshold for {task.value} data is a probability of the true class "
            f"in (0, 1), e.g. 0.01 (got {threshold:g})"
        )
