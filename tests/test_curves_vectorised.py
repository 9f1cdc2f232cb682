"""``loss compare --errors START:STOP:N`` evaluates the grid vectorised (issue 12.5).

The kernel sees the whole grid in one call and the one-row reduction is applied to
all rows at once; the numbers are those of reducing every grid point on its own
(``reduce_values(per_row[i:i+1])``), to 1e-12, for every registered loss that has
a curve. The number of kernel calls does not grow with N. Tables show at most 201
evenly spaced points; JSON carries all of them.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from losscli.analysis.curves import (
    ERROR,
    _in_domain,
    _inputs_for,
    curve_variable,
    loss_curve,
    parse_grid,
    reduce_each_row,
    reference_target,
)
from losscli.core.reduction import reduce_values
from losscli.core.registry import LossSelection, Reduction, all_losses
from losscli.errors import UsageError
from losscli.report.compare import TABLE_POINTS, shown_points


def _curve_specs():
    specs = []
    for spec in all_losses():
        try:
            curve_variable(spec)
        except UsageError:
            continue
        specs.append(spec)
    return specs


CURVE_SPECS = _curve_specs()


def test_the_registry_has_curves_of_every_kind():
    assert len(CURVE_SPECS) >= 20
    assert {s.reduction for s in CURVE_SPECS} >= {Reduction.MEAN, Reduction.SQRT_MEAN}


def _per_point(selection: LossSelection, x: np.ndarray, y0: float, variable: str) -> np.ndarray:
    """The reference: every grid point a data set of one row, reduced by the core on its own."""
    inputs = _inputs_for(selection.spec, variable, x, y0)
    with np.errstate(all="ignore"):
        per_row = selection.per_sample(inputs)
    single = np.array(
        [reduce_values(per_row[i : i + 1], None, selection.spec.reduction) for i in range(len(x))]
    )
    return np.where(_in_domain(selection, inputs), single, np.nan)


@pytest.mark.parametrize("spec", CURVE_SPECS, ids=lambda s: s.name)
def test_vectorised_values_equal_the_per_point_reduction(spec):
    selection = LossSelection(spec, spec.resolve_params({}))
    curve = loss_curve(selection, parse_grid("-4:4:801"), with_gradients=False)
    y0 = curve.reference.get("y_true", 0.0)
    expected = _per_point(selection, curve.grid, y0, curve.variable)
    assert np.array_equal(np.isnan(curve.values), np.isnan(expected))
    finite = ~np.isnan(expected)
    np.testing.assert_allclose(curve.values[finite], expected[finite], rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "kind", [Reduction.MEAN, Reduction.SQRT_MEAN, Reduction.SUM, Reduction.MEDIAN, Reduction.MAX]
)
def test_one_row_reductions_match_the_core_on_edge_values(kind):
    values = np.array([0.0, -0.0, 1e-320, 2.5, 1e308, np.inf, np.nan, 7.0])
    if kind is Reduction.SQRT_MEAN:
        values = np.abs(values)
    got = reduce_each_row(values, kind)
    want = np.array([reduce_values(values[i : i + 1], None, kind) for i in range(len(values))])
    assert np.array_equal(got, want, equal_nan=True)


def test_kernel_calls_do_not_grow_with_the_grid():
    calls = {"n": 0}
    spec = next(s for s in CURVE_SPECS if s.name == "huber")

    def counting(inputs, **params):
        calls["n"] += 1
        return spec.kernel(inputs, **params)

    counted = LossSelection(dataclasses.replace(spec, kernel=counting), spec.resolve_params({}))
    per_size = {}
    for n in (13, 100_001):
        calls["n"] = 0
        curve = loss_curve(counted, parse_grid(f"-3:3:{n}"))
        assert curve.values.shape == (n,)
        per_size[n] = calls["n"]
    assert per_size[13] == per_size[100_001] <= 16


def test_reference_target_stays_the_same(tmp_path):
    spec = next(s for s in CURVE_SPECS if s.name == "poisson")
    selection = LossSelection(spec, spec.resolve_params({}))
    grid = parse_grid("-3:3:13").points()
    assert (
        reference_target(selection, grid)
        == loss_curve(selection, parse_grid("-3:3:13")).reference["y_true"]
    )
    assert curve_variable(spec) == ERROR


def test_shown_points_are_evenly_spaced_with_both_ends():
    assert shown_points(13) == list(range(13))
    rows = shown_points(100_001)
    assert len(rows) == TABLE_POINTS and rows[0] == 0 and rows[-1] == 100_000
    assert set(np.diff(rows)) == {500}


def test_a_large_grid_through_the_command(run):
    losses = "mse,mae,huber,log_cosh,quantile,rmse,poisson,mape,bce,hinge"
    grid = "-3:3:20001"
    doc = json.loads(run("compare", "--errors", grid, "-l", losses, "--format", "json").stdout)
    assert {len(c["values"]) for c in doc["curves"]} == {20001}
    mse = next(c for c in doc["curves"] if c["loss"] == "mse")
    x = np.linspace(-3, 3, 20001)
    np.testing.assert_allclose(mse["values"], x**2, rtol=1e-12, atol=1e-300)
    table = run("compare", "--errors", grid, "-l", "mse,mae")
    assert table.exit_code == 0
    assert "201 of the 20,001 grid points shown, evenly spaced" in table.stdout
    rows = [line.split() for line in table.stdout.splitlines() if line.strip()[:1] in "-0123456789"]
    grid_cells = [r[0] for r in rows if len(r) == 5]
    assert len(grid_cells) == len(set(grid_cells)) == 201  # every shown point tells apart
