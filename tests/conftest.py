from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from losscli.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_data"


@pytest.fixture
def run():
    """Invoke `loss ARGS...` in-process; stdout and stderr are kept apart (Click >= 8.2)."""

    def invoke(*args: str, input: str | bytes | None = None):
        runner = CliRunner()
        return runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def run_json(run):
    def invoke(*args: str, input: str | None = None):
        result = run(*args, "--format", "json", input=input)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    return invoke
