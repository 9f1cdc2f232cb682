"""The one reduction path: weighted means, mergeable accumulators, the weighted median."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import median_absolute_error
from sklearn.utils.stats import _weighted_percentile

from losscli.core.reduction import (
    MaxAccumulator,
    MeanAccumulator,
    MedianAccumulator,
    new_accumulator,
    reduce_values,
    weighted_percentile,
)
from losscli.core.registry import PLAIN_REDUCTIONS, Reduction

# Reductions of one per-row term; the SPEC 12 figures (ratios of sums of per-row
# components) are tested in test_figures_streaming.py and test_reference_figures.py.
KINDS = [kind for kind in Reduction if kind in PLAIN_REDUCTIONS]


def _chunks(n: int, cuts: list[int]) -> list[slice]:
    points = sorted({0, n, *(c % (n + 1) for c in cuts)})
    return [slice(a, b) for a, b in zip(points, points[1:])]


# --------------------------------------------------------------------------- basics


def test_weighted_mean_is_sum_w_l_over_sum_w():
    values = np.array([1.0, 2.0, 4.0])
    weights = np.array([1.0, 0.5, 2.5])
    assert reduce_values(values) == pytest.approx(7.0 / 3.0, rel=1e-15)
    assert reduce_values(values, weights) == pytest.approx(12.0 / 4.0, rel=1e-15)
    assert reduce_values(values, weights, Reduction.SQRT_MEAN) == pytest.approx(
        math.sqrt(3.0), rel=1e-15
    )
    assert reduce_values(values, weights, Reduction.MAX) == 4.0
    assert reduce_values(values, weights, Reduction.SUM) == pytest.approx(12.0, rel=1e-15)


def test_max_ignores_weights_except_zero():
    values = np.array([1.0, 9.0, 4.0])
    assert reduce_values(values, np.array([5.0, 0.1, 1.0]), Reduction.MAX) == 9.0
    assert reduce_values(values, np.array([5.0, 0.0, 1.0]), Reduction.MAX) == 4.0


@pytest.mark.parametrize("kind", KINDS)
def test_no_rows_give_nan(kind):
    assert math.isnan(reduce_values(np.array([]), None, kind))


# --------------------------------------------------------------------------- merging


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 200),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
    weighted=st.booleans(),
    magnitude=st.sampled_from([1e-200, 1e-3, 1.0, 1e6, 1e200]),
)
def test_accumulators_merge_exactly_across_chunk_splits(kind, seed, n, cuts, weighted, magnitude):
    rng = np.random.default_rng(seed)
    values = rng.lognormal(0.0, 2.0, n) * magnitude
    if kind is Reduction.MEAN:
        values *= rng.choice([-1.0, 1.0], n)  # signed losses (mbe) too
    weights = rng.uniform(0.0, 3.0, n) if weighted else None
    if weights is not None:
        weights[0] = 1.0
    whole = reduce_values(values, weights, kind)

    # chunk by chunk, merged left to right, and as a balanced tree of partial results
    parts = []
    for part in _chunks(n, cuts):
        acc = new_accumulator(kind)
        acc.add(values[part], None if weights is None else weights[part])
        parts.append(acc)
    left = parts[0]
    for acc in parts[1:]:
        left = left.merge(acc)
    tree = parts
    while len(tree) > 1:
        tree = [
            tree[i].merge(tree[i + 1]) if i + 1 < len(tree) else tree[i]
            for i in range(0, len(tree), 2)
        ]
    # A mean of signed terms (mbe) cancels: sums in another order agree to eps x the
    # size of the terms, not of the mean (2.2e-204 from terms of ~1e-200 differed by
    # 3e-12 relative, in one chunk, between np.dot and a pairwise sum).
    size = reduce_values(np.abs(values), weights, kind) if kind is Reduction.MEAN else 0.0
    assert left.result() == pytest.approx(whole, rel=1e-12, abs=1e-12 * size)
    assert tree[0].result() == pytest.approx(whole, rel=1e-12, abs=1e-12 * size)

    # one accumulator fed chunk after chunk
    streamed = new_accumulator(kind)
    for part in _chunks(n, cuts):
        streamed.add(values[part], None if weights is None else weights[part])
    assert streamed.result() == pytest.approx(whole, rel=1e-12, abs=1e-12 * size)


def test_merge_does_not_modify_its_operands():
    a, b = MeanAccumulator(), MeanAccumulator()
    a.add(np.array([1.0, 2.0]))
    b.add(np.array([10.0]))
    merged = a.merge(b)
    assert merged.result() == pytest.approx(13.0 / 3.0, rel=1e-15)
    assert a.result() == 1.5 and b.result() == 10.0
    m1, m2 = MaxAccumulator(), MaxAccumulator()
    m1.add(np.array([1.0]))
    m2.add(np.array([5.0]))
    assert m1.merge(m2).result() == 5.0 and m1.result() == 1.0
    d1, d2 = MedianAccumulator(), MedianAccumulator()
    d1.add(np.array([1.0, 2.0]))
    d2.add(np.array([3.0]))
    assert d1.merge(d2).result() == 2.0 and d1.result() == 1.5


def test_empty_accumulator_merges_as_identity():
    for kind in KINDS:
        acc = new_accumulator(kind)
        acc.add(np.array([3.0, 4.0]))
        assert acc.merge(new_accumulator(kind)).result() == acc.result()
        assert new_accumulator(kind).merge(acc).result() == acc.result()


# --------------------------------------------------------------------------- weighted median


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    weight_kind=st.sampled_from(["unit", "integer", "float", "with_zeros"]),
    ties=st.booleans(),
)
def test_weighted_median_matches_sklearn_median_absolute_error(seed, n, weight_kind, ties):
    rng = np.random.default_rng(seed)
    y = rng.normal(0.0, 5.0, n)
    p = y + rng.standard_t(2, n)
    if ties:
        p = np.round(p, 0)
        y = np.round(y, 0)
    weights = {
        "unit": np.ones(n),
        "integer": rng.integers(1, 5, n).astype(float),
        "float": rng.uniform(0.1, 3.0, n),
        "with_zeros": np.where(rng.uniform(size=n) < 0.3, 0.0, rng.uniform(0.1, 3.0, n)),
    }[weight_kind]
    weights[0] = max(weights[0], 1.0)
    expected = median_absolute_error(y, p, sample_weight=weights)
    got = reduce_values(np.abs(y - p), weights, Reduction.MEDIAN)
    assert got == pytest.approx(expected, rel=1e-12, abs=0)


@pytest.mark.parametrize("percentile", [0, 5, 25, 50, 75, 95, 100])
def test_weighted_percentile_matches_sklearn_averaged_inverted_cdf(percentile):
    rng = np.random.default_rng(percentile)
    values = rng.normal(size=41)
    weights = rng.uniform(0.0, 2.0, 41)
    expected = _weighted_percentile(values, weights, percentile, average=True)
    assert weighted_percentile(values, weights, percentile) == pytest.approx(
        float(expected), rel=1e-12, abs=1e-300
    )


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11])
def test_unit_weight_median_is_np_median(n):
    values = np.random.default_rng(n).normal(size=n)
    assert weighted_percentile(values, None, 50) == pytest.approx(np.median(values), rel=1e-15)


# --------------------------------------------------------------------------- non-finite and huge


@pytest.mark.parametrize("kind", KINDS)
def test_zero_weight_of_an_infinite_loss_gives_no_nan(kind):
    values = np.array([1.0, np.inf, 3.0, np.nan])
    weights = np.array([1.0, 0.0, 1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value" RuntimeWarning either
        got = reduce_values(values, weights, kind)
    expected = {
        Reduction.MEAN: 2.0,
        Reduction.SQRT_MEAN: math.sqrt(2.0),
        Reduction.MEDIAN: 2.0,
        Reduction.MAX: 3.0,
        Reduction.SUM: 4.0,
    }[kind]
    assert got == pytest.approx(expected, rel=1e-15)


def test_positive_weight_of_an_infinite_loss_gives_inf():
    assert reduce_values(np.array([1.0, np.inf]), np.array([1.0, 0.5])) == math.inf


@pytest.mark.parametrize("kind", [Reduction.MEAN, Reduction.SQRT_MEAN, Reduction.SUM])
def test_sums_of_huge_values_do_not_overflow(kind):
    values = np.full(1000, 1e300)
    values[::2] = 1.7e308
    weights = np.linspace(0.5, 2.0, 1000)
    mean = float(np.sum((weights / weights.sum()) * values))  # the exact weighted mean, ~1e308
    expected = {
        Reduction.MEAN: mean,
        Reduction.SQRT_MEAN: math.sqrt(mean),
        Reduction.SUM: math.inf,  # the sum itself is beyond float64: inf is the honest answer
    }[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = reduce_values(values, weights, kind)
    if kind is Reduction.SUM:
        assert got == math.inf
    else:
        assert math.isfinite(got)
        assert got == pytest.approx(expected, rel=1e-12)


def test_huge_values_merge_across_chunks_without_overflow():
    acc = new_accumulator(Reduction.MEAN)
    small = new_accumulator(Reduction.MEAN)
    small.add(np.array([1.0, 2.0]))
    for _ in range(10):
        part = new_accumulator(Reduction.MEAN)
        part.add(np.full(100, 1.5e308))
        acc = acc.merge(part)
    acc = acc.merge(small)
    assert acc.result() == pytest.approx(1.5e308 / 1002 * 1000, rel=1e-12)


@pytest.mark.parametrize("kind", [Reduction.MEAN, Reduction.SQRT_MEAN])
def test_finite_chunk_sums_whose_total_overflows_merge_without_overflow(kind):
    # each chunk's own sum is finite; only their total exceeds float64
    parts = []
    for _ in range(4):
        part = new_accumulator(kind)
        part.add(np.array([1.2e308]))
        parts.append(part)
    merged = parts[0]
    streamed = new_accumulator(kind)
    for part in parts[1:]:
        merged = merged.merge(part)
    for _ in range(4):
        streamed.add(np.array([1.2e308]))
    expected = 1.2e308 if kind is Reduction.MEAN else math.sqrt(1.2e308)
    assert merged.result() == pytest.approx(expected, rel=1e-12)
    assert streamed.result() == pytest.approx(expected, rel=1e-12)


def test_mean_of_tiny_values_keeps_precision():
    values = np.full(10, 1e-310)  # subnormal
    assert reduce_values(values) == pytest.approx(1e-310, rel=1e-6)


def test_weighted_percentile_averages_exact_ties_despite_rounding():
    # 0.95 * 500 rounds to 475.00000000000006: the 475th and 476th values must
    # still be averaged (sklearn's averaged inverted CDF, exactly).
    from losscli.core.reduction import weighted_percentile

    values = np.arange(1.0, 501.0)
    assert weighted_percentile(values, None, 95.0) == 475.5
    assert weighted_percentile(values, np.full(500, 2.0), 95.0) == 475.5
    assert weighted_percentile(values, None, 50.0) == np.median(values)


def test_in_memory_median_of_more_rows_than_the_streaming_cap():
    # reduce_values works on arrays already in memory: no refinement passes needed.
    from losscli.core.reduction import MedianAccumulator, reduce_values
    from losscli.core.registry import Reduction

    n = MedianAccumulator().cap + 12_345
    values = np.random.default_rng(3).standard_normal(n)
    assert reduce_values(values, None, Reduction.MEDIAN) == np.median(values)
    counts = np.random.default_rng(4).integers(0, 3, n).astype(float)
    expected = np.median(np.repeat(values, counts.astype(int)))
    assert reduce_values(values, counts, Reduction.MEDIAN) == expected


@pytest.mark.parametrize("weighted", [False, True])
def test_add_slices_gives_each_accumulator_what_add_gives_it(weighted):
    """Groups' slices added in one go (plain means: the slices' sums at once) leave every
    accumulator's partial sums bit for bit as adding each slice does: empty slices,
    an inf, a NaN, finite values whose sum overflows, rmse's sqrt means, medians."""
    from losscli.core.reduction import MaxAccumulator, MeanAccumulator, add_slices

    rng = np.random.default_rng(5)
    values = rng.lognormal(size=40) * rng.choice([-1.0, 1.0], size=40)
    values[10:13] = [1e308, 1e308, 1e308]  # finite, their sum overflows
    values[20] = np.inf
    values[30] = np.nan
    bounds = np.array([0, 0, 5, 9, 14, 14, 22, 31, 40])
    weights = rng.uniform(0.5, 2.0, size=40) if weighted else None
    makers = [
        lambda: [MeanAccumulator() for _ in range(8)],
        lambda: [MeanAccumulator(sqrt=True) for _ in range(8)],
        lambda: [MedianAccumulator(cap=4, bits=8) for _ in range(8)],
        lambda: [MaxAccumulator() for _ in range(8)],
    ]
    for make in makers:
        together, alone = make(), make()
        add_slices(together, values, bounds, weights)
        add_slices(together, values[::-1].copy(), bounds, weights)
        for i, acc in enumerate(alone):
            for v in (values, values[::-1].copy()):
                part = slice(bounds[i], bounds[i + 1])
                acc.add(v[part], None if weights is None else weights[part])
        for a, b in zip(together, alone):
            assert repr(a) == repr(b)
