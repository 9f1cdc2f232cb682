"""The one reduction path: per-sample losses and weights in, one number out.

Every loss value losscli prints comes from :func:`reduce_values` or from the
accumulators below, which hold mergeable partial sums so that chunks of a
large file (or shards processed elsewhere) can be combined exactly:
``acc(a + b) == acc(a).merge(acc(b))``.

Means are accumulated with a power-of-two scale so that sums of huge but
finite losses (e.g. squared errors near 1e300) do not overflow before the
division by the weight total; the scaling is exact in binary floating point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from losscli.core.registry import Reduction


def _as_weights(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return np.ones(values.shape[0], dtype=np.float64)
    return np.asarray(weights, dtype=np.float64)


def _weighted_sum_scaled(values: np.ndarray, weights: np.ndarray) -> tuple[float, int]:
    """sum(w*l) as (mantissa, exponent) with total = mantissa * 2**exponent.

    Rows of zero weight contribute exactly 0 even when their loss is inf.
    """
    positive = weights > 0
    if not positive.all():
        values = values[positive]
        weights = weights[positive]
    if values.size == 0:
        return 0.0, 0
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.dot(weights, values))
    if math.isfinite(total) or not (np.isfinite(values).all() and np.isfinite(weights).all()):
        return total, 0
    # Finite inputs whose sum overflows: rescale by a power of two (exact).
    exponent = int(np.frexp(np.max(np.abs(values)))[1])
    scaled = np.ldexp(values, -exponent) * weights
    return float(np.sum(scaled)), exponent


@dataclass
class MeanAccumulator:
    """Partial sums of a weighted mean: mergeable, exact across chunk boundaries."""

    sqrt: bool = False
    sum_w: float = 0.0
    sum_wl: float = 0.0
    exponent: int = 0
    count: int = 0
    # Reduction.SUM (issue 6): the weighted sum itself, not divided by sum(w).
    total: bool = False

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        values = np.asarray(values, dtype=np.float64)
        w = _as_weights(values, weights)
        mantissa, exponent = _weighted_sum_scaled(values, w)
        self._combine(float(np.sum(w)), mantissa, exponent, int(np.count_nonzero(w > 0)))

    def _combine(self, sum_w: float, mantissa: float, exponent: int, count: int) -> None:
        top = max(self.exponent, exponent)
        mine = math.ldexp(self.sum_wl, self.exponent - top)
        theirs = math.ldexp(mantissa, exponent - top)
        total = mine + theirs
        if math.isinf(total) and math.isfinite(mine) and math.isfinite(theirs):
            # Two finite partial sums whose total overflows: one more power of two of
            # headroom (exact) is always enough for a sum of two terms.
            top += 1
            total = math.ldexp(mine, -1) + math.ldexp(theirs, -1)
        self.sum_wl = total
        self.exponent = top
        self.sum_w += sum_w
        self.count += count

    def merge(self, other: MeanAccumulator) -> MeanAccumulator:
        out = MeanAccumulator(
            self.sqrt, self.sum_w, self.sum_wl, self.exponent, self.count, self.total
        )
        out._combine(other.sum_w, other.sum_wl, other.exponent, other.count)
        return out

    def result(self) -> float:
        if self.sum_w <= 0:
            return math.nan
        mean = self.sum_wl / (1.0 if self.total else self.sum_w)
        try:
            mean = math.ldexp(mean, self.exponent)
        except OverflowError:
            mean = math.inf
        return math.sqrt(mean) if self.sqrt and mean >= 0 else mean


@dataclass
class MaxAccumulator:
    """Largest per-sample loss among rows of positive weight (max_error)."""

    value: float = -math.inf
    count: int = 0

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        values = np.asarray(values, dtype=np.float64)
        if weights is not None:
            values = values[np.asarray(weights) > 0]
        if values.size:
            self.value = max(self.value, float(np.max(values)))
            self.count += int(values.size)

    def merge(self, other: MaxAccumulator) -> MaxAccumulator:
        return MaxAccumulator(max(self.value, other.value), self.count + other.count)

    def result(self) -> float:
        return self.value if self.count else math.nan


@dataclass
class MedianAccumulator:
    """Weighted median (averaged inverted CDF). Keeps the values it is given.

    Exact; memory is O(rows). The streaming engine replaces this by an exact
    multi-pass selection for files that do not fit in memory.
    """

    values: list[np.ndarray] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        values = np.asarray(values, dtype=np.float64)
        self.values.append(values)
        self.weights.append(_as_weights(values, weights))

    def merge(self, other: MedianAccumulator) -> MedianAccumulator:
        return MedianAccumulator(self.values + other.values, self.weights + other.weights)

    def result(self) -> float:
        if not self.values:
            return math.nan
        return weighted_percentile(np.concatenate(self.values), np.concatenate(self.weights), 50.0)


Accumulator = MeanAccumulator | MaxAccumulator | MedianAccumulator


def new_accumulator(kind: Reduction) -> Accumulator:
    """An empty accumulator for a loss's reduction kind."""
    if kind is Reduction.MEAN:
        return MeanAccumulator()
    if kind is Reduction.SQRT_MEAN:
        return MeanAccumulator(sqrt=True)
    if kind is Reduction.SUM:
        return MeanAccumulator(total=True)
    if kind is Reduction.MAX:
        return MaxAccumulator()
    if kind is Reduction.MEDIAN:
        return MedianAccumulator()
    raise ValueError(f"unknown reduction {kind!r}")


def reduce_values(
    values: np.ndarray, weights: np.ndarray | None = None, kind: Reduction = Reduction.MEAN
) -> float:
    """One loss value from per-sample losses: the weighted mean ``sum(w*l)/sum(w)`` etc."""
    acc = new_accumulator(kind)
    acc.add(values, weights)
    return acc.result()


def _inverted_cdf(sorted_values: np.ndarray, sorted_weights: np.ndarray, q: float) -> float:
    cdf = np.cumsum(sorted_weights)
    target = q * cdf[-1]
    idx = int(np.searchsorted(cdf, target, side="left"))
    idx = min(idx, sorted_values.size - 1)
    # Never land on a zero-weight entry: move to the next one that carries weight.
    while idx < sorted_values.size - 1 and sorted_weights[idx] == 0:
        idx += 1
    return float(sorted_values[idx])


def weighted_percentile(values: np.ndarray, weights: np.ndarray | None, percentile: float) -> float:
    """scikit-learn's averaged inverted-CDF weighted percentile.

    The mean of the inverted-CDF percentile of ``values`` and of ``-values`` at
    ``100 - percentile``; with unit weights this is ``np.percentile`` for the
    median (``np.median``).
    """
    values = np.asarray(values, dtype=np.float64)
    w = _as_weights(values, weights)
    keep = w > 0
    values, w = values[keep], w[keep]
    if values.size == 0:
        return math.nan
    order = np.argsort(values, kind="stable")
    v, sw = values[order], w[order]
    q = percentile / 100.0
    low = _inverted_cdf(v, sw, q)
    high = -_inverted_cdf(-v[::-1], sw[::-1], 1.0 - q)
    return 0.5 * (low + high)
