"""``loss sensitivity FILE``: the outlier-sensitivity report."""

from __future__ import annotations

from typing import Any

import click

from losscli.cli.options import (
    api_input_kwargs,
    digits_option,
    format_option,
    input_options,
    join_options,
    loss_options,
)
from losscli.cli.plotting import plot_option


@click.command("sensitivity")
@click.argument("file", metavar="FILE")
@join_options
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
    from losscli.api import sensitivity as api_sensitivity
    from losscli.cli.common import api_warnings, data_checked, note
    from losscli.cli.options import api_join_kwargs
    from losscli.report.console import make_console, progress_bar
    from losscli.report.sensitivity import HISTOGRAM_BINS, chart_bins, render

    data = data_checked(file, kwargs, [("--plot", plot)], plot)
    console = make_console()
    table = fmt.lower() == "table"
    with api_warnings():
        with progress_bar(table) as bar:
            result = api_sensitivity(
                data,
                progress=bar,
                losses=losses,
                rule=rule,
                threshold=threshold,
                # The table's histogram has one bin per console column (at most 60, as in JSON).
                bins=(lambda n_rows: chart_bins(console.width, n_rows))
                if table
                else HISTOGRAM_BINS,
                **api_input_kwargs(kwargs),
                **api_join_kwargs(kwargs),
            )
        for line in result.notes:
            note(f"Note: {line}")
        render(result, fmt.lower(), console)
    if plot:
        from losscli.cli.plotting import plot_from_file

        plot_from_file(
            plot, file, losses, kwargs, rule=(rule or "mad").lower(), threshold=threshold
        )
