"""Regression losses (SPEC 4.1). e = y_true - y_pred throughout."""

from __future__ import annotations

from typing import cast

import numpy as np

from losscli.core.registry import (
    EPS,
    DomainRule,
    LossInputs,
    Param,
    Properties,
    Reduction,
    Task,
    register,
)

R = Task.REGRESSION

_SQUARED = Properties(
    convex=True, smooth=True, robust=False, probabilistic=False, margin_based=False
)
_ABSOLUTE = Properties(
    convex=True, smooth=False, robust=True, probabilistic=False, margin_based=False
)


def _err(x: LossInputs) -> np.ndarray:
    return x.residual


_LOG1P_HINT = "log1p needs values above -1: use mse/mae, or shift both columns above -1"
_GT_MINUS_ONE = (
    DomainRule("y_true", lambda a: a > -1, "> -1", hint=_LOG1P_HINT),
    DomainRule("y_pred", lambda a: a > -1, "> -1", hint=_LOG1P_HINT),
)


@register(
    "mse",
    task=R,
    aliases=("l2", "mean_squared_error"),
    formula="mean of e^2, e = y_true - y_pred",
    properties=_SQUARED,
    reference="sklearn.metrics.mean_squared_error",
    default=True,
    unit="target^2",
    advice=(
        "Clean data with Gaussian-like noise: the guide's first choice for regression "
        "('Clean data -> MSE'). Squaring makes it very sensitive to outliers."
    ),
    conventions="keras MeanSquaredError and torch MSELoss agree (mean reduction).",
)
def mse(x: LossInputs) -> np.ndarray:
    """Mean squared error: the average squared difference; large errors dominate."""
    return x.squared_residual


@register(
    "rmse",
    task=R,
    formula="sqrt(weighted mean of e^2)",
    properties=_SQUARED,
    reference="sklearn.metrics.root_mean_squared_error",
    reduction=Reduction.SQRT_MEAN,
    default=True,
    unit="target",
    advice="MSE brought back to the units of the target, for reporting.",
    conventions=(
        "The square root is taken after averaging (not a mean of per-row roots). "
        "Per-sample values (--per-sample) are the squared errors being averaged."
    ),
)
def rmse(x: LossInputs) -> np.ndarray:
    """Root mean squared error: MSE in the units of the target."""
    return x.squared_residual


@register(
    "mae",
    task=R,
    aliases=("l1", "mean_absolute_error"),
    formula="mean of |e|",
    properties=_ABSOLUTE,
    reference="sklearn.metrics.mean_absolute_error",
    default=True,
    unit="target",
    advice=(
        "Outliers present or heavy-tailed noise ('Outliers present -> MAE or Huber'); "
        "in the same units as the target. Its gradient is undefined at 0."
    ),
    conventions="keras MeanAbsoluteError and torch L1Loss agree.",
)
def mae(x: LossInputs) -> np.ndarray:
    """Mean absolute error: the average absolute difference, robust to outliers."""
    return x.abs_residual


@register(
    "mbe",
    task=R,
    aliases=("mean_bias_error",),
    formula="mean of e = y_true - y_pred (positive: the model under-predicts on average)",
    properties=Properties(
        convex=False,
        smooth=True,
        robust=False,
        probabilistic=False,
        margin_based=False,
        nonnegative=False,
    ),
    reference="the guide (001): np.sum(y - y_pred) / np.size(y)",
    default=True,
    signed=True,
    unit="target",
    advice=(
        "A bias check, not a training loss: positive and negative errors cancel out "
        "(the guide: 'the positive and the negative errors could cancel each other out')."
    ),
    conventions="Some texts define bias as y_pred - y_true; losscli uses y_true - y_pred.",
)
def mbe(x: LossInputs) -> np.ndarray:
    """Mean bias error: the signed average error; positive means under-prediction."""
    return _err(x)


@register(
    "huber",
    task=R,
    formula="0.5 e^2 if |e| <= delta else delta (|e| - delta/2)",
    params=(Param("delta", 1.0, float, lambda v: v > 0, "> 0", "where quadratic turns linear"),),
    properties=Properties(
        convex=True, smooth=True, robust=True, probabilistic=False, margin_based=False
    ),
    reference="torch.nn.HuberLoss, keras Huber",
    default=True,
    advice=(
        "Outliers present and a smooth gradient wanted: 'Need robustness + smoothness -> "
        "Huber'. Pick delta near the scale of ordinary residuals."
    ),
    conventions=(
        "torch SmoothL1Loss(beta) = Huber(delta=beta) / beta. The guide's TensorFlow code "
        "(000) omits the 0.5 on the quadratic branch, which makes it discontinuous at delta."
    ),
)
def huber(x: LossInputs, delta: float) -> np.ndarray:
    """Huber loss: quadratic for small errors, linear beyond delta."""
    a = x.abs_residual
    # With m = min(|e|, delta): 0.5 m^2 + delta (|e| - m) is 0.5 e^2 inside the
    # threshold and delta (|e| - delta/2) beyond it, in fewer passes than np.where.
    m = np.minimum(a, delta)
    with np.errstate(over="ignore"):
        # 0.5 * m^2 + delta * (a - m), with no more arrays than needed.
        out = np.square(m)
        out *= 0.5
        np.subtract(a, m, out=m)
        m *= delta
        out += m
    return cast(np.ndarray, out)


@register(
    "log_cosh",
    task=R,
    aliases=("logcosh",),
    formula="log(cosh(e)) = |e| + log1p(exp(-2|e|)) - log 2",
    properties=Properties(
        convex=True, smooth=True, robust=True, probabilistic=False, margin_based=False
    ),
    reference="keras LogCosh",
    default=True,
    advice="Like Huber without a parameter: about e^2/2 for small errors and |e| - log 2 for large.",
    conventions="Computed stably: cosh overflows for |e| > 710, this form does not.",
)
def log_cosh(x: LossInputs) -> np.ndarray:
    """Log-cosh loss: smooth, quadratic near zero and linear for large errors."""
    a = x.abs_residual
    # a + log1p(exp(-2a)) - log 2, with no more arrays than needed.
    out = np.multiply(a, -2.0)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += a
    out -= np.log(2.0)
    return cast(np.ndarray, out)


@register(
    "mape",
    task=R,
    aliases=("mean_absolute_percentage_error",),
    formula="|e| / max(|y_true|, eps): a fraction, shown as %",
    params=(Param("eps", EPS, float, lambda v: v > 0, "> 0", "floor of |y_true|"),),
    properties=Properties(
        convex=True, smooth=False, robust=False, probabilistic=False, margin_based=False
    ),
    reference="sklearn.metrics.mean_absolute_percentage_error",
    percent=True,
    advice="Relative error when targets are far from zero; explodes when y_true is 0 (P-MAPE0).",
    conventions="keras MeanAbsolutePercentageError multiplies by 100; sklearn and losscli return a fraction.",
)
def mape(x: LossInputs, eps: float) -> np.ndarray:
    """Mean absolute percentage error: the error relative to the target."""
    with np.errstate(over="ignore"):
        return cast(
            np.ndarray,
            np.abs(_err(x)) / np.maximum(np.abs(np.asarray(x.y_true, dtype=np.float64)), eps),
        )


@register(
    "smape",
    task=R,
    formula="2 |e| / (|y_true| + |y_pred|), 0 when both are 0; a fraction in [0, 2]",
    properties=Properties(
        convex=False, smooth=False, robust=True, probabilistic=False, margin_based=False
    ),
    reference="symmetric MAPE (fraction in [0, 2])",
    percent=True,
    advice="A bounded relative error; tolerates zeros in y_true better than MAPE.",
    conventions="Some definitions divide by (|y| + |p|) without the 2 (range [0, 1]) or report %.",
)
def smape(x: LossInputs) -> np.ndarray:
    """Symmetric mean absolute percentage error, bounded between 0 and 2."""
    y = np.asarray(x.y_true, dtype=np.float64)
    p = np.asarray(x.y_pred, dtype=np.float64)
    # Halve first so that |y| + |p| cannot overflow.
    denom = 0.5 * np.abs(y) + 0.5 * np.abs(p)
    num = np.abs(0.5 * y - 0.5 * p)
    safe = np.where(denom > 0, denom, 1.0)
    return np.where(denom > 0, 2.0 * num / safe, 0.0)


def _log_err(x: LossInputs) -> np.ndarray:
    y = np.asarray(x.y_true, dtype=np.float64)
    p = np.asarray(x.y_pred, dtype=np.float64)
    return cast(np.ndarray, np.square(np.log1p(y) - np.log1p(p)))


@register(
    "msle",
    task=R,
    aliases=("mean_squared_log_error",),
    formula="mean of (log1p(y_true) - log1p(y_pred))^2; y_true, y_pred > -1",
    domain=_GT_MINUS_ONE,
    properties=Properties(
        convex=False, smooth=True, robust=False, probabilistic=False, margin_based=False
    ),
    reference="sklearn.metrics.mean_squared_log_error",
    advice="Targets spanning orders of magnitude where relative error matters (counts, prices).",
    conventions="sklearn rejects values <= -1 the same way.",
)
def msle(x: LossInputs) -> np.ndarray:
    """Mean squared logarithmic error: squared error of log1p-transformed values."""
    return _log_err(x)


@register(
    "rmsle",
    task=R,
    aliases=("root_mean_squared_log_error",),
    formula="sqrt(msle)",
    domain=_GT_MINUS_ONE,
    reduction=Reduction.SQRT_MEAN,
    properties=Properties(
        convex=False, smooth=True, robust=False, probabilistic=False, margin_based=False
    ),
    reference="sklearn.metrics.root_mean_squared_log_error",
    advice="MSLE on the scale of log1p differences.",
    conventions="Per-sample values are the squared log errors being averaged.",
)
def rmsle(x: LossInputs) -> np.ndarray:
    """Root mean squared logarithmic error."""
    return _log_err(x)


@register(
    "median_ae",
    task=R,
    aliases=("median_absolute_error", "medae"),
    formula="weighted median of |e| (averaged inverted CDF; np.median for unit weights)",
    reduction=Reduction.MEDIAN,
    properties=_ABSOLUTE,
    reference="sklearn.metrics.median_absolute_error",
    default=True,
    unit="target",
    advice="The typical error, untouched by up to half the rows being outliers.",
    conventions="Weights use scikit-learn's averaged weighted percentile.",
)
def median_ae(x: LossInputs) -> np.ndarray:
    """Median absolute error: the error of the typical row."""
    return x.abs_residual


@register(
    "max_error",
    task=R,
    formula="max |e| (weights ignored)",
    reduction=Reduction.MAX,
    properties=Properties(
        convex=True, smooth=False, robust=False, probabilistic=False, margin_based=False
    ),
    reference="sklearn.metrics.max_error",
    default=True,
    unit="target",
    advice="The worst case: one bad row decides it.",
    conventions="Rows of zero weight are left out; other weights do not matter.",
)
def max_error(x: LossInputs) -> np.ndarray:
    """Maximum absolute error: the single worst row."""
    return x.abs_residual


@register(
    "pinball",
    task=R,
    aliases=("quantile", "mean_pinball_loss"),
    formula="alpha max(e, 0) + (1 - alpha) max(-e, 0)",
    params=(Param("alpha", 0.5, float, lambda v: 0 <= v <= 1, "in [0, 1]", "the target quantile"),),
    properties=_ABSOLUTE,
    reference="sklearn.metrics.mean_pinball_loss",
    unit="target",
    advice="Quantile regression: alpha = 0.9 trains the 90th percentile. alpha = 0.5 is MAE / 2.",
    conventions="sklearn's mean_pinball_loss uses the same sign convention (e = y_true - y_pred).",
)
def pinball(x: LossInputs, alpha: float) -> np.ndarray:
    """Pinball (quantile) loss: asymmetric absolute error for quantile regression."""
    e = _err(x)
    return cast(np.ndarray, alpha * np.maximum(e, 0.0) + (1.0 - alpha) * np.maximum(-e, 0.0))


def _log_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(a / b) for a, b > 0, also where a / b overflows or underflows (1e300 / 1e-300)."""
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        ratio = a / b
        direct = np.log(ratio)
        split = np.log(a) - np.log(b)
    normal = np.isfinite(ratio) & (ratio >= np.finfo(np.float64).tiny)
    return cast(np.ndarray, np.where(normal, direct, split))


def tweedie_deviance(y: np.ndarray, mu: np.ndarray, power: float) -> np.ndarray:
    if power == 0:
        return cast(np.ndarray, np.square(y - mu))
    if power == 1:
        log_ratio = _log_ratio(np.where(y > 0, y, 1.0), np.where(mu > 0, mu, 1.0))
        return cast(np.ndarray, 2.0 * (np.where(y == 0, 0.0, y * log_ratio) - y + mu))
    if power == 2:
        return cast(np.ndarray, 2.0 * (_log_ratio(mu, y) + y / mu - 1.0))
    a, b = 2.0 - power, 1.0 - power
    with np.errstate(all="ignore"):  # overflowing terms are resolved below, never NaN
        y_part = np.power(np.maximum(y, 0.0), a) / (b * a)
        cross = np.where(y == 0, 0.0, y * np.power(mu, b) / b)  # 0 * inf must stay 0
        direct = 2.0 * (y_part - cross + np.power(mu, a) / a)
    # For y > 0 the same deviance as 2 mu^a (r^a - a r + b) / (a b), r = y / mu, written
    # with expm1 so that it is exactly 0 at y == mu: the direct form cancels terms of
    # size y^a (power -1 and y ~ 1e4 leaves 3e-5 at a perfect prediction).
    positive = (y > 0) & (mu > 0)
    s = _log_ratio(np.where(positive, y, 1.0), np.where(positive, mu, 1.0))
    with np.errstate(all="ignore"):
        shape = (np.expm1(a * s) - a * np.expm1(s)) / (a * b)  # >= 0, exactly 0 at y == mu
        stable = 2.0 * np.power(mu, a) * shape
        # mu^a may overflow (or underflow) where the deviance does not: add logs instead.
        logged = 2.0 * np.exp(a * np.log(np.where(positive, mu, 1.0)) + np.log(shape))
    out = np.where(
        positive & np.isfinite(stable),
        stable,
        np.where(positive & np.isfinite(logged), logged, direct),
    )
    # Left with inf - inf = NaN from overflowing terms: a form that is not NaN decides (inf).
    for candidate in (stable, logged):
        out = np.where(np.isnan(out) & positive & ~np.isnan(candidate), candidate, out)
    return cast(np.ndarray, out)


@register(
    "poisson",
    task=R,
    aliases=("poisson_deviance", "mean_poisson_deviance"),
    formula="2 (y log(y/p) - y + p); y >= 0, p > 0",
    domain=(
        DomainRule("y_true", lambda a: a >= 0, ">= 0", hint="Poisson targets are counts"),
        DomainRule("y_pred", lambda a: a > 0, "> 0", hint="a Poisson mean must be positive"),
    ),
    properties=Properties(
        convex=True, smooth=True, robust=False, probabilistic=True, margin_based=False
    ),
    reference="sklearn.metrics.mean_poisson_deviance",
    advice="Counts (events per interval) predicted as a positive mean.",
    conventions="torch PoissonNLLLoss omits the constant terms and by default takes log-rates.",
)
def poisson(x: LossInputs) -> np.ndarray:
    """Poisson deviance: the loss for count data with a positive predicted mean."""
    return tweedie_deviance(np.asarray(x.y_true, float), np.asarray(x.y_pred, float), 1.0)


@register(
    "gamma",
    task=R,
    aliases=("gamma_deviance", "mean_gamma_deviance"),
    formula="2 (log(p/y) + y/p - 1); y, p > 0",
    domain=(
        DomainRule("y_true", lambda a: a > 0, "> 0", hint="Gamma targets are positive"),
        DomainRule("y_pred", lambda a: a > 0, "> 0", hint="a Gamma mean must be positive"),
    ),
    properties=Properties(
        convex=False, smooth=True, robust=False, probabilistic=True, margin_based=False
    ),
    reference="sklearn.metrics.mean_gamma_deviance",
    advice="Positive, right-skewed targets (durations, claim sizes) where error grows with the mean.",
    conventions="Scale-invariant: multiplying y and p by the same factor leaves it unchanged.",
)
def gamma(x: LossInputs) -> np.ndarray:
    """Gamma deviance: relative error for positive, skewed targets."""
    return tweedie_deviance(np.asarray(x.y_true, float), np.asarray(x.y_pred, float), 2.0)


def _tweedie_power_ok(power: float) -> bool:
    return not (0 < power < 1)


def tweedie_domain(power: float) -> tuple[DomainRule, ...]:
    """The domain rules of tweedie for a given power (sklearn's conditions)."""
    if power == 0:
        return ()
    if power < 0:
        return (DomainRule("y_pred", lambda a: a > 0, "> 0 for power < 0"),)
    if power < 2:
        return (
            DomainRule("y_true", lambda a: a >= 0, ">= 0 for 1 <= power < 2"),
            DomainRule("y_pred", lambda a: a > 0, "> 0 for 1 <= power < 2"),
        )
    return (
        DomainRule("y_true", lambda a: a > 0, "> 0 for power >= 2"),
        DomainRule("y_pred", lambda a: a > 0, "> 0 for power >= 2"),
    )


@register(
    "tweedie",
    task=R,
    aliases=("tweedie_deviance", "mean_tweedie_deviance"),
    formula=(
        "unit Tweedie deviance of power p: p=0 squared error, p=1 Poisson, p=2 Gamma, "
        "otherwise 2 (max(y,0)^(2-p)/((1-p)(2-p)) - y mu^(1-p)/(1-p) + mu^(2-p)/(2-p))"
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
    properties=Properties(
        convex=False, smooth=True, robust=False, probabilistic=True, margin_based=False
    ),
    reference="sklearn.metrics.mean_tweedie_deviance",
    domain_fn=lambda params: tweedie_domain(params["power"]),
    advice="A family between Poisson (1) and Gamma (2): 1 < p < 2 fits zero-inflated positive data.",
    conventions=(
        "Domain depends on power as in sklearn: p<0 needs y_pred>0; 1<=p<2 needs y_true>=0, "
        "y_pred>0; p>=2 needs y_true>0, y_pred>0. For y_true > 0 losscli evaluates the "
        "deviance in a form that is exactly 0 at y_pred = y_true; sklearn's direct formula "
        "cancels large terms there (power -1, y = 1e6: -128 for a perfect prediction)."
    ),
)
def tweedie(x: LossInputs, power: float) -> np.ndarray:
    """Tweedie deviance: one family covering squared error, Poisson and Gamma."""
    return tweedie_deviance(np.asarray(x.y_true, float), np.asarray(x.y_pred, float), power)
