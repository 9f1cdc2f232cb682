"""``loss list`` and ``loss info`` render what ``lc.list_losses()`` and ``lc.loss_info()``
return (issue 14: one path, the CLI a thin client of the API)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import losscli as lc
from losscli.cli import cli
from losscli.core.registry import Task, all_losses


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("task", [None, *(t.value for t in Task)])
def test_list_json_is_the_api_catalogue(task):
    args = ["list", "--format", "json"] + (["--task", task] if task else [])
    result = _cli(*args)
    assert result.exit_code == 0, result.stderr
    rows = lc.list_losses(task)
    assert json.loads(result.stdout) == {"command": "list", "losses": rows}
    if task:  # figures that score several tasks are listed under each of them
        assert rows and all(task in row["tasks"] for row in rows)


def test_list_by_task_includes_figures_of_several_tasks():
    several = [s for s in all_losses() if len(s.tasks) > 1]
    if not several:
        pytest.skip("no figure scores several tasks in this registry")
    spec = several[0]
    for task in spec.tasks:
        assert spec.name in [row["name"] for row in lc.list_losses(task.value)]


@pytest.mark.parametrize("spec", all_losses(), ids=lambda s: s.name)
def test_info_json_is_the_api_object(spec):
    result = _cli("info", spec.name, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == lc.loss_info(spec.name)
    table = _cli("info", spec.name)
    assert table.stdout.startswith(f"{spec.name} - ")
    assert ("a fraction; tables show it as %" in table.stdout) == lc.loss_info(spec.name)["percent"]


def test_info_through_an_alias_and_the_same_errors():
    assert lc.loss_info("l2")["name"] == "mse"
    for name in ("huber:delta=2", "nosuchloss"):
        with pytest.raises(lc.UsageError) as info:
            lc.loss_info(name)
        result = _cli("info", name)
        assert result.exit_code == 2
        assert result.stderr.strip().splitlines()[-1].endswith(str(info.value))
    with pytest.raises(lc.UsageError) as info:
        lc.list_losses("nosuchtask")
    result = _cli("list", "--task", "nosuchtask")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].endswith(str(info.value))


def test_list_table_shows_every_loss_of_the_api():
    result = _cli("list")
    assert result.exit_code == 0
    for row in lc.list_losses():
        assert row["name"] in result.stdout


def test_the_catalogue_commands_read_the_api_not_the_registry():
    source = (Path(lc.__file__).parent / "cli" / "catalogue.py").read_text(encoding="utf-8")
    assert "losscli.api import list_losses" in source and "losscli.api import loss_info" in source
    assert "losscli.core" not in source and "get_loss" not in source
