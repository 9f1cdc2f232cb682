"""Flagging outlying residuals: the one rule shared by ``sensitivity`` and ``recommend``.

MAD rule (default): robust z = 0.6745 (r - median) / MAD, flagged when
|z| > threshold (default 3.5; Iglewicz and Hoaglin). When MAD is 0 (more than
half the residuals identical) the fallback scale is the mean absolute
deviation from the median times 1.2533 (= sqrt(pi/2), which makes it estimate
the standard deviation under normality, as 1.4826 MAD does); if that is also
0, no row is flagged.

IQR rule: flagged when r < Q1 - k IQR or r > Q3 + k IQR (k = threshold,
default 1.5, Tukey's fences). Quartiles are numpy's linear interpolation.

Spread within rounding is no spread. Inputs read from decimal text are
rounded to float64, so a model that predicts y_true + 0.1 exactly has
residuals -0.1, -0.09999999999999998, -0.10000000000000003 ...: a MAD of
1e-17 would make every such wobble an "outlier". A MAD (or fallback mean
absolute deviation) at most :func:`rounding_floor`, 8 machine epsilons of the
inputs' typical size, counts as 0 (the mean counts only the deviations beyond
the floor); Tukey's fences are never closer to the quartiles than that floor.
The typical size is the power of two just above the median row's
max(|y_true|, |y_pred|), read from a count of rows per binade
(:func:`magnitude_counts`: mergeable, the same for any split of the rows, and
not moved by a few huge values). One floor per model: with targets of very
different sizes (1 and 1e6) the rounding of the large ones still reads as
spread.

Both rules are equivalent to two cut-offs on the residual itself, kept in
``OutlierFlags.lower``/``upper`` (for drawing them on a histogram): a row is
flagged when r < lower or r > upper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from losscli.core.dataset import Dataset
from losscli.errors import DataError

MAD_TO_SIGMA = 1.4826  # 1 / Phi^-1(3/4): MAD * 1.4826 estimates sigma under normality
Z_FACTOR = 0.6745  # Phi^-1(3/4), the constant of the modified z-score
MEANAD_TO_SIGMA = 1.2533  # sqrt(pi / 2): mean absolute deviation -> sigma under normality
DEFAULT_THRESHOLD = {"mad": 3.5, "iqr": 1.5}


# Residual spread up to this many machine epsilons of the inputs' size is rounding.
ROUNDING_EPSILONS = 8.0


# Binades of max(|y|, |q|): float64's biased exponent E (0 for zero and subnormals);
# a value of exponent E lies in [2**(E - 1023), 2**(E - 1022)).
MAGNITUDE_BINS = 2048


def magnitude_counts(y: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Rows per binade of max(|y|, |q|) (counts add up across batches and workers)."""
    m = np.maximum(np.abs(np.asarray(y, dtype=np.float64)), np.abs(np.asarray(q, np.float64)))
    exponent = np.ascontiguousarray(m).view(np.uint64) >> np.uint64(52)
    return np.bincount(exponent.astype(np.intp), minlength=MAGNITUDE_BINS)


def add_counts(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """Two states of :func:`magnitude_counts` merged (None: no rows yet)."""
    return b if a is None else a if b is None else a + b


def rounding_floor(counts: np.ndarray) -> float:
    """The spread of residuals that rounding alone makes, from :func:`magnitude_counts`.

    Each of y and q is within half an epsilon (relative) of the decimal it was
    read from, so y - q wobbles by up to about eps max(|y|, |q|); the floor
    allows 8 epsilons of the power of two just above the median row's
    max(|y|, |q|) (the lower middle row when the count is even). 0 when that
    row's inputs are 0 (or subnormal), or there are no rows.
    """
    n = int(np.sum(counts))
    if n == 0:
        return 0.0
    middle = int(np.searchsorted(np.cumsum(counts), (n - 1) // 2 + 1))
    if middle == 0:
        return 0.0
    # (ldexp of the product, so that the top binade's 2**1024 never forms)
    return math.ldexp(ROUNDING_EPSILONS * float(np.finfo(np.float64).eps), middle - 1022)


def rounding_floor_of(y: np.ndarray, q: np.ndarray) -> float:
    """:func:`rounding_floor` of the rows given (in memory)."""
    return rounding_floor(magnitude_counts(y, q))


def residuals_of(dataset: Dataset, model: str) -> np.ndarray:
    """The residuals ``y_true - y_pred`` of one model, every one a finite float64.

    Targets and predictions are finite (the reader refuses inf), but their difference
    can overflow float64 (``1e308`` against ``-1e308``): the residual distribution that
    sensitivity and recommend study (median, MAD, histogram) does not exist then, so
    the first such row is an error naming the row, rather than inf or NaN figures.
    """
    y = np.asarray(dataset.y_true, dtype=np.float64)
    q = np.asarray(dataset.models[model], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        r = y - q
    if r.size and not np.isfinite(r).all():
        i = int(np.flatnonzero(~np.isfinite(r))[0])
        true_col = dataset.columns.get("y_true", "y_true")
        pred_col = dataset.columns.get(model, model)
        raise DataError(
            f"column {pred_col}: the residual {true_col} - {pred_col} overflows float64 at "
            f"row {int(dataset.row_numbers[i])} ({y[i]:.17g} - {q[i]:.17g}); the residuals "
            f"cannot be studied at this scale: divide {true_col} and the predictions by a "
            f"common factor (e.g. 1e10) and run again"
        )
    return r


@dataclass(frozen=True)
class OutlierFlags:
    """Which rows are outliers under a rule, and the scale used."""

    rule: str
    threshold: float
    mask: np.ndarray  # boolean, True = flagged
    center: float  # median of the residuals
    scale: float  # robust standard deviation (1.4826 MAD or the fallback)
    fallback: bool  # True when MAD was 0 and the fallback scale was used
    lower: float = -np.inf  # flagged when r < lower ...
    upper: float = np.inf  # ... or r > upper (residual units)

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.mask))

    @property
    def fraction(self) -> float:
        return self.count / self.mask.size if self.mask.size else 0.0


def _mad(r: np.ndarray, center: float, floor: float) -> float:
    """The MAD about ``center``; 0 when it is within ``floor`` (rounding)."""
    mad = float(np.median(np.abs(r - center)))
    return mad if mad > floor else 0.0


def robust_scale(residuals: np.ndarray, floor: float = 0.0) -> tuple[float, float, bool]:
    """(median, robust sigma, used_fallback) of residuals.

    ``floor``: spread at most this large is rounding (see :func:`rounding_floor`).
    """
    r = np.asarray(residuals, dtype=np.float64)
    center = float(np.median(r))
    mad = _mad(r, center, floor)
    if mad > 0:
        return center, MAD_TO_SIGMA * mad, False
    return center, MEANAD_TO_SIGMA * mean_deviation_beyond(r, center, floor), True


def deviation_sum_beyond(r: np.ndarray, center: float, floor: float) -> float:
    """sum |r - center| over the rows farther from ``center`` than ``floor`` (rounding)."""
    deviation = np.abs(r - center)
    return float(np.sum(deviation[deviation > floor]) if floor > 0 else np.sum(deviation))


def mean_deviation_beyond(r: np.ndarray, center: float, floor: float) -> float:
    """The fallback's mean absolute deviation: deviations within rounding count as 0.

    (Not the plain mean compared with the floor: one row off by 100 ulps among
    99 equal ones is a spread, however small its mean.)
    """
    return deviation_sum_beyond(r, center, floor) / r.size if r.size else 0.0


def robust_zscore(residuals: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """0.6745 (r - median) / MAD, with the documented fallback when MAD is 0."""
    r = np.asarray(residuals, dtype=np.float64)
    center, sigma, _ = robust_scale(r, floor)
    if sigma == 0:
        return np.zeros_like(r)
    # 0.6745 / MAD == 1 / (1.4826 MAD) up to the constants' rounding; use the
    # textbook form with MAD itself when it is available.
    mad = _mad(r, center, floor)
    # A spread of residuals far beyond their MAD (1e300 against 1e-10) gives +-inf: an
    # outlier by any threshold, which is what the score should say (no warning needed).
    with np.errstate(over="ignore"):
        if mad > 0:
            return Z_FACTOR * (r - center) / mad
        return (r - center) / sigma


def tukey_fences(q1: float, q3: float, k: float, floor: float = 0.0) -> tuple[float, float]:
    """Q1 - k IQR and Q3 + k IQR; never closer to the quartiles than ``floor`` (rounding)."""
    reach = max(k * (q3 - q1), floor)
    return q1 - reach, q3 + reach


def flag_outliers(
    residuals: np.ndarray, rule: str = "mad", threshold: float | None = None, floor: float = 0.0
) -> OutlierFlags:
    """Flag outlying residuals with the MAD (robust z) or IQR (Tukey fences) rule.

    ``floor`` (MAD rule): spread at most this large is rounding
    (:func:`rounding_floor` of the inputs' size).
    """
    r = np.asarray(residuals, dtype=np.float64)
    rule = rule.lower()
    if rule not in DEFAULT_THRESHOLD:
        raise ValueError(f"unknown outlier rule {rule!r}")
    k = DEFAULT_THRESHOLD[rule] if threshold is None else float(threshold)
    if r.size == 0:
        return OutlierFlags(rule, k, np.zeros(0, dtype=bool), np.nan, np.nan, False)
    center, sigma, fallback = robust_scale(r, floor)
    if rule == "mad":
        mask = np.abs(robust_zscore(r, floor)) > k
        if sigma > 0:
            # |z| > k  <=>  |r - median| > k MAD / 0.6745 (or k sigma under the fallback)
            mad = _mad(r, center, floor)
            half_width = k * mad / Z_FACTOR if mad > 0 else k * sigma
            lower, upper = center - half_width, center + half_width
        else:
            lower, upper = -np.inf, np.inf
    else:
        q1, q3 = np.percentile(r, [25, 75])
        lower, upper = tukey_fences(float(q1), float(q3), k, floor)
        mask = (r < lower) | (r > upper)
    return OutlierFlags(rule, k, mask, center, sigma, fallback, lower, upper)
