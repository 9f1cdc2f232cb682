"""The robust centre and scale of residuals in plan steps: median, MAD, quartiles, exactly.

Pass 1 feeds each model's residuals to a :class:`ResidualScale`, whose kept
ranges narrow around the median and around ``median -+ MAD`` (MAD rule) or
the quartiles (IQR rule), re-estimated at every narrowing. At the end of the
pass :func:`robust_scale_of` answers exactly from those ranges (the MAD through
:meth:`~losscli.core.quantiles.KeptRanges.kth_deviation`); what they cannot
answer is found by histogram refinement passes, and the fallback scale (MAD
0: the mean absolute deviation) by one pass over ``|r - median|``. The
figures are those of :func:`losscli.analysis.outliers.robust_scale` and
:func:`~losscli.analysis.outliers.flag_outliers`, which stay the reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from losscli.analysis.exact import Tracked, refine
from losscli.analysis.outliers import (
    MAD_TO_SIGMA,
    MEANAD_TO_SIGMA,
    Z_FACTOR,
    deviation_sum_beyond,
    tukey_fences,
)
from losscli.core.dataset import Dataset
from losscli.core.quantiles import KeptRanges

# (batch, key) -> the residuals of that key's rows (unit weights)
Residuals = Callable[[Dataset, Hashable], np.ndarray]


@dataclass
class DeviationPositions:
    """Where ``median -+ MAD`` sit among the values, re-estimated at each narrowing."""

    low: float = 0.25  # fractions of the count, until the kept values tell
    high: float = 0.75

    def __call__(self, ranges: KeptRanges) -> list[float]:
        n = ranges.total_count
        center = ranges.percentile(50.0)
        if center is not None and n:
            k1, k2 = middle_ranks(n)
            a = ranges.kth_deviation(center, k1)
            b = ranges.kth_deviation(center, k2)
            if a is not None and b is not None:
                mad = 0.5 * (a + b)
                self.low = ranges.rank_of(center - mad) / n
                self.high = ranges.rank_of(center + mad) / n
        return [self.low * n, self.high * n]


def middle_ranks(n: int) -> tuple[int, int]:
    """The 1-based ranks whose mean is the median of n values (the same twice when n is odd)."""
    return ((n + 1) // 2, (n + 1) // 2) if n % 2 else (n // 2, n // 2 + 1)


def residual_tracker(rule: str) -> Tracked:
    """Kept ranges for the median and the MAD (or the quartiles, rule "iqr") of residuals."""
    if rule == "iqr":
        return Tracked(percentiles=(25.0, 50.0, 75.0))
    return Tracked(percentiles=(50.0,), extra_positions=DeviationPositions())


@dataclass(frozen=True)
class RobustScale:
    """The median, robust sigma and (IQR rule) quartiles of one key's residuals."""

    n: int
    center: float
    scale: float  # 1.4826 MAD, or 1.2533 x the mean absolute deviation (fallback)
    mad: float
    fallback: bool
    q1: float = math.nan
    q3: float = math.nan
    floor: float = 0.0  # spread this small is rounding (outliers.rounding_floor)


@dataclass
class _Sums:
    """Sum of |r - center| per key (beyond its rounding floor): the fallback scale when
    the MAD is 0."""

    centers: dict[Hashable, float]
    residuals: Residuals
    floors: dict[Hashable, float] = field(default_factory=dict)

    def new_state(self) -> dict[Hashable, float]:
        return {key: 0.0 for key in self.centers}

    def update(self, state: dict[Hashable, float], batch: Dataset) -> dict[Hashable, float]:
        for key, center in self.centers.items():
            r = self.residuals(batch, key)
            state[key] += deviation_sum_beyond(r, center, self.floors.get(key, 0.0))
        return state

    def merge(self, a: dict[Hashable, float], b: dict[Hashable, float]) -> dict[Hashable, float]:
        return {key: a[key] + b[key] for key in a}

    def finish(self, state: dict[Hashable, float]) -> dict[Hashable, float]:
        return state


@dataclass
class _Deviations:
    """``|r - center|`` of each key, as the values refinement passes select from."""

    centers: dict[Hashable, float]
    residuals: Residuals
    cache: dict[str, Any] = field(default_factory=dict)

    def __call__(self, batch: Dataset, key: Hashable) -> tuple[np.ndarray, None]:
        return np.abs(self.residuals(batch, key) - self.centers[key]), None


def _linear(a: float, b: float, gamma: float) -> float:
    """numpy's linear interpolation between two order statistics (np.percentile)."""
    diff = b - a
    return b - diff * (1.0 - gamma) if gamma >= 0.5 else a + diff * gamma


def robust_scales(
    tracked: dict[Hashable, Tracked],
    rule: str,
    residuals: Residuals,
    floors: dict[Hashable, float] | None = None,
) -> Generator[Any, Any, dict[Hashable, RobustScale]]:
    """Every key's robust figures, exact (``yield from`` in a plan).

    ``floors``: per key, the spread that rounding alone makes
    (:func:`~losscli.analysis.outliers.rounding_floor`): a MAD or mean absolute
    deviation at most that large is 0, as in
    :func:`~losscli.analysis.outliers.robust_scale`.
    """
    floors = floors or {}
    counts = {key: t.ranges.total_count for key, t in tracked.items()}
    centers: dict[Hashable, float] = {}
    missing: dict[Hashable, list[tuple[Fraction, bool]]] = {}
    quartile_ranks: dict[Hashable, list[int]] = {}
    order: dict[Hashable, list[int]] = {}
    picked: dict[Hashable, dict[int, float]] = {}
    for key, t in tracked.items():
        n = counts[key]
        if n == 0:
            continue
        ranks = list(middle_ranks(n))
        if rule == "iqr":
            for p in (0.25, 0.75):
                h = p * (n - 1)
                ranks += [int(math.floor(h)) + 1, min(n, int(math.floor(h)) + 2)]
            quartile_ranks[key] = ranks[2:]
        picked[key] = {}
        for rank in ranks:
            if rank in picked[key]:
                continue
            got = t.ranges.select(Fraction(rank))
            if got is None:
                missing.setdefault(key, []).append((Fraction(rank), False))
                order.setdefault(key, []).append(rank)
            else:
                picked[key][rank] = got
    found = yield from refine(missing, lambda batch, key: (residuals(batch, key), None))
    for key, values in found.items():
        for rank, value in zip(order[key], values):
            picked[key][rank] = value
    for key in picked:
        k1, k2 = middle_ranks(counts[key])
        centers[key] = 0.5 * (picked[key][k1] + picked[key][k2])

    # The MAD: from the kept ranges when they decide it, else by passes over |r - c|.
    mads: dict[Hashable, float] = {}
    missing = {}
    for key, center in centers.items():
        k1, k2 = middle_ranks(counts[key])
        a = tracked[key].ranges.kth_deviation(center, k1)
        b = tracked[key].ranges.kth_deviation(center, k2)
        if a is None or b is None:
            missing[key] = [(Fraction(k1), False), (Fraction(k2), False)]
        else:
            mads[key] = 0.5 * (a + b)
    deviations = _Deviations(centers, residuals)
    found = yield from refine(missing, deviations)
    for key, values in found.items():
        mads[key] = 0.5 * (values[0] + values[1])
    for key, mad in mads.items():
        if not mad > floors.get(key, 0.0):
            mads[key] = 0.0

    zero = {key: centers[key] for key, mad in mads.items() if not mad > 0}
    sums: dict[Hashable, float] = {}
    if zero:
        sums = yield _Sums(zero, residuals, floors)
    out: dict[Hashable, RobustScale] = {}
    for key, center in centers.items():
        mad = mads[key]
        n = counts[key]
        floor = floors.get(key, 0.0)
        if mad > 0:
            scale, fallback = MAD_TO_SIGMA * mad, False
        else:
            scale, fallback = MEANAD_TO_SIGMA * (sums[key] / n), True
        q1 = q3 = math.nan
        if rule == "iqr":
            r = quartile_ranks[key]
            at = picked[key]
            q1 = _linear(at[r[0]], at[r[1]], 0.25 * (n - 1) - math.floor(0.25 * (n - 1)))
            q3 = _linear(at[r[2]], at[r[3]], 0.75 * (n - 1) - math.floor(0.75 * (n - 1)))
        out[key] = RobustScale(n, center, scale, mad, fallback, q1, q3, floor)
    return out


def flag_mask(r: np.ndarray, figures: RobustScale, rule: str, threshold: float) -> np.ndarray:
    """Rows flagged, computed exactly as :func:`~losscli.analysis.outliers.flag_outliers` does."""
    if rule == "iqr":
        lower, upper = iqr_fences(figures, threshold)
        return (r < lower) | (r > upper)
    if figures.mad > 0:
        z = Z_FACTOR * (r - figures.center) / figures.mad
    elif figures.scale > 0:
        z = (r - figures.center) / figures.scale
    else:
        return np.zeros(r.shape, dtype=bool)
    return np.abs(z) > threshold


def iqr_fences(figures: RobustScale, threshold: float) -> tuple[float, float]:
    return tukey_fences(figures.q1, figures.q3, threshold, figures.floor)


def mad_cutoffs(figures: RobustScale, threshold: float) -> tuple[float, float]:
    """The residual cut-offs of the MAD rule (for drawing), as flag_outliers has them."""
    if figures.scale > 0:
        half_width = (
            threshold * figures.mad / Z_FACTOR if figures.mad > 0 else threshold * figures.scale
        )
        return figures.center - half_width, figures.center + half_width
    return -math.inf, math.inf
