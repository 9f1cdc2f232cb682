"""``loss sensitivity FILE`` as a plan: robust scale first, then flags and figures.

Pass 1 (:class:`SensitivityScan`), per model, over the rows of positive
weight: the residuals' kept ranges (exact median and MAD, or quartiles:
:mod:`losscli.analysis.robust_plan`) and their range for the histogram, the
median prediction (the synthetic row's y_pred); for classification the range
of log10 P(true class) (both as probabilities and as logits, since whether the
scores are raw is known only at the end) and the first row outside [0, 1].
Pass 2 (:class:`SensitivityFlags`) flags each model's rows exactly as
:func:`~losscli.analysis.sensitivity.flag_model` does and accumulates, per
(loss, model), the value with and without the flagged rows (means as partial
sums, medians as kept ranges), the flagged share, the worst 1% of rows and
the histogram; it keeps the count and the first 100 flagged rows. The
injection test then needs no data pass: a mean with one more row is an O(1)
update of its partial sums, a median with one more row is read from the kept
order statistics around it. The judgement is
:func:`~losscli.analysis.sensitivity.judge_item`, the in-memory report's own.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, cast

import numpy as np

from losscli.analysis.compare_plan import _merge_opt
from losscli.analysis.diagnostics import input_warnings
from losscli.analysis.evaluate import PerSample, per_sample_losses
from losscli.analysis.exact import (
    Tracked,
    exact_percentiles,
    exact_top_sums,
    refine,
    share_tracked,
    top_count,
)
from losscli.analysis.outliers import (
    DEFAULT_THRESHOLD,
    add_counts,
    magnitude_counts,
    residuals_of,
    rounding_floor,
)
from losscli.analysis.plan import InputTally
from losscli.analysis.robust_plan import (
    RobustScale,
    flag_mask,
    iqr_fences,
    mad_cutoffs,
    middle_ranks,
    residual_tracker,
    robust_scales,
)
from losscli.analysis.sensitivity import (
    HISTOGRAM_FLOOR,
    INJECTION_KS,
    MAX_ROWS_LISTED,
    P_TRUE_THRESHOLD,
    SUPPORTED,
    Histogram,
    InjectionResult,
    Measured,
    ModelOutliers,
    SensitivityReport,
    SensitivityResult,
    _in_domain,
    judge_item,
    logit,
    margin_only,
    margins,
    overflow_warnings,
    residual_quantity,
    scale_warnings,
    share_of,
    true_class_probability,
)
from losscli.core.dataset import Dataset
from losscli.core.reduction import Accumulator, new_accumulator
from losscli.core.registry import LossInputs, LossSelection, Reduction, Task
from losscli.errors import DataError
from losscli.words import plural

TOP_FRACTION = 0.01


def _positive(batch: Dataset) -> np.ndarray:
    if batch.weights is None:
        return np.ones(batch.n_rows, dtype=bool)
    return np.asarray(batch.weights) > 0


def _residuals(batch: Dataset, key: Hashable) -> np.ndarray:
    """A model's residuals over the rows of positive weight (the rows flagging looks at)."""
    model = str(key)
    r = residuals_of(batch, model)
    return r if batch.weights is None else r[_positive(batch)]


# --------------------------------------------------------------------------- pass 1


@dataclass
class ModelScan:
    """Pass-1 state of one model."""

    residuals: Tracked | None = None  # regression
    predictions: Tracked | None = None  # regression: the median prediction
    n_considered: int = 0
    sum_weight: float = 0.0
    # The histogram's x range: residuals; log10 P(true class) as given / as logits; margins.
    x_min: dict[str, float] = field(default_factory=dict)
    x_max: dict[str, float] = field(default_factory=dict)
    n_outside: int = 0  # classification: rows with a prediction outside [0, 1]
    first_outside: tuple[int, tuple[float, ...]] | None = None
    # Regression: rows per binade of max(|y|, |q|), for the rounding floor of the spread.
    magnitudes: np.ndarray | None = None

    def merge(self, other: ModelScan) -> ModelScan:
        keys = set(self.x_min) | set(other.x_min)
        return ModelScan(
            residuals=_merge_opt(self.residuals, other.residuals),
            predictions=_merge_opt(self.predictions, other.predictions),
            n_considered=self.n_considered + other.n_considered,
            sum_weight=self.sum_weight + other.sum_weight,
            x_min={k: min(self.x_min.get(k, math.inf), other.x_min.get(k, math.inf)) for k in keys},
            x_max={
                k: max(self.x_max.get(k, -math.inf), other.x_max.get(k, -math.inf)) for k in keys
            },
            n_outside=self.n_outside + other.n_outside,
            first_outside=self.first_outside or other.first_outside,
            magnitudes=add_counts(self.magnitudes, other.magnitudes),
        )

    def extent(self, key: str, x: np.ndarray) -> None:
        if x.size:
            self.x_min[key] = min(self.x_min.get(key, math.inf), float(np.min(x)))
            self.x_max[key] = max(self.x_max.get(key, -math.inf), float(np.max(x)))


@dataclass
class ScanState:
    tally: InputTally = field(default_factory=InputTally)
    models: dict[str, ModelScan] = field(default_factory=dict)

    def merge(self, other: ScanState) -> ScanState:
        return ScanState(
            self.tally.merge(other.tally),
            {m: s.merge(other.models[m]) for m, s in self.models.items()},
        )


def _log_p(batch: Dataset, model: str, as_logits: bool | None) -> np.ndarray:
    p = true_class_probability(batch, model, as_logits)
    return cast(np.ndarray, np.log10(np.clip(p, HISTOGRAM_FLOOR, 1.0)))


@dataclass
class SensitivityScan:
    """Pass 1: what flagging needs (robust scale, probabilities' validity, ranges)."""

    models: list[str]
    task: Task
    rule: str
    from_logits: bool
    more_passes = True  # the flags' pass follows (see plan.more_passes)

    def new_state(self) -> ScanState:
        return ScanState(models={m: ModelScan() for m in self.models})

    def update(self, state: ScanState, batch: Dataset) -> ScanState:
        state.tally.add(batch)
        keep = _positive(batch)
        weights = batch.weights
        for model in self.models:
            scan = state.models[model]
            scan.n_considered += int(np.count_nonzero(keep))
            if weights is not None:
                scan.sum_weight += float(np.sum(weights[keep]))
            if self.task is Task.REGRESSION:
                r = _residuals(batch, model)
                if scan.residuals is None:
                    scan.residuals = residual_tracker(self.rule)
                    scan.predictions = Tracked(percentiles=(50.0,))
                assert scan.predictions is not None
                scan.residuals.add(r)
                scan.predictions.add(batch.models[model][keep])
                y, q = batch.y_true, batch.models[model]
                if weights is not None:
                    y, q = y[keep], q[keep]
                counts = magnitude_counts(y, q)
                scan.magnitudes = add_counts(scan.magnitudes, counts)
                scan.extent("x", r)
                continue
            if self.from_logits:
                scan.extent("p", _log_p(batch, model, None)[keep])
                continue
            pred = np.asarray(batch.models[model])
            outside = ~((pred >= 0) & (pred <= 1))
            bad = np.asarray(outside.any(axis=1) if outside.ndim == 2 else outside)
            count = int(np.count_nonzero(bad))
            if count and scan.first_outside is None:
                i = int(np.flatnonzero(bad)[0])
                scan.first_outside = (
                    int(batch.row_numbers[i]),
                    tuple(float(v) for v in np.ravel(pred[i])),
                )
            scan.n_outside += count
            with np.errstate(all="ignore"):
                scan.extent("p", _log_p(batch, model, None)[keep])
                scan.extent("logits", _log_p(batch, model, True)[keep])
                if self.task is Task.BINARY:
                    scan.extent("margin", margins(batch, model)[keep])
        return state

    def merge(self, a: ScanState, b: ScanState) -> ScanState:
        return a.merge(b)

    def finish(self, state: ScanState) -> ScanState:
        return state


# --------------------------------------------------------------------------- pass 2


@dataclass
class ItemState:
    """Pass-2 state of one (loss, model)."""

    value: Accumulator | None = None
    without: Accumulator | None = None
    value_median: Tracked | None = None
    without_median: Tracked | None = None
    top: Tracked | None = None  # w x |l| of every row (unit weights): the worst 1%
    total: float = 0.0  # sum of w x |l| over every row (positive weights)
    flagged: float = 0.0  # ... over the flagged rows
    n_rows: int = 0
    kept_weight: bool = False  # some unflagged row of positive weight
    scalar: bool = False

    def merge(self, other: ItemState) -> ItemState:
        return ItemState(
            value=_merge_opt(self.value, other.value),
            without=_merge_opt(self.without, other.without),
            value_median=_merge_opt(self.value_median, other.value_median),
            without_median=_merge_opt(self.without_median, other.without_median),
            top=_merge_opt(self.top, other.top),
            total=self.total + other.total,
            flagged=self.flagged + other.flagged,
            n_rows=self.n_rows + other.n_rows,
            kept_weight=self.kept_weight or other.kept_weight,
            scalar=self.scalar or other.scalar,
        )


@dataclass
class ModelFlags:
    count: int = 0
    rows: list[int] = field(default_factory=list)
    counts: np.ndarray | None = None
    marked: np.ndarray | None = None

    def merge(self, other: ModelFlags) -> ModelFlags:
        def add(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            return b if a is None else a if b is None else a + b

        return ModelFlags(
            self.count + other.count,
            (self.rows + other.rows)[:MAX_ROWS_LISTED],
            add(self.counts, other.counts),
            add(self.marked, other.marked),
        )


@dataclass
class FlagState:
    models: dict[str, ModelFlags]
    items: list[ItemState]

    def merge(self, other: FlagState) -> FlagState:
        return FlagState(
            {m: f.merge(other.models[m]) for m, f in self.models.items()},
            [a.merge(b) for a, b in zip(self.items, other.items)],
        )


@dataclass(frozen=True)
class FlagRule:
    """How one model's rows are flagged and drawn (from pass 1)."""

    rule: str  # "mad", "iqr", "p_true", "margin"
    threshold: float
    robust: RobustScale | None  # regression
    x_key: str  # which x the histogram draws: "x", "p", "logits", "margin"
    edges: np.ndarray | None


@dataclass
class SensitivityFlags:
    """Pass 2: flags, the figures of every loss with and without them, histograms."""

    selections: list[LossSelection]
    models: list[str]
    task: Task
    rules: dict[str, FlagRule]
    raw: bool

    def new_state(self) -> FlagState:
        n = len(self.selections) * len(self.models)
        return FlagState({m: ModelFlags() for m in self.models}, [ItemState() for _ in range(n)])

    def mask(self, batch: Dataset, model: str) -> np.ndarray:
        """Flagged rows over all rows of the batch (zero-weight rows never are)."""
        keep = _positive(batch)
        rule = self.rules[model]
        mask = np.zeros(batch.n_rows, dtype=bool)
        if rule.robust is not None:
            r = residuals_of(batch, model)
            mask[keep] = flag_mask(r[keep], rule.robust, rule.rule, rule.threshold)
        elif rule.rule == "margin":
            mask[keep] = margins(batch, model)[keep] < logit(rule.threshold)
        else:
            p = true_class_probability(batch, model, self.raw or None)
            mask[keep] = p[keep] < rule.threshold
        return mask

    def x(self, batch: Dataset, model: str) -> np.ndarray:
        keep = _positive(batch)
        key = self.rules[model].x_key
        if key == "x":
            return cast(np.ndarray, residuals_of(batch, model)[keep])
        if key == "margin":
            return cast(np.ndarray, margins(batch, model)[keep])
        with np.errstate(all="ignore"):
            return cast(np.ndarray, _log_p(batch, model, self.raw or None)[keep])

    def update(self, state: FlagState, batch: Dataset) -> FlagState:
        masks = {}
        keep = _positive(batch)
        for model in self.models:
            mask = self.mask(batch, model)
            masks[model] = mask
            flags = state.models[model]
            count = int(np.count_nonzero(mask))
            flags.count += count
            if count and len(flags.rows) < MAX_ROWS_LISTED:
                flags.rows.extend(int(r) for r in batch.row_numbers[mask][:MAX_ROWS_LISTED])
                del flags.rows[MAX_ROWS_LISTED:]
            edges = self.rules[model].edges
            if edges is not None:
                x = self.x(batch, model)
                counts, _ = np.histogram(x, edges)
                marked, _ = np.histogram(x[mask[keep]], edges)
                flags.counts = counts if flags.counts is None else flags.counts + counts
                flags.marked = marked if flags.marked is None else flags.marked + marked
        weights = batch.weights
        items = per_sample_losses(batch, self.selections)
        contribs = [_contribution(item, weights) for item in items]
        # Items with the same terms (mse and rmse; mae, median_ae, max_error and mbe's |e|)
        # share one worst-1% state, added to once a batch.
        share_tracked(state.items, "top", contribs, lambda _: Tracked(top_fraction=TOP_FRACTION))
        added: set[int] = set()
        for item, st, contrib in zip(items, state.items, contribs):
            self._update_item(st, item, masks[item.model], weights, contrib, added)
        return state

    def _update_item(
        self,
        st: ItemState,
        item: PerSample,
        mask: np.ndarray,
        weights: np.ndarray | None,
        contrib: np.ndarray | None,
        added: set[int],
    ) -> None:
        spec = item.selection.spec
        kind = spec.reduction
        values = item.values
        st.scalar = st.scalar or item.scalar
        unflagged = ~mask
        kept_w = None if weights is None else weights[unflagged]
        if kind is Reduction.MEDIAN:
            if st.value_median is None:
                st.value_median = Tracked(percentiles=(50.0,))
                st.without_median = Tracked(percentiles=(50.0,))
            assert st.without_median is not None
            st.value_median.add(values, weights)
            st.without_median.add(values[unflagged], kept_w)
        else:
            if st.value is None:
                # The reducer carries a SPEC 12 figure's parameters (d2_pinball's alpha).
                st.value = new_accumulator(item.selection.reducer)
                st.without = new_accumulator(item.selection.reducer)
            assert st.without is not None
            st.value.add(values, weights)
            st.without.add(values[unflagged], kept_w)
        st.kept_weight = st.kept_weight or bool(
            np.any(unflagged if weights is None else unflagged & (weights > 0))
        )
        if values.ndim != 1:
            # A ratio of sums (r2, d2_*, ece): per-row components, no per-row shares.
            st.n_rows += int(values.shape[0])
            return
        assert contrib is not None and st.top is not None
        if id(st.top) not in added:  # shared by items with the same terms: added once
            st.top.add(contrib)
            added.add(id(st.top))
        with np.errstate(all="ignore"):
            st.total += float(np.sum(contrib))
            st.flagged += float(np.sum(contrib[mask]))
        st.n_rows += int(values.size)

    def merge(self, a: FlagState, b: FlagState) -> FlagState:
        return a.merge(b)

    def finish(self, state: FlagState) -> FlagState:
        return state


def _contribution(item: PerSample, weights: np.ndarray | None) -> np.ndarray | None:
    """w x |l| of every row (positive weights; None for a ratio of sums): the worst 1%'s terms."""
    if item.values.ndim != 1:
        return None
    terms = np.abs(item.values) if item.selection.spec.signed else item.values
    return terms if weights is None else np.where(weights > 0, weights * terms, 0.0)


@dataclass
class ItemTerms:
    """(batch, key) -> an item's values for refinement passes: all, unflagged, contributions."""

    flags: SensitivityFlags
    _batch: Dataset | None = None
    _items: list[PerSample] | None = None

    def __call__(self, batch: Dataset, key: Hashable) -> tuple[np.ndarray, np.ndarray | None]:
        assert isinstance(key, tuple)
        j: int = key[0]
        what: str = key[1]
        if self._batch is not batch:
            self._items = per_sample_losses(batch, self.flags.selections)
            self._batch = batch
        assert self._items is not None
        item = self._items[j]
        weights = batch.weights
        if what == "value":
            return item.values, weights
        if what == "without":
            unflagged = ~self.flags.mask(batch, item.model)
            return item.values[unflagged], None if weights is None else weights[unflagged]
        terms = np.abs(item.values) if item.selection.spec.signed else item.values
        if weights is None:
            return terms, None
        return np.where(weights > 0, weights * terms, 0.0), None

    def __getstate__(self) -> dict[str, Any]:
        return {"flags": self.flags}


# --------------------------------------------------------------------------- the plan


def sensitivity_plan(
    selections_for: Callable[[Dataset], list[LossSelection]],
    *,
    rule: str = "mad",
    threshold: float | None = None,
    ks: tuple[float, ...] = INJECTION_KS,
    bins_for: Callable[[int], int] = lambda n: 60,
    check_head: Callable[[Dataset], None] | None = None,
) -> Callable[[Dataset], Generator[Any, Any, SensitivityReport]]:
    """The plan of ``loss sensitivity FILE``; ``bins_for(n_rows)`` sizes the histograms."""

    def plan(head: Dataset) -> Generator[Any, Any, SensitivityReport]:
        if check_head is not None:
            check_head(head)
        if head.task not in SUPPORTED:
            raise DataError(
                f"loss sensitivity needs regression, binary or multiclass data; these are "
                f"{head.task.value} ({head.task_reason})"
            )
        cut = threshold
        if cut is None:
            cut = DEFAULT_THRESHOLD[rule] if head.task is Task.REGRESSION else P_TRUE_THRESHOLD
        selections = selections_for(head)
        models = head.model_names
        scan: ScanState = yield SensitivityScan(models, head.task, rule, head.from_logits)
        raw = _raw_scores(scan, head, selections)
        robust: dict[Hashable, RobustScale] = {}
        medians: dict[Hashable, dict[float, float]] = {}
        if head.task is Task.REGRESSION:
            tracked: dict[Hashable, Tracked] = {
                m: s.residuals for m, s in scan.models.items() if s.residuals is not None
            }
            floors: dict[Hashable, float] = {
                m: rounding_floor(counts)
                for m in tracked
                if (counts := scan.models[str(m)].magnitudes) is not None
            }
            robust = yield from robust_scales(tracked, rule, _residuals, floors)
            predictions: dict[Hashable, Tracked] = {
                m: s.predictions for m, s in scan.models.items() if s.predictions is not None
            }
            medians = yield from exact_percentiles(
                predictions,
                {m: (50.0,) for m in predictions},
                lambda batch, key: (batch.models[str(key)][_positive(batch)], None),
            )
        n_rows = scan.tally.n_rows
        bins = bins_for(n_rows)
        rules = {
            m: _flag_rule(head, scan.models[m], robust.get(m), rule, cut, raw, bins) for m in models
        }
        flags_step = SensitivityFlags(selections, models, head.task, rules, raw)
        state: FlagState = yield flags_step
        terms = ItemTerms(flags_step)
        pairs = [(s, m) for s in selections for m in models]
        tracked_items: dict[Hashable, Tracked] = {}
        asked: dict[Hashable, tuple[float, ...]] = {}
        ks_top: dict[Hashable, int] = {}
        for j, st in enumerate(state.items):
            if st.value_median is not None and st.without_median is not None:
                tracked_items[j, "value"] = st.value_median
                asked[j, "value"] = (50.0,)
                tracked_items[j, "without"] = st.without_median
                asked[j, "without"] = (50.0,)
            if st.top is not None and math.isfinite(st.total) and st.total > 0 and st.n_rows:
                tracked_items[j, "contrib"] = st.top
                ks_top[j, "contrib"] = top_count(st.n_rows, TOP_FRACTION)
        percentiles = yield from exact_percentiles(tracked_items, asked, terms)
        tops = yield from exact_top_sums(tracked_items, ks_top, terms)
        neighbours: dict[int, dict[int, float]] = {}
        if head.weights is None:
            neighbours = yield from _median_neighbours(state, terms)

        outliers = {m: _outliers(m, rules[m], scan.models[m], state.models[m]) for m in models}
        scales = {m: _injection_scale(head, outliers[m]) for m in models}
        proxy = _proxy(head, medians)
        results: list[SensitivityResult] = []
        injection: list[InjectionResult] = []
        for j, ((selection, model), st) in enumerate(zip(pairs, state.items)):
            measured = _measured(selection, st, percentiles, tops, j)
            row_weight = 1.0
            if head.weights is not None:
                s = scan.models[model]
                row_weight = s.sum_weight / s.n_considered if s.n_considered else math.nan
            injected = _Injector(selection, st, neighbours.get(j), row_weight)
            injected.weighted = head.weights is not None
            result, rows = judge_item(
                proxy,
                selection,
                model,
                measured,
                outliers[model],
                scales[model],
                injected,
                injected,
                ks=ks,
                raw=raw,
            )
            results.append(result)
            injection.extend(rows)
        histograms = [_histogram(head, m, rules[m], outliers[m], state.models[m]) for m in models]
        return SensitivityReport(
            source=head.source,
            task=head.task.value,
            task_reason=head.task_reason,
            n_rows=n_rows,
            n_dropped=scan.tally.n_dropped,
            models=models,
            outliers=list(outliers.values()),
            results=results,
            injection=injection,
            histograms=histograms,
            injection_scale=scales,
            from_logits=head.from_logits,
            notes=list(scan.tally.notes),
            warnings=input_warnings(scan.tally.n_dropped, n_rows)
            + scale_warnings(head.task, outliers)
            + overflow_warnings(results),
            raw_scores=raw,
        )

    return plan


def _raw_scores(scan: ScanState, head: Dataset, selections: list[LossSelection]) -> bool:
    """:func:`~losscli.analysis.sensitivity.check_probabilities` from pass-1 counts."""
    if head.task is Task.REGRESSION or head.from_logits:
        return False
    raw = margin_only(selections)
    for model in head.model_names:
        s = scan.models[model]
        if s.n_outside:
            if raw:
                return True
            assert s.first_outside is not None
            row, shown = s.first_outside
            raise DataError(
                f"loss sensitivity reads the predictions of {head.column_of('y_pred', model)} "
                f"as probabilities to find confidently wrong rows, but row "
                f"{row} has {', '.join(f'{v:g}' for v in shown)} "
                f"({plural(s.n_outside, 'row')} outside [0, 1]); if these are raw scores "
                f"(logits), add --from-logits"
            )
    return False


def _flag_rule(
    head: Dataset,
    scan: ModelScan,
    robust: RobustScale | None,
    rule: str,
    threshold: float,
    raw: bool,
    bins: int,
) -> FlagRule:
    """The rule, cut-offs and histogram edges of one model (as sensitivity.histogram has them)."""
    if head.task is Task.REGRESSION:
        name, x_key = rule, "x"
        cutoffs: list[float] = []
        if robust is not None:
            lower, upper = (
                iqr_fences(robust, threshold) if rule == "iqr" else mad_cutoffs(robust, threshold)
            )
            cutoffs = [c for c in (lower, upper) if math.isfinite(c)]
    elif raw and head.task is Task.BINARY:
        name, x_key = "margin", "margin"
        cutoffs = [logit(threshold)]
    else:
        name = "p_true"
        x_key = "logits" if raw else "p"
        cutoffs = [math.log10(threshold)] if 0 < threshold <= 1 else []
    if x_key not in scan.x_min:
        return FlagRule(name, threshold, robust, x_key, None)
    lo, hi = scan.x_min[x_key], scan.x_max[x_key]
    if name == "margin":
        lo, hi = min(lo, cutoffs[0] - 0.5), max(hi, cutoffs[0] + 0.5)
    elif head.task is not Task.REGRESSION:
        hi = 0.0
        if cutoffs:
            lo = min(lo, cutoffs[0] - 0.5)
    # Residuals equal up to rounding are drawn as one value, as equal ones are.
    floor = robust.floor if robust is not None and x_key == "x" else 0.0
    if hi - lo <= floor:
        lo, hi = lo - 0.5, hi + 0.5
    return FlagRule(name, threshold, robust, x_key, np.linspace(lo, hi, bins + 1))


def _outliers(model: str, rule: FlagRule, scan: ModelScan, flags: ModelFlags) -> ModelOutliers:
    robust = rule.robust
    if robust is not None:
        if rule.rule == "iqr":
            lower, upper = iqr_fences(robust, rule.threshold)
        else:
            lower, upper = mad_cutoffs(robust, rule.threshold)
        center, scale, fallback = robust.center, robust.scale, robust.fallback
    elif rule.rule in ("mad", "iqr"):  # regression without a row of positive weight
        lower, upper, center, scale, fallback = -math.inf, math.inf, math.nan, math.nan, False
    else:
        lower = logit(rule.threshold) if rule.rule == "margin" else rule.threshold
        upper, center, scale, fallback = math.inf, math.nan, math.nan, False
    return ModelOutliers(
        model=model,
        rule=rule.rule,
        threshold=rule.threshold,
        mask=np.zeros(0, dtype=bool),
        rows=list(flags.rows),
        n_considered=scan.n_considered,
        scale=scale,
        center=center,
        fallback=fallback,
        lower=lower,
        upper=upper,
        n_flagged=flags.count,
    )


def _injection_scale(head: Dataset, outliers: ModelOutliers) -> float:
    if head.task is not Task.REGRESSION:
        return 1.0
    scale = outliers.scale
    return scale if math.isfinite(scale) and scale > 0 else 1.0


def _proxy(head: Dataset, medians: dict[Hashable, dict[float, float]]) -> Dataset:
    """A one-row stand-in for the data that gives synthetic_row what it reads from them."""
    if head.task is not Task.REGRESSION:
        return head
    models = {m: np.array([medians[m][50.0]]) for m in head.model_names if m in medians}
    first = next(iter(models.values()), np.zeros(1))
    return dataclasses.replace(
        head,
        y_true=first,
        models=models or {m: np.zeros(1) for m in head.model_names},
        row_numbers=np.array([1]),
        weights=None,
        groups=None,
        labels=None,
        file_y_true=None,
        extra={},
        strata=None,
    )


def _histogram(
    head: Dataset, model: str, rule: FlagRule, outliers: ModelOutliers, flags: ModelFlags
) -> Histogram:
    quantity = {
        "x": residual_quantity(head, model),
        "margin": "Margin t x score",
    }.get(rule.x_key, "log10 P(true class)")
    if rule.robust is not None or rule.rule in ("mad", "iqr"):
        cutoffs = [c for c in (outliers.lower, outliers.upper) if math.isfinite(c)]
    elif rule.rule == "margin":
        cutoffs = [outliers.lower]
    else:
        cutoffs = [math.log10(outliers.lower)] if 0 < outliers.lower <= 1 else []
    if rule.edges is None or flags.counts is None or flags.marked is None:
        return Histogram(model, quantity, [], [], [], [float(c) for c in cutoffs])
    return Histogram(
        model,
        quantity,
        [float(e) for e in rule.edges],
        [int(c) for c in flags.counts],
        [int(c) for c in flags.marked],
        [float(c) for c in cutoffs],
    )


def _measured(
    selection: LossSelection,
    st: ItemState,
    percentiles: dict[Hashable, dict[float, float]],
    tops: dict[Hashable, float],
    j: int,
) -> Measured:
    if st.value_median is not None:
        value = percentiles[j, "value"][50.0]
        without = percentiles[j, "without"][50.0] if st.kept_weight else math.nan
    else:
        assert st.value is not None and st.without is not None
        value = st.value.result()
        without = st.without.result() if st.kept_weight else math.nan
    if math.isfinite(st.total) and st.total > 0:
        share = share_of(float(st.flagged), float(st.total))
    else:
        share = math.nan
    top1 = float(tops[j, "contrib"] / st.total) if (j, "contrib") in tops else math.nan
    return Measured(value, without, share, top1, st.scalar)


@dataclass
class _Injector:
    """The loss with one synthetic row appended, from the accumulators (no data pass)."""

    selection: LossSelection
    state: ItemState
    ranks: dict[int, float] | None  # unweighted median: order statistics around the middle
    row_weight: float
    weighted: bool = False

    def __call__(self, row: LossInputs) -> float | None:
        if not _in_domain(self.selection, row):
            return None
        with np.errstate(all="ignore"):
            row_values = self.selection.per_sample(row)
        weights = np.array([self.row_weight]) if self.weighted else None
        st = self.state
        if st.value_median is not None and self.ranks is not None:
            return _median_with(self.ranks, st.value_median.ranges.total_count, row_values)
        if st.value_median is not None:
            ranges = copy.deepcopy(st.value_median.ranges)
            ranges.add(row_values, weights)
            got = ranges.percentile(50.0)
            if got is None:
                raise NeedsMemory(self.selection.label)
            return got
        assert st.value is not None
        acc = new_accumulator(self.selection.reducer)
        acc.add(row_values, weights)
        return st.value.merge(acc).result()  # type: ignore[arg-type]


class NeedsMemory(RuntimeError):
    """A weighted median with one more row fell outside the kept order statistics."""


def _median_with(ranks: dict[int, float], n: int, extra: np.ndarray) -> float:
    """The median of n unit-weight values plus ``extra`` (one value), from its neighbours.

    The k-th smallest of the values and x is min(max(x, d[k-1]), d[k]).
    """
    x = float(extra[0])
    total = n + 1
    k1, k2 = middle_ranks(total)

    def kth(k: int) -> float:
        below = ranks.get(k - 1, -math.inf)
        at = ranks.get(k, math.inf)
        return min(max(x, below), at)

    return 0.5 * (kth(k1) + kth(k2))


def _median_neighbours(
    state: FlagState, terms: ItemTerms
) -> Generator[Any, Any, dict[int, dict[int, float]]]:
    """Order statistics of each median loss around its middle (unit weights), exactly."""
    out: dict[int, dict[int, float]] = {}
    missing: dict[Hashable, list[tuple[Fraction, bool]]] = {}
    wanted: dict[int, list[int]] = {}
    for j, st in enumerate(state.items):
        if st.value_median is None:
            continue
        ranges = st.value_median.ranges
        n = ranges.total_count
        k1, k2 = middle_ranks(n + 1)
        ranks = sorted({k for k in (k1 - 1, k1, k2 - 1, k2) if 1 <= k <= n})
        out[j] = {}
        for k in ranks:
            got = ranges.select(Fraction(k))
            if got is None:
                missing.setdefault((j, "value"), []).append((Fraction(k), False))
                wanted.setdefault(j, []).append(k)
            else:
                out[j][k] = got
    found = yield from refine(missing, terms)
    for key, values in found.items():
        assert isinstance(key, tuple)
        for k, value in zip(wanted[key[0]], values):
            out[key[0]][k] = value
    return out
