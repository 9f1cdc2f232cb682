"""Skill scores reported beside regression losses (SPEC 12): higher is better, 1 is perfect.

r2, explained_variance and the D^2 family compare the model's loss with the
loss of the best constant prediction (the mean, or a quantile of y_true): 1 is
perfect, 0 is no better than that constant, negative is worse. They are ratios
of sums over all rows, not means of per-row terms: each kernel returns the
per-row components its reduction (:mod:`losscli.core.reduction`) sums and
divides. The d2 scores need the quantile (or mean) of y_true before their
denominator can be summed, so a large file takes a second pass over its rows,
exactly as median_ae's exact refinement does.
"""

from __future__ import annotations

import numpy as np

from losscli.core.losses.regression import _tweedie_power_ok, tweedie_deviance, tweedie_domain
from losscli.core.reduction import pinball_terms
from losscli.core.registry import (
    Direction,
    LossInputs,
    Param,
    Properties,
    Reduction,
    Task,
    register,
)

R = Task.REGRESSION

_SCORE = Properties(
    convex=False,
    smooth=True,
    robust=False,
    probabilistic=False,
    margin_based=False,
    nonnegative=False,
    zero_at_perfect=False,
)
_ABSOLUTE_SCORE = Properties(
    convex=False,
    smooth=False,
    robust=True,
    probabilistic=False,
    margin_based=False,
    nonnegative=False,
    zero_at_perfect=False,
)
_FINITE = (
    "scikit-learn's force_finite=True: 1.0 when the numerator is 0 (perfect), 0.0 when only "
    "the denominator is 0 (constant y_true); NaN for fewer than two rows."
)


def _residual_and_target(x: LossInputs) -> np.ndarray:
    return np.column_stack([x.residual, np.asarray(x.y_true, dtype=np.float64)])


@register(
    "r2",
    task=R,
    aliases=("r2_score", "r_squared", "coefficient_of_determination"),
    formula="1 - sum w (y - p)^2 / sum w (y - ybar)^2, ybar = the weighted mean of y",
    properties=_SCORE,
    reference="sklearn.metrics.r2_score",
    reduction=Reduction.R2,
    direction=Direction.HIGHER,
    advice=(
        "How much of the variance of y the model explains: 1 perfect, 0 no better than "
        "predicting the mean, negative worse. Report it beside mse/rmse, not instead."
    ),
    conventions=(
        _FINITE + " keras' R2Score and torchmetrics' R2Score use the same formula "
        "(without force_finite). A negative r2 is possible and means worse than the "
        "mean: it is not a squared correlation."
    ),
)
def r2(x: LossInputs) -> np.ndarray:
    """R^2, the coefficient of determination: 1 - SSE / total sum of squares (higher is better)."""
    return _residual_and_target(x)


@register(
    "explained_variance",
    task=R,
    aliases=("explained_variance_score", "ev"),
    formula="1 - var_w(y - p) / var_w(y) (weighted variances)",
    properties=_SCORE,
    reference="sklearn.metrics.explained_variance_score",
    reduction=Reduction.EXPLAINED_VARIANCE,
    direction=Direction.HIGHER,
    advice=(
        "Like r2 but blind to a constant bias: it subtracts the mean error first, so "
        "check mbe (or r2) beside it."
    ),
    conventions=(_FINITE + " torchmetrics' ExplainedVariance uses the same (biased) variances."),
)
def explained_variance(x: LossInputs) -> np.ndarray:
    """Explained variance: 1 - var(error) / var(y_true), blind to a constant bias (higher is better)."""
    return _residual_and_target(x)


_QUANTILE = (
    "q = the weighted alpha-quantile of y_true (averaged inverted CDF, as scikit-learn "
    ">= 1.7; np.percentile's 'linear' method for unit weights at alpha = 0.5 only). "
)


@register(
    "d2_absolute_error",
    task=R,
    aliases=("d2_absolute_error_score", "d2_mae"),
    formula="1 - sum w |y - p| / sum w |y - median_w(y)|",
    properties=_ABSOLUTE_SCORE,
    reference="sklearn.metrics.d2_absolute_error_score",
    reduction=Reduction.D2_QUANTILE,
    direction=Direction.HIGHER,
    advice=(
        "The r2 of mae: the share of the absolute error of the best constant (the median) "
        "the model removes; robust to outliers where r2 is not."
    ),
    conventions=(
        "d2_pinball with alpha = 0.5. " + _QUANTILE + _FINITE + " A large file takes a "
        "second pass (the median of y_true first, then the denominator)."
    ),
)
def d2_absolute_error(x: LossInputs) -> np.ndarray:
    """D^2 of the absolute error: mae relative to predicting the median (higher is better)."""
    return np.column_stack([pinball_terms(x.residual, 0.5), np.asarray(x.y_true, dtype=np.float64)])


@register(
    "d2_pinball",
    task=R,
    aliases=("d2_pinball_score", "d2_quantile"),
    formula="1 - sum w pinball_alpha(y - p) / sum w pinball_alpha(y - q), q = alpha-quantile of y",
    params=(Param("alpha", 0.5, float, lambda v: 0 <= v <= 1, "in [0, 1]", "the quantile"),),
    properties=_ABSOLUTE_SCORE,
    reference="sklearn.metrics.d2_pinball_score",
    reduction=Reduction.D2_QUANTILE,
    direction=Direction.HIGHER,
    advice=(
        "The skill of a quantile forecast (alpha = 0.9: the 90th percentile) against the "
        "constant alpha-quantile of y_true."
    ),
    conventions=(
        _QUANTILE + "scikit-learn < 1.7 used np.percentile's linear interpolation for "
        "unweighted data, which differs for alpha != 0.5. " + _FINITE
    ),
)
def d2_pinball(x: LossInputs, alpha: float) -> np.ndarray:
    """D^2 of the pinball loss: a quantile forecast relative to the constant quantile (higher is better)."""
    return np.column_stack(
        [pinball_terms(x.residual, alpha), np.asarray(x.y_true, dtype=np.float64)]
    )


@register(
    "d2_tweedie",
    task=R,
    aliases=("d2_tweedie_score",),
    formula=(
        "1 - sum w dev_p(y, pred) / sum w dev_p(y, ybar), dev_p the unit Tweedie deviance "
        "of power p, ybar the weighted mean of y"
    ),
    params=(
        Param(
            "power",
            0.0,
            float,
            _tweedie_power_ok,
            "<= 0 or >= 1 (0 < power < 1 is not a Tweedie distribution)",
            "the Tweedie power",
        ),
    ),
    properties=_SCORE,
    reference="sklearn.metrics.d2_tweedie_score",
    reduction=Reduction.D2_TWEEDIE,
    domain_fn=lambda params: tweedie_domain(params["power"]),
    direction=Direction.HIGHER,
    advice=(
        "The deviance explained for count (power 1) or positive skewed (power 2) "
        "targets; power 0 is r2."
    ),
    conventions=(
        "As scikit-learn: no force_finite (a constant y_true divides by 0), NaN for fewer "
        "than two rows. The deviance is losscli's tweedie (exactly 0 at a perfect "
        "prediction). A large file takes a second pass (the mean first, then the "
        "denominator)."
    ),
)
def d2_tweedie(x: LossInputs, power: float) -> np.ndarray:
    """D^2 of the Tweedie deviance: deviance relative to predicting the mean (higher is better)."""
    y = np.asarray(x.y_true, dtype=np.float64)
    return np.column_stack([tweedie_deviance(y, np.asarray(x.y_pred, float), power), y])
