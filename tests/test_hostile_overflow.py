"""Values near the float64 limit (issue 12.8): no partial report, no NumPy warnings.

A residual ``y_true - y_pred`` that overflows float64 (``1e308`` against ``-1e308``)
leaves nothing for sensitivity and recommend to study: one ``Error:`` line naming the
row. Per-row losses that overflow (``1e200``: its square is inf) are ``inf`` with a
``Warning:`` line, in every command. NumPy's RuntimeWarnings never reach stderr, and
a command that fails prints nothing on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import losscli as lc
from losscli.analysis.sensitivity import format_pct, growth_of

LOSS = [sys.executable, "-m", "losscli"]

# Row 1's residual is 2e308: beyond float64. The other rows are ordinary.
OVERFLOW = "y_true,y_pred,b,g\n1e308,-1e308,1,a\n1,2,1.5,a\n3,4,3,b\n2,2,2,b\n5,1,4,a\n"
# Row 1's residual is 2e200: finite, but its square (mse) is not.
HUGE = "y_true,y_pred,b,g\n1e200,-1e200,1,a\n1,2,1.5,a\n3,4,3,b\n2,2,2,b\n5,1,4,a\n"
RESIDUAL_ERROR = (
    "Error: column y_pred: the residual y_true - y_pred overflows float64 at row 1 "
    "(1e+308 - -1e+308); the residuals cannot be studied at this scale: divide y_true "
    "and the predictions by a common factor (e.g. 1e10) and run again"
)
OVERFLOW_WARNING = (
    "Warning: mse (y_pred): some per-row losses overflow float64 (inf); the value is not "
    "meaningful at this scale - rescale the targets"
)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in (("overflow", OVERFLOW), ("huge", HUGE)):
        path = tmp_path / f"{name}.csv"
        path.write_text(text)
        out[name] = path
    return out


def _loss(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOSS, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def _clean_stderr(stderr: str) -> None:
    """Only losscli's own lines: no RuntimeWarning, no source paths, no traceback."""
    assert "RuntimeWarning" not in stderr, stderr
    assert "Traceback" not in stderr, stderr
    assert ".py:" not in stderr, stderr
    assert "internal error" not in stderr, stderr


@pytest.mark.parametrize("command", ["sensitivity", "recommend"])
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_overflowing_residual_is_one_error_and_no_stdout(files, command, fmt):
    before = files["overflow"].read_bytes()
    proc = _loss(command, files["overflow"].name, "--format", fmt, cwd=files["overflow"].parent)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [RESIDUAL_ERROR]
    assert files["overflow"].read_bytes() == before


def test_report_on_overflowing_residual_writes_nothing(files):
    folder = files["overflow"].parent
    proc = _loss("report", "overflow.csv", "-o", "out.html", cwd=folder)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1] == RESIDUAL_ERROR
    _clean_stderr(proc.stderr)
    assert not (folder / "out.html").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["huge.csv", "overflow.csv"]


@pytest.mark.parametrize("command", ["compute", "compare"])
def test_overflowing_losses_are_inf_with_a_warning(files, command):
    """compute/compare: the per-row loss is inf, the value is inf (null in JSON), warned."""
    proc = _loss(command, "overflow.csv", "--format", "json", cwd=files["overflow"].parent)
    assert proc.returncode == 0, proc.stderr
    _clean_stderr(proc.stderr)
    assert OVERFLOW_WARNING in proc.stderr.splitlines()
    doc = json.loads(proc.stdout)
    rows = {r["loss"]: r for r in doc["results"]}
    assert rows["mse"]["value"] is None  # inf is not JSON
    assert rows["median_ae"]["value"] == 1.0  # the median is still a finite |e|


# Every command and output path on both files: either a full report (exit 0) or one
# Error line and an empty stdout; never a NumPy warning.
CASES = [
    ("compute", "--format", "table"),
    ("compute", "--format", "csv"),
    ("compute", "--format", "markdown"),
    ("compute", "--ci", "0.9", "--bootstrap", "30", "--group-by", "g"),
    ("compute", "--per-sample", "-"),
    ("compute", "--plot", "chart.png"),
    ("compare", "--pred-col", "y_pred", "--pred-col", "b", "--ci", "0.9", "--bootstrap", "30"),
    ("compare", "--format", "markdown"),
    ("compare", "--plot", "chart.png"),
    ("sensitivity", "--format", "table"),
    ("sensitivity", "--pred-col", "b", "--plot", "chart.png"),
    ("sensitivity", "--format", "csv"),
    ("recommend", "--format", "markdown"),
    ("report", "-o", "out.html", "--pred-col", "y_pred", "--pred-col", "b"),
]


@pytest.mark.parametrize("name", ["overflow", "huge"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(c).replace("--", ""))
def test_every_command_near_the_float64_limit(files, name, case):
    command, *options = case
    proc = _loss(command, f"{name}.csv", *options, cwd=files[name].parent)
    _clean_stderr(proc.stderr)
    if proc.returncode == 0:
        if command != "report" and "--plot" not in options:
            assert proc.stdout.strip()
        return
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert [line for line in proc.stderr.splitlines() if line.startswith("Error:")] == [
        RESIDUAL_ERROR
    ]


def test_sensitivity_of_an_overflowing_loss_is_warned_and_not_called_bounded(files):
    proc = _loss("sensitivity", "huge.csv", "--format", "json", cwd=files["huge"].parent)
    assert proc.returncode == 0, proc.stderr
    _clean_stderr(proc.stderr)
    assert OVERFLOW_WARNING in proc.stderr.splitlines()
    rows = {r["loss"]: r for r in json.loads(proc.stdout)["results"]}
    assert rows["mse"]["value"] is None and rows["mse"]["growth"] == "n/a"
    assert rows["mae"]["value"] == pytest.approx(4e199, rel=1e-12)


def test_huge_percent_changes_read_in_e_notation():
    assert format_pct(2.6666666666666666e201) == "+2.67e+201%"
    assert format_pct(-3e9) == "-3e+09%"
    assert format_pct(999_999_999.0) == "+999999999%"
    assert format_pct(1157.3) == "+1157%"


def test_growth_without_any_finite_change_is_not_bounded():
    assert growth_of({5.0: None, 10.0: None, 50.0: None, 100.0: None})[0] == "n/a"
    assert growth_of({5.0: None, 10.0: None, 50.0: None, 100.0: 3.0})[0] == "bounded"


# --------------------------------------------------------------------------- the API


def _frame(text: str) -> pd.DataFrame:
    import io

    return pd.read_csv(io.StringIO(text))


@pytest.mark.parametrize("function", [lc.sensitivity, lc.recommend])
def test_api_raises_input_error_on_an_overflowing_residual(function):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way
        with pytest.raises(lc.InputError) as info:
            function(_frame(OVERFLOW))
    assert str(info.value) == RESIDUAL_ERROR.removeprefix("Error: ")


def test_api_overflowing_losses_warn_as_loss_warning_only():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        computed = lc.compute(_frame(OVERFLOW), losses="mse,mae,median_ae")
        compared = lc.compare(_frame(HUGE), y_pred=["y_pred", "b"], ci=0.9, n_boot=20)
        sens = lc.sensitivity(_frame(HUGE), losses="mse,mae")
        per_row = lc.losses.mse([1e200, 1.0], [-1e200, 2.0], per_sample=True)
        acc = lc.Accumulator(losses="mse")
        acc.update([1e308, 1.0], [-1e308, 2.0])
        accumulated = acc.result()
    assert {w.category for w in caught} == {lc.LossWarning}
    # The warning points at the caller's line (this file), not at losscli's wrapper.
    assert {Path(w.filename).name for w in caught} == {Path(__file__).name}
    assert computed.value("mse") == np.inf and computed.value("median_ae") == 1.0
    assert compared.value("mse", model="y_pred") == np.inf
    assert sens.to_dict()["results"][0]["growth"] == "n/a"
    assert per_row[0] == np.inf and per_row[1] == 1.0
    assert accumulated.value("mse") == np.inf


# --------------------------------------------------------------------------- stdout


def test_a_failing_command_leaves_stdout_empty(run, tmp_path, monkeypatch):
    """An error while the report is being printed: what was printed is dropped."""
    import losscli.report.compute as report_compute

    shown = report_compute.render

    def render_then_fail(result, fmt, console):
        shown(result, fmt, console)  # the whole table goes out ...
        raise ValueError("math domain error")  # ... then something fails

    monkeypatch.setattr(report_compute, "render", render_then_fail)
    path = tmp_path / "ok.csv"
    path.write_text("y_true,y_pred\n1,2\n3,4\n")
    result = run("compute", path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: internal error (ValueError: math domain error)")


def test_a_failed_gate_still_prints_the_whole_report(run, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("y_true,y_pred\n1,2\n3,4\n")
    result = run("compute", path, "--format", "json", "--fail-above", "mae=0.5")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["results"][2]["loss"] == "mae"
    assert result.stderr.strip() == "Error: quality gate failed: mae = 1 > 0.5 (model y_pred)"


def test_a_failed_gate_on_a_full_device_is_an_error(tmp_path):
    """--fail-above with stdout on /dev/full: the write error, exit 1, not exit 3 and silence."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    path = tmp_path / "ok.csv"
    path.write_text("y_true,y_pred\n1,2\n3,4\n")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [*LOSS, "compute", str(path), "--fail-above", "mae=0.5"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "Error: cannot write to stdout: No space left on device"
    ]


def test_large_per_sample_output_on_stdout_is_whole(run, tmp_path):
    """Output past the in-memory hold spills to a temporary file and comes out whole."""
    n = 120_000  # about 9 MB of per-row CSV: past the 8 MB kept in memory
    rng = np.random.default_rng(3)
    y = rng.normal(size=n)
    path = tmp_path / "rows.csv"
    pd.DataFrame({"y_true": y, "y_pred": y + rng.normal(size=n)}).to_csv(path, index=False)
    result = run("compute", path, "-l", "mse,mae,huber,log_cosh", "--per-sample", "-")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(result.stdout) > 8 << 20
    assert lines[0] == "row,model,mse,mae,huber,log_cosh"
    assert len(lines) == n + 1 and lines[-1].startswith(f"{n},y_pred,")
