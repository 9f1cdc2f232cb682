"""``loss compute FILE``: the selected losses for every model."""

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
from losscli.cli.plotting import plot_option


@click.command("compute")
@click.argument("file", metavar="FILE")
@join_options
@input_options
@loss_options
@format_option
@digits_option
@bootstrap_options(
    ci_help="Add bootstrap percentile confidence intervals at this level, e.g. 0.95."
)
@click.option("--group-by", metavar="COL", help="Also compute every loss per value of this column.")
@click.option(
    "--per-sample",
    metavar="PATH",
    help="Write per-row losses as CSV to PATH (- for stdout; the table then goes to stderr).",
)
@click.option(
    "--id-col",
    "id_cols",
    multiple=True,
    metavar="COL",
    help=(
        "Copy this input column into the --per-sample output, so its rows join back "
        "to the input (repeatable; with --on the key columns are copied anyway)."
    ),
)
@click.option(
    "--fail-above",
    multiple=True,
    metavar="NAME=VALUE",
    help=(
        "Quality gate: exit 3 when loss NAME exceeds VALUE for any model (repeatable). "
        "A NaN value fails; mbe is gated on |mbe|; mape=5% reads the bound in %. "
        "For losses (lower is better); scores take --fail-below."
    ),
)
@click.option(
    "--fail-below",
    multiple=True,
    metavar="NAME=VALUE",
    help=(
        "Quality gate for scores (higher is better): exit 3 when NAME is below VALUE "
        "for any model (repeatable), e.g. --fail-below r2=0.8. A NaN value fails."
    ),
)
@plot_option
def compute(
    file: str,
    losses: tuple[str, ...],
    fmt: str,
    ci: float | None,
    n_boot: int,
    seed: int,
    group_by: str | None,
    per_sample: str | None,
    id_cols: tuple[str, ...],
    fail_above: tuple[str, ...],
    fail_below: tuple[str, ...],
    plot: str | None,
    **kwargs: Any,
) -> None:
    """Compute the selected losses for every model in FILE.

    FILE (in every data command) is a CSV/TSV (maybe compressed) or Parquet
    file, - for stdin, or one dataset of many files: a directory, a quoted
    glob or a URL (s3://, gs://, abfs://, https://; pip install
    'losscli[cloud]'), its files' rows in sorted path order.

    \b
    Examples:
      loss compute preds.csv
      loss compute preds/ --group-by day         # day=.../ folders as a column
      loss compute 's3://bucket/preds/*.parquet' --storage-option anon=true
      loss compute preds.csv -l mse,mae,huber:delta=2 --pred-col a --pred-col b
      loss compute preds.csv --ci 0.95 --group-by segment --format json
      loss compute preds.csv --fail-above mae=0.5     # exit 3 when MAE > 0.5
      loss compute preds.csv --fail-below r2=0.8      # exit 3 when R^2 < 0.8
      loss compute model_a.csv model_b.csv --on id    # two models' files joined

    Several FILEs are several models' files joined on a key column (--on);
    each file's prediction column is a model named after the file.

    Per-sample values (--per-sample) are the terms the reduction averages:
    squared errors for rmse/rmsle, |e| for median_ae and max_error.

    Large files are read in chunks with bounded memory and the same results
    (median_ae stays exact), --ci and --per-sample included; --plot reads the
    file a second time for the charts (not from stdin).
    """
    from losscli.api import compute as api_compute
    from losscli.cli.common import api_warnings, data_checked, ignored_without_ci, note, warn
    from losscli.cli.options import api_join_kwargs
    from losscli.cli.plotting import plot_from_file
    from losscli.errors import GateFailed
    from losscli.report.compute import render
    from losscli.report.console import progress_bar, report_console, stdout_stream

    warn(ignored_without_ci(ci))
    # Before any work: the output can be written and is not an input (stdin included).
    data = data_checked(file, kwargs, [("--per-sample", per_sample), ("--plot", plot)], plot)
    with api_warnings():
        with progress_bar(fmt == "table") as bar:
            result = api_compute(
                data,
                losses=losses,
                ci=ci,
                n_boot=n_boot,
                seed=seed,
                group_by=group_by,
                fail_above=fail_above,
                fail_below=fail_below,
                per_sample=stdout_stream() if per_sample == "-" else per_sample,
                id_cols=id_cols,
                progress=bar,
                **api_input_kwargs(kwargs),
                **api_join_kwargs(kwargs),
            )
        if per_sample == "-":
            stdout_stream().flush()
        for line in result.notes:
            note(f"Note: {line}")
        render(result, fmt.lower(), report_console(fmt, stderr=per_sample == "-"))
        failed = result.gate_failures()
        if plot:
            plot_from_file(plot, file, losses, kwargs, groups=result if group_by else None)
    if failed:
        raise GateFailed("quality gate failed: " + "; ".join(failed))
