"""Bootstrap shows a progress bar on a terminal, and nothing when piped (SPEC 8, issue 12.5).

Real processes: stderr on a pseudo-terminal (``pty.openpty``) sees the ``reading``
and ``bootstrap`` bars (a count of the resamples drawn); stderr on a pipe sees no
bar at all; stdout is the same report either way.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pty = pytest.importorskip("pty")  # POSIX only

LOSS = [sys.executable, "-m", "losscli"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(0)
    y = rng.normal(size=5_000)
    path = tmp_path_factory.mktemp("progress") / "data.csv"
    np.savetxt(path, np.c_[y, y + rng.normal(size=5_000)], delimiter=",",
               header="y_true,y_pred", comments="", fmt="%.6f")  # fmt: skip
    return path


ARGS = ["--ci", "0.95", "--bootstrap", "700", "-l", "mse,mae"]


def _on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run loss with stderr on a pseudo-terminal; (exit code, stdout, all stderr bytes)."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([*LOSS, *args], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out = proc.stdout.read().decode() if proc.stdout else ""
    code = proc.wait(timeout=300)
    return code, out, b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("command", ["compute", "compare"])
def test_bootstrap_progress_on_a_terminal(data, command):
    code, out, err = _on_a_terminal(command, str(data), *ARGS)
    assert code == 0, err
    assert "bootstrap" in err and "700 resamples" in err
    if command == "compute":  # streamed: the bytes read first
        assert "reading" in err
    assert "━" not in out and "\x1b" not in out  # the report stays clean


@pytest.mark.parametrize("command", ["compute", "compare"])
def test_no_progress_when_piped(data, command):
    env = {**os.environ, "COLUMNS": "100"}
    piped = subprocess.run(
        [*LOSS, command, str(data), *ARGS], capture_output=True, text=True, timeout=300, env=env
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
    _, on_terminal, _ = _on_a_terminal(command, str(data), *ARGS)
    assert piped.stdout == on_terminal


def test_no_progress_for_machine_readable_output_on_a_terminal(data):
    code, out, err = _on_a_terminal("compute", str(data), *ARGS, "--format", "json")
    assert code == 0
    assert "resamples" not in err and out.lstrip().startswith("{")


def test_the_api_never_draws_a_bar(data, capfd):
    import losscli as lc

    result = lc.compute(str(data), losses="mse", ci=0.95, n_boot=200)
    assert result.value("mse") > 0
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
