"""The worst-1% share estimate (the "worst 1% of rows carry X% of the loss" warning).

Each chunk counts its top rows into the histogram range they fill; the state is
the same as counting them over all 65,536 bins, and the share is the exact share
of the worst 1% up to part of one bin.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from losscli.analysis.streaming import TopShareEstimate
from losscli.core.reduction import key_bins


def _full_range(values_list, weights_list):
    counts = np.zeros(1 << 16, dtype=np.int64)
    sums = np.zeros(1 << 16)
    threshold = None
    for v, w in zip(values_list, weights_list):
        contrib = v if w is None else np.where(w > 0, w * v, 0.0)
        if threshold is None:
            k = max(0, int(0.95 * contrib.size) - 1)
            threshold = float(np.partition(contrib, k)[k])
        top = contrib[contrib >= threshold]
        if top.size:
            bins = key_bins(top, 16)
            counts += np.bincount(bins, minlength=1 << 16)
            sums += np.bincount(bins, weights=top, minlength=1 << 16)
    return counts, sums


@pytest.mark.parametrize("trial", range(24))
def test_the_state_of_counting_over_every_bin(trial):
    rng = np.random.default_rng(trial)
    values_list, weights_list = [], []
    estimate = TopShareEstimate()
    for _ in range(5):
        v = np.abs(rng.standard_cauchy(int(rng.integers(1, 3000)))) ** rng.uniform(0.5, 3)
        if trial % 3 == 0:
            v[::7] = 0.0
        if trial % 4 == 0:
            v[:3] = [1e300, 5e-324, 0.0]
        w = None if trial % 2 else rng.uniform(0, 2, v.size)
        values_list.append(v)
        weights_list.append(w)
        estimate.add(v, w)
    counts, sums = _full_range(values_list, weights_list)
    assert np.array_equal(estimate.counts, counts)
    assert np.array_equal(estimate.sums, sums)


def test_the_share_of_the_worst_one_percent():
    rng = np.random.default_rng(5)
    v = rng.exponential(size=200_000) ** 3
    estimate = TopShareEstimate()
    for chunk in np.array_split(v, 17):
        estimate.add(chunk, None)
    worst = np.sort(v)[-2000:]
    exact = worst.sum() / v.sum()
    # Within one bin's share: a bin is 1/16 of a binary order of magnitude wide.
    assert math.isclose(estimate.result(), exact, rel_tol=0.05)
    assert 0 < estimate.result() <= 1
