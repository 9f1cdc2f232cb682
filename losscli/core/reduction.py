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
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import cast

import numpy as np

from losscli.core.calibration import DEFAULT_BINS, ReliabilityBins
from losscli.core.registry import PLAIN_REDUCTIONS, ParamReduction, Reducer, Reduction


def sparse_array(array: np.ndarray | None) -> object:
    """A histogram array as its non-empty bins only (how states travel between processes)."""
    if array is None:
        return None
    nonzero = np.flatnonzero(array)
    return ("sparse", array.dtype.str, array.size, nonzero.astype(np.uint32), array[nonzero])


def dense_array(packed: object) -> np.ndarray | None:
    """The array :func:`sparse_array` packed."""
    if packed is None or isinstance(packed, np.ndarray):
        return packed
    fields: tuple[str, str, int, np.ndarray, np.ndarray] = packed  # type: ignore[assignment]
    out = np.zeros(fields[2], dtype=np.dtype(fields[1]))
    out[fields[3]] = fields[4]
    return out


def pack_arrays(state: dict[str, object], names: tuple[str, ...]) -> dict[str, object]:
    state = dict(state)
    for name in names:
        state[name] = sparse_array(state[name])  # type: ignore[arg-type]
    return state


def unpack_arrays(state: dict[str, object], names: tuple[str, ...]) -> dict[str, object]:
    for name in names:
        state[name] = dense_array(state[name])
    return state


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


_add_reduce = np.add.reduce


def _sum_scaled(values: np.ndarray) -> tuple[float, int]:
    """sum(l) as (mantissa, exponent), like :func:`_weighted_sum_scaled` with unit weights."""
    if values.size == 0:
        return 0.0, 0
    with np.errstate(over="ignore", invalid="ignore"):
        # np.sum's own reduction (the same pairwise sum), without its Python wrapper.
        total = float(_add_reduce(values))
    if math.isfinite(total) or not np.isfinite(values).all():
        return total, 0
    exponent = int(np.frexp(np.max(np.abs(values)))[1])
    return float(np.sum(np.ldexp(values, -exponent))), exponent


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

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> float | None:
        """Add a chunk; unweighted, returns its ``float(np.sum(values))`` when that was
        the sum taken (not when finite values overflowed it), for callers that need it."""
        values = np.asarray(values, dtype=np.float64)
        if weights is None:
            # Unit weights: a plain (pairwise) sum, no array of ones (the hot path).
            mantissa, exponent = _sum_scaled(values)
            self._combine(float(values.size), mantissa, exponent, int(values.size))
            return mantissa if exponent == 0 else None
        w = _as_weights(values, weights)
        mantissa, exponent = _weighted_sum_scaled(values, w)
        self._combine(float(np.sum(w)), mantissa, exponent, int(np.count_nonzero(w > 0)))
        return None

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
    """Exact weighted median (averaged inverted CDF) in bounded memory.

    While it has seen at most ``cap`` rows it keeps them and the result is
    :func:`weighted_percentile` itself. Beyond that it keeps a histogram of
    the values' order keys (their float64 bit patterns made monotone): a
    count and a weight total per bin, which merge by addition. The median is
    then pinned down by refinement passes over the same values
    (:meth:`refine_plan` / :meth:`refine_add` / :meth:`refine_finish`): each
    pass either histograms the bin range that holds the median more finely or,
    once that range holds at most ``cap`` rows, collects those rows and
    selects the exact order statistics among them. Memory stays
    O(cap + 2**bits) however many rows there are.

    Weights are summed in a different order than ``np.cumsum`` over the sorted
    values; with non-integer weights a cumulative weight that lands within
    rounding error of exactly half the total can therefore pick the
    neighbouring value. With unit or integer weights the result is identical.
    """

    cap: int = 1 << 20
    bits: int = 16
    # The percentile selected (50: the median); d2_pinball selects alpha * 100.
    percentile: float = 50.0
    values: list[np.ndarray] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    kept: int = 0
    weighted: bool = False  # False while every row had unit weight (weights stay None)
    counts: np.ndarray | None = None
    bin_weights: np.ndarray | None = None
    total_w: float = 0.0
    # Refinement: one selector per order statistic of the averaged inverted CDF.
    _selectors: list[_OrderStatistic] = field(default_factory=list)

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        values = np.asarray(values, dtype=np.float64)
        w: np.ndarray | None = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            keep = w > 0
            if not keep.all():
                values, w = values[keep], w[keep]
        if values.size == 0:
            return
        if self.counts is None:
            self.values.append(values)
            self.weights.append(_as_weights(values, w) if self.weighted else w)  # type: ignore[arg-type]
            if w is not None and not self.weighted:
                self.weighted = True
                self.weights = [_as_weights(v, x) for v, x in zip(self.values, self.weights)]
            self.kept += int(values.size)
            if self.kept <= self.cap:
                return
            values = np.concatenate(self.values)
            w = np.concatenate(self.weights) if self.weighted else None
            self.values, self.weights, self.kept = [], [], 0
            self.counts = np.zeros(1 << self.bits, dtype=np.int64)
            self.bin_weights = np.zeros(1 << self.bits, dtype=np.float64)
        self._histogram(values, w)

    def _histogram(self, values: np.ndarray, w: np.ndarray | None) -> None:
        assert self.counts is not None and self.bin_weights is not None
        bins = key_bins(values, self.bits)
        size = 1 << self.bits
        counts = np.bincount(bins, minlength=size)
        self.counts += counts
        if w is None:
            self.bin_weights += counts
            self.total_w += float(values.size)
        else:
            self.bin_weights += np.bincount(bins, weights=w, minlength=size)
            self.total_w += float(np.sum(w))

    def merge(self, other: MedianAccumulator) -> MedianAccumulator:
        out = MedianAccumulator(cap=self.cap, bits=self.bits, percentile=self.percentile)
        for acc in (self, other):
            for v, w in zip(acc.values, acc.weights):
                out.add(v, w)
            if acc.counts is not None:
                if out.counts is None:
                    out.counts = np.zeros(1 << self.bits, dtype=np.int64)
                    out.bin_weights = np.zeros(1 << self.bits, dtype=np.float64)
                    kept_v, kept_w = out.values, out.weights
                    out.values, out.weights, out.kept = [], [], 0
                    for v, w in zip(kept_v, kept_w):
                        out._histogram(v, w)
                assert out.bin_weights is not None and acc.bin_weights is not None
                out.counts += acc.counts
                out.bin_weights += acc.bin_weights
                out.total_w += acc.total_w
        return out

    # ------------------------------------------------------------------ refinement

    @property
    def needs_pass(self) -> bool:
        """Whether :meth:`result` needs (another) pass over the values."""
        if self.counts is None:
            return False
        return not self._selectors or any(s.value is None for s in self._selectors)

    def refine_plan(self) -> None:
        """Start a pass: on the first one, locate both order statistics in the histogram."""
        assert self.counts is not None and self.bin_weights is not None
        if not self._selectors:
            share = self.percentile / 100.0
            self._selectors = [
                _OrderStatistic(
                    from_top,
                    (1.0 - share if from_top else share) * self.total_w,
                    self.cap,
                    self.bits,
                    64 - self.bits,
                )
                for from_top in (False, True)
            ]
            for selector in self._selectors:
                selector.locate(self.counts, self.bin_weights)

    def key_ranges(self) -> list[tuple[int, int]]:
        """The [lo, hi) order-key ranges the next pass looks at (after :meth:`refine_plan`).

        Values outside them are ignored by :meth:`refine_add`, so a caller may
        feed only the values it kept in a range covering these.
        """
        return [(s.lo, s.hi) for s in self._selectors if s.value is None]

    def refine_add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Feed the values again (every row, in any order and chunking) during a pass."""
        values = np.asarray(values, dtype=np.float64)
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        keys = order_keys(values)
        for selector in self._selectors:
            selector.add(values, w, keys)

    def refine_merge(self, other: MedianAccumulator) -> None:
        """Take in the pass of ``other`` (the same plan, fed other rows): before refine_finish."""
        for mine, theirs in zip(self._selectors, other._selectors):
            mine.merge_pass(theirs)

    def refine_finish(self) -> None:
        """End a pass: each order statistic is either known or located more finely."""
        for selector in self._selectors:
            selector.finish()

    def __getstate__(self) -> dict[str, object]:
        return pack_arrays(self.__dict__, ("counts", "bin_weights"))

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(unpack_arrays(state, ("counts", "bin_weights")))

    def result(self) -> float:
        if self.counts is not None:
            if self.needs_pass:
                raise RuntimeError("the median needs refinement passes over the values first")
            low, high = (s.value for s in self._selectors)
            assert low is not None and high is not None
            return midpoint(low, high)
        if not self.values:
            return math.nan
        weights = np.concatenate(self.weights) if self.weighted else None
        return weighted_percentile(np.concatenate(self.values), weights, self.percentile)


@dataclass
class _OrderStatistic:
    """One inverted-CDF order statistic, located by successively finer key histograms.

    From the bottom: the smallest value whose cumulative weight reaches
    ``target``; from the top (``from_top``): the largest value with at least
    ``target`` weight at or above it.
    """

    from_top: bool
    target: float
    cap: int
    bits: int
    shift: int
    lo: int = 0
    outside: float = 0.0  # weight strictly below (or above, from the top) [lo, hi)
    hi: int = 1 << 64
    mode: str = "histogram"
    counts: np.ndarray | None = None
    weights: np.ndarray | None = None
    found: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    value: float | None = None

    def locate(self, counts: np.ndarray, weights: np.ndarray) -> None:
        """Pick the bin holding the statistic; plan to collect it or histogram it finer."""
        ordered = weights[::-1] if self.from_top else weights
        cum = self.outside + np.cumsum(ordered)
        k = min(int(np.searchsorted(cum, self.target, side="left")), counts.size - 1)
        index = counts.size - 1 - k if self.from_top else k
        step = -1 if self.from_top else 1
        while 0 <= index + step < counts.size and counts[index] == 0:
            index += step
        if self.from_top:
            self.outside += float(np.sum(weights[index + 1 :]))
        else:
            self.outside += float(np.sum(weights[:index]))
        self.lo = self.lo + (index << self.shift)
        self.hi = self.lo + (1 << self.shift)
        inside = int(counts[index])
        if inside <= self.cap:
            self.mode = "collect"
        elif self.shift == 0:
            self.value = key_value(self.lo)  # a single key: the value itself
        else:
            self.shift = max(0, self.shift - self.bits)
            self.mode = "histogram"
            size = ((self.hi - self.lo - 1) >> self.shift) + 1
            self.counts = np.zeros(size, dtype=np.int64)
            self.weights = np.zeros(size, dtype=np.float64)

    def add(self, values: np.ndarray, weights: np.ndarray | None, keys: np.ndarray) -> None:
        if self.value is not None:
            return
        inside = keys >= np.uint64(self.lo)
        if self.hi < 1 << 64:
            inside &= keys < np.uint64(self.hi)
        if weights is not None:
            inside &= weights > 0
        if not inside.any():
            return
        picked = _as_weights(values[inside], None if weights is None else weights[inside])
        if self.mode == "collect":
            self.found.append((values[inside], picked))
            return
        assert self.counts is not None and self.weights is not None
        idx = ((keys[inside] - np.uint64(self.lo)) >> np.uint64(self.shift)).astype(np.intp)
        counts = np.bincount(idx, minlength=self.counts.size)
        self.counts += counts
        if weights is None:
            self.weights += counts
        else:
            self.weights += np.bincount(idx, weights=picked, minlength=self.counts.size)

    def merge_pass(self, other: _OrderStatistic) -> None:
        """Add what ``other`` (the same state before the pass) saw of other rows."""
        if self.value is not None:
            return
        if self.mode == "collect":
            self.found.extend(other.found)
            return
        assert self.counts is not None and self.weights is not None
        assert other.counts is not None and other.weights is not None
        self.counts += other.counts
        self.weights += other.weights

    def __getstate__(self) -> dict[str, object]:
        return pack_arrays(self.__dict__, ("counts", "weights"))

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(unpack_arrays(state, ("counts", "weights")))

    def finish(self) -> None:
        if self.value is not None:
            return
        if self.mode == "histogram":
            assert self.counts is not None and self.weights is not None
            counts, weights = self.counts, self.weights
            self.counts = self.weights = None
            self.locate(counts, weights)
            return
        values = np.concatenate([v for v, _ in self.found])
        weights = np.concatenate([w for _, w in self.found])
        self.found = []
        if np.all(weights == 1.0):
            # Unit weights: the cumulative weights are outside + 1, 2, ..., n exactly, so
            # the same search needs no sort, only a selection (np.partition, O(n)).
            ranks = self.outside + np.arange(1, values.size + 1, dtype=np.float64)
            i = min(int(np.searchsorted(ranks, self.target, side="left")), values.size - 1)
            k = values.size - 1 - i if self.from_top else i
            self.value = float(np.partition(values, k)[k])
            return
        order = np.argsort(values, kind="stable")
        v, w = values[order], weights[order]
        if self.from_top:
            v, w = v[::-1], w[::-1]
        cum = self.outside + np.cumsum(w)
        i = min(int(np.searchsorted(cum, self.target, side="left")), v.size - 1)
        self.value = float(v[i])


def order_keys(values: np.ndarray) -> np.ndarray:
    """uint64 keys that sort like the float64 values (negative values flipped)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    sign = np.uint64(1 << 63)
    if not np.signbit(values).any():  # the usual case (losses are >= 0): one operation
        return cast(np.ndarray, bits | sign)
    return np.where(bits >= sign, ~bits, bits | sign)


def key_bins(values: np.ndarray, bits: int) -> np.ndarray:
    """``order_keys(values) >> (64 - bits)``: the histogram bin of each value.

    For 16 bits and non-negative values (losses) the bin is the top 16 bits
    of the float itself, read through a strided uint16 view: no uint64 keys.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    if bits == 16 and sys.byteorder == "little" and not np.signbit(values).any():
        return cast(np.ndarray, values.view(np.uint16)[3::4] | np.uint16(0x8000))
    # intp: np.bincount on uint64 fails on numpy < 2 (no safe cast to int64).
    return cast(np.ndarray, (order_keys(values) >> np.uint64(64 - bits)).astype(np.intp))


def key_value(key: int) -> float:
    """The float64 whose :func:`order_keys` key is ``key``."""
    bits = key & ~(1 << 63) if key >> 63 else ~key & ((1 << 64) - 1)
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


def new_accumulator(kind: Reducer, cap: int | None = None) -> Accumulator:  # noqa: F821
    """An empty accumulator for a loss's reduction kind (``LossSelection.reducer``).

    ``cap``: rows a two-pass figure (d2_*) keeps in memory before it needs a
    further pass over its values (None: keep them all, no pass).
    """
    if isinstance(kind, ParamReduction):
        return _figure_accumulator(kind, cap)
    if kind not in PLAIN_REDUCTIONS:  # a figure's kind alone: its default parameters
        return _figure_accumulator(ParamReduction(kind), cap)
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
    values: np.ndarray, weights: np.ndarray | None = None, kind: Reducer = Reduction.MEAN
) -> float:
    """One loss value from per-sample losses: the weighted mean ``sum(w*l)/sum(w)`` etc.

    The values are all in memory here, so the median is selected directly; the
    bounded-memory MedianAccumulator (and its refinement passes) is for streams.
    """
    if kind is Reduction.MEDIAN:
        return weighted_percentile(values, weights, 50.0)
    acc = new_accumulator(kind)
    acc.add(values, weights)
    return acc.result()


# --------------------------------------------------------------------------- SPEC 12 figures
# Figures that are not a reduction of one per-row term: their kernels return per-row
# components (shape (n, k)) and these accumulators hold mergeable sums of them.


def _components(values: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, weights) restricted to rows of positive weight; unit weights when None."""
    rows = np.asarray(values, dtype=np.float64)
    if rows.ndim == 1:  # no rows at all (or a single component): nothing to pair
        rows = rows.reshape(-1, 1) if rows.size else np.zeros((0, 2))
    w = np.ones(rows.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = w > 0
    if not keep.all():
        rows, w = rows[keep], w[keep]
    return rows, w


def _explained(numerator: float, denominator: float) -> float:
    """scikit-learn's ``force_finite`` fraction: 1 - num/den, 1 when num = 0, 0 when den = 0."""
    if numerator == 0:
        return 1.0
    if denominator == 0:
        return 0.0
    return 1.0 - numerator / denominator


@dataclass
class Moments:
    """Weighted mean and sum of squared deviations (Chan et al.'s parallel update)."""

    weight: float = 0.0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: np.ndarray, w: np.ndarray) -> None:
        if x.size == 0:
            return
        total = float(np.sum(w))
        with np.errstate(all="ignore"):  # overflowing sums give inf, then NaN scores
            mean = float(np.sum(w * x)) / total  # np.average's expression, as scikit-learn
            m2 = float(np.sum(w * np.square(x - mean)))
        self.combine(Moments(total, mean, m2))

    def combine(self, other: Moments) -> None:
        if other.weight == 0:
            return
        if self.weight == 0:
            self.weight, self.mean, self.m2 = other.weight, other.mean, other.m2
            return
        total = self.weight + other.weight
        delta = other.mean - self.mean
        self.mean += delta * other.weight / total
        self.m2 += other.m2 + delta * delta * self.weight * other.weight / total
        self.weight = total


@dataclass
class SkillAccumulator:
    """r2 and explained_variance from components (e, y): mergeable moments.

    r2 = 1 - sum w e^2 / sum w (y - ybar)^2; explained_variance = 1 - var_w(e) /
    var_w(y). Both as scikit-learn with ``force_finite=True``; fewer than two rows
    give NaN (scikit-learn's r2_score: not well-defined).
    """

    explained_variance: bool = False
    count: int = 0
    squared_error: float = 0.0
    error: Moments = field(default_factory=Moments)
    target: Moments = field(default_factory=Moments)

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        rows, w = _components(values, weights)
        if rows.shape[0] == 0:
            return
        e, y = rows[:, 0], rows[:, 1]
        self.count += int(rows.shape[0])
        with np.errstate(all="ignore"):
            self.squared_error += float(np.sum(w * np.square(e)))
        self.error.add(e, w)
        self.target.add(y, w)

    def merge(self, other: SkillAccumulator) -> SkillAccumulator:
        out = SkillAccumulator(
            self.explained_variance,
            self.count + other.count,
            self.squared_error + other.squared_error,
            Moments(self.error.weight, self.error.mean, self.error.m2),
            Moments(self.target.weight, self.target.mean, self.target.m2),
        )
        out.error.combine(other.error)
        out.target.combine(other.target)
        return out

    def result(self) -> float:
        if self.count < 2:
            return math.nan
        numerator = self.error.m2 if self.explained_variance else self.squared_error
        return _explained(numerator, self.target.m2)

    def undefined_reason(self) -> str | None:
        """See :func:`_why_undefined`."""
        return _why_undefined(self.count, self.result)


def _why_undefined(count: int, result: Callable[[], float]) -> str | None:
    """Why a ratio-of-sums figure has no value (None when it has one): "rows" (fewer
    than two, as scikit-learn) or "overflow" (its sums overflowed float64)."""
    if count < 2:
        return "rows"
    return "overflow" if math.isnan(result()) else None


def pinball_terms(e: np.ndarray, alpha: float) -> np.ndarray:
    """alpha max(e, 0) + (1 - alpha) max(-e, 0), the pinball loss of residuals e."""
    return cast(np.ndarray, alpha * np.maximum(e, 0.0) + (1.0 - alpha) * np.maximum(-e, 0.0))


@dataclass
class _TwoPass:
    """What d2_* share: a numerator sum, the rows counted, the y values kept while few.

    The denominator is a sum over every y of a function of y and a reference
    point (the alpha-quantile, or the mean) known only once all rows are seen.
    While at most ``cap`` rows have come (None: no limit) their y values are
    kept and the denominator is computed directly; beyond that they are dropped
    and the caller runs one more pass over the values (``needs_pass``,
    ``refine_plan`` / ``refine_add`` / ``refine_finish``, the protocol of
    :class:`MedianAccumulator`; y is the second component of each row).
    """

    cap: int | None = None
    count: int = 0
    numerator: float = 0.0
    ys: list[np.ndarray] = field(default_factory=list)
    ws: list[np.ndarray] = field(default_factory=list)
    dropped: bool = False
    denominator: float | None = None
    running: float = 0.0

    def _add_common(self, rows: np.ndarray, w: np.ndarray) -> None:
        self.count += int(rows.shape[0])
        with np.errstate(all="ignore"):
            self.numerator += float(np.sum(w * rows[:, 0]))
        if not self.dropped:
            self.ys.append(rows[:, 1])
            self.ws.append(w)
            if self.cap is not None and sum(y.size for y in self.ys) > self.cap:
                self.ys, self.ws, self.dropped = [], [], True

    def _merge_common(self, out: _TwoPass, other: _TwoPass) -> None:
        out.count = self.count + other.count
        out.numerator = self.numerator + other.numerator
        out.dropped = self.dropped or other.dropped
        if not out.dropped:
            out.ys = self.ys + other.ys
            out.ws = self.ws + other.ws
            if out.cap is not None and sum(y.size for y in out.ys) > out.cap:
                out.ys, out.ws, out.dropped = [], [], True

    @staticmethod
    def _second(values: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """y and weights of positive-weight rows, from components or a spooled y column."""
        array = np.asarray(values, dtype=np.float64)
        y = array[:, 1] if array.ndim == 2 else array
        w = np.ones(y.size) if weights is None else np.asarray(weights, dtype=np.float64)
        keep = w > 0
        return y[keep], w[keep]


@dataclass
class D2QuantileAccumulator(_TwoPass):
    """d2_pinball (and d2_absolute_error, alpha = 0.5) from components (pinball(e), y).

    D2 = 1 - sum w pinball(e) / sum w pinball(y - q), q the weighted
    alpha-quantile of y (scikit-learn's averaged inverted CDF), exact: q comes
    from a :class:`MedianAccumulator` at percentile 100 alpha (refined by passes
    when the rows are many), then one more pass sums the denominator.
    """

    alpha: float = 0.5
    quantile: MedianAccumulator = field(default_factory=MedianAccumulator)
    phase: str = ""

    def __post_init__(self) -> None:
        self.quantile = MedianAccumulator(
            cap=self.cap if self.cap is not None else 1 << 62, percentile=100.0 * self.alpha
        )

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        rows, w = _components(values, weights)
        if rows.shape[0] == 0:
            return
        self._add_common(rows, w)
        self.quantile.add(rows[:, 1], None if weights is None else w)

    def merge(self, other: D2QuantileAccumulator) -> D2QuantileAccumulator:
        out = D2QuantileAccumulator(cap=self.cap, alpha=self.alpha)
        self._merge_common(out, other)
        out.quantile = self.quantile.merge(other.quantile)
        return out

    @property
    def needs_pass(self) -> bool:
        return self.quantile.needs_pass or (self.dropped and self.denominator is None)

    def refine_plan(self) -> None:
        if self.quantile.needs_pass:
            self.phase = "quantile"
            self.quantile.refine_plan()
        else:
            self.phase = "denominator"
            self.running = 0.0

    def refine_add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        y, w = self._second(values, weights)
        if self.phase == "quantile":
            self.quantile.refine_add(y, w)
        else:
            q = self.quantile.result()
            with np.errstate(all="ignore"):
                self.running += float(np.sum(w * pinball_terms(y - q, self.alpha)))

    def refine_merge(self, other: D2QuantileAccumulator) -> None:
        if self.phase == "quantile":
            self.quantile.refine_merge(other.quantile)
        else:
            self.running += other.running

    def refine_finish(self) -> None:
        if self.phase == "quantile":
            self.quantile.refine_finish()
        else:
            self.denominator = self.running

    def undefined_reason(self) -> str | None:
        """See :func:`_why_undefined` (None while passes are still needed)."""
        return None if self.needs_pass else _why_undefined(self.count, self.result)

    def result(self) -> float:
        if self.count < 2:
            return math.nan
        if self.needs_pass:
            raise RuntimeError("d2 needs further passes over the values first")
        denominator = self.denominator
        if denominator is None:
            q = self.quantile.result()
            y, w = np.concatenate(self.ys), np.concatenate(self.ws)
            with np.errstate(all="ignore"):
                denominator = float(np.sum(w * pinball_terms(y - q, self.alpha)))
        return _explained(self.numerator, denominator)


@dataclass
class D2TweedieAccumulator(_TwoPass):
    """d2_tweedie from components (deviance(y, p), y): 1 - sum w dev(y, p) / sum w dev(y, ybar).

    ybar is the weighted mean of y; the denominator takes one more pass when
    the rows are many. As scikit-learn's d2_tweedie_score: no ``force_finite``
    (a constant y gives 1 - x/0), NaN for fewer than two rows.
    """

    power: float = 0.0
    sum_w: float = 0.0
    sum_wy: float = 0.0

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        rows, w = _components(values, weights)
        if rows.shape[0] == 0:
            return
        self._add_common(rows, w)
        self.sum_w += float(np.sum(w))
        with np.errstate(all="ignore"):
            self.sum_wy += float(np.sum(w * rows[:, 1]))

    def merge(self, other: D2TweedieAccumulator) -> D2TweedieAccumulator:
        out = D2TweedieAccumulator(cap=self.cap, power=self.power)
        self._merge_common(out, other)
        out.sum_w = self.sum_w + other.sum_w
        out.sum_wy = self.sum_wy + other.sum_wy
        return out

    @property
    def needs_pass(self) -> bool:
        return self.dropped and self.denominator is None

    def refine_plan(self) -> None:
        self.running = 0.0

    def _deviance_sum(self, y: np.ndarray, w: np.ndarray) -> float:
        from losscli.core.losses.regression import tweedie_deviance

        mean = np.full(y.size, self.sum_wy / self.sum_w)
        with np.errstate(all="ignore"):
            return float(np.sum(w * tweedie_deviance(y, mean, self.power)))

    def refine_add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        y, w = self._second(values, weights)
        self.running += self._deviance_sum(y, w)

    def refine_merge(self, other: D2TweedieAccumulator) -> None:
        self.running += other.running

    def refine_finish(self) -> None:
        self.denominator = self.running

    def _denominator(self) -> float:
        if self.denominator is not None:
            return self.denominator
        return self._deviance_sum(np.concatenate(self.ys), np.concatenate(self.ws))

    def result(self) -> float:
        if self.count < 2:
            return math.nan
        if self.needs_pass:
            raise RuntimeError("d2_tweedie needs a further pass over the values first")
        with np.errstate(all="ignore"):
            return float(1.0 - np.float64(self.numerator) / np.float64(self._denominator()))

    def undefined_reason(self) -> str | None:
        """As :func:`_why_undefined`, and "constant": no force_finite here (as
        scikit-learn's d2_tweedie_score), so a constant y_true predicted exactly is
        0/0; predicted otherwise, "constant_inexact": x/0, the value -inf."""
        if self.needs_pass:
            return None
        reason = _why_undefined(self.count, self.result)
        if self.count < 2 or self._denominator() != 0:
            return reason
        if reason == "overflow" and self.numerator == 0:
            return "constant"
        if reason is None and self.numerator > 0:
            return "constant_inexact"
        return reason


@dataclass
class CalibrationAccumulator:
    """ece (L1) or mce (max gap) from components (top-label confidence, correct)."""

    maximum: bool = False
    bins: ReliabilityBins = field(default_factory=ReliabilityBins)

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        rows, w = _components(values, weights)
        if rows.shape[0]:
            self.bins.add(rows[:, 0], rows[:, 1], None if weights is None else w)

    def merge(self, other: CalibrationAccumulator) -> CalibrationAccumulator:
        return CalibrationAccumulator(self.maximum, self.bins.merge(other.bins))

    def result(self) -> float:
        return self.bins.mce() if self.maximum else self.bins.ece()


#: every accumulator's type: add(values, weights), merge(other), result().
Accumulator = (
    MeanAccumulator
    | MaxAccumulator
    | MedianAccumulator
    | SkillAccumulator
    | D2QuantileAccumulator
    | D2TweedieAccumulator
    | CalibrationAccumulator
)


def _figure_accumulator(kind: ParamReduction, cap: int | None) -> Accumulator:
    params = dict(kind.params)
    if kind.kind is Reduction.R2:
        return SkillAccumulator()
    if kind.kind is Reduction.EXPLAINED_VARIANCE:
        return SkillAccumulator(explained_variance=True)
    if kind.kind is Reduction.D2_QUANTILE:
        return D2QuantileAccumulator(cap=cap, alpha=float(params.get("alpha", 0.5)))
    if kind.kind is Reduction.D2_TWEEDIE:
        return D2TweedieAccumulator(cap=cap, power=float(params.get("power", 0.0)))
    if kind.kind in (Reduction.ECE, Reduction.MCE):
        return CalibrationAccumulator(
            kind.kind is Reduction.MCE, ReliabilityBins(int(params.get("n_bins", DEFAULT_BINS)))
        )
    raise ValueError(f"unknown reduction {kind!r}")


def _inverted_cdf(
    sorted_values: np.ndarray, sorted_weights: np.ndarray, percentile: float
) -> float:
    """Smallest value whose cumulative weight reaches ``percentile``% of the total.

    The comparison is exact: ``0.95 * 500`` rounds to 475.00000000000006 in
    floating point, which would skip the row whose cumulative weight is
    exactly 475 (and so break the averaging of the two middle rows).
    """
    cdf = np.cumsum(sorted_weights)
    target = Fraction(percentile) * Fraction(float(cdf[-1])) / 100
    idx = int(np.searchsorted(cdf, float(target), side="left"))
    last = sorted_values.size - 1
    idx = min(idx, last)
    while idx > 0 and Fraction(float(cdf[idx - 1])) >= target:
        idx -= 1
    while idx < last and Fraction(float(cdf[idx])) < target:
        idx += 1
    # Never land on a zero-weight entry: move to the next one that carries weight.
    while idx < last and sorted_weights[idx] == 0:
        idx += 1
    return float(sorted_values[idx])


def midpoint(low: float, high: float) -> float:
    """``(low + high) / 2``, also where the sum overflows (two middle values near 1.8e308)."""
    mid = 0.5 * (low + high)
    if math.isinf(mid) and math.isfinite(low) and math.isfinite(high):
        return 0.5 * low + 0.5 * high
    return mid


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
    low = _inverted_cdf(v, sw, percentile)
    high = -_inverted_cdf(-v[::-1], sw[::-1], 100.0 - percentile)
    return midpoint(low, high)


def add_slices(
    accumulators: list[Accumulator],
    values: np.ndarray,
    bounds: np.ndarray,
    weights: np.ndarray | None = None,
) -> None:
    """``accumulators[i].add(values[bounds[i]:bounds[i + 1]], ...)`` for every i.

    Unweighted plain means (the common case of ``--group-by``) take their
    slices' sums in one go, each the same pairwise sum ``add`` takes, so the
    partial sums are identical; any other accumulator, or a slice whose sum
    is not finite, goes through ``add``.
    """
    if weights is None and all(type(a) is MeanAccumulator for a in accumulators):
        with np.errstate(over="ignore", invalid="ignore"):
            sums = [
                float(_add_reduce(values[bounds[i] : bounds[i + 1]]))
                for i in range(len(accumulators))
            ]
        for i, (acc, total) in enumerate(zip(accumulators, sums)):
            n = int(bounds[i + 1] - bounds[i])
            if math.isfinite(total):
                cast(MeanAccumulator, acc)._combine(float(n), total, 0, n)
            else:
                acc.add(values[bounds[i] : bounds[i + 1]])
        return
    for i, acc in enumerate(accumulators):
        part = slice(int(bounds[i]), int(bounds[i + 1]))
        acc.add(values[part], None if weights is None else weights[part])
