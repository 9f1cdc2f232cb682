"""``loss report`` as one plan: every command's plan side by side over the same passes.

The report shows the figures of ``compute --ci``, ``compare --ci``,
``sensitivity`` and ``recommend``, plus chart aggregates. Run one after the
other, those plans would read the input once per pass of each (six reads or
more); :func:`~losscli.analysis.plan.together` runs them side by side, so
pass k of every plan shares one read and the input is read as often as the
longest plan needs (two or three times). Each plan is the command's own, so
every figure equals the command's ``--format json`` output.

The chart aggregates are mergeable too (:class:`ChartScan`): reliability bins
and P(true class) counts over fixed bins (classification); for the structured
families the range of each model's per-sample losses, then (one more pass)
their counts in equal bins over that range. The residual histograms are the
sensitivity report's own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losscli.analysis.compare_plan import compare_plan
from losscli.analysis.curves import DEFAULT_ERRORS, compare_curves, parse_grid
from losscli.analysis.evaluate import per_sample_losses
from losscli.analysis.plan import together
from losscli.analysis.profile_plan import ProfiledInput, profile_plan
from losscli.analysis.recommend import Flags, RecommendReport, reconcile, resolve_task
from losscli.analysis.recommend import recommend as run_recommend
from losscli.analysis.report import (
    P_TRUE_BINS,
    SENSITIVITY_BINS,
    VALUE_BINS,
    ChartData,
    Reliability,
    ReportData,
    ValueHistogram,
    curve_selections,
)
from losscli.analysis.rules import ROWSUM_TOLERANCE, PlannedLoss
from losscli.analysis.sensitivity import P_TRUE_THRESHOLD, SUPPORTED, true_class_probability
from losscli.analysis.sensitivity_plan import sensitivity_plan
from losscli.analysis.streaming import Spool, compute_plan
from losscli.core.calibration import ReliabilityBins, top_label
from losscli.core.dataset import Dataset
from losscli.core.registry import LossSelection, Task
from losscli.core.stable import sigmoid, softmax

CLASSIFICATION = (Task.BINARY, Task.MULTICLASS)


@dataclass
class ModelCharts:
    """One model's chart aggregates (mergeable)."""

    reliability: ReliabilityBins = field(default_factory=ReliabilityBins)
    p_true: np.ndarray = field(default_factory=lambda: np.zeros(P_TRUE_BINS, dtype=np.int64))
    p_flagged: np.ndarray = field(default_factory=lambda: np.zeros(P_TRUE_BINS, dtype=np.int64))
    low: float = math.inf  # range of the finite per-sample losses (structured families)
    high: float = -math.inf

    def merge(self, other: ModelCharts) -> ModelCharts:
        return ModelCharts(
            self.reliability.merge(other.reliability),
            self.p_true + other.p_true,
            self.p_flagged + other.p_flagged,
            min(self.low, other.low),
            max(self.high, other.high),
        )


def _merge_models(a: dict[str, ModelCharts], b: dict[str, ModelCharts]) -> dict[str, ModelCharts]:
    return {model: a[model].merge(b[model]) for model in a}


def _value_items(batch: Dataset, selections: list[LossSelection]) -> dict[str, np.ndarray]:
    """Per model, the finite per-sample values of its first loss with per-row values.

    As :func:`~losscli.analysis.report.chart_data`; these families are read
    whole (one batch), so "first with per-row values" is decided on all rows.
    """
    out: dict[str, np.ndarray] = {}
    for item in per_sample_losses(batch, selections):
        if item.model in out or item.scalar:
            continue
        x = np.asarray(item.defined(None)[0], dtype=np.float64)
        out[item.model] = x[np.isfinite(x)]
    return out


@dataclass
class ChartScan:
    """Pass 1 of the charts: reliability bins, P(true class) counts, loss ranges."""

    models: list[str]
    task: Task
    selections: list[LossSelection]
    cut: float  # P(true class) below this is flagged

    def new_state(self) -> dict[str, ModelCharts]:
        return {model: ModelCharts() for model in self.models}

    def update(self, state: dict[str, ModelCharts], batch: Dataset) -> dict[str, ModelCharts]:
        if batch.n_rows == 0:
            return state
        if self.task in CLASSIFICATION:
            self._classification(state, batch)
        elif self.task is not Task.REGRESSION:
            for model, x in _value_items(batch, self.selections).items():
                if x.size:
                    charts = state[model]
                    charts.low = min(charts.low, float(np.min(x)))
                    charts.high = max(charts.high, float(np.max(x)))
        return state

    def _classification(self, state: dict[str, ModelCharts], batch: Dataset) -> None:
        keep = None if batch.weights is None else batch.weights > 0
        edges = np.linspace(0.0, 1.0, P_TRUE_BINS + 1)
        for model in self.models:
            charts = state[model]
            pred = np.asarray(batch.models[model], dtype=np.float64)
            # As reliability_of: the predictions read as probabilities (from logits when
            # asked). On raw scores the bins are not shown (the report knows at the end).
            with np.errstate(all="ignore"):
                if batch.task is Task.BINARY:
                    q = sigmoid(pred) if batch.from_logits else pred
                    truth = np.asarray(batch.y_true, dtype=np.float64)
                else:
                    q = softmax(pred) if batch.from_logits else pred
                    if batch.labels is not None:
                        truth = np.asarray(batch.labels, dtype=np.float64)
                    else:
                        truth = np.argmax(np.asarray(batch.y_true, dtype=np.float64), axis=1)
                confidence, correct = top_label(truth, q)
                charts.reliability.add(confidence, correct, batch.weights)
                p = true_class_probability(batch, model)
                if keep is not None:
                    p = p[keep]
                p = np.clip(p, 0.0, 1.0)
                counts, _ = np.histogram(p, edges)
                flagged, _ = np.histogram(p[p < self.cut], edges)
            charts.p_true += counts
            charts.p_flagged += flagged

    def merge(self, a: dict[str, ModelCharts], b: dict[str, ModelCharts]) -> dict[str, ModelCharts]:
        return _merge_models(a, b)

    def finish(self, state: dict[str, ModelCharts]) -> dict[str, ModelCharts]:
        return state


@dataclass
class ValueCounts:
    """Pass 2 of the charts (structured families): per-sample losses in equal bins."""

    edges: dict[str, np.ndarray]
    selections: list[LossSelection]

    def new_state(self) -> dict[str, np.ndarray]:
        return {model: np.zeros(VALUE_BINS, dtype=np.int64) for model in self.edges}

    def update(self, state: dict[str, np.ndarray], batch: Dataset) -> dict[str, np.ndarray]:
        if batch.n_rows == 0:
            return state
        for model, x in _value_items(batch, self.selections).items():
            if model in self.edges:
                counts, _ = np.histogram(x, self.edges[model])
                state[model] += counts
        return state

    def merge(self, a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {model: a[model] + b[model] for model in a}

    def finish(self, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return state


def chart_plan(
    selections: list[LossSelection], threshold: float | None
) -> Callable[[Dataset], Generator[Any, Any, dict[str, Any]]]:
    """The charts' aggregates (all but the residual histograms, which sensitivity gives)."""

    def plan(head: Dataset) -> Generator[Any, Any, dict[str, Any]]:
        cut = threshold if threshold is not None else P_TRUE_THRESHOLD
        models = head.model_names
        state: dict[str, ModelCharts] = yield ChartScan(models, head.task, selections, cut)
        out: dict[str, Any] = {"models": state, "cut": cut, "values": []}
        if head.task in CLASSIFICATION or head.task is Task.REGRESSION:
            return out
        shown = _shown_items(head, selections)
        edges: dict[str, np.ndarray] = {}
        for model, _ in shown:
            charts = state[model]
            if charts.high < charts.low:
                continue  # no finite value
            lo, hi = charts.low, charts.high
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            edges[model] = np.linspace(lo, hi, VALUE_BINS + 1)
        counts: dict[str, np.ndarray] = yield ValueCounts(edges, selections)
        values = []
        for model, label in shown:
            if model not in edges:
                values.append(ValueHistogram(model, f"per-sample {label}", [], []))
                continue
            values.append(
                ValueHistogram(
                    model,
                    f"per-sample {label}",
                    [float(e) for e in edges[model]],
                    [int(c) for c in counts[model]],
                )
            )
        out["values"] = values
        return out

    return plan


def _shown_items(head: Dataset, selections: list[LossSelection]) -> list[tuple[str, str]]:
    """(model, loss label) of each value histogram: a model's first loss with per-row values."""
    out: dict[str, str] = {}
    for item in per_sample_losses(head, selections):
        if item.model not in out and not item.scalar:
            out[item.model] = item.selection.label
    return list(out.items())


def recommend_from(profiled: ProfiledInput, planned: tuple[PlannedLoss, ...]) -> RecommendReport:
    """What ``loss recommend FILE`` (no flags) concludes from the streamed profile."""
    flags = Flags()
    resolved = resolve_task(flags, data_task=profiled.task)
    notes: list[str] = []
    if len(profiled.models) > 1 and profiled.profile.model:
        notes.append(
            f"{len(profiled.models)} models: the evidence about predictions is that of the "
            f"first, {profiled.profile.model} (put the model you train first with --pred-col)"
        )
    notes.extend(profiled.notes)
    facts, contradictions = reconcile(flags, resolved, profiled.profile, planned)
    return run_recommend(
        facts, contradictions, task_reason=profiled.task_reason, flags=flags, notes=tuple(notes)
    )


def report_plan(
    selections_for: Callable[[Dataset], list[LossSelection]],
    *,
    spool: Spool | None = None,
    reread: Callable[[], Iterable[Dataset]] | None = None,
    ci_level: float | None = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    rule: str = "mad",
    threshold: float | None = None,
    errors: str = DEFAULT_ERRORS,
    planned: tuple[PlannedLoss, ...] = (),
    check_head: Callable[[Dataset], None] | None = None,
) -> Callable[[Dataset], Generator[Any, Any, ReportData]]:
    """The plan of ``loss report``: compute, compare, sensitivity, profile and charts together."""

    def plan(head: Dataset) -> Generator[Any, Any, ReportData]:
        if check_head is not None:
            check_head(head)
        selections = selections_for(head)

        def chosen(_: Dataset) -> list[LossSelection]:
            return selections

        plans = {
            "compute": compute_plan(
                chosen,
                spool,
                reread=reread,
                ci_level=ci_level,
                n_boot=n_boot,
                seed=seed,
                command="report",
            ),
            "compare": compare_plan(chosen, ci_level=ci_level, n_boot=n_boot, seed=seed),
            "profile": profile_plan(ROWSUM_TOLERANCE),
            "charts": chart_plan(selections, threshold),
        }
        if head.task in SUPPORTED:
            plans["sensitivity"] = sensitivity_plan(
                chosen, rule=rule, threshold=threshold, bins_for=lambda _: SENSITIVITY_BINS
            )
        found = yield from together(plans)(head)
        return _assemble(head, selections, found, errors, planned)

    return plan


def _assemble(
    head: Dataset,
    selections: list[LossSelection],
    found: dict[str, Any],
    errors: str,
    planned: tuple[PlannedLoss, ...],
) -> ReportData:
    compute_report = found["compute"]
    sens = found.get("sensitivity")
    notes: list[str] = []
    if sens is None:
        notes.append(
            f"the outlier-sensitivity analysis applies to regression and classification; "
            f"these are {head.task.value} data, so the report shows the distribution of "
            f"each model's per-sample losses instead"
        )
    charts = found["charts"]
    classification = head.task in CLASSIFICATION
    raw = bool(classification and sens is not None and sens.raw_scores)
    reliability: list[Reliability] = []
    p_true: list[ValueHistogram] = []
    if classification and not raw:
        edges = [float(e) for e in np.linspace(0.0, 1.0, P_TRUE_BINS + 1)]
        for model in head.model_names:
            state: ModelCharts = charts["models"][model]
            bins = state.reliability
            reliability.append(Reliability(model, bins.diagram(), bins.ece()))
            p_true.append(
                ValueHistogram(
                    model,
                    "P(true class)",
                    edges,
                    [int(c) for c in state.p_true],
                    [int(c) for c in state.p_flagged],
                    [float(charts["cut"])],
                )
            )
    if raw:
        notes.append(
            "the predictions are raw scores, not probabilities: no reliability diagram; "
            "the charts show the margins (use --from-logits if they are logits)"
        )
    shows_residuals = head.task is Task.REGRESSION or raw
    data = ChartData(
        task=head.task.value,
        residuals=list(sens.histograms) if shows_residuals and sens is not None else [],
        reliability=reliability,
        p_true=p_true,
        values=list(charts["values"]),
        groups=compute_report if compute_report.group_column is not None else None,
    )
    curved = curve_selections(selections)
    return ReportData(
        compute=compute_report,
        compare=found["compare"],
        curves=compare_curves(curved, parse_grid(errors)) if curved else None,
        sensitivity=sens,
        recommend=recommend_from(found["profile"], planned),
        charts=data,
        notes=notes,
    )
