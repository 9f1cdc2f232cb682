"""The README stays true: its loss table is the registry's, every command has help."""

from __future__ import annotations

import click
from conftest import ROOT

from losscli.cli import COMMANDS
from losscli.core.registry import all_losses
from losscli.report.catalogue import readme_table


def test_readme_loss_table_is_current():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme, "regenerate with: python -m losscli.report.catalogue"


def test_every_loss_in_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for spec in all_losses():
        assert f"`{spec.name}`" in readme


def test_readme_has_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install . && loss compute sample_data/regression_outliers.csv" in readme
    assert "pip install '.[test]' && pytest" in readme


def test_every_command_has_help(run):
    top = run("--help")
    assert top.exit_code == 0
    for name in COMMANDS:
        assert name in top.stdout
        result = run(name, "--help")
        assert result.exit_code == 0, name
        assert "Usage:" in result.stdout


def _command_paths(group: click.Command, path: tuple[str, ...] = ()):
    """Every command and subcommand of the CLI (the group loads them lazily)."""
    yield path
    if isinstance(group, click.Group):
        with click.Context(group) as ctx:
            for name in group.list_commands(ctx):
                yield from _command_paths(group.get_command(ctx, name), (*path, name))


def test_every_help_fits_80_columns():
    """Every --help (options, text and the unwrapped example blocks) in 80 columns."""
    from click.testing import CliRunner

    from losscli.cli import cli

    paths = list(_command_paths(cli))
    assert len(paths) > len(COMMANDS)  # the group and each command
    for path in paths:
        result = CliRunner().invoke(cli, [*path, "--help"], env={"COLUMNS": "80"})
        assert result.exit_code == 0, (path, result.output)
        wide = [line for line in result.stdout.splitlines() if len(line) > 80]
        assert not wide, (path, wide)
