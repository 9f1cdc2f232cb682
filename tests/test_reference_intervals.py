"""Interval and quantile figures against hand-computed values and scikit-learn, 1e-12.

The interval score is Gneiting & Raftery (2007), eq. 43, in its loss form:
(u - l) + (2/alpha)(l - y) 1{y < l} + (2/alpha)(y - u) 1{y > u}, alpha = 1 - level.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from losscli.core.reduction import reduce_values
from losscli.core.registry import LossInputs, LossSelection, get_loss, parse_loss_list

REL = 1e-12
COVERED_LOSSES = {"coverage", "mean_width", "interval_score", "pinball_q", "crps_quantile"}


def interval_value(name, y, lower, upper, level, weights=None):
    spec = get_loss(name)
    n = len(y)
    x = LossInputs(
        y_true=np.asarray(y, dtype=float),
        y_pred=np.column_stack([lower, upper]).astype(float),
        extra={"level": np.full(n, level)},
    )
    selection = LossSelection(spec, spec.resolve_params({}))
    return reduce_values(selection.per_sample(x), weights, selection.reducer)


def quantile_value(text, y, quantiles, levels, weights=None):
    (selection,) = parse_loss_list(text)
    n = len(y)
    x = LossInputs(
        y_true=np.asarray(y, dtype=float),
        y_pred=np.column_stack(quantiles).astype(float),
        extra={"levels": np.tile(np.asarray(levels, dtype=float), (n, 1))},
    )
    return reduce_values(selection.per_sample(x), weights, selection.reducer)


# y inside [0, 2]; y = 5 below [6, 7] by 1; y = 10 above [8, 9] by 1.
Y = [1.0, 5.0, 10.0]
LOWER = [0.0, 6.0, 8.0]
UPPER = [2.0, 7.0, 9.0]


def test_interval_figures_by_hand():
    # level 0.8 -> alpha 0.2, 2/alpha = 10: scores 2, 1 + 10, 1 + 10
    assert interval_value("coverage", Y, LOWER, UPPER, 0.8) == pytest.approx(1 / 3, rel=REL)
    assert interval_value("mean_width", Y, LOWER, UPPER, 0.8) == pytest.approx(4 / 3, rel=REL)
    assert interval_value("interval_score", Y, LOWER, UPPER, 0.8) == pytest.approx(8.0, rel=REL)
    # level 0.5 -> 2/alpha = 4: 2, 1 + 4, 1 + 4
    assert interval_value("interval_score", Y, LOWER, UPPER, 0.5) == pytest.approx(4.0, rel=REL)


def test_weighted_interval_figures_by_hand():
    w = np.array([1.0, 2.0, 3.0])
    assert interval_value("coverage", Y, LOWER, UPPER, 0.8, w) == pytest.approx(1 / 6, rel=REL)
    assert interval_value("mean_width", Y, LOWER, UPPER, 0.8, w) == pytest.approx(7 / 6, rel=REL)
    got = interval_value("interval_score", Y, LOWER, UPPER, 0.8, w)
    assert got == pytest.approx((2 + 2 * 11 + 3 * 11) / 6, rel=REL)


def test_interval_ends_count_as_inside():
    y = [0.0, 2.0, 2.0 + 1e-9]
    assert interval_value("coverage", y, [0.0] * 3, [2.0] * 3, 0.9) == pytest.approx(2 / 3)
    score = interval_value("interval_score", y, [0.0] * 3, [2.0] * 3, 0.9)
    assert score == pytest.approx(2.0 + (2 / 0.1) * 1e-9 / 3, rel=1e-9)


def test_interval_score_against_a_direct_formula():
    rng = np.random.default_rng(4)
    n = 200
    y = rng.normal(0, 2, n)
    mid = y + rng.normal(0, 1, n)
    half = rng.uniform(0.2, 3.0, n)
    lower, upper = mid - half, mid + half
    w = rng.uniform(0, 2, n)
    for level in (0.5, 0.9, 0.99):
        alpha = 1 - level
        want = (
            (upper - lower)
            + 2 / alpha * np.where(y < lower, lower - y, 0)
            + 2 / alpha * np.where(y > upper, y - upper, 0)
        )
        got = interval_value("interval_score", y, lower, upper, level, w)
        assert got == pytest.approx(np.average(want, weights=w), rel=REL)
        inside = (lower <= y) & (y <= upper)
        got = interval_value("coverage", y, lower, upper, level, w)
        assert got == pytest.approx(np.average(inside, weights=w), rel=REL)


def test_quantile_figures_by_hand():
    y = [1.0, 2.0]
    q10, q90 = [0.0, 3.0], [2.0, 2.5]
    # tau 0.1: 0.1 * 1, 0.9 * 1 -> 0.5; tau 0.9: 0.1 * 1, 0.1 * 0.5 -> 0.075
    assert quantile_value("pinball_q0.1", y, [q10, q90], [0.1, 0.9]) == pytest.approx(0.5)
    assert quantile_value("pinball_q0.9", y, [q10, q90], [0.1, 0.9]) == pytest.approx(0.075)
    # crps: rows 2 (0.1 + 0.1) / 2 = 0.2 and 2 (0.9 + 0.05) / 2 = 0.95 -> 0.575
    got = quantile_value("crps_quantile", y, [q10, q90], [0.1, 0.9])
    assert got == pytest.approx(0.575, rel=REL)


@pytest.mark.parametrize("weighted", [False, True])
def test_quantile_figures_against_sklearn(weighted):
    rng = np.random.default_rng(9)
    n = 150
    y = rng.gamma(2, 2, n)
    levels = [0.05, 0.25, 0.5, 0.75, 0.95]
    quantiles = [y + rng.normal(0, 1, n) + 2 * (tau - 0.5) for tau in levels]
    w = rng.uniform(0, 3, n) if weighted else None
    pinballs = []
    for tau, q in zip(levels, quantiles):
        want = metrics.mean_pinball_loss(y, q, alpha=tau, sample_weight=w)
        pinballs.append(want)
        got = quantile_value(f"pinball_q{tau}", y, quantiles, levels, w)
        assert got == pytest.approx(want, rel=REL)
        got = quantile_value(f"pinball_q:level={tau}", y, quantiles, levels, w)
        assert got == pytest.approx(want, rel=REL)
    got = quantile_value("crps_quantile", y, quantiles, levels, w)
    assert got == pytest.approx(2 * np.mean(pinballs), rel=REL)


def test_crps_quantile_of_the_median_alone_is_the_mae():
    rng = np.random.default_rng(1)
    y, q = rng.normal(0, 1, 50), rng.normal(0, 1, 50)
    got = quantile_value("crps_quantile", y, [q], [0.5])
    assert got == pytest.approx(metrics.mean_absolute_error(y, q), rel=REL)


def test_directions_and_labels():
    assert get_loss("coverage").nominal and not get_loss("coverage").higher_is_better
    assert not get_loss("interval_score").nominal
    assert all(get_loss(n).evaluation_only for n in ("coverage", "mean_width", "interval_score"))
    (selection,) = parse_loss_list("pinball_q0.9")
    assert selection.label == "pinball_q0.9" and selection.params == {"level": 0.9}
