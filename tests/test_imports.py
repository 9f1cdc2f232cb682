"""`loss --help` stays instant: the heavy libraries are imported lazily (SPEC section 8).

Each check runs in a fresh interpreter and inspects ``sys.modules``; no timing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "pandas", "pyarrow", "rich", "sklearn", "matplotlib", "duckdb")


def _imported_after(code: str) -> set[str]:
    script = (
        f"import sys\n{code}\n"
        f"print('IMPORTED:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    line = result.stdout.rsplit("IMPORTED:", 1)[1].strip()
    return {m for m in line.split(",") if m}


def _run_cli(*args: str) -> str:
    return (
        "from losscli.cli import cli\n"
        "try:\n"
        f"    cli.main({list(args)!r}, prog_name='loss')\n"
        "except SystemExit:\n"
        "    pass\n"
    )


@pytest.mark.parametrize("args", [("--help",), ("compute", "--help"), ("--version",)])
def test_help_imports_no_heavy_library(args):
    assert _imported_after(_run_cli(*args)) == set()


def test_compute_does_not_import_pandas():
    imported = _imported_after(
        _run_cli("compute", str(ROOT / "sample_data" / "regression_clean.csv"), "--format", "json")
    )
    assert "numpy" in imported and "pyarrow" in imported  # it did compute
    assert "pandas" not in imported
