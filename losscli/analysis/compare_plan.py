"""``loss compare FILE`` as a plan: one pass of mergeable accumulators, exact figures.

Pass 1 (:class:`CompareScan`) computes every loss for every model batch by
batch, as ``compute`` does, and keeps per (loss, model): the reduction's
partial sums, the largest term, and :class:`~losscli.analysis.exact.Tracked`
kept ranges of the per-row terms (around their median and 95th percentile)
and of the per-row contributions w x l (around the worst 1% of rows), plus
the counts behind the warnings. The median, p95 and top-1% share are then
exact from the kept ranges; in the rare case a quantile fell outside them
(a file sorted by error, say), further passes find it exactly by histogram
refinement. The figures go to :func:`~losscli.analysis.compare.assemble_report`,
the same judgement as the in-memory :func:`~losscli.analysis.compare.compare_models`.

With ``ci_level`` (``compare --ci``) pass 1 also feeds a
:class:`~losscli.analysis.bootstrap.PoissonBootstrap` of every series (the
same Poisson block draws for every model, keyed by the file's row numbers,
so the intervals are paired and do not depend on how the input is split),
and median-type losses keep their pass-1 values near the median exactly
enough to bracket every replicate median (:func:`~losscli.analysis.bootstrap.band_levels`);
one more pass then fills :class:`~losscli.analysis.bootstrap.MedianBands`,
from which the replicate medians come. Memory stays bounded: 4,096 blocks per
series, 4,096 x 130 floats per median series. d2_pinball / d2_absolute_error
take one more pass (:class:`NullStep`): each block's null deviance about the
full data's quantile of y_true, known after pass 1.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from losscli.analysis import significance as sig
from losscli.analysis.bootstrap import (
    MedianBands,
    PoissonBootstrap,
    band_levels,
    poisson_draws,
)
from losscli.analysis.compare import (
    CompareReport,
    InputFacts,
    ItemFigures,
    _one_row,
    assemble_report,
    per_row_statistics,
)
from losscli.analysis.diagnostics import (
    DOMINANT_SHARE,
    ROWSUM_TOLERANCE,
    clipping_text,
    dominant_text,
    hard_labels,
    hard_labels_text,
    input_warnings,
    mape_zero_text,
    overflow_text,
    rowsum_applies,
    rowsum_text,
    undefined_warnings,
)
from losscli.analysis.evaluate import PerSample, custom_inf_text, per_sample_losses
from losscli.analysis.exact import (
    Tracked,
    exact_percentiles,
    exact_top_sums,
    share_tracked,
    top_count,
)
from losscli.analysis.plan import InputTally
from losscli.core.dataset import Dataset
from losscli.core.quantiles import KeptRanges
from losscli.core.reduction import Accumulator, MaxAccumulator, new_accumulator
from losscli.core.registry import EPS, LossSelection, Reduction, Task

TOP_FRACTION = 0.01
PERCENTILES = (50.0, 95.0)


@dataclass
class ItemState:
    """Pass-1 accumulators of one (loss, model)."""

    value: Accumulator | None = None  # MEAN / SQRT_MEAN / SUM / MAX
    median_value: Tracked | None = None  # MEDIAN over all rows, when terms cannot give it
    terms: Tracked | None = None  # defined rows' terms (weighted): median, p95
    largest: MaxAccumulator = field(default_factory=MaxAccumulator)
    contrib: Tracked | None = None  # defined rows' w x l (unit weights): top 1%
    shared: bool = False  # unweighted: ``terms`` serves as ``contrib`` too
    contrib_total: float = 0.0
    n_defined: int = 0
    all_contrib: Tracked | None = None  # every row's w x l, when some rows are undefined
    all_total: float = 0.0
    n_all: int = 0
    scalar: bool = False
    supported: bool = False  # the loss is defined on some rows only
    finite: bool = True
    inf_count: int = 0
    inf_rows: list[int] = field(default_factory=list)
    # P-LOG0: rows predicting 0 for what happened, their loss, the total loss.
    wrong_count: int = 0
    wrong_sum: float = 0.0
    loss_sum: float = 0.0

    def merge(self, other: ItemState) -> ItemState:
        out = ItemState(
            value=_merge_opt(self.value, other.value),
            median_value=_merge_opt(self.median_value, other.median_value),
            terms=_merge_opt(self.terms, other.terms),
            largest=self.largest.merge(other.largest),
            contrib=_merge_opt(self.contrib, other.contrib),
            contrib_total=self.contrib_total + other.contrib_total,
            n_defined=self.n_defined + other.n_defined,
            all_contrib=_merge_opt(self.all_contrib, other.all_contrib),
            all_total=self.all_total + other.all_total,
            n_all=self.n_all + other.n_all,
            shared=self.shared or other.shared,
            scalar=self.scalar or other.scalar,
            supported=self.supported or other.supported,
            finite=self.finite and other.finite,
            inf_count=self.inf_count + other.inf_count,
            inf_rows=(self.inf_rows + other.inf_rows)[:5],
            wrong_count=self.wrong_count + other.wrong_count,
            wrong_sum=self.wrong_sum + other.wrong_sum,
            loss_sum=self.loss_sum + other.loss_sum,
        )
        return out


def _merge_opt(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a.merge(b)


@dataclass(frozen=True)
class CiOptions:
    """What ``compare --ci`` asks: the level, the resamples and the seed."""

    level: float
    n_boot: int = 1000
    seed: int = 0


@dataclass
class PairedState:
    """Pass-1 state of the paired bootstrap: every series' block sums, the weight totals."""

    boot: PoissonBootstrap
    n_rows: int = 0  # rows of positive weight
    sum_w: float = 0.0
    sum_w2: float = 0.0

    def add(self, values: list[np.ndarray], batch: Dataset) -> None:
        weights = batch.weights
        cells = None if batch.strata is None else np.asarray(batch.strata, dtype=np.intp)
        self.boot.update(values, weights, cells=cells, rows=row_keys(batch))
        if weights is None:
            self.n_rows += batch.n_rows
            self.sum_w += batch.n_rows
            self.sum_w2 += batch.n_rows
        else:
            positive = weights[weights > 0]
            self.n_rows += int(positive.size)
            self.sum_w += float(np.sum(positive))
            self.sum_w2 += float(np.dot(positive, positive))

    def merge(self, other: PairedState) -> PairedState:
        return PairedState(
            self.boot.merge(other.boot),
            self.n_rows + other.n_rows,
            self.sum_w + other.sum_w,
            self.sum_w2 + other.sum_w2,
        )

    @property
    def n_eff(self) -> float:
        """Kish's effective number of rows (the rows themselves when unweighted)."""
        return self.sum_w * self.sum_w / self.sum_w2 if self.sum_w2 > 0 else 0.0


def row_keys(batch: Dataset) -> np.ndarray:
    """Each row's global 0-based key for the bootstrap draws: its row number in the input.

    Keys do not depend on how the input is cut into batches or partitions.
    GAN rows carry two values (d_real, d_fake), which get keys of their own.
    """
    rows = np.asarray(batch.row_numbers, dtype=np.uint64) - np.uint64(1)
    if batch.strata is not None:
        rows = rows * np.uint64(2) + np.asarray(batch.strata, dtype=np.uint64)
    return cast(np.ndarray, rows)


@dataclass(frozen=True)
class BandPositions:
    """Positions a median's kept ranges keep besides the median: the band's ends."""

    def __call__(self, ranges: KeptRanges) -> list[float]:
        low, high = band_levels(float(ranges.total_count))
        total = ranges.total_weight
        return [low / 100.0 * total, high / 100.0 * total]

    def span(self, ranges: KeptRanges) -> list[tuple[float, float]]:
        """The stretch kept whole: where the band's ends will be once every row is in.

        The band (50% +- 3 / sqrt(n)) only narrows toward the median as rows come,
        so its ends stay inside today's band, widened by half for the noise of
        today's quantiles. Keeping only windows around today's ends lost them
        from ~30M rows on (the ends moved out of the windows between two
        narrowings), and three refinement passes then had to find them.
        """
        low, high = band_levels(float(ranges.total_count))
        low, high = max(0.0, 50.0 - 1.5 * (50.0 - low)), min(100.0, 50.0 + 1.5 * (high - 50.0))
        total = ranges.total_weight
        return [(low / 100.0 * total, high / 100.0 * total)]


@dataclass
class CompareState:
    """Pass-1 state of the whole compare: input tally, items, warning counts."""

    tally: InputTally = field(default_factory=InputTally)
    items: list[ItemState] = field(default_factory=list)
    row_sums: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    mape_zeros: int = 0
    mape_rows: list[int] = field(default_factory=list)
    not_hard: set[str] = field(default_factory=set)  # models with a prediction not 0 or 1
    paired: PairedState | None = None  # compare --ci
    tests: sig.TestState | None = None  # SPEC 12 significance (analysis/significance.py)

    def merge(self, other: CompareState) -> CompareState:
        row_sums = dict(self.row_sums)
        for model, (count, row, value) in other.row_sums.items():
            mine = row_sums.get(model, (0, 0, 0.0))
            row_sums[model] = (
                (mine[0] + count, mine[1], mine[2]) if mine[0] else (count, row, value)
            )
        return CompareState(
            tally=self.tally.merge(other.tally),
            items=[a.merge(b) for a, b in zip(self.items, other.items)],
            row_sums=row_sums,
            mape_zeros=self.mape_zeros + other.mape_zeros,
            mape_rows=(self.mape_rows + other.mape_rows)[:5],
            not_hard=self.not_hard | other.not_hard,
            paired=_merge_opt(self.paired, other.paired),
            tests=None
            if self.tests is None or other.tests is None
            else self.tests.merged(other.tests),
        )


@dataclass
class ItemValues:
    """Derives one item's per-row quantities from a batch (memoised per batch)."""

    selections: list[LossSelection]
    models: list[str]
    _batch: Dataset | None = None
    _items: list[PerSample] | None = None

    def items(self, batch: Dataset) -> list[PerSample]:
        if self._batch is not batch:
            self._items = per_sample_losses(batch, self.selections)
            self._batch = batch
        assert self._items is not None
        return self._items

    def __call__(self, batch: Dataset, key: Hashable) -> tuple[np.ndarray, np.ndarray | None]:
        assert isinstance(key, tuple)
        j: int = key[0]
        what: str = key[1]
        item = self.items(batch)[j]
        weights = batch.weights
        if what == "value":
            return item.values, weights
        values, w = item.defined(weights)
        if what == "terms":
            return values, w
        if what == "contrib":
            return _contrib(values, w), None
        return _contrib(item.values, weights), None  # "all_contrib"

    def __getstate__(self) -> dict[str, Any]:
        return {"selections": self.selections, "models": self.models}


def _contrib(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return values
    return np.where(weights > 0, weights * values, 0.0)


@dataclass
class CompareScan:
    """Pass 1 of compare: every loss of every model, batch by batch."""

    selections: list[LossSelection]
    models: list[str]
    task: Task
    from_logits: bool
    mape: bool  # P-MAPE0 is checked (mape selected)
    ci: CiOptions | None = None
    stratified: bool = False  # GAN: d_real and d_fake resampled each within itself
    tests: list[sig.PlannedTest] = field(default_factory=list)  # SPEC 12 significance

    @property
    def more_passes(self) -> bool:
        """--ci with a median-type loss: its bands take a second pass (plan.more_passes)."""
        return self.ci is not None and any(
            s.spec.reduction is Reduction.MEDIAN for s in self.selections
        )

    def new_state(self) -> CompareState:
        n = len(self.selections) * len(self.models)
        state = CompareState(items=[ItemState() for _ in range(n)])
        state.tests = sig.new_test_state(self.tests)
        if self.ci is not None:
            kinds = [s.reducer for s in self.selections for _ in self.models]
            state.paired = PairedState(
                PoissonBootstrap(kinds, self.ci.n_boot, self.ci.seed, self.stratified)
            )
        return state

    def update(self, state: CompareState, batch: Dataset) -> CompareState:
        state.tally.add(batch)
        items = per_sample_losses(batch, self.selections)
        weights = batch.weights
        defined: list[np.ndarray | None] = []
        dws: list[np.ndarray | None] = []
        kinds: list[Hashable] = []
        for j, item in enumerate(items):
            if item.values.ndim != 1:
                defined.append(None)
                dws.append(None)
                kinds.append(j)
                continue
            values, dw = item.defined(weights)
            defined.append(values)
            dws.append(dw)
            kinds.append(self._terms_questions(item, dw, j))
        # Items with the same terms and questions (mse and rmse; mae and max_error, and
        # median_ae without --ci) share one kept-ranges state, added to once a batch.
        share_tracked(
            state.items,
            "terms",
            defined,
            lambda j: self._new_terms(items[j], dws[j]),
            dws,
            kinds,
        )
        added: set[int] = set()
        for item, st, terms, dw in zip(items, state.items, defined, dws):
            self._update_item(st, item, batch, weights, terms, dw, added)
        if state.paired is not None and batch.n_rows:
            state.paired.add([item.values for item in items], batch)
        if state.tests is not None and self.tests:
            sig.add_rows(state.tests, self.tests, [item.values for item in items], weights)
        self._row_sums(state, batch)
        if self.mape and batch.y_true.ndim == 1:
            zeros = np.flatnonzero(np.abs(batch.y_true) < EPS)
            state.mape_zeros += int(zeros.size)
            if len(state.mape_rows) < 5:
                state.mape_rows.extend(int(batch.row_numbers[i]) for i in zeros[:5])
                del state.mape_rows[5:]
        return state

    def _band(self, item: PerSample) -> BandPositions | None:
        """compare --ci: a median also keeps the values at the ends of its bootstrap band."""
        median = item.selection.spec.reduction is Reduction.MEDIAN
        return BandPositions() if self.ci is not None and median else None

    @staticmethod
    def _own_median(item: PerSample) -> bool:
        """A median over every row (defined on some rows only), kept apart from its terms."""
        return item.selection.spec.reduction is Reduction.MEDIAN and item.support is not None

    def _terms_questions(self, item: PerSample, dw: np.ndarray | None, j: int) -> Hashable:
        """What the item's terms are asked (items share a state only if alike)."""
        if self._band(item) is not None and not self._own_median(item):
            return ("band", j)  # its own band positions: never shared
        return dw is None and not item.selection.spec.signed

    def _new_terms(self, item: PerSample, dw: np.ndarray | None) -> Tracked:
        band = self._band(item)
        on_terms = band is not None and not self._own_median(item)
        # Unweighted rows: the contributions are the terms themselves, one kept range.
        shared = dw is None and not item.selection.spec.signed
        return Tracked(
            percentiles=PERCENTILES,
            top_fraction=TOP_FRACTION if shared else None,
            extra_positions=band if on_terms else None,
            extra_spans=band.span if band is not None and on_terms else None,
        )

    def _update_item(
        self,
        st: ItemState,
        item: PerSample,
        batch: Dataset,
        weights: np.ndarray | None,
        defined: np.ndarray | None,
        dw: np.ndarray | None,
        added: set[int],
    ) -> None:
        spec = item.selection.spec
        kind = spec.reduction
        values = item.values
        st.scalar = st.scalar or item.scalar
        st.supported = st.supported or item.support is not None
        band = self._band(item)
        if self._own_median(item):
            if st.median_value is None:
                st.median_value = Tracked(
                    percentiles=(50.0,),
                    extra_positions=band,
                    extra_spans=None if band is None else band.span,
                )
            st.median_value.add(values, weights)
        elif kind is not Reduction.MEDIAN:
            if st.value is None:
                # The selection's reducer carries the parameters a SPEC 12 figure reads
                # (d2_pinball's alpha). d2_* keep their y values here (no cap): exact,
                # in memory proportional to the rows.
                st.value = new_accumulator(item.selection.reducer)
            st.value.add(values, weights)
        if values.ndim != 1:
            # r2, d2_*, ece: per-row components of a ratio, no per-row statistics.
            st.n_all += int(values.shape[0])
            return
        assert defined is not None and st.terms is not None  # share_tracked made it
        # Unweighted rows: the contributions are the terms themselves, one kept range.
        shared = dw is None and not spec.signed
        st.shared = shared
        if id(st.terms) not in added:  # shared by items with the same terms: added once
            st.terms.add(defined, dw)
            added.add(id(st.terms))
        st.largest.add(defined, dw)
        if not spec.signed:
            contrib = _contrib(defined, dw)
            if not shared:
                if st.contrib is None:
                    st.contrib = Tracked(top_fraction=TOP_FRACTION)
                st.contrib.add(contrib)
            with np.errstate(all="ignore"):
                st.contrib_total += float(np.sum(contrib))
            st.n_defined += int(defined.size)
        st.n_all += int(values.size)
        if kind is Reduction.MEAN and not spec.signed and item.support is not None:
            every = _contrib(values, weights)
            if st.all_contrib is None:
                st.all_contrib = Tracked(top_fraction=TOP_FRACTION)
            st.all_contrib.add(every)
            with np.errstate(all="ignore"):
                st.all_total += float(np.sum(every))
        if item.warnings:
            infinite = np.flatnonzero(np.isinf(values))
            st.inf_count += int(infinite.size)
            st.inf_rows = (st.inf_rows + [int(batch.row_numbers[i]) for i in infinite[:5]])[:5]
        elif st.finite and not np.all(np.isfinite(values)):
            st.finite = False
        if (
            "eps" in item.selection.params
            and not self.from_logits
            and self.task in (Task.BINARY, Task.MULTICLASS)
        ):
            q = batch.models[item.model]
            t = batch.y_true
            if q.ndim == 1:
                wrong = ((q == 0) & (t == 1)) | ((q == 1) & (t == 0))
            else:
                wrong = ((q == 0) & (t > 0)).any(axis=1)
            st.wrong_count += int(np.count_nonzero(wrong))
            st.wrong_sum += float(np.sum(values[wrong]))
            st.loss_sum += float(np.sum(values))

    def _row_sums(self, state: CompareState, batch: Dataset) -> None:
        if self.task in (Task.BINARY, Task.MULTICLASS) and not self.from_logits:
            for model in batch.model_names:
                if model not in state.not_hard and not hard_labels(batch.models[model]):
                    state.not_hard.add(model)
        if self.task is not Task.MULTICLASS or self.from_logits:
            return
        for model in batch.model_names:
            q = batch.models[model]
            if q.ndim != 2:
                continue
            sums = q.sum(axis=1)
            off = np.flatnonzero(np.abs(sums - 1.0) > ROWSUM_TOLERANCE)
            count, row, value = state.row_sums.get(model, (0, 0, 0.0))
            if off.size and count == 0:
                row, value = int(batch.row_numbers[off[0]]), float(sums[off[0]])
            state.row_sums[model] = (count + int(off.size), row, value)

    def merge(self, a: CompareState, b: CompareState) -> CompareState:
        return a.merge(b)

    def finish(self, state: CompareState) -> CompareState:
        return state


@dataclass
class BandStep:
    """The pass of ``compare --ci`` that fills the median series' bands (see MedianBands)."""

    template: MedianBands
    columns: list[int]  # the median series (indices into the (loss, model) items)
    extract: ItemValues

    def new_state(self) -> MedianBands:
        t = self.template
        return MedianBands(t.bands, t.seed, t.bins, t.blocks)

    def update(self, state: MedianBands, batch: Dataset) -> MedianBands:
        if batch.n_rows:
            items = self.extract.items(batch)
            state.update([items[j].values for j in self.columns], batch.weights, row_keys(batch))
        return state

    def merge(self, a: MedianBands, b: MedianBands) -> MedianBands:
        return a.merge(b)

    def finish(self, state: MedianBands) -> MedianBands:
        return state


@dataclass
class NullBlocks:
    """The paired bootstrap state taking the d2_pinball series' null deviances."""

    boot: PoissonBootstrap
    pooled: list[float]


@dataclass
class NullStep:
    """The pass of ``compare --ci`` that sums each block's null deviance about q (d2_pinball)."""

    template: NullBlocks

    def new_state(self) -> NullBlocks:
        boot = copy.copy(self.template.boot)
        boot.quantile = np.zeros_like(self.template.boot.quantile)
        return NullBlocks(boot, self.template.pooled)

    def update(self, state: NullBlocks, batch: Dataset) -> NullBlocks:
        if batch.n_rows:
            own = np.asarray(state.pooled, dtype=np.float64)[:, None]
            state.boot.add_null_deviance(
                batch.y_true, batch.weights, own, state.pooled, rows=row_keys(batch)
            )
        return state

    def merge(self, a: NullBlocks, b: NullBlocks) -> NullBlocks:
        a.boot.quantile = a.boot.quantile + b.boot.quantile
        return a

    def finish(self, state: NullBlocks) -> NullBlocks:
        # The model sums of pass 1 back beside the null deviances.
        model = self.template.boot.quantile.copy()
        model[:, :, 1:, :] = 0.0
        state.boot.quantile = state.boot.quantile + model
        return state


def compare_plan(
    selections_for: Callable[[Dataset], list[LossSelection]],
    *,
    ci_level: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Callable[[Dataset], Generator[Any, Any, CompareReport]]:
    """The plan of ``loss compare FILE`` (losses chosen from the first batch).

    ``ci_level`` adds the paired-bootstrap intervals of ``compare --ci``.
    """
    ci = None if ci_level is None else CiOptions(ci_level, n_boot, seed)

    def plan(head: Dataset) -> Generator[Any, Any, CompareReport]:
        selections = selections_for(head)
        models = head.model_names
        scan = CompareScan(
            selections,
            models,
            head.task,
            head.from_logits,
            any(s.name == "mape" for s in selections),
            ci=ci,
            stratified=head.strata is not None,
            tests=sig.planned_tests(selections, models),
        )
        state: CompareState = yield scan
        pairs = [(s, m) for s in selections for m in models]
        extract = ItemValues(selections, models)
        tracked: dict[Hashable, Tracked] = {}
        asked: dict[Hashable, tuple[float, ...]] = {}
        ks: dict[Hashable, int] = {}
        for j, st in enumerate(state.items):
            if st.median_value is not None:
                tracked[j, "value"] = st.median_value
                asked[j, "value"] = (50.0,)
            if st.shared:
                st.contrib = st.terms
            per_row = per_row_statistics(pairs[j][0].spec) and not st.scalar
            if st.terms is not None and (per_row or st.value is None):
                tracked[j, "terms"] = st.terms
                asked[j, "terms"] = PERCENTILES if per_row else (50.0,)
            if st.scalar:
                continue
            if st.contrib is not None and per_row and _usable_total(st.contrib_total):
                tracked[j, "contrib"] = st.contrib
                ks[j, "contrib"] = top_count(st.n_defined, TOP_FRACTION)
            dominant = st.all_contrib if st.all_contrib is not None else st.contrib
            if _warns_dominance(pairs[j][0], st) and dominant is not None:
                total = st.all_total if st.all_contrib is not None else st.contrib_total
                if _usable_total(total):
                    key = (j, "all_contrib" if st.all_contrib is not None else "contrib")
                    tracked[key] = dominant
                    ks[key] = top_count(st.n_all, TOP_FRACTION)
        bands = _band_keys(state, pairs) if ci is not None else {}
        for band_key, levels in bands.items():
            asked[band_key] = tuple(dict.fromkeys(asked.get(band_key, ()) + levels))
        percentiles = yield from exact_percentiles(tracked, asked, extract)
        tops = yield from exact_top_sums(tracked, ks, extract)
        replicates = None
        if ci is not None and state.paired is not None and state.tally.n_rows > 0:
            boot = state.paired.boot
            if not boot.null_ready:
                # d2_pinball's intervals: the null deviances about the full data's quantile.
                pooled = [state.items[j].value.quantile.result() for j, _ in boot.quantile_series]  # type: ignore[union-attr]
                null: NullBlocks = yield NullStep(NullBlocks(boot, pooled))
                state.paired.boot = null.boot
                state.paired.boot.null_done()
            replicates = yield from _replicates(ci, state.paired, bands, percentiles, extract)
        figures = [
            _figures(selection, model, st, percentiles, tops, j)
            for j, ((selection, model), st) in enumerate(zip(pairs, state.items))
        ]
        facts = InputFacts(
            source=head.source,
            task=head.task.value,
            task_reason=head.task_reason,
            n_rows=state.tally.n_file_rows,
            n_dropped=state.tally.n_dropped,
            models=models,
            notes=state.tally.notes,
        )
        warnings = _warnings(state, pairs, tops, len(models) > 1, head)
        if ci is None:
            report = assemble_report(facts, figures, warnings)
        else:
            report = assemble_report(
                facts,
                figures,
                warnings,
                ci_level=ci.level,
                n_boot=ci.n_boot,
                seed=ci.seed,
                replicates=replicates,
            )
        # --- SPEC 12 significance (--time-col: a second pass for the HAC variance) ---
        assert state.tests is not None
        autocov = None
        column = head.columns.get("time")
        if "time" in head.extra and column:
            hac = sig.hac_step(selections, scan.tests, state.tests, column)
            if hac is not None:
                found = yield hac
                autocov = sig.full_autocov(scan.tests, found)
        return dataclasses.replace(report, tests=sig.results(scan.tests, state.tests, autocov))

    return plan


def _band_keys(
    state: CompareState, pairs: list[tuple[LossSelection, str]]
) -> dict[Hashable, tuple[float, float]]:
    """The tracked key of each median series and the percentiles bounding its band."""
    assert state.paired is not None
    levels = band_levels(state.paired.n_eff)
    out: dict[Hashable, tuple[float, float]] = {}
    for j, ((selection, _), st) in enumerate(zip(pairs, state.items)):
        if selection.spec.reduction is not Reduction.MEDIAN:
            continue
        if st.median_value is not None:
            out[j, "value"] = levels
        elif st.terms is not None:
            out[j, "terms"] = levels
    return out


def _replicates(
    ci: CiOptions,
    paired: PairedState,
    bands: dict[Hashable, tuple[float, float]],
    percentiles: dict[Hashable, dict[float, float]],
    extract: ItemValues,
) -> Generator[Any, Any, np.ndarray]:
    """(n_boot, series) paired replicate values; the medians from one more pass."""
    boot = paired.boot
    draws = None
    if ci.n_boot * boot.blocks <= 64 << 20:
        draws = poisson_draws(ci.seed, ci.n_boot, boot.blocks)
        boot._draws = draws
    out = boot.replicates()
    columns = [key[0] for key in bands]  # type: ignore[index]
    edges: list[tuple[float, float]] = []
    for key, (low, high) in bands.items():
        lo, hi = percentiles[key][low], percentiles[key][high]
        edges.append((lo, hi) if lo == lo and hi == hi else (0.0, 0.0))
    if columns:
        template = MedianBands(edges, ci.seed, blocks=boot.blocks)
        filled: MedianBands = yield BandStep(template, columns, extract)
        out[:, columns] = filled.replicates(ci.n_boot, draws)
    return out


def _usable_total(total: float) -> bool:
    return math.isfinite(total) and total > 0


def _warns_dominance(selection: LossSelection, st: ItemState) -> bool:
    spec = selection.spec
    return (
        spec.reduction is Reduction.MEAN
        and not spec.signed
        and st.n_all >= 100
        and st.inf_count == 0
    )


def _figures(
    selection: LossSelection,
    model: str,
    st: ItemState,
    percentiles: dict[Hashable, dict[float, float]],
    tops: dict[Hashable, float],
    j: int,
) -> ItemFigures:
    kind = selection.spec.reduction
    if kind is Reduction.MEDIAN:
        value = percentiles[j, "value" if st.median_value is not None else "terms"][50.0]
    else:
        assert st.value is not None
        value = st.value.result()
    if st.scalar or not per_row_statistics(selection.spec):
        return ItemFigures(selection, model, value, None, None, None, None, st.scalar)
    assert st.terms is not None
    if st.terms.ranges.total_weight > 0:
        median = _one_row(percentiles[j, "terms"][50.0], kind)
        p95 = _one_row(percentiles[j, "terms"][95.0], kind)
        largest = _one_row(st.largest.result(), kind)
    else:
        median = p95 = largest = math.nan
    share: float | None = None
    if not selection.spec.signed and (j, "contrib") in tops:
        share = float(tops[j, "contrib"] / st.contrib_total)
        if share != share:
            share = None
    return ItemFigures(selection, model, value, median, p95, largest, share, False)


def _warnings(
    state: CompareState,
    pairs: list[tuple[LossSelection, str]],
    tops: dict[Hashable, float],
    several_models: bool,
    head: Dataset,
) -> list[str]:
    """The warnings of :func:`~losscli.analysis.diagnostics.warnings_for`, from the counts."""
    out = input_warnings(state.tally.n_dropped, state.tally.n_rows)
    if head.task in (Task.BINARY, Task.MULTICLASS) and not head.from_logits:
        scored = {model for selection, model in pairs if selection.spec.properties.probabilistic}
        out.extend(
            hard_labels_text(m) for m in head.model_names if m in scored and m not in state.not_hard
        )
    seen: set[str] = set()
    for (selection, model), st in zip(pairs, state.items):
        if "eps" not in selection.params or model in seen or not st.wrong_count:
            continue
        seen.add(model)
        share = st.wrong_sum / max(st.loss_sum, 1e-300)
        out.append(
            clipping_text(
                model, st.wrong_count, selection.params["eps"], selection.spec.name, share
            )
        )
    for model in head.model_names:
        count, row, value = state.row_sums.get(model, (0, 0, 0.0))
        if count and rowsum_applies(head, [selection for selection, _ in pairs]):
            out.append(rowsum_text(model, count, row, value))
    if state.mape_zeros:
        out.append(mape_zero_text(state.mape_zeros, state.mape_rows))
    for j, ((selection, model), st) in enumerate(zip(pairs, state.items)):
        if not _warns_dominance(selection, st):
            continue
        key = (j, "all_contrib" if st.all_contrib is not None else "contrib")
        total = st.all_total if st.all_contrib is not None else st.contrib_total
        if key in tops and tops[key] / total > DOMINANT_SHARE:
            out.append(dominant_text(selection.label, model, float(tops[key] / total)))
    for (selection, model), st in zip(pairs, state.items):
        if st.inf_count:
            where = f" for model {model}" if several_models else ""
            out.append(custom_inf_text(selection.spec.name, where, st.inf_count, st.inf_rows))
        elif not st.finite:
            out.append(overflow_text(selection.label, model))
    figures = [(s.label, model, st.value) for (s, model), st in zip(pairs, state.items)]
    out.extend(undefined_warnings(figures, out))
    return out
