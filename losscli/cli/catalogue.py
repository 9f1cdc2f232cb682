"""``loss list`` and ``loss info NAME``: the catalogue, rendered from the Python API
(``losscli.list_losses`` and ``losscli.loss_info``)."""

from __future__ import annotations

import click

from losscli.cli.options import FORMATS


@click.command("list")
@click.option("--task", help="Only losses of this task (regression, binary, multiclass, ...).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS, case_sensitive=False),
    default="table",
    show_default=True,
)
def list_command(task: str | None, fmt: str) -> None:
    """List every loss: name, aliases, task, parameters and a one-line summary."""
    from losscli.api import list_losses
    from losscli.report.catalogue import render_list

    render_list(list_losses(task), fmt.lower())


@click.command("info")
@click.argument("name")
@click.option(
    "--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True
)
def info_command(name: str, fmt: str) -> None:
    """Everything about one loss: formula, domain, parameters, properties, advice, conventions."""
    from losscli.api import loss_info
    from losscli.report.catalogue import render_info

    render_info(loss_info(name), fmt)
