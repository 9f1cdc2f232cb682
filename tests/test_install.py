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


def _declared_floors() -> dict[str, str]:
    import re

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        return {}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors = {}
    # The runtime dependencies, and the [dask] extra's (its engine is tested at its floor).
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["dask"]]:
        found = re.match(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)", requirement)
        assert found, f"every runtime dependency declares a floor: {requirement}"
        floors[found.group(1).lower()] = found.group(2)
    return floors


def test_ci_runs_the_suite_at_every_declared_dependency_floor():
    """.ci/floors.txt pins each runtime dependency at its declared floor; .ci/run uses it."""
    import pytest

    floors = _declared_floors()
    if not floors:
        pytest.skip("tomllib needs Python 3.11")
    pins = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.lower()] = version
    assert set(pins) == set(floors)
    for name, floor in floors.items():
        # the pin is the floor itself (14 -> 14.0.0 style padding allowed)
        pinned = pins[name].split(".")
        declared = floor.split(".")
        assert pinned[: len(declared)] == declared, (name, pins[name], floor)
        assert all(part == "0" for part in pinned[len(declared) :]), (name, pins[name], floor)
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -euo pipefail" in script
    assert "--constraint .ci/floors.txt" in script
    assert "pip install '.[test]' && pytest" in script  # the README's command, unchanged
