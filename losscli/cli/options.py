"""Option groups shared by the data commands, declared once as decorators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# The same tuple as losscli.api.TASKS, which validates them (tests/test_api_inputs.py
# holds the two equal): the CLI keeps its own copy so that `loss --help` need not
# import the API module.
TASKS = (
    "auto",
    "regression",
    "binary",
    "multiclass",
    "detection",
    "similarity",
    "generative",
    "vae",
    "interval",
    "quantile",
)
FORMATS = ("table", "json", "csv", "markdown")
# Bootstrap resamples at most: the Monte Carlo error of a 95% interval's ends is far
# below the data's at 100,000; more only costs time (and memory for the draws).
MAX_RESAMPLES = 100_000


def _apply(options: list[Callable[[F], F]], func: F) -> F:
    for option in reversed(options):
        func = option(func)
    return func


# --engine / --scheduler (issue 16): where the command's plan runs.
ENGINE_OPTIONS = [
    click.option(
        "--engine",
        type=click.Choice(("local", "dask"), case_sensitive=False),
        default="local",
        show_default=True,
        help="Where to compute: this process, or a Dask cluster (pip install 'losscli[dask]').",
    ),
    click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="With --engine dask: an existing cluster's scheduler (tcp://HOST:8786); "
        "default: a local cluster of one worker per core, closed at the end.",
    ),
]


def input_options(func: F) -> F:
    """--true-col, --pred-col, --weight-col, prefixes, --task, --from-logits, --nan, parsing."""
    return _apply(
        [
            click.option(
                "--true-col", default="y_true", show_default=True, help="Column of targets."
            ),
            click.option(
                "--pred-col",
                multiple=True,
                help="Column of predictions (default y_pred); one model each (repeatable).",
            ),
            click.option("--weight-col", help="Column of per-row sample weights (>= 0)."),
            click.option(
                "--pred-prefix",
                multiple=True,
                default=("y_pred_",),
                show_default=True,
                help=(
                    "Multiclass: prefix of the per-class prediction columns; each prefix is "
                    "one model, named without its trailing _ (repeatable)."
                ),
            ),
            click.option(
                "--pos-label",
                metavar="VALUE",
                help=(
                    "Binary: the y_true value of the positive class, for labels written as "
                    "text or numbers other than 0/1 (y_pred is its probability). Two text "
                    "labels without it: the later in sorted order, as scikit-learn."
                ),
            ),
            click.option(
                "--true-prefix",
                default="y_true_",
                show_default=True,
                help="Multiclass: prefix of soft/one-hot target columns.",
            ),
            click.option(
                "--task",
                type=click.Choice(TASKS, case_sensitive=False),
                default="auto",
                show_default=True,
                metavar="TASK",
                help="The prediction task, one of " + ", ".join(TASKS) + "; auto detects it "
                "from the columns.",
            ),
            click.option(
                "--from-logits",
                is_flag=True,
                help="Predictions are raw scores (logits), not probabilities.",
            ),
            click.option(
                "--nan",
                type=click.Choice(("error", "drop"), case_sensitive=False),
                default="error",
                show_default=True,
                help="Missing/non-numeric cells: stop with an error, or drop those rows.",
            ),
            click.option(
                "--delimiter", help="Field delimiter (default from the extension; 'tab' for TSV)."
            ),
            click.option(
                "--encoding", default="utf-8", show_default=True, help="Text encoding of the file."
            ),
            # --- several files and remote storage (issue 16): FILE may be a directory, a
            # quoted glob or a URL; these options go to fsspec (io/files.py).
            click.option(
                "--storage-option",
                "storage_option",
                multiple=True,
                metavar="KEY=VALUE",
                help=(
                    "For a URL FILE (s3://, gs://, abfs://, https://): an fsspec storage "
                    "option, e.g. endpoint_url=http://localhost:9000 or anon=true "
                    "(repeatable; true/false/numbers/JSON converted)."
                ),
            ),
            click.option(
                "--interval-cols",
                metavar="LOWER,UPPER",
                help=(
                    "Prediction intervals: the columns of their lower and upper ends "
                    "(default: y_lower,y_upper when both are present); gives coverage, "
                    "mean_width and interval_score."
                ),
            ),
            click.option(
                "--interval-level",
                type=click.FloatRange(0, 1, min_open=True, max_open=True),
                default=0.9,
                show_default=True,
                help="Nominal level of the prediction intervals (0.9: central 90%).",
            ),
            *ENGINE_OPTIONS,
        ],
        func,
    )


def join_options(func: F) -> F:
    """More FILE arguments, joined with --on KEY / --join (several models' files).

    Placed below the FILE argument: the extra files follow it.
    """
    return _apply(
        [
            click.argument("more_files", nargs=-1, metavar="[FILE]..."),
            click.option(
                "--on",
                multiple=True,
                metavar="KEY",
                help=(
                    "Several FILEs are several models' files: join their rows on this key "
                    "column (repeatable, or a comma list, for a composite key); --on row "
                    "matches rows by position."
                ),
            ),
            click.option(
                "--join",
                "join_kind",
                type=click.Choice(("exact", "inner"), case_sensitive=False),
                default="exact",
                show_default=True,
                help=(
                    "With --on: exact = every key in every file exactly once (else an "
                    "error); inner = keep the keys every file has, warning how many rows "
                    "each file lost."
                ),
            ),
        ],
        func,
    )


def join_data(file: str | None, kwargs: dict[str, Any]) -> Any:
    """What the API reads: FILE, or the list of FILEs (with on= and join= in ``kwargs``)."""
    from losscli.errors import UsageError

    more = tuple(kwargs.get("more_files") or ())
    if more or kwargs.get("on"):
        from losscli.io.join import SEVERAL_FILES

        if more and not kwargs.get("on"):
            raise UsageError(SEVERAL_FILES)
        return [file, *more] if file is not None else list(more)
    return file


def api_join_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """--on and --join as the API's keyword arguments."""
    return {"on": tuple(kwargs.get("on") or ()) or None, "join": kwargs.get("join_kind", "exact")}


def _load_custom(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    # --custom (issue 6): load the user's losses now so that select_losses() adds them to
    # whatever the command selects; an empty value clears those of an earlier invocation.
    import sys

    if value or "losscli.core.registry" in sys.modules:
        from losscli.custom import load_custom_losses

        load_custom_losses(value)
    return value


def loss_options(func: F) -> F:
    """--losses / -l, and --custom PATH.py:FUNC (user-defined losses)."""
    func = click.option(
        "--custom",
        "custom",
        multiple=True,
        metavar="PATH.py:FUNC[:k=v...]",
        callback=_load_custom,
        help=(
            "Add a loss written in Python: FUNC(y_true, y_pred) returning per-sample losses "
            "(or a scalar); PATH.py:FACTORY:threshold=2 calls FACTORY(threshold=2) first "
            "(repeatable)."
        ),
    )(func)
    return click.option(
        "--losses",
        "-l",
        "losses",
        multiple=True,
        metavar="LIST",
        help="Losses to use, e.g. mse,mae,huber:delta=2 (repeatable). Default: the task's panel.",
    )(func)


def bootstrap_options(ci_help: str) -> Callable[[F], F]:
    """--ci LEVEL, --bootstrap N and --seed S: the bootstrap options of compute and compare."""

    def decorate(func: F) -> F:
        return _apply(
            [
                click.option(
                    "--ci",
                    type=click.FloatRange(0, 1, min_open=True, max_open=True),
                    help=ci_help,
                ),
                click.option(
                    "--bootstrap",
                    "n_boot",
                    type=click.IntRange(min=10, max=MAX_RESAMPLES),
                    default=1000,
                    show_default=True,
                    help=f"Bootstrap resamples for --ci (10 to {MAX_RESAMPLES:,}).",
                ),
                click.option(
                    "--seed",
                    type=click.IntRange(min=0),
                    default=0,
                    show_default=True,
                    help="Random seed of the bootstrap (a whole number >= 0).",
                ),
            ],
            func,
        )

    return decorate


def digits_option(func: F) -> F:
    """--digits N: significant digits of the numbers in table and markdown output."""

    def apply(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
        from losscli.report.format import set_digits

        set_digits(value)
        return value

    return click.option(
        "--digits",
        type=click.IntRange(1, 17),
        default=None,
        metavar="N",
        expose_value=False,
        callback=apply,
        help=(
            "Significant digits of the numbers in table and markdown output (default 5); "
            "JSON and CSV always keep full precision."
        ),
    )(func)


def format_option(func: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS, case_sensitive=False),
        default="table",
        show_default=True,
        help="Output format: a table for people, json/csv/markdown for scripts.",
    )(func)


def api_input_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The parsed input options as the keyword arguments of the Python API (losscli.api).

    --custom is not among them: its option callback has loaded the user's losses
    already (the marker tells the API to keep them).
    """
    from losscli.api import CUSTOM_LOADED_BY_CLI

    return {
        "custom": CUSTOM_LOADED_BY_CLI,
        "y_true": kwargs["true_col"],
        "y_pred": tuple(kwargs["pred_col"]) or None,
        "weights": kwargs["weight_col"],
        "pred_prefix": tuple(kwargs["pred_prefix"]),
        "true_prefix": kwargs["true_prefix"],
        "pos_label": kwargs["pos_label"],
        "task": kwargs["task"].lower(),
        "from_logits": kwargs["from_logits"],
        "nan": kwargs["nan"].lower(),
        "delimiter": kwargs["delimiter"],
        "encoding": kwargs["encoding"],
        "storage_options": _storage_options(kwargs.get("storage_option") or ()),
        "interval_cols": kwargs.get("interval_cols"),
        "interval_level": kwargs.get("interval_level", 0.9),
        "engine": kwargs["engine"].lower(),
        "scheduler": kwargs["scheduler"],
    }


def _storage_options(items: tuple[str, ...]) -> dict[str, Any] | None:
    """--storage-option KEY=VALUE items as fsspec's keyword arguments (None: not given)."""
    if not items:
        return None
    from losscli.io.files import parse_storage_options

    return parse_storage_options(items)
