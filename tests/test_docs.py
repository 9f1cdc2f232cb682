"""The README stays true: its loss table is the registry's, every command has help."""

from __future__ import annotations

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
