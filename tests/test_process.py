"""The process contract of SPEC section 7, checked on real processes (issue 7).

A closed stdout (``loss ... | head``) ends quietly, Ctrl-C exits 130 without a
traceback, and an interrupted run leaves no partial --per-sample file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pipes")

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
LOSS = [sys.executable, "-m", "losscli"]


def _default_sigint() -> None:
    # A test runner started in the background may ignore SIGINT; the child must not,
    # or Python never installs its KeyboardInterrupt handler.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    y = rng.normal(size=60_000)
    p = y + rng.normal(size=60_000)
    path = tmp_path_factory.mktemp("process") / "big.csv"
    np.savetxt(path, np.c_[y, p], delimiter=",", header="y_true,y_pred", comments="", fmt="%.6f")
    return path


def _quiet(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr
    assert "BrokenPipeError" not in stderr, stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--per-sample", "-", "--format", "json"],
        ["--per-sample", "-"],
        ["--per-sample", "-", "--format", "markdown", "--ci", "0.9", "--bootstrap", "20"],
    ],
    ids=["per-sample-json", "per-sample-table", "per-sample-markdown-ci"],
)
def test_closed_stdout_ends_quietly(big_csv, args):
    """``loss compute big.csv ... | head -1``: the reader goes away after one line."""
    proc = subprocess.Popen(
        [*LOSS, "compute", str(big_csv), "-l", "mse,mae", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does
    stderr = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert first.strip()
    _quiet(stderr)
    assert code == 0, stderr


def test_closed_stdout_through_a_shell_pipe(big_csv):
    command = f"{sys.executable} -m losscli compute '{big_csv}' --per-sample - | head -1"
    done = subprocess.run(
        ["sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_default_sigint,
    )
    assert done.stdout.startswith("row,model,")
    assert done.stdout.count("\n") == 1
    _quiet(done.stderr)


def _interrupt_after(args: list[str], cwd: Path, delay: float = 2.5) -> tuple[int, str, str]:
    proc = subprocess.Popen(
        [*LOSS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        preexec_fn=_default_sigint,
    )
    time.sleep(delay)
    assert proc.poll() is None, "the command finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out.decode(), err.decode()


def test_ctrl_c_during_bootstrap_exits_130_without_traceback(tmp_path):
    code, out, err = _interrupt_after(
        [
            "compute",
            str(SAMPLES / "regression_outliers.csv"),
            "--ci",
            "0.95",
            "--bootstrap",
            "100000",
            "--per-sample",
            "per_sample.csv",
        ],
        tmp_path,
    )
    assert code == 130, err
    assert out == ""
    assert "Traceback" not in err
    assert "Interrupted" in err
    assert list(tmp_path.iterdir()) == [], "an interrupted run left a file behind"


def test_error_exit_codes_of_a_real_process(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("y_true,y_pred\n1,abc\n")
    done = subprocess.run([*LOSS, "compute", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("Error: column y_pred")
    done = subprocess.run(
        [*LOSS, "compute", str(bad), "-l", "nope"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_environment_variable_shows_tracebacks(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("y_true,y_pred\n1,abc\n")
    env = {**os.environ, "LOSSCLI_TRACEBACK": "1"}
    done = subprocess.run(
        [*LOSS, "compute", str(bad)], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 1
    assert "Traceback" in done.stderr


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
def test_reader_gone_before_the_first_byte(fmt):
    """``loss compute f.csv | head -0``: stdout is closed before anything is written."""
    proc = subprocess.Popen(
        [*LOSS, "compute", str(SAMPLES / "regression_outliers.csv"), "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    _quiet(stderr)
    assert code == 0, stderr


# A Ctrl-C whose KeyboardInterrupt Python drops: raised inside a weak reference's
# callback ("Exception ignored in ..."), as happened once in ten runs of loss report.
_DROPPED = """
import os, runpy, signal, sys, time, weakref

import losscli.engines.local as local
import losscli.report.compute as compute_report
import losscli.report.per_sample as per_sample


def dropped_interrupt():
    class Thing:
        pass

    thing = Thing()

    def callback(_):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(200):  # the handler runs here, inside the callback
            time.sleep(0.001)

    ref = weakref.ref(thing, callback)
    del thing


def after(function):
    def patched(*args, **kwargs):
        result = function(*args, **kwargs)
        dropped_interrupt()
        return result

    return patched


def before(function):
    def patched(*args, **kwargs):
        dropped_interrupt()
        return function(*args, **kwargs)

    return patched


hook = os.environ["DROP_AT"]
if hook == "report":  # the passes done, the page not yet written
    local.run_passes = after(local.run_passes)
elif hook == "per-sample":  # every batch written, the file not yet in place
    per_sample.PerSampleWriter.close = before(per_sample.PerSampleWriter.close)
else:  # the table made, not yet shown
    compute_report.write_report = after(compute_report.write_report)
sys.argv = ["loss", *sys.argv[1:]]
runpy.run_module("losscli", run_name="__main__")
"""


@pytest.mark.parametrize("output", ["stdout", "per-sample", "report"])
def test_a_ctrl_c_python_drops_still_ends_the_run(tmp_path, output):
    """Exit 130, "Interrupted.", and neither the table on stdout nor a file written."""
    args = [str(SAMPLES / "regression_outliers.csv")]
    target = tmp_path / ("out.html" if output == "report" else "out.csv")
    if output == "per-sample":
        args = ["compute", *args, "--per-sample", str(target)]
    elif output == "report":
        pytest.importorskip("jinja2")
        args = ["report", *args, "-o", str(target)]
    else:
        args = ["compute", *args]
    done = subprocess.run(
        [sys.executable, "-c", _DROPPED, *args],
        env={**os.environ, "DROP_AT": output},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_default_sigint,
    )
    assert "Exception ignored" in done.stderr  # Python did drop it
    assert done.returncode == 130, done.stderr
    assert done.stderr.rstrip().endswith("Interrupted.")
    assert done.stdout == ""
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".losscli-")]
