"""The streaming bootstrap: Poisson block weights and the median's order-statistic interval.

Statistical sanity only (small n, few replicates, fixed seeds); the coverage
simulation and the comparison with the exact row bootstrap live in
benchmarks/validate_bootstrap.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from losscli.analysis.bootstrap import (
    BLOCKS,
    MedianInterval,
    PoissonBootstrap,
    block_of_rows,
    block_sums,
    blocks_of,
    bootstrap_replicates,
    median_rank,
    percentile_interval,
    poisson_draws,
)
from losscli.core.reduction import reduce_values, weighted_percentile
from losscli.core.registry import Reduction

KINDS = [Reduction.MEAN, Reduction.SQRT_MEAN, Reduction.MAX, Reduction.SUM]


def _dyadic(rng: np.random.Generator, n: int) -> np.ndarray:
    """Multiples of 1/8 below 64: every partial sum is exact in float64, in any order."""
    return rng.integers(0, 512, n) / 8.0


def _fed(
    values: list[np.ndarray],
    weights: np.ndarray | None,
    cells: np.ndarray | None,
    chunk: int,
    **kw: object,
) -> PoissonBootstrap:
    state = PoissonBootstrap(KINDS, 40, seed=5, **kw)  # type: ignore[arg-type]
    n = values[0].size
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        state.update(
            [v[part] for v in values],
            None if weights is None else weights[part],
            cells=None if cells is None else cells[part],
        )
    return state


@pytest.mark.parametrize("weighted", [False, True])
def test_draws_do_not_depend_on_the_batches(weighted):
    """Exact equality of every replicate across batch sizes 1, 7, 1000 and whole."""
    rng = np.random.default_rng(0)
    n = 6000  # above BLOCKS: rows past 4096 are hashed into blocks
    values = [_dyadic(rng, n) for _ in KINDS]
    weights = rng.integers(0, 4, n).astype(float) if weighted else None
    groups = rng.integers(0, 3, n)
    whole = _fed(values, weights, groups, n)
    for chunk in (1, 7, 1000):
        again = _fed(values, weights, groups, chunk)
        assert np.array_equal(again.replicates(), whole.replicates(), equal_nan=True)
        for g in range(3):
            assert np.array_equal(again.replicates([g]), whole.replicates([g]), equal_nan=True)


def test_merge_of_partitions_equals_one_pass():
    rng = np.random.default_rng(1)
    n = 5000
    values = [_dyadic(rng, n) for _ in KINDS]
    one = _fed(values, None, None, n)
    left = PoissonBootstrap(KINDS, 40, seed=5)
    right = PoissonBootstrap(KINDS, 40, seed=5)
    # the right-hand partition is merged first and told where its rows start
    right.update([v[3000:] for v in values], first_row=3000)
    left.update([v[:3000] for v in values])
    assert np.array_equal(right.merge(left).replicates(), one.replicates(), equal_nan=True)
    assert np.array_equal(left.merge(right).replicates(), one.replicates(), equal_nan=True)
    with pytest.raises(ValueError):
        left.merge(PoissonBootstrap(KINDS, 40, seed=6))


def _splitmix_blocks(rows: np.ndarray, seed: int, blocks: int) -> np.ndarray:
    """The documented deal, written out with Python integers (the reference)."""
    mask = (1 << 64) - 1
    out = []
    for r in rows.tolist():
        if r < blocks:
            out.append(r)
            continue
        z = (r + 0x9E3779B97F4A7C15 * (seed + 1)) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        out.append(z % blocks)
    return np.array(out, dtype=np.intp)


@pytest.mark.parametrize("blocks", [BLOCKS, 1000])
@pytest.mark.parametrize("seed", [0, 7])
def test_block_of_rows_is_splitmix64_of_the_row(blocks, seed):
    far = np.array([2**40 + 3, 2**63 + 11, 2**64 - 1], dtype=np.uint64)
    near = np.concatenate([np.arange(0, 50), np.arange(BLOCKS - 5, BLOCKS + 300)])
    rows = np.concatenate([near.astype(np.uint64), far])
    assert np.array_equal(block_of_rows(rows, seed, blocks), _splitmix_blocks(rows, seed, blocks))


def test_blocks_and_block_sums_are_shared_by_plans_on_one_batch():
    """Within sharing(batch), the same rows' blocks and sums are computed once, read-only."""
    from losscli.analysis.evaluate import sharing
    from losscli.core.dataset import Dataset
    from losscli.core.registry import Task

    rows = np.arange(5000, 5300, dtype=np.uint64)
    gappy = rows[::2].copy()  # not a run of rows: known by identity
    v = np.linspace(0.0, 3.0, rows.size)
    batch = Dataset(
        source="memory",
        task=Task.REGRESSION,
        task_reason="test",
        y_true=np.zeros(3),
        models={"m": np.zeros(3)},
        row_numbers=np.arange(1, 4),
    )
    with sharing(batch):
        a = blocks_of(rows, 3, BLOCKS)
        b = blocks_of(5000, 3, BLOCKS, rows.size)  # the same rows, given by their first
        assert a is b and not a.flags.writeable
        assert np.array_equal(a, block_of_rows(rows, 3))
        g = blocks_of(gappy, 3, BLOCKS)
        assert g is not a and np.array_equal(g, block_of_rows(gappy, 3))
        assert blocks_of(gappy.copy(), 3, BLOCKS) is not g
        s1 = block_sums(a, v, None, BLOCKS)
        assert block_sums(a, v, None, BLOCKS) is s1
        assert np.array_equal(s1, np.bincount(a, weights=v, minlength=BLOCKS))
        w = np.where(np.arange(rows.size) % 3 == 0, 0.0, 2.0)
        assert np.array_equal(
            block_sums(a, v, w, BLOCKS),
            np.bincount(a, weights=np.where(w > 0, w * v, 0.0), minlength=BLOCKS),
        )
        assert np.array_equal(block_sums(a, None, None, BLOCKS), np.bincount(a, minlength=BLOCKS))
    # Outside the block nothing is kept: a new array every time.
    assert blocks_of(rows, 3, BLOCKS) is not blocks_of(rows, 3, BLOCKS)


def test_small_inputs_get_one_poisson_weight_per_row():
    """Below BLOCKS rows the replicate is sum(P_i w_i l_i) / sum(P_i w_i), P_i ~ Poisson(1)."""
    rng = np.random.default_rng(2)
    n = 300
    loss = rng.gamma(2.0, size=n)
    w = rng.uniform(0.5, 2.0, n)
    assert np.array_equal(block_of_rows(np.arange(n, dtype=np.uint64), 9), np.arange(n))
    reps = bootstrap_replicates([(loss, Reduction.MEAN), (loss, Reduction.MAX)], w, 30, 9)
    for b in range(30):
        bit = np.random.Philox(key=9)
        bit.advance(b << 64)
        p = np.random.Generator(bit).poisson(1.0, BLOCKS)[:n]
        assert reps[b, 0] == pytest.approx(np.sum(p * w * loss) / np.sum(p * w), rel=1e-12)
        assert reps[b, 1] == np.max(loss[p > 0])


def test_blocks_spread_rows_evenly_and_depend_on_the_seed():
    rows = np.arange(BLOCKS, BLOCKS + 400_000, dtype=np.uint64)
    counts = np.bincount(block_of_rows(rows, 0), minlength=BLOCKS)
    expected = rows.size / BLOCKS
    # chi-square of a uniform deal into 4096 blocks: mean 4095, sd ~ 90
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert abs(chi2 - (BLOCKS - 1)) < 6 * math.sqrt(2 * (BLOCKS - 1))
    assert not np.array_equal(block_of_rows(rows, 0), block_of_rows(rows, 1))
    draws = poisson_draws(0, 200)
    assert draws.mean() == pytest.approx(1.0, abs=0.01)
    assert draws.var() == pytest.approx(1.0, abs=0.02)
    assert not np.array_equal(draws, poisson_draws(1, 200))
    # replicate b's weights do not depend on how many replicates are drawn
    assert np.array_equal(poisson_draws(0, 50), draws[:50])


def test_intervals_contain_the_point_estimate_and_shrink_with_n():
    rng = np.random.default_rng(3)
    widths = []
    for n in (2_000, 50_000):
        e = rng.normal(size=n)
        series = [(e**2, Reduction.MEAN), (e**2, Reduction.SQRT_MEAN), (np.abs(e), Reduction.MAX)]
        reps = bootstrap_replicates(series, None, 200, 4)
        for j, (values, kind) in enumerate(series):
            low, high = percentile_interval(reps[:, j], 0.95)
            point = reduce_values(values, None, kind)
            assert low <= point <= high
        widths.append(np.subtract(*percentile_interval(reps[:, 0], 0.95)[::-1]))
        # the bootstrap standard error of a mean is about sd / sqrt(n)
        se = np.std(e**2) / math.sqrt(n)
        assert np.std(reps[:, 0]) == pytest.approx(se, rel=0.25)
    assert widths[1] < widths[0] / 3


def test_stratified_replicates_pool_each_stratum_ratio():
    rng = np.random.default_rng(4)
    n = 500
    strata = (rng.random(n) < 0.3).astype(int)
    loss = rng.exponential(size=n)
    w = np.where(strata == 1, 1.0 / np.sum(strata == 1), 1.0 / np.sum(strata == 0))
    reps = bootstrap_replicates([(loss, Reduction.SUM)], w, 20, 2, strata)
    for b in range(20):
        bit = np.random.Philox(key=2)
        bit.advance(b << 64)
        p = np.random.Generator(bit).poisson(1.0, BLOCKS)[:n]
        expected = 0.0
        for s in (0, 1):
            m = strata == s
            expected += np.sum(p[m] * loss[m]) / np.sum(p[m])
        assert reps[b, 0] == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- the median


@pytest.mark.parametrize("n", [1, 5, 6, 7, 20, 100, 101, 1000, 12345])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_median_rank_is_the_binomial_order_statistic(n, level):
    """P(Bin(n, 1/2) <= j - 1) <= alpha/2 < P(Bin(n, 1/2) <= j), computed exactly."""
    j = median_rank(n, level)
    tail = (1 - level) / 2

    def cdf(k: int) -> float:
        return sum(math.comb(n, i) for i in range(k + 1)) / 2**n if k >= 0 else 0.0

    if j == 0:
        assert cdf(0) > tail
    else:
        assert cdf(j - 1) <= tail < cdf(j)


def test_median_rank_matches_the_published_table():
    # Conover (1999), Table A3 / the usual sign-test table: n=100 -> X(40), X(61) at 95%.
    assert median_rank(100, 0.95) == 40
    assert median_rank(20, 0.95) == 6


def test_median_interval_streamed_equals_in_memory_and_brackets_the_median():
    rng = np.random.default_rng(5)
    n = 20_000
    x = np.abs(rng.standard_t(3, n))
    for w in (None, rng.uniform(0.1, 3.0, n)):
        whole = MedianInterval(level=0.95)
        whole.add(x, w)
        streamed = MedianInterval(level=0.95, cap=500, bits=8)
        for start in range(0, n, 777):
            streamed.add(x[start : start + 777], None if w is None else w[start : start + 777])
        while streamed.needs_pass:
            streamed.refine_plan()
            for start in range(0, n, 1000):
                part = slice(start, start + 1000)
                streamed.refine_add(x[part], None if w is None else w[part])
            streamed.refine_finish()
        assert streamed.result() == whole.result() == weighted_percentile(x, w, 50.0)
        assert streamed.interval() == whole.interval()
        low, high = whole.interval()
        assert low < whole.result() < high
    ordered = np.sort(x)
    j = median_rank(n, 0.95)
    unweighted = MedianInterval(level=0.95)
    unweighted.add(x)
    assert unweighted.interval() == (ordered[j - 1], ordered[n - j])


def test_median_interval_of_tiny_inputs_is_the_range():
    acc = MedianInterval(level=0.95)
    acc.add(np.array([3.0, 1.0, 2.0]))
    assert acc.interval() == (1.0, 3.0)
    empty = MedianInterval(level=0.95)
    assert all(math.isnan(v) for v in empty.interval())


def test_median_interval_merge():
    rng = np.random.default_rng(6)
    x = rng.exponential(size=3000)
    a, b, whole = MedianInterval(level=0.9), MedianInterval(level=0.9), MedianInterval(level=0.9)
    a.add(x[:1000])
    b.add(x[1000:])
    whole.add(x)
    merged = a.merge(b)
    assert merged.result() == whole.result()
    assert merged.interval() == whole.interval()


def test_draws_made_per_chunk_of_replicates_equal_the_kept_ones(monkeypatch):
    import losscli.analysis.bootstrap as bootstrap_module

    rng = np.random.default_rng(7)
    values = [_dyadic(rng, 5000) for _ in KINDS]
    kept = _fed(values, None, None, 5000).replicates()
    monkeypatch.setattr(bootstrap_module, "_KEPT_DRAWS", 0)
    monkeypatch.setattr(bootstrap_module, "_DRAW_ROWS", 7)
    assert np.array_equal(_fed(values, None, None, 5000).replicates(), kept, equal_nan=True)
