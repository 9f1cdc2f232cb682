"""``loss compute`` over chunks: mergeable accumulators, then exact median passes.

:class:`StreamingCompute` takes validated chunks (Datasets) one at a time.
For every chunk it computes the per-sample losses with the same
:func:`~losscli.analysis.evaluate.per_sample_losses` as the in-memory path and
adds them to the core's accumulators (one per loss, model and group), which
hold partial sums (count, sum of weights, weighted sum, max) and merge
exactly. Weighted medians (median_ae) keep their values while few and
otherwise a histogram; the per-row values are spooled so that
:meth:`StreamingCompute.finish` can run the refinement passes that make the
median exact. A whole file in memory is the same engine fed one chunk, so
both paths print the same numbers.

Warnings: with a single chunk they are exactly those of
:func:`~losscli.analysis.diagnostics.warnings_for`. Over several chunks the
counts and shares are merged; only the "worst 1% of rows carry N% of the
loss" share is then estimated from a histogram of the largest per-row
contributions (see :class:`TopShareEstimate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from losscli.analysis.bootstrap import (
    MedianInterval,
    PoissonBootstrap,
    percentile_interval,
)
from losscli.analysis.diagnostics import (
    DOMINANT_SHARE,
    ROWSUM_TOLERANCE,
    clipping_text,
    hard_labels,
    hard_labels_text,
    input_warnings,
    rowsum_applies,
    rowsum_text,
    true_class_zero,
    undefined_warnings,
    warnings_for,
)
from losscli.analysis.evaluate import PerSample, per_sample_losses
from losscli.analysis.results import ComputeReport, LossResult
from losscli.core.dataset import MAX_GROUPS, Dataset
from losscli.core.reduction import (
    Accumulator,
    D2QuantileAccumulator,
    D2TweedieAccumulator,
    MedianAccumulator,
    add_slices,
    key_bins,
    new_accumulator,
    pack_arrays,
    unpack_arrays,
)
from losscli.core.registry import EPS, LossSelection, Reduction, Task
from losscli.errors import DataError

# Rows a group's median keeps before switching to a (coarser) histogram.
GROUP_MEDIAN_CAP = 1 << 16
GROUP_MEDIAN_BITS = 12
MEDIAN_BITS = 16
# Rows an overall median collects at most in memory (its values while few, then the
# candidates of one refinement bin): bounds memory whatever the file size.
MEDIAN_CAP = 1 << 18
# Quantiles of the first chunk bounding the values spooled for the exact median.
BAND = (0.45, 0.55)
# Figures whose denominator needs a statistic of every row first (then another pass).
TWO_PASS = (Reduction.D2_QUANTILE, Reduction.D2_TWEEDIE)
Refinable = MedianAccumulator | D2QuantileAccumulator | D2TweedieAccumulator
REFINABLE = (MedianAccumulator, D2QuantileAccumulator, D2TweedieAccumulator)
# Bytes the bootstrap state (--ci) may take: blocks x series x groups floats.
CI_STATE_BYTES = 96 << 20


class Spool(Protocol):
    """What the engine needs from a spool: append chunks of arrays, iterate them again."""

    def append(self, arrays: dict[str, np.ndarray]) -> None: ...

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]: ...


class MemorySpool:
    """A spool in memory (for tests and single chunks)."""

    def __init__(self) -> None:
        self.chunks: list[dict[str, np.ndarray]] = []

    def append(self, arrays: dict[str, np.ndarray]) -> None:
        self.chunks.append(arrays)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return iter(self.chunks)


@dataclass
class TopShareEstimate:
    """Share of the total loss carried by the worst 1% of rows, in one pass.

    Contributions (weight x loss) at or above ``threshold`` (the 95th
    percentile of the first chunk) go into a 65,536-bin histogram of their
    float64 keys (count and sum per bin); those below are only counted and
    summed. The top 1% is summed from the histogram bins, the boundary bin at
    its mean value, so the share is exact up to a part of one bin (bins are
    1/16 of a binary order of magnitude wide).
    """

    threshold: float | None = None
    counts: np.ndarray = field(default_factory=lambda: np.zeros(1 << 16, dtype=np.int64))
    sums: np.ndarray = field(default_factory=lambda: np.zeros(1 << 16, dtype=np.float64))
    n_rows: int = 0
    total: float = 0.0

    def add(
        self, values: np.ndarray, weights: np.ndarray | None, total: float | None = None
    ) -> float:
        """Count a chunk in; returns the chunk's (weighted) sum.

        ``total``: that sum when the caller has it already (``np.sum(values)``
        of an unweighted chunk, as the mean's accumulator adds it up).
        """
        contrib = values if weights is None else np.where(weights > 0, weights * values, 0.0)
        self.n_rows += int(values.size)
        if total is not None and weights is None:
            chunk_total = total
        else:
            with np.errstate(all="ignore"):
                chunk_total = float(np.sum(contrib))
        self.total += chunk_total
        if contrib.size == 0:
            return chunk_total
        if self.threshold is None:
            k = max(0, int(0.95 * contrib.size) - 1)
            self.threshold = float(np.partition(contrib, k)[k])
        top = np.compress(contrib >= self.threshold, contrib)  # faster than a mask index
        if top.size:
            bins = key_bins(top, 16)  # order_keys(top) >> 48, read as uint16 when top >= 0
            # The bins a chunk's top rows fill are few (a bin is 1/16 of a binary order of
            # magnitude): count into that range rather than over all 65,536 bins.
            lo, hi = int(bins.min()), int(bins.max()) + 1
            part = (bins - bins.dtype.type(lo)).astype(np.intp)
            self.counts[lo:hi] += np.bincount(part, minlength=hi - lo)
            self.sums[lo:hi] += np.bincount(part, weights=top, minlength=hi - lo)
        return chunk_total

    def merge(self, other: TopShareEstimate) -> TopShareEstimate:
        """Both inputs' histogram (the same threshold: the plan sets it from the first batch)."""
        if self.threshold != other.threshold:
            raise ValueError("only estimates with the same threshold merge")
        return TopShareEstimate(
            self.threshold,
            self.counts + other.counts,
            self.sums + other.sums,
            self.n_rows + other.n_rows,
            self.total + other.total,
        )

    def __getstate__(self) -> dict[str, object]:
        return pack_arrays(self.__dict__, ("counts", "sums"))

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(unpack_arrays(state, ("counts", "sums")))

    def result(self, fraction: float = 0.01) -> float:
        if not math.isfinite(self.total) or self.total <= 0 or self.threshold is None:
            return math.nan
        k = max(1, int(math.ceil(fraction * self.n_rows)))
        taken = 0
        carried = 0.0
        for b in np.flatnonzero(self.counts)[::-1]:
            count = int(self.counts[b])
            if taken + count >= k:
                carried += (k - taken) * float(self.sums[b]) / count
                taken = k
                break
            taken += count
            carried += float(self.sums[b])
        if taken < k:  # rows below the threshold: bounded by the threshold itself
            carried += (k - taken) * self.threshold
        return carried / self.total


@dataclass
class _ItemState:
    """Accumulators of one (loss, model): overall and per group."""

    selection: LossSelection
    model: str
    overall: Accumulator
    groups: dict[str, Accumulator] = field(default_factory=dict)
    top_share: TopShareEstimate | None = None
    finite: bool = True
    # A --custom loss that returned one number: no per-row terms to resample.
    scalar: bool = False
    # P-LOG0: rows predicting 0 for what happened, their loss and the total loss.
    certain_wrong: int = 0
    certain_wrong_loss: float = 0.0
    loss_total: float = 0.0


class StreamingCompute:
    """The compute report from chunks of a dataset, in bounded memory."""

    def __init__(
        self,
        selections: list[LossSelection],
        spool: Spool | None = None,
        *,
        median_cap: int = MEDIAN_CAP,
        reread: Callable[[], Iterable[Dataset]] | None = None,
        ci_level: float | None = None,
        n_boot: int = 1000,
        seed: int = 0,
        on_items: Callable[[Dataset, list[PerSample]], None] | None = None,
        command: str = "compute",
    ) -> None:
        self.selections = selections
        self.command = command  # whose advice an error gives (check_ci_state)
        self.ci_level = ci_level
        self.n_boot = n_boot
        self.seed = seed
        self.on_items = on_items
        self.boot: PoissonBootstrap | None = None
        self.reread = reread
        self.band_mode = False
        self.bands: dict[int, tuple[int, int]] = {}
        self.spool: Spool = spool if spool is not None else MemorySpool()
        self.median_cap = median_cap
        self.items: list[_ItemState] = []
        self.first: Dataset | None = None
        self.first_items: list[PerSample] | None = None
        self.n_chunks = 0
        self.n_rows = 0
        self.file_rows = 0  # data rows of the file (GAN: not d_real + d_fake values)
        self.n_dropped = 0
        self.notes: list[str] = []
        self.group_rows: dict[str, int] = {}
        self.group_positive: set[str] = set()
        self.group_codes: dict[str, int] = {}
        self.row_sums: dict[str, tuple[int, int, float]] = {}  # model -> (count, row, sum)
        self.not_hard: set[str] = set()  # models with a prediction other than 0 or 1
        self.has_weights = False
        # Rows (Dataset.n_rows) of the input before this state's first chunk: a
        # partition's offset on a cluster, so its bootstrap draws are those of one pass.
        self.row_base = 0

    # ------------------------------------------------------------------ pass 1

    def add(self, chunk: Dataset) -> None:
        """Add one validated chunk."""
        items = per_sample_losses(chunk, self.selections)
        if self.first is None:
            self.start(chunk, items)
        if self.on_items is not None:
            self.on_items(chunk, items)
        # Exact warnings when the whole input is one chunk; computed at finish() and
        # only then, so a streamed file does not pay for them.
        self.first_items = items if self.n_chunks == 0 else None
        self.n_chunks += 1
        self.n_rows += chunk.n_rows
        self.file_rows += chunk.n_file_rows
        self.n_dropped += chunk.n_dropped
        for line in chunk.notes:
            if line not in self.notes:
                self.notes.append(line)
        if chunk.n_rows == 0:
            return
        weights = chunk.weights
        groups = self._group_index(chunk)
        if self.boot is not None:
            self._bootstrap(chunk, items, groups)
        spooled: dict[str, np.ndarray] = {}
        # With groups, the spooled values of the median passes are kept sorted by group
        # (with where each group starts), so those passes need no sort of their own; the
        # bootstrap's null pass (d2_pinball --ci) needs the file's row order instead.
        by_group = groups is not None and self.boot is None and not self.band_mode
        sorted_weights: np.ndarray | None = None
        if groups is not None:
            # Rows sorted by group (stably: each group keeps the file's row order), so
            # each group is one slice: O(rows log rows) however many groups there are.
            codes, names = groups
            order, bounds = group_slices(codes, len(names))
            sorted_weights = None if weights is None else weights[order]
        for index, (state, item) in enumerate(zip(self.items, items)):
            state.scalar = state.scalar or item.scalar
            values = item.values
            kind = state.selection.spec.reduction
            two_pass = kind in TWO_PASS
            chunk_sum = state.overall.add(values, weights)
            spooled_values = values
            if groups is not None:
                accumulators = []
                for name in names:
                    acc = state.groups.get(name)
                    if acc is None:
                        acc = self._new_accumulator(state.selection, overall=False)
                        state.groups[name] = acc
                    accumulators.append(acc)
                sorted_values = values[order]
                add_slices(accumulators, sorted_values, bounds, sorted_weights)
                if by_group:
                    spooled_values = sorted_values
            if kind is Reduction.MEDIAN:
                if self.band_mode:
                    self._spool_band(spooled, index, values, weights)
                else:
                    spooled[f"v{index}"] = spooled_values
            elif two_pass and not self.band_mode:
                # d2_*: the y component, for the pass that sums the denominator (band
                # mode reads the input again instead).
                spooled[f"v{index}"] = np.ascontiguousarray(spooled_values[:, 1])
            self._diagnostics(state, chunk, values, chunk_sum)
        if spooled:
            if weights is not None and not self.band_mode:
                spooled["w"] = (
                    sorted_weights if by_group and sorted_weights is not None else weights
                )
            if groups is not None:
                lookup = np.array([self.group_codes[g] for g in groups[1]], dtype=np.int32)
                if by_group:
                    spooled["gb"] = bounds
                    spooled["gc"] = lookup
                else:
                    spooled["g"] = lookup[groups[0]]
            self.spool.append(spooled)
        self._row_sums(chunk)

    def start(self, chunk: Dataset, items: list[PerSample]) -> None:
        """Set up the accumulators from the first chunk and its per-row losses."""
        self.first = chunk
        self.has_weights = chunk.weights is not None
        self.band_mode = self.reread is not None and chunk.groups is None
        self.items = [
            _ItemState(
                item.selection,
                item.model,
                self._new_accumulator(item.selection, overall=True),
            )
            for item in items
        ]
        if self.ci_level is not None:
            self.boot = PoissonBootstrap(
                [item.selection.reducer for item in items],
                self.n_boot,
                self.seed,
                stratified=chunk.strata is not None,
            )

    def _bootstrap(
        self, chunk: Dataset, items: list[PerSample], groups: tuple[np.ndarray, list[str]] | None
    ) -> None:
        """Feed the chunk's per-row losses to the bootstrap state (rows numbered globally)."""
        assert self.boot is not None
        cells = None
        if groups is not None:
            codes, names = groups
            lookup = np.array([self.group_codes[g] for g in names], dtype=np.intp)
            cells = lookup[codes]
            check_ci_state(
                self.boot, len(self.group_codes), len(items), chunk.group_column, self.command
            )
        elif chunk.strata is not None:
            cells = np.asarray(chunk.strata, dtype=np.intp)
        self.boot.update(
            [item.values for item in items],
            chunk.weights,
            cells=cells,
            first_row=self.row_base + self.n_rows - chunk.n_rows,
        )

    def _spool_band(
        self, spooled: dict[str, np.ndarray], index: int, values: np.ndarray, w: np.ndarray | None
    ) -> None:
        """Spool only the values near the first chunk's median (by level-0 histogram bin).

        The exact median then needs only those values, unless the median of
        the whole file lies outside the band (data sorted or drifting): then
        :meth:`finish` re-reads the input instead.
        """
        bins = key_bins(values, MEDIAN_BITS)
        band = self.bands.get(index)
        if band is None:
            kept = values if w is None else values[w > 0]
            if kept.size == 0:
                return
            lo_k = int(BAND[0] * (kept.size - 1))
            hi_k = int(BAND[1] * (kept.size - 1))
            low, high = np.partition(kept, (lo_k, hi_k))[[lo_k, hi_k]]
            edges = key_bins(np.array([low, high]), MEDIAN_BITS)
            band = (int(edges[0]), int(edges[1]))
            self.bands[index] = band
        inside = (bins >= band[0]) & (bins <= band[1])
        spooled[f"v{index}"] = np.compress(inside, values)
        if w is not None:
            spooled[f"w{index}"] = np.compress(inside, w)

    def _new_accumulator(self, selection: LossSelection, overall: bool) -> Accumulator:
        kind = selection.spec.reduction
        if kind in TWO_PASS:
            cap = self.median_cap if overall else min(self.median_cap, GROUP_MEDIAN_CAP)
            return new_accumulator(selection.reducer, cap=cap)
        if kind is Reduction.MEDIAN and self.ci_level is not None:
            if overall:
                return MedianInterval(cap=self.median_cap, bits=MEDIAN_BITS, level=self.ci_level)
            return MedianInterval(
                cap=min(self.median_cap, GROUP_MEDIAN_CAP),
                bits=GROUP_MEDIAN_BITS,
                level=self.ci_level,
            )
        if kind is Reduction.MEDIAN:
            if overall:
                return MedianAccumulator(cap=self.median_cap, bits=MEDIAN_BITS)
            return MedianAccumulator(
                cap=min(self.median_cap, GROUP_MEDIAN_CAP), bits=GROUP_MEDIAN_BITS
            )
        return new_accumulator(selection.reducer)

    def _group_index(self, chunk: Dataset) -> tuple[np.ndarray, list[str]] | None:
        if chunk.groups is None:
            return None
        codes, listed = chunk.group_index()
        counts = np.bincount(codes, minlength=len(listed))
        positive = (
            np.ones(len(listed), dtype=bool)
            if chunk.weights is None
            else np.bincount(codes, weights=(chunk.weights > 0), minlength=len(listed)) > 0
        )
        for name in listed:
            self.group_codes.setdefault(name, len(self.group_codes))
        if len(self.group_codes) > MAX_GROUPS:
            # The bound holds over the whole input, not only within one chunk.
            raise DataError(
                f"column {chunk.group_column} (--group-by) has more than {MAX_GROUPS:,} "
                f"distinct values; --group-by expects a categorical column such as a "
                f"segment or a split (at most {MAX_GROUPS:,} groups, which bounds memory)"
            )
        for i, name in enumerate(listed):
            self.group_rows[name] = self.group_rows.get(name, 0) + int(counts[i])
            if positive[i]:
                self.group_positive.add(name)
        return codes, listed

    def _diagnostics(
        self, state: _ItemState, chunk: Dataset, values: np.ndarray, chunk_sum: float | None
    ) -> None:
        """``chunk_sum``: ``np.sum(values)`` when the loss's accumulator took it (or None)."""
        spec = state.selection.spec
        with np.errstate(all="ignore"):
            proven_finite = False
            if spec.reduction is Reduction.MEAN and not spec.signed:
                if state.top_share is None:
                    state.top_share = TopShareEstimate()
                chunk_sum = state.top_share.add(values, chunk.weights, chunk_sum)
                # Unweighted non-negative losses: a finite sum means every value is finite.
                proven_finite = chunk.weights is None and math.isfinite(chunk_sum)
            if state.finite and not proven_finite and not np.all(np.isfinite(values)):
                state.finite = False
            if "eps" in state.selection.params and not chunk.from_logits:
                if chunk.task in (Task.BINARY, Task.MULTICLASS):
                    wrong = true_class_zero(chunk.models[state.model], chunk.y_true)
                    state.certain_wrong += int(np.count_nonzero(wrong))
                    state.certain_wrong_loss += float(np.sum(values[wrong]))
                    state.loss_total += float(np.sum(values))

    def _row_sums(self, chunk: Dataset) -> None:
        if chunk.task in (Task.BINARY, Task.MULTICLASS) and not chunk.from_logits:
            for model in chunk.model_names:
                if model not in self.not_hard and not hard_labels(chunk.models[model]):
                    self.not_hard.add(model)
        if chunk.task is not Task.MULTICLASS or chunk.from_logits:
            return
        for model in chunk.model_names:
            sums = chunk.models[model].sum(axis=1)
            off = np.flatnonzero(np.abs(sums - 1.0) > ROWSUM_TOLERANCE)
            count, row, value = self.row_sums.get(model, (0, 0, 0.0))
            if off.size and count == 0:
                row, value = int(chunk.row_numbers[off[0]]), float(sums[off[0]])
            self.row_sums[model] = (count + int(off.size), row, value)

    # ------------------------------------------------------------------ pass 2 and report

    def finish(self, progress: Callable[[], None] | None = None) -> ComputeReport:
        """Run the median passes over the spool and build the report."""
        if self.first is None:
            raise ValueError("no chunk was added")
        self._refine_medians(progress)
        if self.boot is not None and not self.boot.null_ready:
            self._null_pass()
        results = self._results()
        first = self.first
        warnings = self._single_chunk_warnings() if self.n_chunks == 1 else self._merged_warnings()
        warnings += undefined_warnings(
            [(s.selection.label, s.model, s.overall) for s in self.items], warnings
        )
        eps_values = {float(s.params["eps"]) for s in self.selections if "eps" in s.params}
        return ComputeReport(
            source=first.source,
            task=first.task.value,
            task_reason=first.task_reason,
            n_rows=self.file_rows,
            n_dropped=self.n_dropped,
            models=first.model_names,
            results=results,
            group_column=first.group_column,
            eps=min(eps_values) if eps_values else EPS,
            from_logits=first.from_logits,
            warnings=warnings,
            notes=self.notes,
            classes=list(first.classes),
            ci_level=self.ci_level,
            n_boot=self.n_boot if self.ci_level is not None else 0,
        )

    def _refine_medians(self, progress: Callable[[], None] | None) -> None:
        """Passes for the figures that need them: medians, and the d2_* denominators."""
        pending: list[tuple[int, Refinable, str | None]] = []
        for index, state in enumerate(self.items):
            for acc, group in [(state.overall, None)] + [(a, g) for g, a in state.groups.items()]:
                if isinstance(acc, REFINABLE) and acc.needs_pass:
                    pending.append((index, acc, group))
        reread = False
        while pending:
            for index, acc, _ in pending:
                acc.refine_plan()
                if self.band_mode and not self._in_band(index, acc):
                    reread = True
            if reread:
                self._refine_from_source(pending)
            else:
                self._refine_from_spool(pending, progress)
            for _, acc, _ in pending:
                acc.refine_finish()
            pending = [p for p in pending if p[1].needs_pass]

    def _null_pass(self) -> None:
        """d2_pinball's intervals: every row's null deviance about the quantiles now known.

        From the spooled y values when they are there, else from the input again.
        """
        assert self.boot is not None
        own, pooled = null_quantiles(self)
        state = NullState(self.boot, own, pooled, self.group_codes, self.row_base)
        index = self.boot.quantile_series[0][0]
        if self.band_mode or self.n_chunks == 0:
            assert self.reread is not None or self.n_chunks == 0
            for chunk in self.reread() if self.reread is not None else ():
                state.add(chunk)
        else:
            for arrays in self.spool:
                y = arrays[f"v{index}"]
                codes = arrays.get("g")
                self.boot.add_null_deviance(
                    y, arrays.get("w"), own, pooled, cells=codes, first_row=state.row
                )
                state.row += int(y.shape[0])
        self.boot.null_done()

    def _in_band(self, index: int, acc: Refinable) -> bool:
        if not isinstance(acc, MedianAccumulator):
            return False  # d2_*: nothing spooled in band mode, read the input again
        band = self.bands.get(index)
        if band is None:
            return False
        shift = 64 - MEDIAN_BITS
        lo, hi = band[0] << shift, (band[1] + 1) << shift
        return all(lo <= a and b <= hi for a, b in acc.key_ranges())

    def _refine_from_spool(
        self,
        pending: list[tuple[int, Refinable, str | None]],
        progress: Callable[[], None] | None,
    ) -> None:
        for arrays in self.spool:
            weights = arrays.get("w")
            if "gb" in arrays:  # spooled sorted by group: each group is a slice
                self._refine_sorted(pending, arrays, weights)
                if progress is not None:
                    progress()
                continue
            codes = arrays.get("g")
            order = bounds = None
            sorted_values: dict[int, np.ndarray] = {}
            if codes is not None and any(group is not None for _, _, group in pending):
                order, bounds = group_slices(codes, len(self.group_codes))
                weights_sorted = None if weights is None else weights[order]
            for index, acc, group in pending:
                values = arrays.get(f"v{index}")
                if values is None:
                    continue
                if self.band_mode:
                    acc.refine_add(values, arrays.get(f"w{index}"))
                    continue
                if group is None:
                    acc.refine_add(values, weights)
                    continue
                assert order is not None and bounds is not None
                if index not in sorted_values:
                    sorted_values[index] = values[order]
                code = self.group_codes[group]
                part = slice(bounds[code], bounds[code + 1])
                acc.refine_add(
                    sorted_values[index][part],
                    None if weights_sorted is None else weights_sorted[part],
                )
            if progress is not None:
                progress()

    def _refine_sorted(
        self,
        pending: list[tuple[int, Refinable, str | None]],
        arrays: dict[str, np.ndarray],
        weights: np.ndarray | None,
    ) -> None:
        """One spooled batch whose rows are sorted by group (``gb``: where each of its
        groups starts, ``gc``: their codes) into the refinement passes."""
        bounds, codes = arrays["gb"], arrays["gc"]
        parts = {int(c): slice(int(bounds[j]), int(bounds[j + 1])) for j, c in enumerate(codes)}
        for index, acc, group in pending:
            values = arrays.get(f"v{index}")
            if values is None:
                continue
            if group is None:  # the order of the rows does not matter to a quantile
                acc.refine_add(values, weights)
                continue
            part = parts.get(self.group_codes[group])
            if part is not None:
                acc.refine_add(values[part], None if weights is None else weights[part])

    def _refine_from_source(self, pending: list[tuple[int, Refinable, str | None]]) -> None:
        """The band missed the median: one more pass over the input itself."""
        assert self.reread is not None
        for chunk in self.reread():
            if chunk.n_rows == 0:
                continue
            for index, acc, _ in pending:
                state = self.items[index]
                values = next(
                    i.values
                    for i in per_sample_losses(chunk, [state.selection])
                    if i.model == state.model
                )
                acc.refine_add(values, chunk.weights)

    def _results(self) -> list[LossResult]:
        reps = None if self.boot is None else self.boot.replicates()
        out = [
            self._result(state, state.overall, None, self.n_rows, reps, j)
            for j, state in enumerate(self.items)
        ]
        if self.first is not None and self.first.groups is not None:
            for group in sorted(self.group_rows, key=str):
                if self.has_weights and group not in self.group_positive:
                    continue
                reps = None
                if self.boot is not None:
                    reps = self.boot.replicates([self.group_codes[group]])
                for j, state in enumerate(self.items):
                    out.append(
                        self._result(
                            state, state.groups[group], group, self.group_rows[group], reps, j
                        )
                    )
        return out

    def _result(
        self,
        state: _ItemState,
        acc: Accumulator,
        group: str | None,
        n: int,
        reps: np.ndarray | None = None,
        column: int = 0,
    ) -> LossResult:
        spec = state.selection.spec
        low: float | None = None
        high: float | None = None
        value = acc.result()
        # No value (a skill score of fewer than two rows): no interval either; nor from
        # fewer than two rows (every resample of one row is that row: a width of 0).
        if self.ci_level is not None and not state.scalar and not math.isnan(value) and n >= 2:
            if isinstance(acc, MedianInterval):
                low, high = acc.interval()
            elif reps is not None:
                low, high = percentile_interval(reps[:, column], self.ci_level)
        return LossResult(
            loss=spec.name,
            label=state.selection.label,
            params=state.selection.params,
            model=state.model,
            value=value,
            ci_low=low,
            ci_high=high,
            group=group,
            percent=spec.percent,
            signed=spec.signed,
            n_rows=n,
        )

    def _single_chunk_warnings(self) -> list[str]:
        assert self.first is not None and self.first_items is not None
        return warnings_for(self.first, self.first_items)

    def _merged_warnings(self) -> list[str]:
        assert self.first is not None
        out = input_warnings(self.n_dropped, self.n_rows)  # as warnings_for of a single chunk
        if self.first.task in (Task.BINARY, Task.MULTICLASS) and not self.first.from_logits:
            scored = {s.model for s in self.items if s.selection.spec.properties.probabilistic}
            out.extend(
                hard_labels_text(m)
                for m in self.first.model_names
                if m in scored and m not in self.not_hard
            )
        seen: set[str] = set()
        for state in self.items:
            if "eps" not in state.selection.params or state.model in seen:
                continue
            if state.certain_wrong:
                seen.add(state.model)
                share = state.certain_wrong_loss / max(state.loss_total, 1e-300)
                out.append(
                    clipping_text(
                        state.model,
                        state.certain_wrong,
                        state.selection.params["eps"],
                        state.selection.spec.name,
                        share,
                    )
                )
        rowsums = rowsum_applies(self.first, [s.selection for s in self.items])
        for model, (count, row, value) in self.row_sums.items():
            if count and rowsums:
                out.append(rowsum_text(model, count, row, value))
        for state in self.items:
            if state.top_share is None or self.n_rows < 100:
                continue
            share = state.top_share.result()
            if share > DOMINANT_SHARE:
                out.append(
                    f"{state.selection.label} ({state.model}): the worst 1% of rows carry "
                    f"{100 * share:.0f}% of the loss; see `loss sensitivity`"
                )
        for state in self.items:
            if not state.finite:
                out.append(
                    f"{state.selection.label} ({state.model}): some per-row losses overflow "
                    f"float64 (inf); the value is not meaningful at this scale - rescale the "
                    f"targets"
                )
        return out


def null_quantiles(state: StreamingCompute) -> tuple[np.ndarray, list[float]]:
    """Each d2_pinball series' quantile of y_true per group cell, and over all rows."""
    from losscli.core.reduction import D2QuantileAccumulator

    def quantile(acc: Any) -> float:
        assert isinstance(acc, D2QuantileAccumulator)
        return float(acc.quantile.result())

    assert state.boot is not None
    series = state.boot.quantile_series
    own = np.full((len(series), max(len(state.group_codes), 1)), np.nan)
    pooled = []
    for slot, (j, _) in enumerate(series):
        item = state.items[j]
        pooled.append(quantile(item.overall))
        for name, code in state.group_codes.items():
            if name in item.groups:
                own[slot, code] = quantile(item.groups[name])
        if not state.group_codes:
            own[slot, 0] = pooled[-1]
    return own, pooled


@dataclass
class NullState:
    """The bootstrap state taking the null deviances of the d2_pinball series."""

    boot: Any
    own: np.ndarray
    pooled: list[float]
    group_codes: dict[str, int]
    row: int = 0

    def add(self, batch: Dataset) -> None:
        cells = None
        if batch.groups is not None and self.group_codes:
            codes, names = batch.group_index()
            lookup = np.array([self.group_codes[g] for g in names], dtype=np.intp)
            cells = lookup[codes]
        self.boot.add_null_deviance(
            batch.y_true, batch.weights, self.own, self.pooled, cells=cells, first_row=self.row
        )
        self.row += batch.n_rows


def _mib(size: int) -> str:
    return f"{round(size / (1 << 20), 1):g} MiB"


def check_ci_state(
    boot: PoissonBootstrap,
    n_groups: int,
    n_pairs: int,
    group_column: str | None,
    command: str = "compute",
) -> None:
    """DataError when --ci's bootstrap state for ``n_groups`` groups is over CI_STATE_BYTES.

    The advice is what ``command`` can do: ``compute`` (and the API's compute) can leave
    the intervals out; ``report`` always draws them (--ci sets their level), so it names
    the losses, the models and the group column. The state's size does not depend on
    the number of resamples (it holds one sum per block of rows), so --bootstrap is
    no way out.
    """
    needed = boot.state_bytes(n_groups)
    if needed > CI_STATE_BYTES:
        what = "the report's intervals" if command == "report" else "--ci"
        way_out = (
            "choose fewer losses (-l) or models, or group by a coarser column (fewer "
            "--bootstrap resamples do not shrink it)"
            if command == "report"
            else "choose fewer losses (-l) or models, group by a coarser column, or leave out --ci"
        )
        raise DataError(
            f"{what} with --group-by {group_column}: {n_groups} groups "
            f"x {n_pairs} loss-model pairs need {_mib(needed)} of bootstrap "
            f"state, over the {_mib(CI_STATE_BYTES)} bound; {way_out}"
        )


def group_slices(codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """A stable order of the rows by group code, and where each group starts and ends in it."""
    # Small codes sort by radix (stable, ~4x faster than sorting 64-bit integers): one
    # pass over bytes for up to 256 groups, two for 16 bits.
    if n_groups <= 256:
        small = codes.astype(np.uint8)
    elif n_groups <= np.iinfo(np.int16).max:
        small = codes.astype(np.int16)
    else:
        small = codes
    order = np.argsort(small, kind="stable")
    bounds = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=n_groups), out=bounds[1:])
    return order, bounds


def compute_chunks(
    chunks: Iterable[Dataset],
    selections_for: Callable[[Dataset], list[LossSelection]],
    spool: Spool | None = None,
    *,
    median_cap: int = MEDIAN_CAP,
    on_pass: Callable[[], None] | None = None,
    reread: Callable[[], Iterable[Dataset]] | None = None,
    ci_level: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    on_items: Callable[[Dataset, list[PerSample]], None] | None = None,
) -> ComputeReport:
    """The compute report of a stream of chunks; losses chosen from the first chunk.

    ``reread`` (when the input can be read again, i.e. not stdin) lets the
    engine spool only the values near the median and fall back to another
    pass over the input in the rare case the median lies elsewhere.
    """
    engine: StreamingCompute | None = None
    for chunk in chunks:
        if engine is None:
            engine = StreamingCompute(
                selections_for(chunk),
                spool,
                median_cap=median_cap,
                reread=reread,
                ci_level=ci_level,
                n_boot=n_boot,
                seed=seed,
                on_items=on_items,
            )
        engine.add(chunk)
    if engine is None:
        raise ValueError("no chunk was read")
    return engine.finish(on_pass)


@dataclass
class ComputeStep:
    """:class:`StreamingCompute` as the step of a plan run by the local engine.

    Its median refinement reads a spool in this process (or the input again),
    so its state is one engine and does not merge: plans that hold it (the
    report's) run on the local engine only.
    """

    engine: StreamingCompute

    def new_state(self) -> StreamingCompute:
        return self.engine

    def update(self, state: StreamingCompute, batch: Dataset) -> StreamingCompute:
        state.add(batch)
        return state

    def merge(self, a: StreamingCompute, b: StreamingCompute) -> StreamingCompute:
        raise TypeError("the compute step keeps a local spool: it runs on the local engine only")

    def finish(self, state: StreamingCompute) -> StreamingCompute:
        return state


def compute_plan(
    selections_for: Callable[[Dataset], list[LossSelection]],
    spool: Spool | None = None,
    *,
    reread: Callable[[], Iterable[Dataset]] | None = None,
    ci_level: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    command: str = "compute",
) -> Callable[[Dataset], Generator[ComputeStep, StreamingCompute, ComputeReport]]:
    """``loss compute`` as a one-pass plan (what :func:`compute_chunks` does), to run with others.

    ``command``: the command it runs for, whose options an error's advice names.
    """

    def plan(head: Dataset) -> Generator[ComputeStep, StreamingCompute, ComputeReport]:
        engine = StreamingCompute(
            selections_for(head),
            spool,
            reread=reread,
            ci_level=ci_level,
            n_boot=n_boot,
            seed=seed,
            command=command,
        )
        finished = yield ComputeStep(engine)
        return finished.finish()

    return plan


def per_sample_items(dataset: Dataset, selections: list[LossSelection]) -> list[PerSample]:
    """Per-sample losses of an in-memory dataset (for --per-sample and --ci)."""
    return per_sample_losses(dataset, selections)
