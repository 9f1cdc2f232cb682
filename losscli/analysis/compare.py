"""``loss compare FILE``: losses side by side for every model, rankings and agreement.

For every (loss, model): the value (the core's reduction), the distribution of
the per-row terms (weighted median and 95th percentile, max, and the share of
the total carried by the worst 1% of rows). With several models, each loss
ranks them (signed losses such as mbe by absolute value: a bias of -2 is worse
than one of +1; scores such as r2, where higher is better, from the highest:
the registry's ``direction``; coverage, whose best value is its nominal level, ranks
nothing), and the best models per loss are compared: the losses agree
when they all pick the same model. ``--ci`` adds paired-bootstrap intervals of
each model's difference to the best: every replicate draws the same rows for
all models, so the row-to-row noise they share cancels out of the difference.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from losscli.analysis.bootstrap import percentile_interval
from losscli.analysis.diagnostics import top_share, warnings_for
from losscli.analysis.evaluate import PerSample, per_sample_losses
from losscli.core.dataset import Dataset
from losscli.core.reduction import reduce_values, weighted_percentile
from losscli.core.registry import LossSelection, LossSpec, Reduction

#: reductions whose per-row terms are losses of single rows (see _distribution).
PER_ROW_REDUCTIONS = (
    Reduction.MEAN,
    Reduction.SQRT_MEAN,
    Reduction.MEDIAN,
    Reduction.MAX,
    Reduction.SUM,
)


@dataclass(frozen=True)
class ModelLoss:
    """One loss for one model: the value, its per-row distribution, its rank."""

    loss: str
    label: str
    params: dict[str, Any]
    model: str
    value: float
    # None for a --custom loss that returned one number for all rows (no per-row breakdown).
    median: float | None
    p95: float | None
    max: float | None
    top1pct_share: float | None
    # 1 for the best; models with equal values share a rank (1, 1, 3); None where the
    # value is not defined (a score of overflowing sums), which ranks nothing.
    rank: int | None
    # How far behind the best model, in the loss's units and ranking terms: >= 0,
    # value - best for losses, |value| - |best| for signed ones, best - value for scores.
    diff_to_best: float
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    percent: bool = False
    signed: bool = False
    scalar: bool = False  # a --custom loss returned one number, broadcast to every row
    higher: bool = False  # a score: higher is better
    per_row: bool = True  # False: no per-row statistics for this figure (scores, ratios)

    def as_dict(self, with_ci: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "loss": self.loss,
            "params": dict(self.params),
            "model": self.model,
            "value": self.value,
            "median": self.median,
            "p95": self.p95,
            "max": self.max,
            "top1pct_share": self.top1pct_share,
            "rank": self.rank,
            "diff_to_best": self.diff_to_best,
        }
        if with_ci:
            row["diff_ci_low"] = self.diff_ci_low
            row["diff_ci_high"] = self.diff_ci_high
        return row


@dataclass(frozen=True)
class Agreement:
    """Whether the losses pick the same best model, and which do not."""

    agree: bool
    best_model: str | None  # the model most losses rank first
    best_by_loss: dict[str, str]
    disagreeing: list[str]  # losses whose best model is not ``best_model``

    def as_dict(self) -> dict[str, Any]:
        return {
            "agree": self.agree,
            "best_model": self.best_model,
            "best_by_loss": dict(self.best_by_loss),
            "disagreeing": list(self.disagreeing),
        }


@dataclass(frozen=True)
class CompareReport:
    """What ``loss compare FILE`` found."""

    source: str
    task: str
    task_reason: str
    n_rows: int
    n_dropped: int
    models: list[str]
    results: list[ModelLoss]
    rankings: dict[str, list[str]]
    agreement: Agreement
    ci_level: float | None = None
    n_boot: int = 0
    seed: int = 0
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # SPEC 12: paired tests of equal expected loss (>= 2 models; analysis/significance.py)
    tests: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        with_ci = self.ci_level is not None
        out: dict[str, Any] = {
            "command": "compare",
            "source": self.source,
            "task": self.task,
            "n_rows": self.n_rows,
            "n_dropped": self.n_dropped,
            "models": list(self.models),
            "results": [r.as_dict(with_ci) for r in self.results],
            "rankings": {k: list(v) for k, v in self.rankings.items()},
            "agreement": self.agreement.as_dict(),
        }
        if len(self.models) >= 2:
            out["tests"] = [t.as_dict() for t in self.tests]
        if with_ci:
            out["ci_level"] = self.ci_level
            out["bootstrap"] = self.n_boot
            out["seed"] = self.seed
        out["task_reason"] = self.task_reason
        out["warnings"] = list(self.warnings)
        return out


def ranking_key(value: float, signed: bool, higher: bool = False) -> float:
    """What a ranking orders by (smaller first); NaN last.

    The value for losses, its size for signed losses (mbe), minus the value
    for scores where higher is better (r2, accuracy).
    """
    if value != value:
        return math.inf
    if higher:
        return -value
    return abs(value) if signed else value


def rank_models(values: dict[str, float], signed: bool, higher: bool = False) -> list[str]:
    """Models from best to worst (ties keep the input order)."""
    return sorted(values, key=lambda m: ranking_key(values[m], signed, higher))


#: Values this close (relative) are a tie: the same figure summed in another row order
#: differs in its last bits (the project's standard of equality between paths).
TIE_TOLERANCE = 1e-12


def better(key: float, other: float, floor: float = 0.0) -> bool:
    """Whether ranking key ``key`` is better than ``other`` by more than a tie.

    ``floor``: the smallest difference that is not a tie whatever the values (a
    signed loss near 0, e.g. a bias of 3e-17 against 1e-17, is rounding of sums
    of much larger terms: see :func:`tie_floor`).
    """
    if not key < other:
        return False
    if math.isinf(key) or math.isinf(other):
        return True
    return other - key > max(TIE_TOLERANCE * max(abs(key), abs(other)), floor)


def tie_floor(figures: list[ItemFigures]) -> float:
    """The tie floor of a signed loss: TIE_TOLERANCE x the size of its per-row terms
    (their median, p95 and max over the models); its mean cancels to near 0, so
    values far below that size are rounding. 0 when there are no per-row figures."""
    sizes = [
        abs(x)
        for f in figures
        for x in (f.median, f.p95, f.max)
        if x is not None and math.isfinite(x)
    ]
    return TIE_TOLERANCE * max(sizes, default=0.0)


def decides(values: list[float], signed: bool, higher: bool = False, floor: float = 0.0) -> bool:
    """Whether a loss with these values (one a model) names a best model: its best
    value is defined and finite, and better than every other (not a tie)."""
    keys = sorted(ranking_key(v, signed, higher) for v in values)
    return (
        bool(keys)
        and math.isfinite(keys[0])
        and (len(keys) == 1 or better(keys[0], keys[1], floor))
    )


def agreement_of(
    rankings: dict[str, list[str]],
    signed: frozenset[str] = frozenset(),
    undecided: frozenset[str] = frozenset(),
) -> Agreement:
    """The model most losses rank first, and the losses that rank another first.

    A signed loss (mbe, labels in ``signed``) is a bias check, not a preference:
    it names the model with the smaller bias but neither votes nor disagrees,
    unless only signed losses were chosen. A loss in ``undecided`` (its best
    value tied, undefined or infinite: see :func:`decides`) names no model.
    """
    best_by_loss = {
        label: order[0] for label, order in rankings.items() if order and label not in undecided
    }
    voting = {label: m for label, m in best_by_loss.items() if label not in signed}
    if all(label in signed for label in rankings):  # only bias checks were chosen
        voting = best_by_loss
    if not voting:
        return Agreement(True, None, best_by_loss, [])
    votes = Counter(voting.values())
    top = max(votes.values())
    # Ties in the vote go to the model chosen by the earliest loss.
    best = next(m for m in voting.values() if votes[m] == top)
    disagreeing = [label for label, m in voting.items() if m != best]
    return Agreement(not disagreeing, best, best_by_loss, disagreeing)


def _one_row(value: float, kind: Reduction) -> float:
    """The loss of a single row with this per-row term (sqrt for rmse, else the term)."""
    return reduce_values(np.array([value]), None, kind)


def _distribution(
    values: np.ndarray, weights: np.ndarray | None, kind: Reduction
) -> tuple[float, float, float]:
    """Weighted median, 95th percentile and max of the per-row losses.

    Quantiles are taken of the terms being averaged and then mapped to one
    row's loss (|e| rather than e^2 for rmse), which commutes with quantiles
    because that map is monotone.
    """
    keep = np.ones(values.shape[0], dtype=bool) if weights is None else weights > 0
    if not keep.any():
        return math.nan, math.nan, math.nan
    median = weighted_percentile(values, weights, 50.0)
    p95 = weighted_percentile(values, weights, 95.0)
    largest = float(np.max(values[keep]))
    return _one_row(median, kind), _one_row(p95, kind), _one_row(largest, kind)


@dataclass(frozen=True)
class ItemFigures:
    """The measured figures of one (loss, model): what the in-memory path and plans share.

    ``median``/``p95``/``max`` are already mapped to one row's loss
    (:func:`_one_row`); None where there are no per-row figures (a scalar
    --custom loss, scores, ratios: see :func:`per_row_statistics`).
    """

    selection: LossSelection
    model: str
    value: float
    median: float | None
    p95: float | None
    max: float | None
    top1pct_share: float | None
    scalar: bool = False


@dataclass(frozen=True)
class InputFacts:
    """What the report says about its input."""

    source: str
    task: str
    task_reason: str
    n_rows: int  # the file's data rows used
    n_dropped: int
    models: list[str]
    notes: list[str] = field(default_factory=list)


def compare_models(
    dataset: Dataset,
    selections: list[LossSelection],
    *,
    ci_level: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> CompareReport:
    """Every selected loss for every model, ranked, with paired intervals when asked.

    With ``ci_level`` this is the plan of ``compare --ci``
    (:func:`~losscli.analysis.compare_plan.compare_plan`) run on the data as one
    batch, so in-memory and streamed intervals are the same.
    """
    if ci_level is not None:
        from losscli.analysis.compare_plan import compare_plan
        from losscli.analysis.plan import run_in_memory

        plan = compare_plan(lambda head: selections, ci_level=ci_level, n_boot=n_boot, seed=seed)
        report: CompareReport = run_in_memory(plan, dataset)
        return report
    items = per_sample_losses(dataset, selections)
    weights = dataset.weights
    figures = [item_figures(i, weights) for i in items]
    facts = InputFacts(
        source=dataset.source,
        task=dataset.task.value,
        task_reason=dataset.task_reason,
        n_rows=dataset.n_file_rows,
        n_dropped=dataset.n_dropped,
        models=dataset.model_names,
        notes=list(dataset.notes),
    )
    report = assemble_report(
        facts,
        figures,
        warnings_for(dataset, items),
    )
    # --- SPEC 12 significance: the same sums as the plan, over all rows at once ---
    from losscli.analysis import significance as sig

    tests = sig.planned_tests(selections, dataset.model_names)
    state = sig.new_test_state(tests)
    sig.add_rows(state, tests, [i.values for i in items], weights)
    autocov = None
    column = dataset.columns.get("time")
    if "time" in dataset.extra and column:  # --time-col: the same second pass, in memory
        hac = sig.hac_step(selections, tests, state, column)
        if hac is not None:
            found = hac.finish(hac.update(hac.new_state(), dataset))
            autocov = sig.full_autocov(tests, found)
    return replace(report, tests=sig.results(tests, state, autocov))


def per_row_statistics(spec: LossSpec) -> bool:
    """Whether the per-row distribution (median, p95, max, top 1%) means something.

    Not for scores (a row's accuracy is 0 or 1; its "share" of an accuracy is no
    burden) nor for figures that are not means of per-row terms (r2, ece: their
    per-row arrays are components of a ratio, not losses).
    """
    return not spec.higher_is_better and spec.reduction in PER_ROW_REDUCTIONS


def item_figures(item: PerSample, weights: np.ndarray | None) -> ItemFigures:
    """The figures of one (loss, model) from its per-row losses in memory."""
    spec = item.selection.spec
    value = reduce_values(item.values, weights, item.selection.reducer)
    median: float | None = None
    p95: float | None = None
    largest: float | None = None
    share: float | None = None
    # A --custom loss that returned one number has no per-row statistics: the
    # broadcast copies would make up a median, a max and a top-1% share.
    if not item.scalar and per_row_statistics(spec):
        # Per-row statistics over the rows where the loss is defined (GAN generator
        # losses: the d_fake rows), not the zeros the kernel puts elsewhere.
        defined, defined_weights = item.defined(weights)
        median, p95, largest = _distribution(defined, defined_weights, spec.reduction)
        share = None if spec.signed else top_share(defined, defined_weights, 0.01)
        if share is not None and share != share:
            share = None
    return ItemFigures(item.selection, item.model, value, median, p95, largest, share, item.scalar)


def assemble_report(
    facts: InputFacts,
    figures: list[ItemFigures],
    warnings: list[str],
    *,
    ci_level: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    replicates: np.ndarray | None = None,
) -> CompareReport:
    """Rankings, agreement and rows from the measured figures (in (loss, model) order)."""
    # figures are in (loss, model) order: group the column indices of each selection.
    groups: dict[str, list[int]] = {}
    for j, item in enumerate(figures):
        groups.setdefault(item.selection.label, []).append(j)

    rankings: dict[str, list[str]] = {}
    undecided: set[str] = set()
    results: list[ModelLoss] = []
    for label, columns in groups.items():
        spec = figures[columns[0]].selection.spec
        if spec.nominal:  # coverage: closer to its nominal level is better; never ranked
            for j in columns:
                row = _model_loss(figures[j], [], 0.0, spec.signed)
                results.append(replace(row, rank=None, diff_to_best=math.nan))
            continue
        by_model = {figures[j].model: figures[j].value for j in columns}
        higher = spec.higher_is_better
        order = rank_models(by_model, spec.signed, higher)
        rankings[label] = order
        floor = tie_floor([figures[j] for j in columns]) if spec.signed else 0.0
        if not decides(list(by_model.values()), spec.signed, higher, floor):
            undecided.add(label)
        best_column = next(j for j in columns if figures[j].model == order[0])
        best_key = ranking_key(figures[best_column].value, spec.signed, higher)
        keys = [ranking_key(v, spec.signed, higher) for v in by_model.values()]
        for j in columns:
            row = _model_loss(figures[j], keys, best_key, spec.signed, floor)
            # A resample of fewer than two rows is those rows: no interval.
            if replicates is not None and ci_level is not None and facts.n_rows >= 2:
                row = _with_interval(
                    row,
                    replicates[:, j],
                    replicates[:, best_column],
                    spec.signed,
                    ci_level,
                    higher,
                )
            results.append(row)

    return CompareReport(
        source=facts.source,
        task=facts.task,
        task_reason=facts.task_reason,
        n_rows=facts.n_rows,
        n_dropped=facts.n_dropped,
        models=list(facts.models),
        results=results,
        rankings=rankings,
        agreement=agreement_of(
            rankings,
            frozenset(r.label for r in results if r.signed and r.label in rankings),
            frozenset(undecided),
        ),
        ci_level=ci_level,
        n_boot=n_boot if ci_level is not None else 0,
        seed=seed,
        warnings=warnings,
        notes=list(facts.notes),
    )


def _model_loss(
    item: ItemFigures,
    keys: list[float],
    best_key: float,
    signed: bool,
    floor: float = 0.0,
) -> ModelLoss:
    """``keys``: the ranking keys of every model on this loss (see :func:`ranking_key`);
    ``floor``: its tie floor (see :func:`better`)."""
    spec = item.selection.spec
    mine = ranking_key(item.value, signed, spec.higher_is_better)
    # Competition ranking: 1 + the models better by more than a tie; none without a value.
    rank = None if item.value != item.value else 1 + sum(better(k, mine, floor) for k in keys)
    return ModelLoss(
        loss=spec.name,
        label=item.selection.label,
        params=dict(item.selection.params),
        model=item.model,
        value=item.value,
        median=item.median,
        p95=item.p95,
        max=item.max,
        top1pct_share=item.top1pct_share,
        rank=rank,
        diff_to_best=mine - best_key,
        percent=spec.percent,
        signed=signed,
        scalar=item.scalar,
        higher=spec.higher_is_better,
        per_row=per_row_statistics(spec),
    )


def _with_interval(
    row: ModelLoss,
    reps: np.ndarray,
    best_reps: np.ndarray,
    signed: bool,
    level: float,
    higher: bool = False,
) -> ModelLoss:
    """Attach the paired percentile interval of (this model - the best) in ranking terms.

    Ranking terms: how far behind the best, so positive means worse (for scores
    where higher is better, best - this model).
    """
    if row.value != row.value:  # no value, no difference to the best
        return row
    if higher:
        with np.errstate(invalid="ignore"):
            diffs = best_reps - reps
    elif signed:
        diffs = np.abs(reps) - np.abs(best_reps)
    else:
        with np.errstate(invalid="ignore"):
            diffs = reps - best_reps
    low, high = percentile_interval(diffs, level)
    if low != low:  # no finite replicate
        return row
    return replace(row, diff_ci_low=low, diff_ci_high=high)
