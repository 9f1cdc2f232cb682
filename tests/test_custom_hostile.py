"""User code that misbehaves under --custom (issue 12.10).

Whatever the user's code does - ``sys.exit(0)``, an argparse parser reading losscli's
command line, ``raise BaseException``, ``print()``, complex results - the command
ends with one ``Error:`` line (exit 1) naming the user's file and line, never with
the exit status the user's code asked for. Ctrl-C stays exit 130. What user code
prints goes to stderr, so ``--format json`` on stdout stays valid.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

import losscli as lc
from losscli.core.registry import set_custom_losses

LOSS = [sys.executable, "-m", "losscli"]

USER_CODE = """
import argparse
import os
import sys

import numpy as np


def exits(y_true, y_pred):
    sys.exit(0)


def parses(y_true, y_pred):
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=1.0)
    args = parser.parse_args()
    return np.abs(y_true - y_pred) * args.alpha


def base(y_true, y_pred):
    raise BaseException("stop here")


def interrupted(y_true, y_pred):
    raise KeyboardInterrupt


def chatty(y_true, y_pred):
    print("computing", len(y_true))
    os.write(1, b"straight to fd 1\\n")
    return np.abs(y_true - y_pred)


def complex_values(y_true, y_pred):
    return (y_true - y_pred) + 1j


def complex_zero_imaginary(y_true, y_pred):
    return (y_true - y_pred) + 0j


def exiting_factory(threshold=1):
    sys.exit("no config")
"""

DATA = "y_true,y_pred\n1,2\n3,4\n2,2\n"


def line_of(text: str) -> int:
    """The line number of the first line of user.py holding ``text``."""
    lines = textwrap.dedent(USER_CODE).splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.fixture(autouse=True)
def _no_custom_losses_afterwards():
    yield
    set_custom_losses([])


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "user.py").write_text(textwrap.dedent(USER_CODE), encoding="utf-8")
    (tmp_path / "data.csv").write_text(DATA, encoding="utf-8")
    return tmp_path


def _loss(folder, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LOSS, *args], capture_output=True, text=True, cwd=folder, timeout=120)


def _one_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, proc.stderr
    assert "losscli/" not in proc.stderr, proc.stderr  # none of losscli's frames or paths
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


@pytest.mark.parametrize("gate", [[], ["--fail-above", "exits=100"]], ids=["plain", "gate"])
def test_sys_exit_zero_in_a_loss_is_an_error_not_success(folder, gate):
    proc = _loss(folder, "compute", "data.csv", "--custom", "user.py:exits", *gate)
    _one_error(
        proc,
        "Error: custom loss exits called sys.exit(0) (SystemExit): a loss must return its "
        "values, not end the program",
        f'File "user.py", line {line_of("sys.exit(0)")}, in exits',
        "sys.exit(0)",
    )


def test_argparse_in_user_code_is_an_error_with_a_hint(folder):
    proc = _loss(folder, "compute", "data.csv", "--custom", "user.py:parses", "--format", "json")
    _one_error(
        proc,
        "called sys.exit(2) (SystemExit)",
        "an argparse parser in your code read losscli's command line",
        f'File "user.py", line {line_of("parser.parse_args()")}, in parses',
    )


def test_sys_exit_in_a_factory_and_while_loading(folder):
    proc = _loss(folder, "compute", "data.csv", "--custom", "user.py:exiting_factory:threshold=2")
    _one_error(
        proc,
        "custom loss factory exiting_factory called sys.exit('no config')",
        f'File "user.py", line {line_of("no config")}, in exiting_factory',
    )
    (folder / "at_import.py").write_text("import sys\nsys.exit(3)\n", encoding="utf-8")
    proc = _loss(folder, "compute", "data.csv", "--custom", "at_import.py:f")
    _one_error(proc, "loading at_import.py called sys.exit(3)", 'File "at_import.py", line 2')


def test_raise_base_exception_shows_the_users_frame_only(folder):
    proc = _loss(folder, "sensitivity", "data.csv", "--custom", "user.py:base", "-l", "base")
    _one_error(
        proc,
        "Error: custom loss base raised BaseException: stop here",
        f'File "user.py", line {line_of("stop here")}, in base',
    )
    assert "Traceback (most recent call last)" not in proc.stderr


def test_ctrl_c_in_user_code_still_exits_130(folder):
    proc = _loss(folder, "compute", "data.csv", "--custom", "user.py:interrupted")
    assert proc.returncode == 130
    assert proc.stdout == ""
    assert proc.stderr.strip() == "Interrupted."


@pytest.mark.parametrize("command", ["compute", "compare", "sensitivity"])
def test_print_in_user_code_goes_to_stderr_and_json_stays_valid(folder, command):
    proc = _loss(
        folder, command, "data.csv", "--custom", "user.py:chatty", "-l", "chatty,mae",
        "--format", "json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["command"] == command
    assert "computing 3" in proc.stderr.splitlines()
    assert "straight to fd 1" in proc.stderr.splitlines()


@pytest.mark.parametrize(
    ("function", "line", "shown"),
    [
        ("complex_values", "def complex_values", " (first: (-1+1j))"),
        ("complex_zero_imaginary", "def complex_zero", ""),
    ],
)
def test_complex_results_are_an_error_naming_the_function(folder, function, line, shown):
    line = line_of(line)
    proc = _loss(folder, "compute", "data.csv", "--custom", f"user.py:{function}")
    _one_error(
        proc,
        f"Error: custom loss {function} (defined in user.py, line {line}) returned complex "
        f"values{shown}; a loss must be real",
    )


def test_api_turns_user_exits_into_input_errors(folder, monkeypatch, capsys):
    monkeypatch.chdir(folder)
    frame = pd.read_csv(folder / "data.csv")
    for function in ("exits", "base", "complex_values"):
        with pytest.raises(lc.InputError) as info:
            lc.compute(frame, losses=function, custom=[f"user.py:{function}"])
        assert f"custom loss {function}" in str(info.value)
    result = lc.compute(frame, losses="chatty", custom=["user.py:chatty"])
    assert result.value("chatty") == pytest.approx(2 / 3, rel=1e-12)
    out = capsys.readouterr()
    assert "computing 3" in out.err and "computing" not in out.out
