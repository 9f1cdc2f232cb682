"""Exact order statistics of a stream in bounded memory, most often in one pass.

:class:`KeptRanges` keeps every value that falls inside a few closed value
ranges and, for the gaps between them, only the count, the weight and the
weighted sum. At first one range covers everything; when more than ``cap``
values are kept, :meth:`KeptRanges.narrow` keeps only the values around the
positions the caller will ask about (e.g. half the total weight for a median)
and folds the rest into the gaps. An order statistic is then exact whenever
its position falls inside a kept range, which for data in no particular order
is all but certain (the window is many standard errors of the sample quantile
wide); otherwise :meth:`KeptRanges.select` says so (None) and the caller runs
the histogram refinement passes of :class:`OrderStatisticPasses`, which are
exact for any data. States merge (a range survives a merge where both sides
kept it), so partitions can be reduced in any tree.

The positions follow the averaged inverted CDF of
:func:`losscli.core.reduction.weighted_percentile`: the smallest value whose
cumulative weight reaches the target (compared exactly, as fractions), and
from the top the largest value with at least the target weight at or above it.
With unit or integer weights (any weights whose sums are exact in float64)
the answers are those of ``weighted_percentile`` exactly. With other weights
(1/n, say) the sums are taken in another order than ``np.cumsum`` over the
sorted values once some values are not kept, so a cumulative weight that
lands within rounding of the target can pick the neighbouring value (as with
:class:`~losscli.core.reduction.MedianAccumulator`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from losscli.core.reduction import _OrderStatistic, key_bins

# Values kept per KeptRanges before it narrows (8 bytes each, 16 with weights).
KEPT_CAP = 1 << 16
HISTOGRAM_BITS = 16


def _reaching(cum: np.ndarray, target: Fraction) -> int:
    """The first index whose cumulative weight reaches ``target`` (len(cum) if none)."""
    idx = int(np.searchsorted(cum, float(target), side="left"))
    while idx > 0 and Fraction(float(cum[idx - 1])) >= target:
        idx -= 1
    while idx < cum.size and Fraction(float(cum[idx])) < target:
        idx += 1
    return idx


@dataclass
class KeptRanges:
    """Every value inside some closed ranges; count, weight and sum of those outside.

    ``los``/``his`` are the sorted, disjoint ranges; gap ``g`` is the open
    interval below range ``g`` (above range ``g - 1``), the last gap the one
    above the last range. Values of zero weight are not taken.
    """

    cap: int = KEPT_CAP
    weighted: bool = False
    sums: bool = True  # keep the gaps' weighted sums (for top_sum)
    los: np.ndarray = field(default_factory=lambda: np.array([-math.inf]))
    his: np.ndarray = field(default_factory=lambda: np.array([math.inf]))
    values: list[np.ndarray] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    n_kept: int = 0
    gap_count: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.int64))
    gap_weight: np.ndarray = field(default_factory=lambda: np.zeros(2))
    gap_sum: np.ndarray = field(default_factory=lambda: np.zeros(2))

    # ------------------------------------------------------------------ building

    @property
    def overflowing(self) -> bool:
        return self.n_kept > self.cap

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Take a batch of values (rows of zero weight are left out)."""
        values = np.asarray(values, dtype=np.float64)
        w: np.ndarray | None = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            if not (w > 0).all():
                keep = w > 0
                values, w = values[keep], w[keep]
            if not self.weighted:
                self.weighted = True
                self.weights = [np.ones(v.size) for v in self.values]
        elif self.weighted:
            w = np.ones(values.size)
        if values.size == 0:
            return
        self._route(values, w)

    def _route(self, values: np.ndarray, w: np.ndarray | None) -> None:
        # Elementwise comparisons against the few bounds: an order of magnitude
        # faster than searchsorted for the usual one to three ranges.
        n_ranges = self.los.size
        if n_ranges == 1 and self.los[0] == -math.inf and self.his[0] == math.inf:
            self._keep(values, w)
            return
        if w is None:
            self._route_unweighted(values)
            return
        inside = np.zeros(values.size, dtype=bool)
        for lo, hi in zip(self.los.tolist(), self.his.tolist()):
            inside |= (values >= lo) & (values <= hi)
        if inside.all():
            self._keep(values, w)
            return
        self._keep(values[inside], w[inside])
        with np.errstate(all="ignore"):
            for g in range(n_ranges + 1):
                below = math.inf if g == n_ranges else float(self.los[g])
                above = -math.inf if g == 0 else float(self.his[g - 1])
                if below == -math.inf or above == math.inf:
                    continue
                if above == -math.inf:
                    in_gap = values < below
                elif below == math.inf:
                    in_gap = values > above
                else:
                    in_gap = (values > above) & (values < below)
                count = int(np.count_nonzero(in_gap))
                if count == 0:
                    continue
                self.gap_count[g] += count
                self.gap_weight[g] += float(np.sum(w, where=in_gap))
                if self.sums:
                    self.gap_sum[g] += float(np.sum(w * values, where=in_gap))

    def _route_unweighted(self, values: np.ndarray) -> None:
        """Unit weights: gap counts from one comparison per bound; the sum of the top gap.

        Only the gap above the last range keeps its sum here (the one a top-k
        sum needs); the others are marked unknown (nan) once they hold values.
        """
        n = values.size
        if self.los.size == 0:  # no range left: one gap
            self.gap_count[0] += n
            self.gap_weight[0] += n
            if self.sums:
                with np.errstate(all="ignore"):
                    self.gap_sum[0] += float(np.sum(values))
            return
        inside: np.ndarray | None = None
        at_least: list[int] = []  # values >= lo_i
        at_most: list[int] = []  # values <= hi_i
        for lo, hi in zip(self.los.tolist(), self.his.tolist()):
            ge = values >= lo if lo != -math.inf else None
            le = values <= hi if hi != math.inf else None
            at_least.append(n if ge is None else int(np.count_nonzero(ge)))
            at_most.append(n if le is None else int(np.count_nonzero(le)))
            if ge is None:
                m = le
            elif le is None:
                m = ge
            else:
                m = ge & le
            assert m is not None
            inside = m if inside is None else inside | m
        assert inside is not None
        kept = values[inside]
        if kept.size == n:
            self._keep(values, None)
            return
        self._keep(kept, None)
        r = len(at_least)
        gaps = [n - at_least[0]]
        gaps += [(n - at_least[g]) - at_most[g - 1] for g in range(1, r)]
        gaps.append(n - at_most[-1])
        for g, count in enumerate(gaps):
            if count:
                self.gap_count[g] += count
                self.gap_weight[g] += count
                if self.sums and g < r:
                    self.gap_sum[g] = math.nan
        if self.sums and gaps[-1]:
            with np.errstate(all="ignore"):
                self.gap_sum[-1] += float(np.sum(values[values > self.his[-1]]))

    def _keep(self, values: np.ndarray, w: np.ndarray | None) -> None:
        if values.size == 0:
            return
        self.__dict__.pop("_sorted", None)
        self.values.append(values)
        if self.weighted:
            assert w is not None
            self.weights.append(w)
        self.n_kept += int(values.size)

    def kept(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept values sorted, with their weights (ones when unweighted)."""
        cached = self.__dict__.get("_sorted")
        if cached is not None and cached[0] == self.n_kept:
            return cached[1], cached[2]
        values = np.concatenate(self.values) if self.values else np.zeros(0)
        if self.weighted:
            w = np.concatenate(self.weights) if self.weights else np.zeros(0)
            order = np.argsort(values, kind="stable")
            v, w = values[order], w[order]
        else:
            # Unit weights: equal values are interchangeable, so a plain sort (SIMD
            # quicksort, ~15x faster than a stable argsort) gives the same arrays.
            v = np.sort(values)
            w = np.ones(v.size)
        if self.gap_count.any():
            # Keep them sorted (the next narrowing sorts less); while nothing has
            # been left out, the batches stay as given (see top_sum).
            self.values = [v]
            if self.weighted:
                self.weights = [w]
        self.__dict__["_sorted"] = (self.n_kept, v, w)
        return v, w

    @property
    def total_weight(self) -> float:
        kept = sum(float(np.sum(w)) for w in self.weights) if self.weighted else self.n_kept
        return float(np.sum(self.gap_weight)) + kept

    @property
    def total_count(self) -> int:
        return int(np.sum(self.gap_count)) + self.n_kept

    def _positions(self, v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(range index, cumulative weight up to and including) of each sorted kept value."""
        ranges = np.searchsorted(self.los, v, side="right") - 1
        below = np.cumsum(self.gap_weight)  # below[r]: weight of the gaps below range r
        cum = np.cumsum(w) + below[ranges]
        return ranges, cum

    def narrow(
        self,
        positions: list[float],
        width: int | None = None,
        spans: Sequence[tuple[float, float]] = (),
    ) -> None:
        """Keep about ``width`` values either side of each position (weight from the bottom).

        A position inside a gap cannot be kept (its values were not); the
        select there will answer None and the caller falls back to passes.
        ``spans`` are (low, high) positions whose whole stretch is kept as well
        (widened by ``width`` either side), when both ends lie in one kept range.
        """
        v, w = self.kept()
        if v.size == 0:
            return
        width = width or max(1, self.cap // (4 * max(1, len(positions))))
        ranges, cum = self._positions(v, w)
        starts = np.searchsorted(ranges, np.arange(self.los.size), side="left")
        ends = np.searchsorted(ranges, np.arange(self.los.size), side="right")

        def locate(position: float) -> tuple[int, int] | None:
            """(sorted index, range) of the kept value at ``position``; None in a gap."""
            i = int(np.searchsorted(cum, position, side="left"))
            if i >= v.size:
                if self.gap_weight[-1] > 0:
                    return None  # in the gap above the last range
                i = v.size - 1
            r = int(ranges[i])
            if i == starts[r] and cum[i] - w[i] >= position and self.gap_weight[r] > 0:
                return None  # in the gap below this range
            return i, r

        def around(first: int, last: int, r: int) -> tuple[float, float]:
            lo_i = max(int(starts[r]), first - width)
            hi_i = min(int(ends[r]) - 1, last + width)
            lo = -math.inf if lo_i == starts[r] and self.los[r] == -math.inf else float(v[lo_i])
            hi = math.inf if hi_i == ends[r] - 1 and self.his[r] == math.inf else float(v[hi_i])
            return lo, hi

        new: list[tuple[float, float]] = []
        for position in positions:
            found = locate(position)
            if found is not None:
                new.append(around(found[0], found[0], found[1]))
        for low, high in spans:
            a, b = locate(low), locate(high)
            if a is not None and b is not None and a[1] == b[1]:
                new.append(around(a[0], b[0], a[1]))
        self._rebuild(_union(new), [self])

    @classmethod
    def merged(cls, parts: list[KeptRanges]) -> KeptRanges:
        """One state from several (ranges: where every part kept its values)."""
        los, his = parts[0].los, parts[0].his
        for part in parts[1:]:
            los, his = _intersect(los, his, part.los, part.his)
        out = cls(
            cap=max(p.cap for p in parts),
            weighted=any(p.weighted for p in parts),
            sums=all(p.sums for p in parts),
        )
        pairs = list(zip(los.tolist(), his.tolist()))
        out._rebuild(pairs, parts)
        return out

    def _rebuild(self, pairs: list[tuple[float, float]], parts: list[KeptRanges]) -> None:
        """Set the ranges to ``pairs`` (each inside a kept range of every part) and re-route."""
        weighted = self.weighted or any(p.weighted for p in parts)
        los = np.array([a for a, _ in pairs], dtype=np.float64)
        his = np.array([b for _, b in pairs], dtype=np.float64)
        gap_count = np.zeros(los.size + 1, dtype=np.int64)
        gap_weight = np.zeros(los.size + 1)
        gap_sum = np.zeros(los.size + 1)
        kept: list[tuple[np.ndarray, np.ndarray | None]] = []
        for part in parts:
            # A part's gap holds no new range, so it lies inside one new gap: the one
            # above every new range ending at or below the part's range below that gap.
            for g in range(part.gap_count.size):
                if part.gap_count[g] == 0:
                    continue
                target = 0 if g == 0 else int(np.searchsorted(his, part.his[g - 1], side="right"))
                gap_count[target] += part.gap_count[g]
                gap_weight[target] += part.gap_weight[g]
                gap_sum[target] += part.gap_sum[g]
            for i, values in enumerate(part.values):
                weights = part.weights[i] if part.weighted else None
                if weighted and weights is None:
                    weights = np.ones(values.size)
                kept.append((values, weights))
        self.__dict__.pop("_sorted", None)
        self.los, self.his = los, his
        self.gap_count, self.gap_weight, self.gap_sum = gap_count, gap_weight, gap_sum
        self.weighted = weighted
        self.values, self.weights, self.n_kept = [], [], 0
        for values, weights in kept:
            self._route(values, weights)

    # ------------------------------------------------------------------ questions

    def select(self, target: Fraction, from_top: bool = False) -> float | None:
        """The inverted-CDF order statistic at ``target`` weight, or None when not kept.

        From the bottom: the smallest value whose cumulative weight reaches
        ``target``; from the top: the largest value with at least ``target``
        weight at or above it.
        """
        v, w = self.kept()
        if v.size == 0:
            return None
        if from_top:
            v, w = -v[::-1], w[::-1]
            gaps = self.gap_weight[::-1]
            bounds = -self.his[::-1]
        else:
            gaps = self.gap_weight
            bounds = self.los
        ranges = np.searchsorted(bounds, v, side="right") - 1
        cum = np.cumsum(w) + np.cumsum(gaps)[ranges]
        i = _reaching(cum, target)
        if i >= v.size:
            return None  # in the gap above the last kept value
        if Fraction(float(cum[i] - w[i])) >= target:
            return None  # in the gap below this value's range
        return float(-v[i] if from_top else v[i])

    def percentile(self, percentile: float) -> float | None:
        """:func:`~losscli.core.reduction.weighted_percentile`, or None when not kept."""
        total = Fraction(self.total_weight)
        if total <= 0:
            return math.nan
        total_up = total_down = total
        if not self.gap_count.any():
            # Everything kept: the totals of the cumulative sums themselves, as
            # weighted_percentile has them (the same up to rounding otherwise).
            _, w = self.kept()
            total_up = Fraction(float(np.cumsum(w)[-1]))
            total_down = Fraction(float(np.cumsum(w[::-1])[-1]))
        low = self.select(Fraction(percentile) * total_up / 100)
        high = self.select(Fraction(100.0 - percentile) * total_down / 100, from_top=True)
        if low is None or high is None:
            return None
        return 0.5 * (low + high)

    def top_sum(self, k: int) -> float | None:
        """Sum of the ``k`` largest values (unit weights), or None when not kept."""
        if not self.gap_count.any() and len(self.values) == 1 and not self.weighted:
            # Everything kept, one batch: the very sum top_share takes (same order).
            values = self.values[0]
            if not 0 < k <= values.size:
                return None
            return float(np.sum(np.partition(values, values.size - k)[values.size - k :]))
        threshold = self.select(Fraction(k), from_top=True)
        if threshold is None:
            return None
        v, _ = self.kept()
        above = v[v > threshold]
        r = int(np.searchsorted(self.los, threshold, side="right")) - 1
        count = int(np.sum(self.gap_count[r + 1 :])) + above.size
        sums = self.gap_sum[r + 1 :][self.gap_count[r + 1 :] > 0]
        if np.isnan(sums).any():
            return None  # a gap above whose sum was not kept (unweighted routing)
        total = float(np.sum(sums)) + float(np.sum(above))
        return total + (k - count) * threshold

    def kth_deviation(self, center: float, k: int) -> float | None:
        """The k-th smallest ``|v - center|`` (unit weights), or None when not kept.

        Exact when the kept values decide it: every gap's deviations lie
        wholly below or above the answer (bounds from the gap's ends; the
        subtraction is monotone, so fl(v - center) of a value inside a gap
        lies between those of its ends).
        """
        assert not self.weighted
        v, _ = self.kept()
        d = np.sort(np.abs(v - center))
        n_gaps = self.gap_count.size
        lows = np.concatenate(([-math.inf], self.his))  # a gap's lower end
        highs = np.concatenate((self.los, [math.inf]))
        d_min = np.zeros(n_gaps)
        d_max = np.zeros(n_gaps)
        with np.errstate(invalid="ignore"):
            a = np.abs(lows - center)
            b = np.abs(highs - center)
        for g in range(n_gaps):
            if lows[g] <= center <= highs[g]:
                d_min[g], d_max[g] = 0.0, max(a[g], b[g])
            else:
                d_min[g], d_max[g] = min(a[g], b[g]), max(a[g], b[g])
        counts = self.gap_count
        if k < 1 or k > d.size + int(np.sum(counts)) or d.size == 0:
            return None
        t = np.unique(d)
        at_most = np.searchsorted(d, t, side="right") + _gap_total(d_max, counts, t, "right")
        i = int(np.argmax(at_most >= k))
        if at_most[i] < k:
            return None
        below = int(np.searchsorted(d, t[i], side="left")) + int(
            _gap_total(d_min, counts, t[i : i + 1], "left")[0]
        )
        return float(t[i]) if below < k else None

    def rank_of(self, x: float) -> float:
        """About how many values lie below ``x`` (a gap counts half when ``x`` is in it)."""
        v, _ = self.kept()
        r = int(np.searchsorted(self.los, x, side="right"))  # ranges starting at or below x
        below = float(np.sum(self.gap_count[:r])) + float(np.searchsorted(v, x, side="left"))
        if r == 0 or x > self.his[r - 1]:
            below += 0.5 * float(self.gap_count[r])
        return below


def _gap_total(bounds: np.ndarray, counts: np.ndarray, t: np.ndarray, side: str) -> np.ndarray:
    """For each t: the count of the gaps whose bound is <= t (side "right") or < t ("left")."""
    order = np.argsort(bounds, kind="stable")
    cum = np.concatenate(([0], np.cumsum(counts[order])))
    return cum[np.searchsorted(bounds[order], t, side=side)]  # type: ignore[call-overload]


def _union(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for lo, hi in sorted(pairs):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _intersect(
    a_lo: np.ndarray, a_hi: np.ndarray, b_lo: np.ndarray, b_hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    los: list[float] = []
    his: list[float] = []
    for lo1, hi1 in zip(a_lo.tolist(), a_hi.tolist()):
        for lo2, hi2 in zip(b_lo.tolist(), b_hi.tolist()):
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo <= hi:
                los.append(lo)
                his.append(hi)
    return np.array(los, dtype=np.float64), np.array(his, dtype=np.float64)


# --------------------------------------------------------------------------- fallback passes


@dataclass
class OrderStatisticPasses:
    """Exact order statistics by histogram refinement: one histogram pass, then refinements.

    For statistics :meth:`KeptRanges.select` could not answer. Feed every
    value of a pass with :meth:`add`, end the pass with :meth:`end_pass`;
    repeat while :attr:`done` is False. Each refinement pass narrows the
    candidate key range 65,536-fold or collects it once it holds at most
    ``cap`` values, so a few passes suffice for any data.
    """

    targets: list[tuple[Fraction, bool]]  # (target weight, from the top)
    cap: int = KEPT_CAP
    counts: np.ndarray | None = field(
        default_factory=lambda: np.zeros(1 << HISTOGRAM_BITS, dtype=np.int64)
    )
    bin_weights: np.ndarray | None = field(default_factory=lambda: np.zeros(1 << HISTOGRAM_BITS))
    selectors: list[_OrderStatistic] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return bool(self.selectors) and all(s.value is not None for s in self.selectors)

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        values = np.asarray(values, dtype=np.float64)
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        if w is not None and not (w > 0).all():
            keep = w > 0
            values, w = values[keep], w[keep]
        if self.counts is not None:
            assert self.bin_weights is not None
            bins = key_bins(values, HISTOGRAM_BITS).astype(np.intp)
            size = 1 << HISTOGRAM_BITS
            counts = np.bincount(bins, minlength=size)
            self.counts += counts
            self.bin_weights += (
                counts if w is None else np.bincount(bins, weights=w, minlength=size)
            )
            return
        from losscli.core.reduction import order_keys

        keys = order_keys(values)
        for selector in self.selectors:
            selector.add(values, w, keys)

    def merge(self, other: OrderStatisticPasses) -> OrderStatisticPasses:
        """Two partitions' states of the same pass."""
        if self.counts is not None:
            assert other.counts is not None and self.bin_weights is not None
            assert other.bin_weights is not None
            self.counts += other.counts
            self.bin_weights += other.bin_weights
            return self
        for mine, theirs in zip(self.selectors, other.selectors):
            if mine.counts is not None and theirs.counts is not None:
                mine.counts += theirs.counts
                assert mine.weights is not None and theirs.weights is not None
                mine.weights += theirs.weights
            mine.found.extend(theirs.found)
        return self

    def end_pass(self) -> None:
        if self.counts is not None:
            assert self.bin_weights is not None
            self.selectors = [
                _OrderStatistic(top, float(t), self.cap, HISTOGRAM_BITS, 64 - HISTOGRAM_BITS)
                for t, top in self.targets
            ]
            for selector in self.selectors:
                selector.locate(self.counts, self.bin_weights)
            self.counts = self.bin_weights = None
            return
        for selector in self.selectors:
            selector.finish()

    def values(self) -> list[float]:
        out = [s.value for s in self.selectors]
        assert all(v is not None for v in out)
        return [float(v) for v in out]  # type: ignore[arg-type]


def percentile_targets(total: float, percentile: float) -> list[tuple[Fraction, bool]]:
    """The two targets of the averaged inverted CDF at ``percentile``."""
    t = Fraction(total)
    return [(Fraction(percentile) * t / 100, False), (Fraction(100.0 - percentile) * t / 100, True)]


Extractor = Callable[..., tuple[np.ndarray, np.ndarray | None]]
