"""Bootstrap percentile confidence intervals through the core's reduction.

Each replicate draws n rows with replacement; instead of copying the data it
turns the draw into per-row counts and multiplies them into the weights, so
every reduction kind (mean, sqrt-mean, weighted median, max) is resampled
exactly by the same code that computes the point value. The same draws are
shared by every loss and model of one call, so intervals are paired.

With ``strata`` (rows from separate samples, e.g. GAN d_real and d_fake
stacked in one column) each stratum is resampled with replacement within
itself, keeping its size: strata in sorted order, each drawing its n_s rows
with ``rng.integers(0, n_s, size=n_s)``. A joint draw would let the number of
d_fake rows vary between replicates, which the per-term weights 1/n_fake do
not follow, and inflates the interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from losscli.core.reduction import reduce_values
from losscli.core.registry import Reducer


def resample_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """How often each of n rows appears in one bootstrap sample of size n."""
    return np.bincount(rng.integers(0, n, size=n), minlength=n).astype(np.float64)


def stratified_counts(
    rng: np.random.Generator, members: Sequence[np.ndarray], n: int
) -> np.ndarray:
    """Per-row counts of one bootstrap sample drawn within each stratum (row indices)."""
    counts = np.zeros(n)
    for rows in members:
        counts[rows] = resample_counts(rng, rows.size)
    return counts


def bootstrap_replicates(
    series: Sequence[tuple[np.ndarray, Reducer]],
    weights: np.ndarray | None,
    n_boot: int,
    seed: int,
    strata: np.ndarray | None = None,
) -> np.ndarray:
    """An (n_boot, len(series)) array of replicate values, paired across series."""
    if not series:
        return np.empty((n_boot, 0))
    n = series[0][0].shape[0]
    base = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    members = None
    if strata is not None:
        members = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, len(series)))
    with np.errstate(all="ignore"):
        for b in range(n_boot):
            counts = (
                resample_counts(rng, n) if members is None else stratified_counts(rng, members, n)
            )
            w = base * counts
            if not np.any(w > 0):
                out[b] = np.nan
                continue
            for j, (values, kind) in enumerate(series):
                out[b, j] = reduce_values(values, w, kind)
    return out


def percentile_interval(replicates: np.ndarray, level: float) -> tuple[float, float]:
    """The (low, high) percentile interval of replicate values at a confidence level."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)
