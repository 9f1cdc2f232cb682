"""``loss explain NAME --link identity|sigmoid|softmax``: the guide's convexity analysis."""

from __future__ import annotations

import click

from losscli.cli.options import FORMATS


@click.command("explain")
@click.argument("name", metavar="NAME[:k=v...]")
@click.option(
    "--link",
    type=click.Choice(("identity", "sigmoid", "softmax"), case_sensitive=False),
    help=(
        "Output activation between the pre-activation z and the loss. Default: identity for "
        "regression losses, sigmoid for binary, softmax for multiclass."
    ),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS, case_sensitive=False),
    default="table",
    show_default=True,
    help="Output format: a table and chart for people, json/csv/markdown for scripts.",
)
def explain(name: str, link: str | None, fmt: str) -> None:
    """Is a loss convex in the pre-activation? Where is its second derivative negative?

    The guide's analysis (000) for any loss of one prediction: d2L/dz2 for
    y_true = 0 and 1, the intervals of the link's output where it is negative
    (non-convex), and a chart of it.

    \b
    Examples:
      loss explain mse --link sigmoid  # not convex: p > 2/3 (y=0), p < 1/3 (y=1)
      loss explain bce --link sigmoid  # convex
      loss explain huber:delta=0.5 --link sigmoid --format json
    """
    from losscli.api import explain as api_explain
    from losscli.report.console import make_console
    from losscli.report.explain import render

    result = api_explain(name, link=link)
    console = make_console()
    render(result, fmt.lower(), console, color=console.is_terminal and not console.no_color)
