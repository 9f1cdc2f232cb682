"""``loss report``: every analysis of a file in one result, for the HTML report and --plot.

The report runs the same analysis functions as the commands, on one dataset,
with the same options, so every figure it shows is the figure of the command
(``compute --ci``, ``compare --ci``, ``compare`` without a FILE for the
curves, ``sensitivity``, ``recommend``). The charts are drawn from aggregates
computed here (histogram counts, reliability bins), never from raw rows, so
the report's size does not grow with the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losscli.analysis.compare import CompareReport, compare_models
from losscli.analysis.compute import compute
from losscli.analysis.curves import DEFAULT_ERRORS, CurvesReport, compare_curves, parse_grid
from losscli.analysis.evaluate import PerSample, per_sample_losses
from losscli.analysis.profile import profile_dataset
from losscli.analysis.recommend import Flags, RecommendReport, reconcile, resolve_task
from losscli.analysis.recommend import recommend as run_recommend
from losscli.analysis.results import ComputeReport
from losscli.analysis.rules import ROWSUM_TOLERANCE, PlannedLoss
from losscli.analysis.sensitivity import (
    P_TRUE_THRESHOLD,
    SUPPORTED,
    Histogram,
    SensitivityReport,
    check_probabilities,
    flag_model,
    histogram,
    sensitivity,
    true_class_probability,
)
from losscli.core.calibration import DEFAULT_BINS, ReliabilityBins, top_label
from losscli.core.dataset import Dataset
from losscli.core.registry import LossSelection, Task, is_custom
from losscli.core.stable import sigmoid, softmax

SENSITIVITY_BINS = 60  # the bins of `loss sensitivity --format json`
VALUE_BINS = 30  # per-sample loss histograms of the structured families
P_TRUE_BINS = 20


@dataclass(frozen=True)
class ValueHistogram:
    """Counts of one quantity in equal-width bins (per-sample losses, P(true class))."""

    model: str
    quantity: str
    edges: list[float]
    counts: list[int]
    flagged: list[int] = field(default_factory=list)
    cutoffs: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "quantity": self.quantity,
            "edges": self.edges,
            "counts": self.counts,
            "flagged": self.flagged,
            "cutoffs": self.cutoffs,
        }


@dataclass(frozen=True)
class ChartData:
    """The aggregates behind the data charts (report and --plot): no raw rows."""

    task: str
    # Regression: the residuals; classification on raw scores: the margin (or
    # log10 P(true class)). Flagged rows apart, per model, as `loss sensitivity`.
    residuals: list[Histogram]
    reliability: list[Reliability]  # classification on probabilities (per model)
    p_true: list[ValueHistogram]  # classification on probabilities (per model)
    values: list[ValueHistogram]  # structured families: per-sample losses (per model)
    groups: ComputeReport | None = None  # values per group with intervals (--group-by)
    notes: tuple[str, ...] = ()  # what cannot be drawn, and why

    @property
    def empty(self) -> bool:
        grouped = self.groups is not None and self.groups.group_column is not None
        return not (self.residuals or self.reliability or self.values or grouped)


@dataclass(frozen=True)
class ReportData:
    """Everything ``loss report`` shows; each part is the result its command prints."""

    compute: ComputeReport
    compare: CompareReport
    curves: CurvesReport | None
    sensitivity: SensitivityReport | None
    recommend: RecommendReport
    charts: ChartData
    notes: list[str] = field(default_factory=list)


def curve_selections(selections: list[LossSelection]) -> list[LossSelection]:
    """The selected losses that have a curve over an error grid (built-in, not structured).

    Figures of many rows (scores, zero-one, calibration, interval figures) have none:
    the report shows their values and leaves them out of the curves.
    """
    out: list[LossSelection] = []
    for s in selections:
        if is_custom(s.spec) or s.spec.task not in (Task.REGRESSION, Task.BINARY, Task.MULTICLASS):
            continue
        if s.spec.evaluation_only:
            continue
        if all(s.label != o.label for o in out):
            out.append(s)
    return out


def _keep(dataset: Dataset) -> np.ndarray:
    if dataset.weights is None:
        return np.ones(dataset.n_rows, dtype=bool)
    return np.asarray(dataset.weights > 0)


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram of one model: top-label confidence against accuracy.

    The points are those of :meth:`losscli.core.calibration.ReliabilityBins.diagram`
    (15 equal-width bins, torchmetrics' definition), with the ece of the same bins.
    """

    model: str
    points: list[dict[str, float]]
    ece: float
    xlabel: str = "Top-label confidence"
    ylabel: str = "Accuracy"


def reliability_of(
    dataset: Dataset, model: str, raw_scores: bool, n_bins: int = DEFAULT_BINS
) -> Reliability | None:
    """The reliability bins of one classification model (None on raw scores: no probability)."""
    if raw_scores or dataset.task not in (Task.BINARY, Task.MULTICLASS):
        return None
    pred = np.asarray(dataset.models[model], dtype=np.float64)
    if dataset.task is Task.BINARY:
        q = sigmoid(pred) if dataset.from_logits else pred
        truth = np.asarray(dataset.y_true, dtype=np.float64)
    else:
        q = softmax(pred) if dataset.from_logits else pred
        if dataset.labels is not None:
            truth = np.asarray(dataset.labels, dtype=np.float64)
        else:  # soft targets: the class with the largest target share
            truth = np.argmax(np.asarray(dataset.y_true, dtype=np.float64), axis=1)
    bins = ReliabilityBins(n_bins)
    confidence, correct = top_label(truth, q)
    bins.add(confidence, correct, dataset.weights)
    return Reliability(model, bins.diagram(), bins.ece())


def p_true_histogram(dataset: Dataset, model: str, threshold: float) -> ValueHistogram:
    """P(true class) in 20 equal bins over [0, 1]; rows below ``threshold`` counted apart."""
    keep = _keep(dataset)
    p = np.clip(true_class_probability(dataset, model)[keep], 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, P_TRUE_BINS + 1)
    counts, _ = np.histogram(p, edges)
    flagged, _ = np.histogram(p[p < threshold], edges)
    return ValueHistogram(
        model,
        "P(true class)",
        [float(e) for e in edges],
        [int(c) for c in counts],
        [int(c) for c in flagged],
        [float(threshold)],
    )


def value_histogram(model: str, label: str, values: np.ndarray) -> ValueHistogram:
    """Equal-width bins of one loss's per-sample values (finite values only)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return ValueHistogram(model, f"per-sample {label}", [], [])
    lo, hi = float(np.min(x)), float(np.max(x))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, VALUE_BINS + 1)
    counts, _ = np.histogram(x, edges)
    return ValueHistogram(
        model, f"per-sample {label}", [float(e) for e in edges], [int(c) for c in counts]
    )


def recommend_for(dataset: Dataset, planned: tuple[PlannedLoss, ...] = ()) -> RecommendReport:
    """What ``loss recommend FILE`` (no flags; ``--losses`` rated as planned) concludes."""
    profile = profile_dataset(dataset, ROWSUM_TOLERANCE)
    flags = Flags()
    resolved = resolve_task(flags, data_task=dataset.task.value)
    notes: list[str] = []
    if len(dataset.model_names) > 1 and profile.model:
        notes.append(
            f"{len(dataset.model_names)} models: the evidence about predictions is that of the "
            f"first, {profile.model} (put the model you train first with --pred-col)"
        )
    notes.extend(dataset.notes)
    facts, contradictions = reconcile(flags, resolved, profile, planned)
    return run_recommend(
        facts, contradictions, task_reason=dataset.task_reason, flags=flags, notes=tuple(notes)
    )


def chart_data(
    dataset: Dataset,
    selections: list[LossSelection],
    *,
    rule: str = "mad",
    threshold: float | None = None,
    items: list[PerSample] | None = None,
    residuals: list[Histogram] | None = None,
    groups: ComputeReport | None = None,
) -> tuple[ChartData, list[str]]:
    """The data charts' aggregates of ``dataset``, and notes on what cannot be drawn.

    ``residuals`` reuses the histograms of a sensitivity report already run;
    ``items`` the per-sample losses of a compute already run.
    """
    notes: list[str] = []
    reliability: list[Reliability] = []
    p_true: list[ValueHistogram] = []
    values: list[ValueHistogram] = []
    classification = dataset.task in (Task.BINARY, Task.MULTICLASS)
    raw = classification and check_probabilities(dataset, selections)
    if (dataset.task is Task.REGRESSION or raw) and residuals is None:
        residuals = [
            histogram(dataset, flag_model(dataset, m, rule, threshold, raw), SENSITIVITY_BINS, raw)
            for m in dataset.model_names
        ]
    if classification:
        cut = threshold if threshold is not None else P_TRUE_THRESHOLD
        # The bins of the first ece/mce selected (ece:n_bins=10), else torchmetrics' 15.
        n_bins = next(
            (int(s.params["n_bins"]) for s in selections if s.name in ("ece", "mce")),
            DEFAULT_BINS,
        )
        for model in dataset.model_names:
            diagram = reliability_of(dataset, model, raw, n_bins)
            if diagram is not None:
                reliability.append(diagram)
                p_true.append(p_true_histogram(dataset, model, cut))
        if raw:
            notes.append(
                "the predictions are raw scores, not probabilities: no reliability diagram; "
                "the charts show the margins (use --from-logits if they are logits)"
            )
    elif dataset.task is not Task.REGRESSION:
        if items is None:
            items = per_sample_losses(dataset, selections)
        seen: set[str] = set()
        for item in items:
            if item.model in seen or item.scalar:
                continue
            seen.add(item.model)
            values.append(value_histogram(item.model, item.selection.label, item.defined(None)[0]))
    data = ChartData(
        task=dataset.task.value,
        residuals=list(residuals or []) if dataset.task is Task.REGRESSION or raw else [],
        reliability=reliability,
        p_true=p_true,
        values=values,
        groups=groups if groups is not None and groups.group_column is not None else None,
    )
    return data, notes


def build_report(
    dataset: Dataset,
    selections: list[LossSelection],
    *,
    ci_level: float | None = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    rule: str = "mad",
    threshold: float | None = None,
    errors: str = DEFAULT_ERRORS,
    planned: tuple[PlannedLoss, ...] = (),
) -> ReportData:
    """Run compute, compare, the curves, sensitivity and recommend on ``dataset``."""
    compute_report, items = compute(
        dataset, selections, ci_level=ci_level, n_boot=n_boot, seed=seed, command="report"
    )
    compare_report = compare_models(
        dataset, selections, ci_level=ci_level, n_boot=n_boot, seed=seed
    )
    curved = curve_selections(selections)
    curves = compare_curves(curved, parse_grid(errors)) if curved else None
    notes: list[str] = []
    sens = None
    if dataset.task in SUPPORTED:
        sens = sensitivity(
            dataset, selections, rule=rule, threshold=threshold, bins=SENSITIVITY_BINS
        )
    else:
        notes.append(
            f"the outlier-sensitivity analysis applies to regression and classification; "
            f"these are {dataset.task.value} data, so the report shows the distribution of "
            f"each model's per-sample losses instead"
        )
    charts, chart_notes = chart_data(
        dataset,
        selections,
        rule=rule,
        threshold=threshold,
        items=items,
        residuals=None if sens is None else list(sens.histograms),
        groups=compute_report,
    )
    return ReportData(
        compute=compute_report,
        compare=compare_report,
        curves=curves,
        sensitivity=sens,
        recommend=recommend_for(dataset, planned),
        charts=charts,
        notes=notes + chart_notes,
    )
