"""``loss list`` and ``loss info NAME``: the catalogue, derived from the registry."""

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
    from losscli.report.catalogue import render_list

    render_list(task, fmt.lower())


@click.command("info")
@click.argument("name")
@click.option(
    "--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True
)
def info_command(name: str, fmt: str) -> None:
    """Everything about one loss: formula, domain, parameters, properties, advice, conventions."""
    from losscli.core.registry import get_loss
    from losscli.errors import UsageError
    from losscli.report.catalogue import render_info

    if ":" in name:
        raise UsageError(
            f"loss info takes a loss name without parameters (got {name!r}); "
            f"try: loss info {name.split(':', 1)[0]}"
        )
    render_info(get_loss(name), fmt)
