"""A broken install (pyarrow missing) gives one clear Error: line, not a traceback."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, SAMPLES

HIDE_PYARROW = """
import builtins, sys
real = builtins.__import__
def without_pyarrow(name, *args, **kwargs):
    if name == "pyarrow" or name.startswith("pyarrow."):
        raise ImportError("No module named 'pyarrow'")
    return real(name, *args, **kwargs)
builtins.__import__ = without_pyarrow
from losscli.cli import cli
cli.main(args=sys.argv[1:], prog_name="loss")
"""


def test_missing_pyarrow_names_the_package():
    done = subprocess.run(
        [sys.executable, "-c", HIDE_PYARROW, "compute", str(SAMPLES / "regression_clean.csv")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "Error: losscli reads files with pyarrow, which is not installed: pip install pyarrow"
    )
