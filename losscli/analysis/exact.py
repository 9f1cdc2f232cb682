"""Exact quantiles and top shares inside plans: kept ranges in pass 1, passes when needed.

:class:`Tracked` follows one derived quantity of a plan (a loss's per-row
terms, the residuals of a model...) with a :class:`~losscli.core.quantiles.KeptRanges`
that narrows around the positions the plan will ask about. Its answers are
exact or None; for the None ones :func:`refine` runs the histogram refinement
passes (:class:`~losscli.core.quantiles.OrderStatisticPasses`) as plan steps,
re-deriving the quantity from each batch with the plan's ``extract``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from losscli.analysis.evaluate import same_bits
from losscli.core import quantiles
from losscli.core.dataset import Dataset
from losscli.core.quantiles import KeptRanges, OrderStatisticPasses, percentile_targets

Extract = Callable[[Dataset, Hashable], tuple[np.ndarray, np.ndarray | None]]


def top_count(n: int, fraction: float) -> int:
    """Rows in "the worst ``fraction`` of rows" (as :func:`~losscli.analysis.diagnostics.top_share`)."""
    return max(1, int(np.ceil(fraction * n)))


@dataclass
class Tracked:
    """One quantity's kept ranges and the questions the plan will ask of it."""

    percentiles: tuple[float, ...] = ()
    top_fraction: float | None = None  # the share of the worst rows (unit weights)
    extra_positions: Callable[[KeptRanges], list[float]] | None = None
    ranges: KeptRanges = field(default_factory=lambda: KeptRanges(cap=quantiles.KEPT_CAP))
    # Stretches kept whole (e.g. around the median, where compare --ci's bootstrap band
    # will be once every row is in): the cap grows with them.
    extra_spans: Callable[[KeptRanges], list[tuple[float, float]]] | None = None

    def __post_init__(self) -> None:
        self.ranges.sums = self.top_fraction is not None

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        self.ranges.add(values, weights)
        if self.ranges.overflowing:
            spans = [] if self.extra_spans is None else self.extra_spans(self.ranges)
            self.ranges.narrow(self.positions(), spans=spans)
            if spans and self.ranges.n_kept > self.ranges.cap // 2:
                # The stretch holds more than half the cap: double it, so that the
                # next narrowing comes after as many rows again, not at every batch.
                self.ranges.cap *= 2

    def positions(self) -> list[float]:
        total = self.ranges.total_weight
        out = [p / 100.0 * total for p in self.percentiles]
        if self.top_fraction is not None:
            n = self.ranges.total_count
            out.append(float(n - top_count(n, self.top_fraction) + 1))
        if self.extra_positions is not None:
            out.extend(self.extra_positions(self.ranges))
        return out

    def merge(self, other: Tracked) -> Tracked:
        return Tracked(
            self.percentiles,
            self.top_fraction,
            self.extra_positions,
            KeptRanges.merged([self.ranges, other.ranges]),
            self.extra_spans,
        )


# --------------------------------------------------------------------------- shared states


def share_tracked(
    states: list[Any],
    attr: str,
    arrays: list[np.ndarray | None],
    make: Callable[[int], Tracked],
    weights: list[np.ndarray | None] | None = None,
    kinds: list[Hashable] | None = None,
) -> None:
    """Give the states whose ``arrays`` are the same one :class:`Tracked` in ``attr``.

    Items of a plan whose per-row terms are equal bit for bit (mse and rmse;
    mae, median_ae and max_error) would each keep the same ranges of the same
    values. Here equal arrays (with equal ``weights``, and of the same
    ``kinds``: the same questions) become one object in ``arrays``, and from
    the first batch on their states share one Tracked (``make(j)`` creates
    item j's), so the caller adds to each distinct Tracked once per batch. In
    a later batch where the items of one Tracked have different arrays, it is
    copied (before anything is added) for each other array, so every state
    always holds exactly its own item's values. None: the item has none.
    """
    n = len(arrays)

    def alike(i: int, j: int) -> bool:
        if kinds is not None and kinds[i] != kinds[j]:
            return False
        if weights is not None:
            a, b = weights[i], weights[j]
            if not ((a is None and b is None) or (b is not None and same_bits(a, b))):
                return False
        b = arrays[j]
        return b is not None and (arrays[i] is b or same_bits(arrays[i], b))

    # group[j]: the first item alike to item j (the very same array object is not enough:
    # two items may be given one array and still be asked different questions).
    group = list(range(n))
    for j in range(n):
        if arrays[j] is not None:
            group[j] = next((i for i in range(j) if group[i] == i and alike(i, j)), j)
            arrays[j] = arrays[group[j]]
    users: dict[int, list[int]] = {}
    for j in range(n):
        if arrays[j] is None:
            continue
        if getattr(states[j], attr) is None:
            twin = next(
                (
                    getattr(states[i], attr)
                    for i in range(j)
                    if group[i] == group[j] and getattr(states[i], attr) is not None
                ),
                None,
            )
            setattr(states[j], attr, twin if twin is not None else make(j))
        users.setdefault(id(getattr(states[j], attr)), []).append(j)
    for indices in users.values():
        first = group[indices[0]]
        copies: dict[int, Tracked] = {}
        for j in indices[1:]:
            if group[j] != first:
                if group[j] not in copies:
                    copies[group[j]] = copy.deepcopy(getattr(states[j], attr))
                setattr(states[j], attr, copies[group[j]])


# --------------------------------------------------------------------------- fallback passes


@dataclass
class RefineStep:
    """One histogram-refinement pass for the order statistics kept ranges could not answer."""

    template: dict[Hashable, OrderStatisticPasses]
    extract: Extract

    def new_state(self) -> dict[Hashable, OrderStatisticPasses]:
        return copy.deepcopy(self.template)

    def update(
        self, state: dict[Hashable, OrderStatisticPasses], batch: Dataset
    ) -> dict[Hashable, OrderStatisticPasses]:
        for key, passes in state.items():
            if not passes.done:
                values, weights = self.extract(batch, key)
                passes.add(values, weights)
        return state

    def merge(
        self, a: dict[Hashable, OrderStatisticPasses], b: dict[Hashable, OrderStatisticPasses]
    ) -> dict[Hashable, OrderStatisticPasses]:
        for key in a:
            if not a[key].done:
                a[key].merge(b[key])
        return a

    def finish(
        self, state: dict[Hashable, OrderStatisticPasses]
    ) -> dict[Hashable, OrderStatisticPasses]:
        for passes in state.values():
            if not passes.done:
                passes.end_pass()
        return state


def refine(
    targets: dict[Hashable, list[tuple[Fraction, bool]]], extract: Extract
) -> Generator[RefineStep, Any, dict[Hashable, list[float]]]:
    """Plan steps that find each key's order statistics exactly (``yield from`` in a plan)."""
    if not targets:
        return {}
    state = {
        key: OrderStatisticPasses(list(t), cap=quantiles.KEPT_CAP) for key, t in targets.items()
    }
    while not all(p.done for p in state.values()):
        state = yield RefineStep(state, extract)
    return {key: passes.values() for key, passes in state.items()}


@dataclass
class AboveStep:
    """Count and sum of the values strictly above a threshold, per key (unit weights)."""

    thresholds: dict[Hashable, float]
    extract: Extract

    def new_state(self) -> dict[Hashable, tuple[int, float]]:
        return {key: (0, 0.0) for key in self.thresholds}

    def update(
        self, state: dict[Hashable, tuple[int, float]], batch: Dataset
    ) -> dict[Hashable, tuple[int, float]]:
        for key, threshold in self.thresholds.items():
            values, _ = self.extract(batch, key)
            above = values[values > threshold]
            count, total = state[key]
            state[key] = (count + int(above.size), total + float(np.sum(above)))
        return state

    def merge(
        self, a: dict[Hashable, tuple[int, float]], b: dict[Hashable, tuple[int, float]]
    ) -> dict[Hashable, tuple[int, float]]:
        return {key: (a[key][0] + b[key][0], a[key][1] + b[key][1]) for key in a}

    def finish(self, state: dict[Hashable, tuple[int, float]]) -> dict[Hashable, tuple[int, float]]:
        return state


def exact_percentiles(
    tracked: dict[Hashable, Tracked], asked: dict[Hashable, tuple[float, ...]], extract: Extract
) -> Generator[Any, Any, dict[Hashable, dict[float, float]]]:
    """Every asked weighted percentile of every key: from the kept ranges, else by passes."""
    out: dict[Hashable, dict[float, float]] = {}
    missing: dict[Hashable, list[tuple[Fraction, bool]]] = {}
    order: dict[Hashable, list[float]] = {}
    for key, percentiles in asked.items():
        ranges = tracked[key].ranges
        out[key] = {}
        for p in percentiles:
            got = ranges.percentile(p)
            if got is None:
                missing.setdefault(key, []).extend(percentile_targets(ranges.total_weight, p))
                order.setdefault(key, []).append(p)
            else:
                out[key][p] = got
    found = yield from refine(missing, extract)
    for key, values in found.items():
        for i, p in enumerate(order[key]):
            out[key][p] = 0.5 * (values[2 * i] + values[2 * i + 1])
    return out


def exact_top_sums(
    tracked: dict[Hashable, Tracked], ks: dict[Hashable, int], extract: Extract
) -> Generator[Any, Any, dict[Hashable, float]]:
    """Sum of the k largest values of each key (unit weights), exactly."""
    out: dict[Hashable, float] = {}
    missing: dict[Hashable, list[tuple[Fraction, bool]]] = {}
    for key, k in ks.items():
        got = tracked[key].ranges.top_sum(k)
        if got is None:
            missing[key] = [(Fraction(k), True)]
        else:
            out[key] = got
    if not missing:
        return out
    found = yield from refine(missing, extract)
    thresholds = {key: values[0] for key, values in found.items()}
    above = yield AboveStep(thresholds, extract)
    for key, threshold in thresholds.items():
        count, total = above[key]
        out[key] = total + (ks[key] - count) * threshold
    return out


def nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value
