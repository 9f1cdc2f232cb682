"""The API is typed (py.typed) and its docstring examples run."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import losscli
import losscli.api

ROOT = Path(__file__).resolve().parent.parent


def test_docstring_examples_of_the_api_run():
    failures, tried = doctest.testmod(losscli.api, verbose=False)
    assert tried >= 20 and failures == 0


def test_py_typed_marker_ships_with_the_package():
    assert (Path(losscli.__file__).parent / "py.typed").is_file()
    assert 'losscli = ["py.typed"]' in (ROOT / "pyproject.toml").read_text()


def _numpy_major() -> int:
    import numpy

    return int(numpy.__version__.split(".")[0])


# NumPy 1.x's stubs give ndarray's type parameters no defaults, so every bare
# `np.ndarray` annotation is a "type-arg" error under --strict there (and some of
# its functions return Any); from NumPy 2 on a bare ndarray means
# ndarray[Any, dtype[Any]]. At the NumPy floor (1.24) those two codes are off and
# every other strict check still runs.
_OLD_NUMPY_STUBS = (
    ["--disable-error-code", "type-arg", "--disable-error-code", "no-any-return"]
    if _numpy_major() < 2
    else []
)


def test_a_user_script_is_clean_under_mypy_strict():
    script = ROOT / "tests" / "typed" / "user_script.py"
    result = subprocess.run(
        # Every losscli module the script reaches is checked under --strict too (found
        # from the project folder, not as an installed package whose errors mypy hides).
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir=/dev/null",
            *_OLD_NUMPY_STUBS,
            str(script),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
