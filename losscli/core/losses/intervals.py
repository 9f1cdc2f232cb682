"""Prediction intervals and quantile forecasts (SPEC 12): coverage, width, scores.

Interval files give each row [lower, upper] (``y_pred`` of shape (n, 2)) and
the nominal level L of the intervals (``extra["level"]``, from
``--interval-level``); quantile files give each row the predicted quantiles
q_1..q_m (``y_pred`` of shape (n, m)) at levels tau_1 < ... < tau_m
(``extra["levels"]``, from the column names y_pred_q<tau>). See
:mod:`losscli.io.intervals`.
"""

from __future__ import annotations

from functools import partial
from typing import cast

import numpy as np

from losscli.core.registry import (
    Direction,
    LossInputs,
    Param,
    Properties,
    Task,
    register,
)
from losscli.errors import UsageError

_INTERVAL_CONVENTIONS = (
    "Gneiting & Raftery (2007, eq. 43) write the interval score as a positively oriented "
    "rule (its negative); losscli reports the loss form, lower is better, as the M4 "
    "competition's MSIS numerator does (MSIS then divides by a seasonal scale). alpha = 1 - the "
    "nominal level (--interval-level, default 0.9)."
)


def _properties(
    *, convex: bool, smooth: bool, probabilistic: bool, zero_at_perfect: bool = True
) -> Properties:
    """Every interval and quantile figure is robust (linear in a target outside) and not
    margin-based; they differ in the rest."""
    return Properties(
        convex=convex,
        smooth=smooth,
        robust=True,
        probabilistic=probabilistic,
        margin_based=False,
        zero_at_perfect=zero_at_perfect,
    )


#: every figure of this module is in its task's default panel
_interval_figure = partial(register, task=Task.INTERVAL, default=True)
_quantile_figure = partial(register, task=Task.QUANTILE, default=True, unit="target")


def _bounds(x: LossInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(x.y_true, dtype=np.float64)
    pred = np.asarray(x.y_pred, dtype=np.float64).reshape(y.shape[0], -1)
    level = np.asarray(x.extra["level"], dtype=np.float64)
    return y, pred[:, 0], pred[:, 1], level


@_interval_figure(
    "coverage",
    aliases=("interval_coverage", "picp"),
    formula="1 if lower <= y <= upper else 0, averaged (the share of targets inside)",
    properties=_properties(convex=False, smooth=False, probabilistic=True, zero_at_perfect=False),
    reference="the empirical coverage (PICP) of prediction intervals; hand-computed",
    direction=Direction.NOMINAL,
    advice=(
        "Closer to the nominal level (--interval-level) is better: 0.95 for 90% intervals "
        "is as wrong as 0.85 (too wide), and 100% coverage is bought by infinite width. "
        "It is reported, never used to rank models: rank intervals by interval_score; gate "
        "it both ways (--fail-below coverage=0.85 --fail-above coverage=0.95)."
    ),
    conventions=(
        "Both ends count as inside (lower <= y <= upper); weights weight the rows. "
        "Libraries that take a miscoverage rate alpha mean a nominal level of 1 - alpha."
    ),
)
def coverage(x: LossInputs) -> np.ndarray:
    """Coverage: the share of targets inside their prediction interval (nominal is best)."""
    y, lower, upper, _ = _bounds(x)
    return ((lower <= y) & (y <= upper)).astype(np.float64)


@_interval_figure(
    "mean_width",
    aliases=("interval_width", "mpiw"),
    formula="upper - lower, averaged",
    properties=_properties(convex=False, smooth=True, probabilistic=False, zero_at_perfect=False),
    reference="the mean prediction interval width (MPIW); hand-computed",
    unit="target",
    evaluation_only=True,
    advice=(
        "Narrower is better at the same coverage: read it with coverage (a zero-width "
        "interval is narrow and useless), or use interval_score, which weighs both."
    ),
    conventions="In target units; weights weight the rows.",
)
def mean_width(x: LossInputs) -> np.ndarray:
    """Mean width of the prediction intervals, upper - lower (lower is better at equal coverage)."""
    _, lower, upper, _ = _bounds(x)
    return cast(np.ndarray, upper - lower)


@_interval_figure(
    "interval_score",
    aliases=("winkler_score", "winkler"),
    formula=(
        "(u - l) + (2/alpha) (l - y) 1{y < l} + (2/alpha) (y - u) 1{y > u}, alpha = 1 - the "
        "nominal level"
    ),
    properties=_properties(convex=True, smooth=False, probabilistic=True, zero_at_perfect=False),
    reference="Gneiting & Raftery (2007), eq. 43; the Winkler (1972) score",
    unit="target",
    evaluation_only=True,
    advice=(
        "A proper score for central (1 - alpha) intervals: width plus 2/alpha times the "
        "distance by which the target falls outside. Rank interval forecasts by it."
    ),
    conventions=_INTERVAL_CONVENTIONS,
)
def interval_score(x: LossInputs) -> np.ndarray:
    """Interval (Winkler) score: width plus a penalty for targets outside the interval."""
    y, lower, upper, level = _bounds(x)
    alpha = 1.0 - level
    below = np.maximum(lower - y, 0.0)
    above = np.maximum(y - upper, 0.0)
    return cast(np.ndarray, (upper - lower) + (2.0 / alpha) * below + (2.0 / alpha) * above)


# --------------------------------------------------------------------------- quantiles


def _quantiles(x: LossInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(x.y_true, dtype=np.float64)
    q = np.asarray(x.y_pred, dtype=np.float64).reshape(y.shape[0], -1)
    levels = np.asarray(x.extra["levels"], dtype=np.float64).reshape(y.shape[0], -1)
    return y, q, levels


def pinball_at(y: np.ndarray, q: np.ndarray, tau: np.ndarray | float) -> np.ndarray:
    """tau max(y - q, 0) + (1 - tau) max(q - y, 0), elementwise."""
    e = y - q
    return cast(np.ndarray, tau * np.maximum(e, 0.0) + (1.0 - tau) * np.maximum(-e, 0.0))


_QUANTILE_PROPS = _properties(convex=True, smooth=False, probabilistic=True)


@_quantile_figure(
    "pinball_q",
    formula="tau max(y - q_tau, 0) + (1 - tau) max(q_tau - y, 0) for the column y_pred_q<tau>",
    params=(
        Param(
            "level",
            0.5,
            float,
            lambda v: 0 < v < 1,
            "in (0, 1)",
            "the quantile level tau, one of the file's y_pred_q<tau> columns",
        ),
    ),
    properties=_QUANTILE_PROPS,
    reference="sklearn.metrics.mean_pinball_loss(alpha=tau) on the column y_pred_q<tau>",
    label_param="level",
    advice=(
        "The loss of one predicted quantile; the default panel gives one per y_pred_q<tau> "
        "column (pinball_q0.1, pinball_q0.9, ...). Name one as pinball_q0.9 in --losses."
    ),
    conventions=(
        "The pinball loss of SPEC 4.1 (alpha = tau) applied to the quantile column of that "
        "level; sklearn's mean_pinball_loss gives the same value."
    ),
)
def pinball_q(x: LossInputs, level: float) -> np.ndarray:
    """Pinball loss of one predicted quantile y_pred_q<level>."""
    y, q, levels = _quantiles(x)
    if y.size == 0:
        return np.zeros(0)
    match = np.flatnonzero(levels[0] == level)
    if match.size == 0:
        have = ", ".join(f"{v:g}" for v in levels[0])
        raise UsageError(
            f"pinball_q{level:g}: the data have no quantile column of level {level:g} "
            f"(levels: {have}); choose one of those"
        )
    j = int(match[0])
    return pinball_at(y, q[:, j], level)


@_quantile_figure(
    "crps_quantile",
    aliases=("quantile_crps", "crps"),
    formula="(1/m) sum_k 2 [tau_k max(y - q_k, 0) + (1 - tau_k) max(q_k - y, 0)]",
    properties=_QUANTILE_PROPS,
    reference=(
        "the quantile (pinball) approximation of the CRPS: Gneiting & Raftery (2007), "
        "eq. 23, the CRPS as twice the pinball loss integrated over tau, averaged over "
        "the given levels"
    ),
    advice=(
        "One number for a whole set of quantile forecasts: the average of twice the pinball "
        "losses over the levels given. With many evenly spread levels it approaches the "
        "CRPS of the predictive distribution; with few (0.1, 0.5, 0.9) it is a coarse, "
        "level-weighted approximation."
    ),
    conventions=(
        "An approximation, not the exact CRPS: it depends on which levels the file has. "
        "Some libraries (e.g. GluonTS' mean weighted quantile loss) divide by sum |y| "
        "instead; scoringRules' crps_sample needs samples, not quantiles. With the single "
        "level 0.5 it is the mean absolute error of the median."
    ),
)
def crps_quantile(x: LossInputs) -> np.ndarray:
    """CRPS from quantiles: twice the pinball loss averaged over the quantile levels."""
    y, q, levels = _quantiles(x)
    if q.shape[1] == 0:
        return np.zeros(y.shape[0])
    return cast(np.ndarray, 2.0 * np.mean(pinball_at(y[:, None], q, levels), axis=1))
