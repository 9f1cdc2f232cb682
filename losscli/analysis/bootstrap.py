"""Bootstrap confidence intervals in one streaming pass: Poisson weights on blocks of rows.

Method (the "poisson" sampling strategy of torchmetrics' BootStrapper;
Hanley & MacGibbon 2006, "Creating non-parametric bootstrap samples using
Poisson frequencies", Comput. Methods Programs Biomed. 83:57-62). A row's
count in a bootstrap sample of size n is Binomial(n, 1/n), which tends to
Poisson(1); giving every row an independent Poisson(1) weight in every
replicate therefore needs no second look at the data and no knowledge of n.

To keep the work per row O(1) instead of O(replicates), rows are dealt into
:data:`BLOCKS` blocks and every row of a block shares the block's Poisson
weight: row ``i`` (its 0-based position in the input, counted over the
whole input) goes to block ``i`` while ``i < BLOCKS`` and otherwise to the
block a 64-bit hash of ``(seed, i)`` picks. So an input of up to ``BLOCKS``
rows gets the plain per-row Poisson bootstrap; a larger one gets the Poisson
bootstrap of a random partition into ``BLOCKS`` parts (random groups are
exchangeable, so their weighted sums are resampled like rows; the variance
estimate then has about ``BLOCKS`` degrees of freedom, which adds ~1% to the
relative Monte Carlo error of an interval's width, below that of 1000
replicates). The weights of replicate ``b`` come from a counter-based
generator (NumPy's Philox keyed by the seed), so the draws depend only on
(seed, row index, replicate): never on how the input is split into batches,
the order batches are merged in, or the number of workers.

The state is, per block, the weighted sums ``sum(w*l)`` per series
(loss, model) and the weight total ``sum(w)``, per cell (a group, or a
stratum), plus the block maxima for ``max`` reductions: ``BLOCKS x (series x
cells)`` floats, merged by addition (maxima by maximum). Every series shares
the same draws, so intervals of differences between models are paired.

Replicate values: a mean is ``sum_k P_k S_k / sum_k P_k W_k`` (the ratio
estimator, as the row bootstrap's weighted mean); rmse its square root; a
maximum the largest block maximum among blocks drawn at least once. A sum
(the GAN losses, whose weights are already 1/n per term) is resampled as
mean x total weight per stratum, like the row bootstrap that keeps each
stratum's size. Strata (d_real and d_fake, separate samples) are resampled
each within itself: their ratios are formed separately and combined with
the strata's fixed weights.

d2_pinball and d2_absolute_error hold the null model's quantile q fixed at
the full data's weighted alpha-quantile of y_true: per block the sums of
``w pinball(y - p)`` (pass 1) and ``w pinball(y - q)`` (one more pass, once q
is known; :meth:`PoissonBootstrap.add_null_deviance`). As q_r, a replicate's
own quantile, minimises its null deviance D_r, the replicate's denominator
D_r(q) exceeds scikit-learn's D_r(q_r) by at most the replicate's weight of
the rows between q and q_r times |q - q_r| (second order in q - q_r), and
equals it where q_r = q.

Quantile losses (median_ae) are not resampled: :class:`MedianInterval`
gives the distribution-free order-statistic interval of the median (ranks
from Binomial(n, 1/2); Conover 1999, Practical Nonparametric Statistics,
3rd ed., section 3.2; with weights, Kish's effective sample size
(sum w)^2 / sum w^2 in place of n, as Woodruff 1952 does for weighted
quantiles). It is exact (coverage >= the level for continuous data), needs
only the two order statistics, and does not depend on the seed.

The maximum's bootstrap is known to be inconsistent (Bickel & Freedman
1981): its interval ends at the observed maximum and says little; it is
reported for completeness.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from losscli.analysis.evaluate import batch_memo
from losscli.core.calibration import DEFAULT_BINS, bin_index
from losscli.core.reduction import (
    MedianAccumulator,
    _OrderStatistic,
    pinball_terms,
    weighted_percentile,
)
from losscli.core.registry import ParamReduction, Reducer, Reduction

# Blocks of rows sharing one Poisson weight; inputs up to this many rows get one per row.
BLOCKS = 4096
# Replicates whose weights are drawn at once (bounds the memory of finish()).
_DRAW_ROWS = 256
# Draws (uint8) kept between calls of replicates() up to this many: 64 MiB.
_KEPT_DRAWS = 64 << 20
# Draws up to this many (8 MiB: 2,000 replicates) are cached for the next plan of the run.
_CACHED_DRAWS = 8 << 20
_MEANS = (Reduction.MEAN, Reduction.SQRT_MEAN, Reduction.SUM)
# Skill scores resampled from per-block moments of their components (e, y).
_SKILLS = (Reduction.R2, Reduction.EXPLAINED_VARIANCE)
# Relative rounding of a replicate's sums (a few thousand terms): a spread within it of 0 is 0.
_ROUNDING = 64 * np.finfo(np.float64).eps
# Calibration figures resampled from per-block reliability bins (confidence, correct).
_CALIBRATION = (Reduction.ECE, Reduction.MCE)
# d2_pinball / d2_absolute_error: per-block sums of the model's pinball loss (pass 1) and
# of the null model's, about the full data's quantile q (a later pass, once q is known).
_MODEL, _NULL_OWN, _NULL_ALL = 0, 1, 2


def _unit_deviance(y: np.ndarray, mu: np.ndarray, power: float) -> np.ndarray:
    from losscli.core.losses.regression import tweedie_deviance

    with np.errstate(all="ignore"):
        return tweedie_deviance(y, mu, power)


def _combined_deviance(a: np.ndarray, b: np.ndarray, power: float) -> np.ndarray:
    """Two states of (weight, mean y, null deviance about the mean, model deviance) per block.

    The arrays end in (..., 4, blocks). A Tweedie deviance is a Bregman
    divergence, so the deviance of the union about its mean m is each part's
    own deviance plus W_a d(m_a, m) + W_b d(m_b, m) (for power 0, Chan et
    al.'s pairwise variance update).
    """
    out = a.copy()
    wa, wb = a[..., 0, :], b[..., 0, :]
    total = wa + wb
    both = (wa > 0) & (wb > 0)
    with np.errstate(all="ignore"):
        share = np.where(total > 0, wb / np.where(total > 0, total, 1.0), 0.0)
        ma, mb = a[..., 1, :], b[..., 1, :]
        mean = np.where(wa > 0, ma + (mb - ma) * share, mb)
        spread = wa * _unit_deviance(ma, mean, power) + wb * _unit_deviance(mb, mean, power)
    out[..., 0, :] = total
    out[..., 1, :] = mean
    out[..., 2, :] = a[..., 2, :] + b[..., 2, :] + np.where(both, spread, 0.0)
    out[..., 3, :] = a[..., 3, :] + b[..., 3, :]
    return cast("np.ndarray", out)


def _combined_moments(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two states of (weight, e mean, e m2, y mean, y m2, sum w e^2) per block, combined.

    The arrays end in (..., 6, blocks); Chan et al.'s pairwise update, unit by unit.
    """
    out = a.copy()
    wa, wb = a[..., 0, :], b[..., 0, :]
    total = wa + wb
    with np.errstate(all="ignore"):
        share = np.where(total > 0, wb / np.where(total > 0, total, 1.0), 0.0)
        for part in (1, 3):
            delta = b[..., part, :] - a[..., part, :]
            out[..., part, :] = np.where(wa > 0, a[..., part, :] + delta * share, b[..., part, :])
            out[..., part + 1, :] = np.where(
                (wa > 0) & (wb > 0),
                a[..., part + 1, :] + b[..., part + 1, :] + delta * delta * wa * share,
                a[..., part + 1, :] + b[..., part + 1, :],
            )
    out[..., 0, :] = total
    out[..., 5, :] = a[..., 5, :] + b[..., 5, :]
    return cast("np.ndarray", out)


def _weighted_pairs(
    rows: np.ndarray, w: np.ndarray | None, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A batch's flat per-row pairs as (n, 2) rows, their weights and cell-block indices.

    Rows of weight 0 are left out: they add nothing to any sum, and the
    moments and bin means divide by the weight.
    """
    rows = rows.reshape(-1, 2) if rows.size else np.zeros((0, 2))
    weights = np.ones(rows.shape[0]) if w is None else w
    keep = weights > 0
    return rows[keep], weights[keep], index[keep]


def block_of_rows(rows: np.ndarray, seed: int, blocks: int = BLOCKS) -> np.ndarray:
    """The block of each row (0-based global row indices): itself while < blocks, else hashed.

    The hash is SplitMix64's finaliser (Steele, Lea & Flood 2014) of the row
    index offset by the seed; its low bits are uniform.
    """
    rows = np.asarray(rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        # In place, one scratch array: half the time of the plain expressions.
        z = rows + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) & 0xFFFFFFFFFFFFFFFF)
        t = np.right_shift(z, np.uint64(30))
        z ^= t
        z *= np.uint64(0xBF58476D1CE4E5B9)
        np.right_shift(z, np.uint64(27), out=t)
        z ^= t
        z *= np.uint64(0x94D049BB133111EB)
        np.right_shift(z, np.uint64(31), out=t)
        z ^= t
    if blocks & (blocks - 1) == 0:
        z &= np.uint64(blocks - 1)  # the low bits: the same as z % blocks
    else:
        z %= np.uint64(blocks)
    out: np.ndarray = z.astype(np.intp)
    first = rows < np.uint64(blocks)
    if first.any():
        out[first] = rows[first].astype(np.intp)
    return out


def blocks_of(rows: np.ndarray | int, seed: int, blocks: int, n: int = 0) -> np.ndarray:
    """:func:`block_of_rows` of ``rows`` (or of the ``n`` rows from index ``rows`` on).

    Computed once per batch when several plans bootstrap the same rows side by
    side (``loss report``: compute's intervals and compare's paired ones).
    Read-only.
    """
    alive: tuple[object, ...] = ()
    if isinstance(rows, int):
        first, count = rows, n
    else:
        rows = np.asarray(rows, dtype=np.uint64)
        count = int(rows.size)
        first = int(rows[0]) if count else 0
        consecutive = count > 0 and int(rows[-1]) - first == count - 1
        if consecutive and count > 1:
            consecutive = bool(np.all(rows[1:] - rows[:-1] == np.uint64(1)))
        if not consecutive:
            first, alive = -1 - id(rows), (rows,)  # not a run of rows: known by identity

    def make() -> np.ndarray:
        keys = rows if first < 0 else np.arange(first, first + count, dtype=np.uint64)
        out = block_of_rows(cast(np.ndarray, keys), seed, blocks)
        out.setflags(write=False)
        return out

    return batch_memo(("bootstrap blocks", first, count, seed, blocks), make, *alive)


def block_sums(
    index: np.ndarray, values: np.ndarray | None, weights: np.ndarray | None, size: int
) -> np.ndarray:
    """Per-index sums of ``weights x values`` (rows of weight <= 0 add nothing); read-only.

    ``values`` None: the weights (the row counts when unweighted). Computed once
    per batch for the same arrays when plans run side by side.
    """

    def make() -> np.ndarray:
        if values is None:
            out = np.bincount(index, weights=weights, minlength=size)
        else:
            with np.errstate(all="ignore"):
                contrib = (
                    values if weights is None else np.where(weights > 0, weights * values, 0.0)
                )
                out = np.bincount(index, weights=contrib, minlength=size)
        out.setflags(write=False)
        return out

    key = ("bootstrap block sums", id(index), id(values), id(weights), size)
    return batch_memo(key, make, index, values, weights)


#: Told how many bootstrap resamples have been drawn so far (the CLI's progress bar on a
#: terminal); None: nobody is watching. A context variable, so the API stays silent.
RESAMPLES_DRAWN: ContextVar[Callable[[int], None] | None] = ContextVar(
    "losscli_resamples_drawn", default=None
)
_REPORT_EVERY = 64


def _drawn(count: int) -> None:
    report = RESAMPLES_DRAWN.get()
    if report is not None and count:
        report(count)


def poisson_draws(seed: int, n_boot: int, blocks: int = BLOCKS, start: int = 0) -> np.ndarray:
    """Poisson(1) weights of replicates [start, start + n_boot) for every block, as uint8.

    Philox keyed by the seed, advanced to the replicate's own counter range:
    replicate b always gets the same weights whatever else is drawn. (A
    Poisson(1) count above 255 has probability below 1e-500.)
    """
    if n_boot * blocks <= _CACHED_DRAWS:
        # Several plans of one run (the report's compute and compare) share the draws.
        return _cached_draws(seed, n_boot, blocks, start)
    return _draw(seed, n_boot, blocks, start)


def _draw(seed: int, n_boot: int, blocks: int, start: int) -> np.ndarray:
    out = np.empty((n_boot, blocks), dtype=np.uint8)
    for b in range(start, start + n_boot):
        bit = np.random.Philox(key=seed)
        # Each replicate owns 2**64 counter steps of the stream.
        bit.advance(b << 64)
        out[b - start] = np.random.Generator(bit).poisson(1.0, blocks)
        if (b - start + 1) % _REPORT_EVERY == 0:
            _drawn(_REPORT_EVERY)
    _drawn(n_boot % _REPORT_EVERY)
    return out


@functools.lru_cache(maxsize=2)
def _cached_draws(seed: int, n_boot: int, blocks: int, start: int) -> np.ndarray:
    out = _draw(seed, n_boot, blocks, start)
    out.setflags(write=False)
    return out


@dataclass
class PoissonBootstrap:
    """Mergeable Poisson-bootstrap state of several series (losses x models), paired.

    ``kinds`` is the reduction of each series (a :class:`ParamReduction` for
    the figures that read parameters: ece's n_bins); ``median`` series are
    carried as placeholders (their replicates are NaN: see
    :class:`MedianInterval`).
    ``stratified``: cells are strata of one sample (GAN d_real / d_fake),
    combined into one value; otherwise cells are groups, each with its own
    value, and the overall value pools them.
    """

    kinds: list[Reducer]
    n_boot: int
    seed: int = 0
    stratified: bool = False
    blocks: int = BLOCKS
    n_rows: int = 0
    # (cells, mean series, blocks), (cells, blocks), (cells, max series, blocks)
    sums: np.ndarray = field(init=False)
    weight_sums: np.ndarray = field(init=False)
    maxima: np.ndarray = field(init=False)
    _draws: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # The kinds with their parameters (what merge compares), and the bare kinds.
        self.reducers: list[Reducer] = list(self.kinds)
        self.kinds = [k.kind if isinstance(k, ParamReduction) else k for k in self.reducers]
        self._mean_cols = [j for j, k in enumerate(self.kinds) if k in _MEANS]
        self._max_cols = [j for j, k in enumerate(self.kinds) if k is Reduction.MAX]
        self.sums = np.zeros((0, len(self._mean_cols), self.blocks))
        self.weight_sums = np.zeros((0, self.blocks))
        self.maxima = np.full((0, len(self._max_cols), self.blocks), -math.inf)
        self._skill_cols = [j for j, k in enumerate(self.kinds) if k in _SKILLS]
        # Per (cell, block) and skill series: positive weight, then the moments
        # (mean, m2) of the residual e and of the target y, and sum w e^2.
        self.skill = np.zeros((0, len(self._skill_cols), 6, self.blocks))
        # Per calibration series: (cells, blocks, 3, bins + 1) sums of weight, weight x
        # confidence and weight x correctness per reliability bin (see ReliabilityBins).
        self._calib_cols = [j for j, k in enumerate(self.kinds) if k in _CALIBRATION]
        self._n_bins = [int(self._param(j, "n_bins", DEFAULT_BINS)) for j in self._calib_cols]
        self.calib = [np.zeros((0, self.blocks, 3, nb + 1)) for nb in self._n_bins]
        # Per d2_tweedie series: (cells, series, 4, blocks) weight, mean of y, the
        # deviance of y about that mean and the model's deviance sum (see
        # _combined_deviance).
        self._tweedie_cols = [j for j, k in enumerate(self.kinds) if k is Reduction.D2_TWEEDIE]
        self._powers = [self._param(j, "power", 0.0) for j in self._tweedie_cols]
        self.tweedie = np.zeros((0, len(self._tweedie_cols), 4, self.blocks))
        # Per d2_pinball / d2_absolute_error series: (cells, series, 3, blocks) the sums of
        # w pinball(y - p), of w pinball(y - q_cell) (the cell's own quantile) and of
        # w pinball(y - q) (the quantile of all rows); see add_null_deviance.
        self._quantile_cols = [j for j, k in enumerate(self.kinds) if k is Reduction.D2_QUANTILE]
        self._alphas = [self._param(j, "alpha", 0.5) for j in self._quantile_cols]
        self.quantile = np.zeros((0, len(self._quantile_cols), 3, self.blocks))
        self.null_ready = not self._quantile_cols

    def _param(self, j: int, name: str, default: float) -> float:
        reducer = self.reducers[j]
        if isinstance(reducer, ParamReduction):
            return float(dict(reducer.params).get(name, default))
        return float(default)

    @property
    def n_cells(self) -> int:
        return int(self.weight_sums.shape[0])

    def state_bytes(self, n_cells: int | None = None) -> int:
        """Bytes of state for ``n_cells`` cells (default: the current number)."""
        cells = self.n_cells if n_cells is None else n_cells
        series = 1 + len(self._mean_cols) + len(self._max_cols) + 6 * len(self._skill_cols)
        series += sum(3 * (nb + 1) for nb in self._n_bins) + 4 * len(self._tweedie_cols)
        series += 3 * len(self._quantile_cols)
        return 8 * self.blocks * cells * series

    def _grow(self, n_cells: int) -> None:
        if n_cells <= self.n_cells:
            return
        extra = n_cells - self.n_cells
        k = self.blocks
        self.sums = np.concatenate([self.sums, np.zeros((extra, len(self._mean_cols), k))])
        self.weight_sums = np.concatenate([self.weight_sums, np.zeros((extra, k))])
        self.maxima = np.concatenate(
            [self.maxima, np.full((extra, len(self._max_cols), k), -math.inf)]
        )
        self.skill = np.concatenate([self.skill, np.zeros((extra, len(self._skill_cols), 6, k))])
        self.calib = [np.concatenate([c, np.zeros((extra,) + c.shape[1:])]) for c in self.calib]
        self.tweedie = np.concatenate([self.tweedie, np.zeros((extra,) + self.tweedie.shape[1:])])
        self.quantile = np.concatenate(
            [self.quantile, np.zeros((extra,) + self.quantile.shape[1:])]
        )

    @property
    def quantile_series(self) -> list[tuple[int, float]]:
        """(series index, alpha) of every d2_pinball / d2_absolute_error series."""
        return list(zip(self._quantile_cols, self._alphas))

    def add_null_deviance(
        self,
        y: np.ndarray,
        weights: np.ndarray | None,
        own: np.ndarray,
        pooled: Sequence[float],
        *,
        cells: np.ndarray | None = None,
        first_row: int = 0,
        rows: np.ndarray | None = None,
    ) -> None:
        """The pass after pass 1 of the d2_pinball series: sums of w pinball(y - q) per block.

        ``own[slot, cell]`` is the weighted alpha-quantile of y_true of the
        cell's rows (the group's), ``pooled[slot]`` that of all rows; rows are
        numbered as in :meth:`update` (``first_row`` or ``rows``). Call
        :meth:`null_done` once every row has been added.
        """
        n = int(np.asarray(y).shape[0])
        if n == 0 or not self._quantile_cols:
            return
        if rows is None:
            rows = np.arange(first_row, first_row + n, dtype=np.uint64)
        block = blocks_of(rows, self.seed, self.blocks)
        codes = np.zeros(n, dtype=np.intp) if cells is None else np.asarray(cells, dtype=np.intp)
        self._grow(int(codes.max()) + 1)
        index = codes * self.blocks + block
        y = np.asarray(y, dtype=np.float64)
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        keep = w > 0
        y, w, index, codes = y[keep], w[keep], index[keep], codes[keep]
        size = self.n_cells * self.blocks
        shape = (self.n_cells, self.blocks)
        with np.errstate(all="ignore"):
            for slot, alpha in enumerate(self._alphas):
                mine = np.asarray(own[slot], dtype=np.float64)[codes]
                for part, q in ((_NULL_OWN, mine), (_NULL_ALL, float(pooled[slot]))):
                    terms = w * pinball_terms(y - q, alpha)
                    self.quantile[:, slot, part, :] += np.bincount(
                        index, weights=terms, minlength=size
                    ).reshape(shape)

    def null_done(self) -> None:
        """Every row's null deviance is in: the d2_pinball series have replicates."""
        self.null_ready = True

    def update(
        self,
        values: Sequence[np.ndarray],
        weights: np.ndarray | None = None,
        *,
        cells: np.ndarray | None = None,
        first_row: int | None = None,
        rows: np.ndarray | None = None,
    ) -> None:
        """Add one batch: per-row values of every series, weights, cell codes (>= 0).

        ``first_row`` is the global 0-based index of the batch's first row;
        by default the rows follow those already added. Parallel workers pass
        it so that merged partitions draw exactly as one pass would. ``rows``
        gives every row's global 0-based index instead (rows need not be
        consecutive: e.g. the file's row numbers after --nan drop).
        """
        n = int(values[0].shape[0]) if len(values) else 0
        if rows is not None:
            self.n_rows += n
            if n == 0:
                return
            block = blocks_of(rows, self.seed, self.blocks)
        else:
            start = self.n_rows if first_row is None else first_row
            self.n_rows = max(self.n_rows, start + n)
            if n == 0:
                return
            block = blocks_of(start, self.seed, self.blocks, n)
        if cells is None:
            self._grow(1)
            index = block
        else:
            codes = np.asarray(cells, dtype=np.intp)
            self._grow(int(codes.max()) + 1)
            index = codes * self.blocks + block
        size = self.n_cells * self.blocks
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        positive = None if w is None else w > 0
        self.weight_sums += block_sums(index, None, w, size).reshape(self.n_cells, -1)
        for slot, j in enumerate(self._mean_cols):
            v = np.asarray(values[j], dtype=np.float64)
            self.sums[:, slot, :] += block_sums(index, v, w, size).reshape(self.n_cells, -1)
        for slot, j in enumerate(self._skill_cols):
            self._add_skill(slot, np.asarray(values[j], dtype=np.float64), w, index, size)
        for slot, j in enumerate(self._calib_cols):
            self._add_calibration(slot, np.asarray(values[j], dtype=np.float64), w, index)
        for slot, j in enumerate(self._tweedie_cols):
            self._add_tweedie(slot, np.asarray(values[j], dtype=np.float64), w, index, size)
        for slot, j in enumerate(self._quantile_cols):
            terms = np.asarray(values[j], dtype=np.float64)
            terms = terms.reshape(-1, 2)[:, 0] if terms.size else np.zeros(0)
            with np.errstate(all="ignore"):
                contrib = terms if w is None else np.where(positive, w * terms, 0.0)  # type: ignore[arg-type]
                self.quantile[:, slot, _MODEL, :] += np.bincount(
                    index, weights=contrib, minlength=size
                ).reshape(self.n_cells, -1)
        for slot, j in enumerate(self._max_cols):
            v = np.asarray(values[j], dtype=np.float64)
            where = index if positive is None else index[positive]
            v = v if positive is None else v[positive]
            flat = self.maxima[:, slot, :].reshape(-1)
            np.maximum.at(flat, where, v)
            self.maxima[:, slot, :] = flat.reshape(self.n_cells, -1)

    def merge(self, other: PoissonBootstrap) -> PoissonBootstrap:
        """The state of both inputs (disjoint rows, same series, seed and blocks)."""
        if (other.reducers, other.seed, other.blocks, other.stratified) != (
            self.reducers,
            self.seed,
            self.blocks,
            self.stratified,
        ):
            raise ValueError("only bootstrap states of the same series, seed and blocks merge")
        out = PoissonBootstrap(self.reducers, self.n_boot, self.seed, self.stratified, self.blocks)
        out.n_rows = self.n_rows + other.n_rows
        out._grow(max(self.n_cells, other.n_cells))
        for part in (self, other):
            c = part.n_cells
            out.sums[:c] += part.sums
            out.weight_sums[:c] += part.weight_sums
            np.maximum(out.maxima[:c], part.maxima, out=out.maxima[:c])
            out.skill[:c] = _combined_moments(out.skill[:c], part.skill)
            for mine, theirs in zip(out.calib, part.calib):
                mine[:c] += theirs
            for slot, power in enumerate(out._powers):
                out.tweedie[:c, slot] = _combined_deviance(
                    out.tweedie[:c, slot], part.tweedie[:, slot], power
                )
            out.quantile[:c] += part.quantile
        out.null_ready = self.null_ready and other.null_ready
        return out

    def renumbered(self, target: np.ndarray, n_cells: int) -> PoissonBootstrap:
        """A copy with cell ``i`` moved to ``target[i]`` (of ``n_cells``; the others empty).

        Partitions number the groups they meet in their own order; merging
        them first brings every state to one numbering.
        """
        source = copy.copy(self)
        source._grow(target.size)
        out = PoissonBootstrap(self.reducers, self.n_boot, self.seed, self.stratified, self.blocks)
        out.n_rows = self.n_rows
        out._grow(n_cells)
        n = target.size
        out.sums[target] = source.sums[:n]
        out.weight_sums[target] = source.weight_sums[:n]
        out.maxima[target] = source.maxima[:n]
        out.skill[target] = source.skill[:n]
        for mine, theirs in zip(out.calib, source.calib):
            mine[target] = theirs[:n]
        out.tweedie[target] = source.tweedie[:n]
        out.quantile[target] = source.quantile[:n]
        out.null_ready = self.null_ready
        return out

    def _add_tweedie(
        self, slot: int, rows: np.ndarray, w: np.ndarray | None, index: np.ndarray, size: int
    ) -> None:
        """One batch of (deviance(y, p), y) into the per-(cell, block) deviance state."""
        rows, weights, where = _weighted_pairs(rows, w, index)
        if rows.shape[0] == 0:
            return
        shape = (self.n_cells, self.blocks)
        batch = np.zeros((self.n_cells, 4, self.blocks))
        y = rows[:, 1]
        with np.errstate(all="ignore"):
            total = np.bincount(where, weights=weights, minlength=size)
            mean = np.bincount(where, weights=weights * y, minlength=size) / np.where(
                total > 0, total, 1.0
            )
            null = weights * _unit_deviance(y, mean[where], self._powers[slot])
            batch[:, 0, :] = total.reshape(shape)
            batch[:, 1, :] = mean.reshape(shape)
            batch[:, 2, :] = np.bincount(where, weights=null, minlength=size).reshape(shape)
            batch[:, 3, :] = np.bincount(
                where, weights=weights * rows[:, 0], minlength=size
            ).reshape(shape)
        self.tweedie[:, slot] = _combined_deviance(self.tweedie[:, slot], batch, self._powers[slot])

    def _tweedie_replicates(self, draws: np.ndarray, chosen: list[int]) -> np.ndarray:
        """(replicates, d2_tweedie series): 1 - model deviance / deviance about the mean.

        A replicate's mean m is the draws' weighted mean of the blocks' means,
        and its null deviance sum_k P_k (D_k + W_k d(m_k, m)): exactly the
        deviance of every row about m under the replicate's weights.
        """
        out = np.full((draws.shape[0], len(self._tweedie_cols)), math.nan)
        with np.errstate(all="ignore"):
            for slot, power in enumerate(self._powers):
                pooled = self.tweedie[chosen[0], slot]
                for cell in chosen[1:]:
                    pooled = _combined_deviance(pooled, self.tweedie[cell, slot], power)
                w, means, inner, model = pooled
                filled = w > 0
                centre = float((w * means)[filled].sum() / w.sum()) if w.sum() > 0 else 0.0
                shifted = np.where(filled, means - centre, 0.0)
                weight = draws @ w
                mean = centre + (draws @ (w * shifted)) / weight
                spread = _unit_deviance(np.where(filled, means, 1.0)[None, :], mean[:, None], power)
                # A block whose mean is the replicate's mean up to rounding adds no
                # deviance (one row drawn, or ties): its rounding residue would make the
                # null deviance tiny instead of 0, and the value huge instead of -inf.
                level = np.maximum(np.abs(means)[None, :], np.abs(mean)[:, None])
                same = np.abs(means[None, :] - mean[:, None]) <= _ROUNDING * level
                spread = np.where(filled[None, :] & ~same, spread, 0.0)
                null = draws @ inner + np.einsum("rk,rk->r", draws * w[None, :], spread)
                value = 1.0 - (draws @ model) / null
                out[:, slot] = np.where(weight > 0, value, math.nan)
        return out

    def _add_calibration(
        self, slot: int, rows: np.ndarray, w: np.ndarray | None, index: np.ndarray
    ) -> None:
        """One batch of (confidence, correct) into the per-(cell, block) reliability bins."""
        rows, weights, index = _weighted_pairs(rows, w, index)
        if rows.shape[0] == 0:
            return
        n_bins = self._n_bins[slot]
        width = n_bins + 1
        flat = index * width + bin_index(rows[:, 0], n_bins)
        size = self.n_cells * self.blocks * width
        state = self.calib[slot]
        shape = (self.n_cells, self.blocks, width)
        with np.errstate(all="ignore"):
            for part, terms in enumerate((weights, weights * rows[:, 0], weights * rows[:, 1])):
                state[:, :, part, :] += np.bincount(flat, weights=terms, minlength=size).reshape(
                    shape
                )

    def _calibration_replicates(self, draws: np.ndarray, chosen: list[int]) -> np.ndarray:
        """(replicates, calibration series) ece / mce of the reliability bins reweighted.

        A replicate's bin sums are the blocks' sums weighted by the draws, so
        its ece and mce are those of :class:`ReliabilityBins` fed the rows
        with the replicate's weights.
        """
        out = np.full((draws.shape[0], len(self._calib_cols)), math.nan)
        with np.errstate(all="ignore"):
            for slot, j in enumerate(self._calib_cols):
                bins = self.calib[slot][chosen].sum(axis=0)  # (blocks, 3, bins + 1)
                drawn = np.einsum("rk,kpb->rpb", draws, bins)  # (replicates, 3, bins + 1)
                weight, gap = drawn[:, 0, :], np.abs(drawn[:, 2, :] - drawn[:, 1, :])
                total = weight.sum(axis=1)
                if self.kinds[j] is Reduction.ECE:
                    value = gap.sum(axis=1) / total
                else:
                    filled = weight > 0
                    ratio = np.where(filled, gap / np.where(filled, weight, 1.0), -math.inf)
                    value = ratio.max(axis=1)
                out[:, slot] = np.where(total > 0, value, math.nan)
        return out

    def _add_skill(
        self, slot: int, rows: np.ndarray, w: np.ndarray | None, index: np.ndarray, size: int
    ) -> None:
        """One batch of (e, y) components into the per-(cell, block) moments of a series."""
        rows, weights, where = _weighted_pairs(rows, w, index)
        shape = (self.n_cells, self.blocks)
        batch = np.zeros((self.n_cells, 6, self.blocks))
        with np.errstate(all="ignore"):
            total = np.bincount(where, weights=weights, minlength=size)
            batch[:, 0, :] = total.reshape(shape)
            safe = np.where(total > 0, total, 1.0)
            for part, column in ((1, 0), (3, 1)):  # e: mean, m2; y: mean, m2
                v = rows[:, column]
                mean = np.bincount(where, weights=weights * v, minlength=size) / safe
                dev = v - mean[where]
                batch[:, part, :] = mean.reshape(shape)
                batch[:, part + 1, :] = np.bincount(
                    where, weights=weights * dev * dev, minlength=size
                ).reshape(shape)
            batch[:, 5, :] = np.bincount(
                where, weights=weights * np.square(rows[:, 0]), minlength=size
            ).reshape(shape)
        self.skill[:, slot] = _combined_moments(self.skill[:, slot], batch)

    def _skill_replicates(self, draws: np.ndarray, skill: np.ndarray) -> np.ndarray:
        """(replicates, skill series) r2 / explained_variance of resampled blocks.

        ``skill`` is (units, series, 6, blocks) for the pooled cells; each unit's
        moments are combined with the replicate's block multiplicities (Chan et
        al.'s pairwise formula, around the overall means so nothing cancels).
        """
        out = np.full((draws.shape[0], len(self._skill_cols)), math.nan)
        with np.errstate(all="ignore"):
            for slot, j in enumerate(self._skill_cols):
                unit = skill[:, slot]  # (units, 6, blocks)
                w = unit[:, 0, :]
                weight = draws @ w.sum(axis=0)  # (replicates,)
                m2 = {}
                for part in (1, 3):
                    mean, inner = unit[:, part, :], unit[:, part + 1, :]
                    centre = float((w * mean).sum() / w.sum()) if w.sum() > 0 else 0.0
                    shifted = mean - centre
                    first = draws @ (w * shifted).sum(axis=0)
                    second = draws @ (w * shifted * shifted + inner).sum(axis=0)
                    # A replicate of one distinct value (one row drawn, or ties) has m2 = 0;
                    # the difference leaves a rounding residue that 1 - num / den would
                    # blow up (r2 of 8.7e16): within rounding of 0 is 0, as sklearn's
                    # two-pass variance gives.
                    spread = second - first * first / weight
                    m2[part] = np.where(spread <= _ROUNDING * second, 0.0, spread)
                squared = draws @ unit[:, 5, :].sum(axis=0)
                numerator = m2[1] if self.kinds[j] is Reduction.EXPLAINED_VARIANCE else squared
                denominator = m2[3]
                value = np.where(
                    numerator == 0,
                    1.0,
                    np.where(denominator == 0, 0.0, 1 - numerator / denominator),
                )
                out[:, slot] = np.where(weight > 0, value, math.nan)
        return out

    def replicates(self, cells: Sequence[int] | None = None) -> np.ndarray:
        """(n_boot, series) replicate values of the pooled cells (default: all).

        Stratified: the strata combined into one value. Median series are NaN.
        """
        chosen = list(range(self.n_cells)) if cells is None else list(cells)
        # Series of other kinds (medians, ratios of sums) have no replicates here: NaN.
        out = np.full((self.n_boot, len(self.kinds)), math.nan)
        if not chosen:
            out[:] = math.nan
            return out
        sums = self.sums[chosen]  # (cells, series, blocks)
        weights = self.weight_sums[chosen]  # (cells, blocks)
        maxima = self.maxima[chosen].max(axis=0)  # (series, blocks)
        strata_weight = weights.sum(axis=1)  # (cells,)
        if not self.stratified:
            sums = sums.sum(axis=0, keepdims=True)
            weights = weights.sum(axis=0, keepdims=True)
            strata_weight = strata_weight.sum(keepdims=True)
        total_weight = float(strata_weight.sum())
        # The draws are kept for the next call (e.g. the next group) while small.
        keep = self.n_boot * self.blocks <= _KEPT_DRAWS
        if keep and self._draws is None:
            self._draws = poisson_draws(self.seed, self.n_boot, self.blocks)
        with np.errstate(all="ignore"):
            for start in range(0, self.n_boot, _DRAW_ROWS):
                stop = min(self.n_boot, start + _DRAW_ROWS)
                if self._draws is not None:
                    draws = self._draws[start:stop].astype(np.float64)
                else:
                    draws = poisson_draws(self.seed, stop - start, self.blocks, start).astype(
                        np.float64
                    )
                # (replicates, cells, series) / (replicates, cells)
                numerators = np.einsum("rk,csk->rcs", draws, sums)
                denominators = draws @ weights.T
                ratio = numerators / denominators[:, :, None]
                # Each stratum's mean, weighted by the stratum's own (fixed) weight.
                pooled = np.einsum("rcs,c->rs", ratio, strata_weight)
                for slot, j in enumerate(self._mean_cols):
                    kind = self.kinds[j]
                    if kind is Reduction.SUM:
                        out[start:stop, j] = pooled[:, slot]
                    else:
                        mean = pooled[:, slot] / total_weight
                        out[start:stop, j] = np.sqrt(mean) if kind is Reduction.SQRT_MEAN else mean
                if self._skill_cols:
                    units = self.skill[chosen].reshape(-1, len(self._skill_cols), 6, self.blocks)
                    scores = self._skill_replicates(draws, units)
                    for slot, j in enumerate(self._skill_cols):
                        out[start:stop, j] = scores[:, slot]
                if self._calib_cols:
                    gaps = self._calibration_replicates(draws, chosen)
                    out[start:stop, self._calib_cols] = gaps
                if self._tweedie_cols:
                    scores = self._tweedie_replicates(draws, chosen)
                    out[start:stop, self._tweedie_cols] = scores
                if self._quantile_cols and self.null_ready:
                    null = _NULL_ALL if cells is None else _NULL_OWN
                    pinball = self.quantile[chosen].sum(axis=0)  # (series, 3, blocks)
                    model = draws @ pinball[:, _MODEL, :].T  # (replicates, series)
                    deviance = draws @ pinball[:, null, :].T
                    value = np.where(
                        model == 0, 1.0, np.where(deviance == 0, 0.0, 1.0 - model / deviance)
                    )
                    weight = draws @ self.weight_sums[chosen].sum(axis=0)
                    out[start:stop, self._quantile_cols] = np.where(
                        weight[:, None] > 0, value, math.nan
                    )
                drawn = draws > 0
                for slot, j in enumerate(self._max_cols):
                    out[start:stop, j] = np.where(drawn, maxima[slot][None, :], -math.inf).max(
                        axis=1
                    )
        out[np.isneginf(out) & np.isin(np.arange(len(self.kinds)), self._max_cols)[None, :]] = (
            math.nan
        )
        return out


def percentile_interval(replicates: np.ndarray, level: float) -> tuple[float, float]:
    """The (low, high) percentile interval of replicate values at a confidence level."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


# ---------------------------------------------------------------------- the median


def median_rank(n: int, level: float) -> int:
    """The rank j (1-based) of the order-statistic interval [X_(j), X_(n+1-j)] for the median.

    The largest j with P(Binomial(n, 1/2) <= j - 1) <= (1 - level) / 2, so the
    interval covers the median with probability >= level (continuous data).
    0 when even [X_(1), X_(n)] covers less (tiny n): the caller uses the range.
    """
    if n <= 0:
        return 0
    tail = (1.0 - level) / 2.0
    half = n / 2.0
    spread = 0.5 * math.sqrt(n)
    lo = max(0, int(half - 12.0 * spread) - 1)
    hi = n // 2 + 1
    ks = np.arange(lo, hi + 1)
    log_norm = math.lgamma(n + 1) - n * math.log(2.0)
    log_pmf = np.array([log_norm - math.lgamma(k + 1) - math.lgamma(n - k + 1) for k in ks])
    cdf = np.cumsum(np.exp(log_pmf))
    ok = np.flatnonzero(cdf <= tail)
    if ok.size == 0:
        return 0
    return int(ks[ok[-1]]) + 1


def median_interval_targets(
    n_rows: int, sum_w: float, sum_w2: float, level: float, weighted: bool
) -> float:
    """The cumulative weight at which the interval's order statistics sit (from each end).

    Unweighted: the rank j itself. Weighted: j / n_eff of the total weight,
    with Kish's effective sample size n_eff = (sum w)^2 / sum w^2.
    """
    if not weighted:
        return float(median_rank(n_rows, level))
    if sum_w <= 0 or sum_w2 <= 0:
        return 0.0
    n_eff = int(math.floor(sum_w * sum_w / sum_w2 + 1e-9))
    return median_rank(n_eff, level) / max(n_eff, 1) * sum_w


def _inverted_cdf_at(values: np.ndarray, weights: np.ndarray, target: float, top: bool) -> float:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    if top:
        v, w = v[::-1], w[::-1]
    cum = np.cumsum(w)
    i = min(int(np.searchsorted(cum, target, side="left")), v.size - 1)
    return float(v[i])


@dataclass
class MedianInterval(MedianAccumulator):
    """The exact weighted median and its order-statistic confidence interval, streamed.

    Like :class:`~losscli.core.reduction.MedianAccumulator` (same passes,
    same bounded memory), with two more order statistics selected: the
    values at cumulative weight ``t`` from the bottom and from the top, ``t``
    from :func:`median_interval_targets`.
    """

    level: float = 0.95
    n_rows: int = 0
    sum_w: float = 0.0
    sum_w2: float = 0.0
    any_weight: bool = False

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        values = np.asarray(values, dtype=np.float64)
        if weights is None:
            self.n_rows += int(values.size)
            self.sum_w += float(values.size)
            self.sum_w2 += float(values.size)
        else:
            w = np.asarray(weights, dtype=np.float64)
            positive = w[w > 0]
            self.any_weight = True
            self.n_rows += int(positive.size)
            self.sum_w += float(np.sum(positive))
            self.sum_w2 += float(np.dot(positive, positive))
        super().add(values, weights)

    def merge(self, other: MedianAccumulator) -> MedianInterval:
        merged = super().merge(other)
        out = MedianInterval(cap=self.cap, bits=self.bits, level=self.level)
        for name in ("values", "weights", "kept", "weighted", "counts", "bin_weights", "total_w"):
            setattr(out, name, getattr(merged, name))
        if isinstance(other, MedianInterval):
            out.n_rows = self.n_rows + other.n_rows
            out.sum_w = self.sum_w + other.sum_w
            out.sum_w2 = self.sum_w2 + other.sum_w2
            out.any_weight = self.any_weight or other.any_weight
        return out

    def _target(self) -> float:
        return median_interval_targets(
            self.n_rows, self.sum_w, self.sum_w2, self.level, self.any_weight
        )

    def refine_plan(self) -> None:
        assert self.counts is not None and self.bin_weights is not None
        if not self._selectors:
            target = self._target()
            shift = 64 - self.bits
            # A rank of 0 (tiny n) means the whole range: the first and last values.
            tail = target if target > 0 else 1e-300
            self._selectors = [
                _OrderStatistic(from_top, t, self.cap, self.bits, shift)
                for from_top, t in (
                    (False, 0.5 * self.total_w),
                    (True, 0.5 * self.total_w),
                    (False, tail),
                    (True, tail),
                )
            ]
            for selector in self._selectors:
                selector.locate(self.counts, self.bin_weights)

    def result(self) -> float:
        if self.counts is not None:
            if self.needs_pass:
                raise RuntimeError("the median needs refinement passes over the values first")
            low, high = self._selectors[0].value, self._selectors[1].value
            assert low is not None and high is not None
            return 0.5 * (low + high)
        if not self.values:
            return math.nan
        weights = np.concatenate(self.weights) if self.weighted else None
        return weighted_percentile(np.concatenate(self.values), weights, 50.0)

    def interval(self) -> tuple[float, float]:
        """(low, high): the order-statistic interval of the median."""
        if self.counts is not None:
            if self.needs_pass:
                raise RuntimeError("the interval needs refinement passes over the values first")
            low, high = self._selectors[2].value, self._selectors[3].value
            assert low is not None and high is not None
            return low, high
        if not self.values:
            return math.nan, math.nan
        values = np.concatenate(self.values)
        weights = np.concatenate(self.weights) if self.weighted else np.ones(values.size)
        keep = weights > 0
        values, weights = values[keep], weights[keep]
        if values.size == 0:
            return math.nan, math.nan
        target = self._target()
        if target <= 0:
            return float(values.min()), float(values.max())
        return (
            _inverted_cdf_at(values, weights, target, top=False),
            _inverted_cdf_at(values, weights, target, top=True),
        )


# ---------------------------------------------------------------------- paired medians

# Half-width of the band that brackets every replicate median, in standard errors
# of the median's cumulative-weight position (0.5 / sqrt(n_eff)): a replicate's
# median leaves the band with probability about 2e-9.
BAND_SIGMAS = 6.0
# Equal-width bins of the band in which each replicate median is resolved.
BAND_BINS = 128


def band_levels(n_eff: float) -> tuple[float, float]:
    """Percentiles (low, high) of the values between which every replicate median lies.

    ``n_eff`` is the (effective) number of rows: Kish's (sum w)^2 / sum w^2
    with weights. Small samples get the whole range (0, 100).
    """
    if not n_eff > 0:
        return 0.0, 100.0
    delta = BAND_SIGMAS * 0.5 / math.sqrt(n_eff)
    return 100.0 * max(0.0, 0.5 - delta), 100.0 * min(1.0, 0.5 + delta)


@dataclass
class MedianBands:
    """Replicate medians of several series under the Poisson block weights, streamed.

    The exact replicate median needs every row (each replicate re-weights
    them all). Here, for each median series, a band ``[lo, hi]`` around the
    full-sample median (from :func:`band_levels`: exact order statistics
    found by the plan in pass 1) is cut into :data:`BAND_BINS` equal bins and
    every block keeps, per series, the weight below the band, the weight in
    each bin and its total weight: ``series x blocks x (bins + 2)`` floats,
    merged by addition. A replicate's cumulative weight at each bin edge is
    then ``sum_k P_k C_k(edge)`` (P_k the block's Poisson draw, the same as
    :class:`PoissonBootstrap`'s, so the replicates stay paired with every
    other series), and its median is where that reaches half the replicate's
    total weight, interpolated linearly inside the bin. The band is
    ``2 x BAND_SIGMAS`` standard errors wide, so a bin is about a tenth of a
    standard error and the interpolation error a small part of that: far
    below the Monte Carlo error of the interval. A replicate whose median
    falls outside the band (probability ~2e-9) is given the band's end.
    """

    bands: list[tuple[float, float]]
    seed: int = 0
    bins: int = BAND_BINS
    blocks: int = BLOCKS
    below: np.ndarray = field(init=False)  # (series, blocks)
    counts: np.ndarray = field(init=False)  # (series, blocks, bins)
    total: np.ndarray = field(init=False)  # (series, blocks)

    def __post_init__(self) -> None:
        n = len(self.bands)
        self.below = np.zeros((n, self.blocks))
        self.counts = np.zeros((n, self.blocks, self.bins))
        self.total = np.zeros((n, self.blocks))

    def update(
        self, values: Sequence[np.ndarray], weights: np.ndarray | None, rows: np.ndarray
    ) -> None:
        """Add one batch: each series' per-row values, the weights, global row indices."""
        block = blocks_of(rows, self.seed, self.blocks)
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        if w is not None:
            keep = w > 0
            block, w = block[keep], w[keep]
        total = np.bincount(block, weights=w, minlength=self.blocks)  # the same for every series
        for s, ((lo, hi), raw) in enumerate(zip(self.bands, values)):
            v = np.asarray(raw, dtype=np.float64)
            if w is not None:
                v = v[keep]
            self.total[s] += total
            under = v < lo
            self.below[s] += np.bincount(
                block[under], weights=None if w is None else w[under], minlength=self.blocks
            )
            inside = (v >= lo) & (v <= hi)
            if hi > lo:
                with np.errstate(all="ignore"):
                    index = np.floor((v[inside] - lo) / (hi - lo) * self.bins).astype(np.intp)
                np.clip(index, 0, self.bins - 1, out=index)
            else:
                index = np.zeros(int(np.count_nonzero(inside)), dtype=np.intp)
            flat = block[inside] * self.bins + index
            # Few rows fall in the band (it is a few standard errors wide): sum them per
            # (block, bin) they fill and add those sums in place, rather than a
            # blocks x bins array a batch (4 MiB) that is mostly zeros. The same sums,
            # in the same order, as a full bincount.
            filled, position = np.unique(flat, return_inverse=True)
            sums = np.bincount(position, weights=None if w is None else w[inside])
            self.counts[s].reshape(-1)[filled] += sums

    def merge(self, other: MedianBands) -> MedianBands:
        """The state of both inputs (disjoint rows, same bands, seed and blocks)."""
        if (other.bands, other.seed, other.bins, other.blocks) != (
            self.bands,
            self.seed,
            self.bins,
            self.blocks,
        ):
            raise ValueError("only median bands of the same series, seed and blocks merge")
        out = MedianBands(self.bands, self.seed, self.bins, self.blocks)
        out.below = self.below + other.below
        out.counts = self.counts + other.counts
        out.total = self.total + other.total
        return out

    def replicates(self, n_boot: int, draws: np.ndarray | None = None) -> np.ndarray:
        """(n_boot, series) replicate medians (NaN where a replicate has no weight).

        ``draws`` are the (n_boot, blocks) Poisson draws when already at hand.
        """
        out = np.full((n_boot, len(self.bands)), math.nan)
        cum = np.concatenate(
            [self.below[:, :, None], self.below[:, :, None] + np.cumsum(self.counts, axis=2)],
            axis=2,
        )  # (series, blocks, bins + 1): weight at or below each bin's upper edge
        for start in range(0, n_boot, _DRAW_ROWS):
            stop = min(n_boot, start + _DRAW_ROWS)
            if draws is not None:
                p = draws[start:stop].astype(np.float64)
            else:
                p = poisson_draws(self.seed, stop - start, self.blocks, start).astype(np.float64)
            for s, (lo, hi) in enumerate(self.bands):
                totals = p @ self.total[s]  # (replicates,)
                at_edges = p @ cum[s]  # (replicates, bins + 1)
                out[start:stop, s] = _band_medians(at_edges, totals, lo, hi, self.bins)
        return out


def _band_medians(
    at_edges: np.ndarray, totals: np.ndarray, lo: float, hi: float, bins: int
) -> np.ndarray:
    """Where each row's cumulative weight reaches half its total, interpolated in its bin."""
    half = 0.5 * totals
    reached = at_edges >= half[:, None]
    edge = np.where(reached.any(axis=1), reached.argmax(axis=1), bins + 1)
    width = (hi - lo) / bins
    out = np.empty(totals.shape[0])
    rows = np.arange(totals.shape[0])
    inside = (edge >= 1) & (edge <= bins)
    e = edge[inside]
    r = rows[inside]
    before, after = at_edges[r, e - 1], at_edges[r, e]
    with np.errstate(all="ignore"):
        frac = np.where(after > before, (half[r] - before) / (after - before), 1.0)
    out[inside] = lo + (e - 1 + np.clip(frac, 0.0, 1.0)) * width
    out[edge == 0] = lo
    out[edge > bins] = hi
    out[~(totals > 0)] = math.nan
    return np.minimum(out, hi)


# ---------------------------------------------------------------------- in memory


def replicate_medians(
    values: np.ndarray, weights: np.ndarray | None, n_boot: int, seed: int
) -> np.ndarray:
    """Replicate weighted medians under the same Poisson block weights as :class:`PoissonBootstrap`.

    In memory only (sorts the values once, then O(n) per replicate): the
    paired intervals of ``compare --ci`` for median_ae on data held in memory.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    base = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    block = block_of_rows(np.arange(n, dtype=np.uint64), seed)
    order = np.argsort(values, kind="stable")
    v, b, w = values[order], block[order], base[order]
    out = np.empty(n_boot)
    for r in range(n_boot):
        rw = w * poisson_draws(seed, 1, BLOCKS, r)[0, b]
        rw[rw < 0] = 0.0
        cum = np.cumsum(rw)
        total = cum[-1] if cum.size else 0.0
        if not total > 0:
            out[r] = math.nan
            continue
        half = 0.5 * total
        low = v[min(int(np.searchsorted(cum, half, side="left")), n - 1)]
        # From the top: the largest value with at least half the weight at or above it.
        above = total - np.concatenate([[0.0], cum[:-1]])
        k = int(np.flatnonzero(above >= half)[-1])
        out[r] = 0.5 * (low + v[k])
    return out


def bootstrap_replicates(
    series: Sequence[tuple[np.ndarray, Reduction]],
    weights: np.ndarray | None,
    n_boot: int,
    seed: int,
    strata: np.ndarray | None = None,
) -> np.ndarray:
    """An (n_boot, len(series)) array of replicate values of data in memory, paired.

    The same draws as a :class:`PoissonBootstrap` fed the rows in order, so
    in-memory and streamed intervals agree; medians resampled exactly
    (:func:`replicate_medians`).
    """
    if not series:
        return np.empty((n_boot, 0))
    kinds: list[Reducer] = [kind for _, kind in series]
    state = PoissonBootstrap(kinds, n_boot, seed, stratified=strata is not None)
    cells = None if strata is None else np.unique(strata, return_inverse=True)[1]
    state.update([values for values, _ in series], weights, cells=cells)
    if strata is None:
        fill_null_in_memory(state, [values for values, _ in series], weights)
    out = state.replicates()
    for j, (values, kind) in enumerate(series):
        if kind is Reduction.MEDIAN:
            out[:, j] = replicate_medians(values, weights, n_boot, seed)
    return out


def fill_null_in_memory(
    state: PoissonBootstrap, values: Sequence[np.ndarray], weights: np.ndarray | None
) -> None:
    """The null deviances of the d2_pinball series of one cell, its rows in memory (in order)."""
    series = state.quantile_series
    if not series:
        return
    from losscli.core.reduction import D2QuantileAccumulator

    y = np.asarray(values[series[0][0]], dtype=np.float64).reshape(-1, 2)[:, 1]
    quantiles = []
    for j, alpha in series:
        acc = D2QuantileAccumulator(alpha=alpha)
        acc.add(values[j], weights)
        quantiles.append(acc.quantile.result())
    state.add_null_deviance(y, weights, np.array(quantiles)[:, None], quantiles)
    state.null_done()
