"""--fail-above: NaN fails, signed losses gate on |value|, % bounds for percent losses."""

from __future__ import annotations

import math

import pytest

from losscli.analysis.gates import Gate, gate_failures, parse_gates
from losscli.analysis.results import LossResult
from losscli.errors import UsageError


def result(loss, value, *, signed=False, percent=False, group=None, model="m"):
    return LossResult(loss, loss, {}, model, value, signed=signed, percent=percent, group=group)


def test_parse_resolves_aliases_and_percent():
    assert parse_gates(["L2=0.5"]) == [Gate("mse", 0.5, "0.5")]
    (gate,) = parse_gates(["mape=5%"])
    assert gate.loss == "mape" and gate.bound == pytest.approx(0.05, rel=1e-15)


@pytest.mark.parametrize("bad", ["mse", "=1", "mse=", "mse=abc", "mse=inf", "mse=5%", "msee=1"])
def test_parse_rejects(bad):
    with pytest.raises(UsageError):
        parse_gates([bad])


def test_nan_value_fails_the_gate():
    (msg,) = gate_failures([result("mse", math.nan)], parse_gates(["mse=1"]))
    assert "not a number" in msg


def test_signed_loss_gates_on_absolute_value():
    gates = parse_gates(["mbe=0.1"])
    assert gate_failures([result("mbe", -0.21, signed=True)], gates)
    assert not gate_failures([result("mbe", 0.05, signed=True)], gates)


def test_percent_bound_and_group_rows_ignored():
    gates = parse_gates(["mape=5%"])
    assert gate_failures([result("mape", 0.06, percent=True)], gates) == [
        "mape = 6% > 5% (model m)"
    ]
    assert not gate_failures([result("mape", 0.04, percent=True)], gates)
    assert not gate_failures([result("mape", 0.9, percent=True, group="a")], gates)


def test_cli_gate_exit_3_with_report_printed(run):
    from conftest import SAMPLES

    out = run(
        "compute",
        SAMPLES / "regression_outliers.csv",
        "--pred-col",
        "model_b",
        "-l",
        "mbe,mape",
        "--fail-above",
        "mbe=10",
        "--fail-above",
        "mape=5%",
    )
    assert out.exit_code == 3
    assert "mape" in out.stdout
    assert out.stderr.strip().splitlines()[-1] == (
        "Error: quality gate failed: |mbe| = 18.0806 > 10 (model model_b); "
        "mape = 12.4164% > 5% (model model_b)"
    )


def test_messages_show_the_value_in_the_units_of_the_bound():
    (msg,) = gate_failures([result("mbe", -0.38852, signed=True)], parse_gates(["mbe=0.3"]))
    assert msg == "|mbe| = 0.38852 > 0.3 (model m)"
    (msg,) = gate_failures([result("mape", 0.0947857, percent=True)], parse_gates(["mape=0.05"]))
    assert msg == "mape = 0.0947857 > 0.05 (model m)"
    (msg,) = gate_failures([result("mape", 0.0947857, percent=True)], parse_gates(["mape=5%"]))
    assert msg == "mape = 9.47857% > 5% (model m)"
