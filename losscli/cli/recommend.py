"""``loss recommend [FILE] [FLAGS]``: the guide's choosing rules applied to flags and data."""

from __future__ import annotations

import inspect
from typing import Any

import click

from losscli.cli.options import (
    _load_custom,
    api_input_kwargs,
    digits_option,
    format_option,
    input_options,
    join_options,
    loss_options,
)
from losscli.errors import UsageError

RECOMMEND_TASKS = (
    "regression",
    "binary",
    "multiclass",
    "detection",
    "similarity",
    "generative",
    "distribution",
)


def _input_options_without_task(func: Any) -> Any:
    """The shared input options minus their --task (recommend declares a wider one)."""
    decorated = input_options(func)
    decorated.__click_params__ = [
        p for p in decorated.__click_params__ if getattr(p, "name", None) != "task"
    ]
    return decorated


def _without_custom(func: Any) -> Any:
    """--losses without the loading --custom of the shared loss options (see _refuse_custom)."""
    decorated = loss_options(func)
    decorated.__click_params__ = [
        p for p in decorated.__click_params__ if getattr(p, "name", None) != "custom"
    ]
    return decorated


def _refuse_custom(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    """--custom is a usage error here (exit 2), before the user's file is imported.

    The rules rate the catalogue's losses by what each one is (robust, probabilistic,
    margin-based...); a loss of the user's own carries none of that, so recommend
    could only call it "not backed" whatever it does. Without --custom the losses an
    earlier invocation in this process loaded are cleared, as the other commands do.
    """
    if value:
        raise UsageError(
            "--custom does not apply to recommend: its rules rate the catalogue's losses "
            "and know nothing of a loss of your own; measure yours with loss compute, "
            "compare, sensitivity or report --custom PATH.py:FUNC (recommend --losses "
            "rates the catalogue's losses you plan to use)"
        )
    _load_custom(ctx, param, value)


EPILOG = """\b
Flags alone imply a task: --outliers, --no-outliers, --heavy-tails,
--interpretable (and --smooth alone) -> regression; --imbalanced,
--max-margin, --need-probabilities -> binary unless --task multiclass.
Usage errors (exit 2): --outliers with --no-outliers;
--max-margin with --need-probabilities (hinge is not probabilistic,
cross-entropy not margin-based); a regression flag with a classification
one; a flag that does not apply to the task or the file; --custom (the
rules rate the catalogue's losses: measure yours with compute, compare,
sensitivity or report).
With FILE, data that strongly show what a flag denies win (--no-outliers on
>= 1% outliers): see "contradictions". On fewer than 50 rows a flag the
data disagree with stands, and a note says so. With several models the
first --pred-col is profiled.

"""


class RecommendCommand(click.Command):
    """A command whose epilog (the thresholds) is built only when its help is shown.

    ``loss --help`` imports this module for the one-line summary; the thresholds
    live in :mod:`losscli.analysis.rules`, which it then need not import.
    """

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from losscli.analysis.rules import THRESHOLDS_HELP

        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(inspect.cleandoc(EPILOG + THRESHOLDS_HELP))


@click.command("recommend", cls=RecommendCommand)
@click.argument("file", metavar="[FILE]", required=False)
@join_options
@click.option(
    "--task",
    "rec_task",
    type=click.Choice(RECOMMEND_TASKS, case_sensitive=False),
    metavar="TASK",
    help=(
        "The problem: regression, binary, multiclass, detection, similarity, generative or "
        "distribution (default: from FILE, or implied by the flags)."
    ),
)
# Two plain flags, not Click's --outliers/--no-outliers pair: the pair keeps whichever
# comes last, and saying both is a contradiction the user must hear about (exit 2).
@click.option("--outliers", is_flag=True, help="Regression: the data have outliers.")
@click.option(
    "--no-outliers",
    is_flag=True,
    help="Regression: the data have no outliers (a FILE that clearly has some overrides it).",
)
@click.option("--heavy-tails", is_flag=True, help="Regression: errors are heavy-tailed.")
@click.option("--imbalanced", is_flag=True, help="Classification: the classes are imbalanced.")
@click.option("--max-margin", is_flag=True, help="Classification: you want a maximum margin (SVM).")
@click.option(
    "--need-probabilities", is_flag=True, help="Classification: you need calibrated probabilities."
)
@click.option(
    "--interpretable", is_flag=True, help="Regression: the loss should read in target units."
)
@click.option("--smooth", is_flag=True, help="You want a smooth (differentiable) loss.")
@_input_options_without_task
@click.option(
    "--custom",
    "custom",
    multiple=True,
    hidden=True,
    expose_value=False,
    callback=_refuse_custom,
    help="Refused (exit 2): give --custom to compute, compare, sensitivity or report (repeatable).",
)
@_without_custom
@format_option
@digits_option
def recommend(
    file: str | None,
    rec_task: str | None,
    outliers: bool,
    no_outliers: bool,
    heavy_tails: bool,
    imbalanced: bool,
    max_margin: bool,
    need_probabilities: bool,
    interpretable: bool,
    smooth: bool,
    losses: tuple[str, ...],
    fmt: str,
    **kwargs: Any,
) -> None:
    """Recommend losses from what you know (flags) and what FILE shows.

    Encodes the guide's choosing rules (Quick Reference Guide, Choosing the
    Right Loss Function, Common Pitfalls): each recommendation has a score
    from 0 to 1, the rules that fired with the measured evidence and the
    thresholds, and suggested parameters; losses to avoid, pitfalls and
    contradictions between your flags and the data are listed too.
    --losses rates the losses you plan to use.

    \b
    Examples:
      loss recommend --outliers
      loss recommend --task multiclass --imbalanced --need-probabilities
      loss recommend preds.csv
      loss recommend preds.csv --no-outliers -l mse,mbe --format json
    """
    from losscli.api import recommend as api_recommend
    from losscli.cli.common import api_warnings, check_outputs, input_paths, note
    from losscli.cli.options import api_join_kwargs, join_data
    from losscli.report.console import progress_bar, report_console
    from losscli.report.recommend import render

    if outliers and no_outliers:
        raise UsageError(
            "--outliers and --no-outliers contradict each other: give the one that "
            "describes your data (or neither, and let FILE show it)"
        )
    data = join_data(file, kwargs)
    if file is not None:
        check_outputs(input_paths(data, kwargs), [])
    inputs = api_input_kwargs({**kwargs, "task": "auto"})
    for name in ("task", "custom"):  # recommend's --task is the problem, not a column layout
        del inputs[name]
    reads = file is not None
    with api_warnings(reads_data=reads), progress_bar(fmt.lower() == "table" and reads) as bar:
        result = api_recommend(
            data,
            progress=bar,
            task=rec_task,
            outliers=True if outliers else (False if no_outliers else None),
            heavy_tails=heavy_tails,
            imbalanced=imbalanced,
            max_margin=max_margin,
            need_probabilities=need_probabilities,
            interpretable=interpretable,
            smooth=smooth,
            losses=losses,
            **inputs,
            **api_join_kwargs(kwargs),
        )
    for line in result.notes:
        note(f"Note: {line}")
    render(result, fmt.lower(), report_console(fmt))
