"""The command line takes Arrow's buffers from jemalloc where pyarrow has it; the API
and a user's ARROW_DEFAULT_MEMORY_POOL are left alone (losscli/cli/common.py).

Each check runs in a fresh interpreter: the pool is a process-wide setting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "diabetes.csv"

try:
    pa.jemalloc_memory_pool()
    HAS_JEMALLOC = True
except NotImplementedError:  # pragma: no cover - pyarrow built without it
    HAS_JEMALLOC = False


def _pool_after(code: str, **env: str) -> str:
    script = (
        f"{code}\nimport pyarrow as pa\nprint('POOL:' + pa.default_memory_pool().backend_name)\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**environ, **env},
        check=True,
    )
    return result.stdout.rsplit("POOL:", 1)[1].strip()


def _cli(*args: str) -> str:
    return (
        "from losscli.cli import cli\n"
        "try:\n"
        f"    cli.main({list(args)!r}, prog_name='loss')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )


@pytest.mark.skipif(not HAS_JEMALLOC, reason="this pyarrow has no jemalloc")
@pytest.mark.parametrize("command", ["compute", "compare", "sensitivity", "recommend"])
def test_data_commands_use_jemalloc(command):
    args = (command, str(DATA), "--pred-col", "linear", "--format", "json")
    assert _pool_after(_cli(*args)) == "jemalloc"


def test_the_users_choice_of_pool_is_kept():
    code = _cli("compute", str(DATA), "--pred-col", "linear", "--format", "json")
    assert _pool_after(code, ARROW_DEFAULT_MEMORY_POOL="system") == "system"


def test_the_api_keeps_pyarrows_default():
    default = _pool_after("")
    code = f'import losscli as lc\nlc.compute({str(DATA)!r}, y_pred="linear")\n'
    assert _pool_after(code) == default
