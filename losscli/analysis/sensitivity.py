"""``loss sensitivity``: how much each loss is driven by a few rows.

Flagging (per model, from that model's own predictions):

- regression: the residual r = y_true - y_pred, flagged by
  :func:`losscli.analysis.outliers.flag_outliers` (MAD robust z > 3.5 by
  default, or Tukey's fences with ``rule="iqr"``; MAD == 0 falls back to
  1.2533 x the mean absolute deviation, see that module);
- binary / multiclass: "confidently wrong" rows, whose predicted probability of
  the true class is below the threshold (default 0.01). From logits it is
  computed with the stable sigmoid / softmax. With soft targets the
  probability of the true class is sum_c t_c q_c.
- margin losses on raw scores (rule ``"margin"``): when every selected loss is
  margin-based and not probabilistic (hinge, squared_hinge, multiclass_hinge)
  and the predictions are not all in [0, 1], they are raw scores, not
  probabilities, and are read as logits for flagging. Binary: a row is flagged
  when its margin t s (t = 2y - 1) is below logit(threshold) = ln(p / (1 - p));
  the default p = 0.01 gives margin < -4.595, the margin at which a logistic
  link would put P(true class) at 1% (the same rule as the probability one
  under --from-logits). Multiclass: softmax of the scores, as for logits.

Rows of zero weight take no part: they are never flagged and the cut-offs are
computed without them. Otherwise the flagging is unweighted (a weight says how
much a row counts in the loss, not whether its residual is unusual).

Figures for every loss and model (weights respected, every value through
:func:`losscli.core.reduction.reduce_values`):

- ``change_pct`` = 100 (value - value_without_outliers) / value_without_outliers;
  0 when both are 0; None (JSON null) when value_without_outliers is 0 and
  value is not (the flagged rows carry all of the loss) or when every row is
  flagged. Signed losses (mbe) use the same formula, so the sign is relative to
  the sign of value_without_outliers.
- ``outlier_share`` = sum(w l, flagged rows) / sum(w l) over the per-sample
  terms the reduction works on: squared errors for rmse, |e| for median_ae and
  max_error (their value ignores how big most terms are; the share shows how
  much of the error mass sits in the flagged rows). Signed losses (mbe) use
  |l|: the share of the total absolute error sum(w |e|), since a signed mean
  has no share of its own (rows of opposite sign cancel); JSON says so in
  ``share_of``.
- ``top1pct_share``: the share carried by the worst 1% of rows
  (:func:`losscli.analysis.diagnostics.top_share`; |l| for signed losses).
- signed losses also get ``abs_change_pct`` = 100 (|value| - |without|) / |without|,
  the change of the size of the bias; the table's change column shows
  ``change_pct`` (the SPEC formula, whose sign is relative to the sign of
  value_without_outliers) as every format does, and the |bias| reading is in
  the footnote and verdict text: "the bias moves from X to Y (|bias| +N%)".
- a ``--custom`` loss that returns one number (SPEC 3: broadcast to every row,
  :attr:`PerSample.scalar`) is called again on the rows not flagged for
  ``value_without_outliers`` and on the data plus the synthetic row for the
  injection; it has no per-row shares (nan, "-") and no verdict
  ("no verdict", one number for all rows).

Injection test: one synthetic row is appended and each loss is recomputed.
Regression: y_pred = the median prediction, y_true = y_pred + k x scale, with
scale = 1.4826 MAD of the residuals (the robust standard deviation; the
fallback scale when MAD is 0; 1.0 when even that is 0). Classification: a row
of the first class (binary: y_true = 1) whose true-class logit is -k, the other
logits 0 (probabilities: sigmoid(-k) / softmax). The row gets the mean weight
of the rows of positive weight (1 without weights), so it counts as one
typical row. ``change_pct`` = 100 (value_with_row - value) / value.

Growth and verdict: the growth exponent b is the slope of log |change| against
log k once the synthetic row dominates the loss. It is measured on further
injections at k = 1e3, 1e4, ... 1e12 (not shown; the same row, only larger)
between successive decades, until two successive slopes agree within 0.02;
if those injections are outside the domain or not finite, the two largest
shown k are used. So rmse (the square root of a mean: its change is ~k^2 while
the row is small against the total, ~k once it dominates) reads b = 1, mse 2,
mae 1, median_ae 0, whatever the size of the data. b >= 1.5 is "quadratic",
0.5 <= b < 1.5 "linear", b < 0.5 "bounded"; no change at k=10 but a change at
k=100 is a "jump" (the value is set by the single largest row, as max_error);
"n/a" when no injection gives a finite change (the value itself overflows float64).
``growth_ratio`` R = change at k=100 / change at k=10 is kept in JSON. A loss of
0 (exact predictions) has no % change (n/a in the table); its growth is read
from the injected values themselves, which the exponent does not depend on.

Clipping: a probability loss with an ``eps`` parameter (bce, focal, cce, ...)
on probabilities clips P(true class) at eps, so the synthetic row's loss stops
at about -ln(eps) (36.04 for float64 eps) from k ~ 36 on and the change at
k=50 and k=100 is the same. That loss is bounded only by the clipping, not
robust: when the row's P(true class) is below eps at the largest k and its loss
is the same at the two largest k, growth is "clipped" and the loss is
sensitive. The same rows are also computed through logits (the stable
log-sigmoid / log-softmax, no clipping): ``value_unclipped`` and
``change_pct_unclipped`` in JSON, and the exponent of that growth in the
verdict (~k for bce).

A loss is **sensitive** when any of these holds, else **robust**:

- its reduction is the maximum (max_error): one row sets it;
- its growth is quadratic, a jump, or clipped (bounded only by eps);
- the flagged rows change it by 100% or more (abs(change_pct) >= 100: they at
  least double it);
- the worst 1% of rows carry half of it or more (top1pct_share >= 0.5, the same
  threshold ``loss compute`` warns at; only with >= 100 rows, as there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from losscli.analysis.diagnostics import DOMINANT_SHARE, input_warnings, overflow_text, top_share
from losscli.analysis.evaluate import PerSample, per_sample_losses
from losscli.analysis.outliers import (
    DEFAULT_THRESHOLD,
    flag_outliers,
    residuals_of,
    rounding_floor_of,
)
from losscli.core.dataset import Dataset
from losscli.core.reduction import new_accumulator, reduce_values
from losscli.core.registry import (
    PLAIN_REDUCTIONS,
    LossInputs,
    LossSelection,
    Reduction,
    Task,
    is_custom,
)
from losscli.core.stable import sigmoid, softmax
from losscli.errors import DataError
from losscli.words import plural

INJECTION_KS = (5.0, 10.0, 50.0, 100.0)
PROBE_KS = tuple(10.0**j for j in range(3, 13))  # where the synthetic row dominates
SLOPE_AGREE = 0.02  # successive slopes this close: the asymptotic exponent
P_TRUE_THRESHOLD = 0.01  # confidently wrong: P(true class) below this
SENSITIVE_CHANGE_PCT = 100.0  # the flagged rows (or one bad row) at least double the loss
BARELY_PCT = 10.0  # a bounded loss that one bad row moves by less than this: "barely"
QUADRATIC_EXPONENT = 1.5  # growth exponent b >= 1.5: ~k^2
LINEAR_EXPONENT = 0.5  # below this a larger error barely moves the loss: bounded
MIN_ROWS_TOP1 = 100  # below 100 rows "the worst 1%" is one row: not a verdict criterion
HISTOGRAM_FLOOR = 1e-16  # log10 P(true class) is drawn from -16 up
MAX_ROWS_LISTED = 100
SUPPORTED = (Task.REGRESSION, Task.BINARY, Task.MULTICLASS)
#: the mean under the root of a SQRT_MEAN loss, named (its verdict is that mean's)
ROOT_OF = {"rmse": "mse", "rmsle": "msle"}
NO_VERDICT = "no verdict"  # a scalar --custom loss: one number for all rows
ONE_NUMBER = "one number for all rows"  # why, in the report's text


@dataclass(frozen=True)
class ModelOutliers:
    """The rows flagged for one model, and the rule, cut-offs and scale behind them."""

    model: str
    rule: str  # "mad", "iqr", "p_true" (classification) or "margin" (raw scores)
    threshold: float
    # Over all rows of an in-memory dataset; empty in a streamed result (the rows are
    # not kept: ``rows`` names the flagged ones).
    mask: np.ndarray
    rows: list[int]  # 1-based data-row numbers of every flagged row
    n_considered: int  # rows of positive weight
    scale: float  # robust sd of the residuals (regression), nan otherwise
    center: float  # median residual (regression), nan otherwise
    fallback: bool  # MAD was 0: the fallback scale was used
    lower: float  # flagged below this (residual, P(true class), or margin t s)
    upper: float  # flagged above this (regression)
    # Streamed plans keep the first MAX_ROWS_LISTED rows and the count (None: len(rows)).
    n_flagged: int | None = None

    @property
    def count(self) -> int:
        return len(self.rows) if self.n_flagged is None else self.n_flagged

    @property
    def fraction(self) -> float:
        return self.count / self.n_considered if self.n_considered else 0.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "threshold": self.threshold,
            "count": self.count,
            "fraction": self.fraction,
            "rows": self.rows[:MAX_ROWS_LISTED],
            "model": self.model,
        }
        if self.rule == "p_true":
            out["p_true_below"] = self.lower
        elif self.rule == "margin":
            out["p_true_below"] = self.threshold
            out["margin_below"] = self.lower
        else:
            out.update(
                center=self.center,
                scale=self.scale,
                fallback=self.fallback,
                lower=self.lower,
                upper=self.upper,
            )
        return out


@dataclass(frozen=True)
class Histogram:
    """Counts of the residuals (or log10 P(true class)) in equal bins, flagged rows apart."""

    model: str
    quantity: str  # what is on the x axis
    edges: list[float]
    counts: list[int]
    flagged: list[int]
    cutoffs: list[float]  # where the rule's cut-offs fall, to mark on the axis

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
class SensitivityResult:
    """One loss for one model: with and without the flagged rows, growth and verdict."""

    loss: str
    label: str
    params: dict[str, Any]
    model: str
    value: float
    value_without_outliers: float
    change_pct: float | None
    outlier_share: float
    top1pct_share: float
    growth: str  # "quadratic", "linear", "bounded", "jump", "clipped"
    growth_ratio: float | None
    verdict: str  # "robust", "sensitive" or "no verdict" (a scalar --custom loss)
    reasons: list[str] = field(default_factory=list)
    percent: bool = False
    signed: bool = False
    growth_exponent: float | None = None  # b of change ~ k^b at the largest k
    clip_eps: float | None = None  # growth "clipped": the eps that bounds it
    unclipped_exponent: float | None = None  # b of the same rows through logits
    ratio: bool = False  # a ratio of sums (r2, ece): no per-row shares, no verdict

    @property
    def abs_change_pct(self) -> float | None:
        """Change of |value| (signed losses: the size of the bias)."""
        return change_pct(abs(self.value), abs(self.value_without_outliers))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "loss": self.loss,
            "params": dict(self.params),
            "model": self.model,
            "value": self.value,
            "value_without_outliers": self.value_without_outliers,
            "change_pct": self.change_pct,
            "outlier_share": self.outlier_share,
            "top1pct_share": self.top1pct_share,
            "growth": self.growth,
            "growth_ratio": self.growth_ratio,
            "growth_exponent": self.growth_exponent,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "share_of": "sum of |per-sample terms|" if self.signed else "sum of per-sample terms",
        }
        if self.signed:
            out["abs_change_pct"] = self.abs_change_pct
        if self.clip_eps is not None:
            out["clip_eps"] = self.clip_eps
            out["unclipped_exponent"] = self.unclipped_exponent
        return out


@dataclass(frozen=True)
class InjectionResult:
    """How one loss moves when one synthetic row of k x scale error is appended."""

    loss: str
    label: str
    params: dict[str, Any]
    model: str
    k: float
    residual: float | None  # regression: k x scale; classification: None
    p_true: float | None  # classification: P(true class) of the synthetic row
    value: float | None  # the loss with the synthetic row (None: outside the domain)
    change_pct: float | None
    value_unclipped: float | None = None  # probability losses with eps: through logits
    change_pct_unclipped: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "loss": self.loss,
            "params": dict(self.params),
            "model": self.model,
            "scale": int(self.k) if float(self.k).is_integer() else self.k,
            "change_pct": self.change_pct,
            "value": self.value,
        }
        if self.residual is not None:
            out["residual"] = self.residual
        if self.p_true is not None:
            out["logit"] = -self.k
            out["p_true"] = self.p_true
        if self.value_unclipped is not None:
            out["value_unclipped"] = self.value_unclipped
            out["change_pct_unclipped"] = self.change_pct_unclipped
        return out


@dataclass(frozen=True)
class SensitivityReport:
    """What ``loss sensitivity`` found."""

    source: str
    task: str
    task_reason: str
    n_rows: int
    n_dropped: int
    models: list[str]
    outliers: list[ModelOutliers]
    results: list[SensitivityResult]
    injection: list[InjectionResult]
    histograms: list[Histogram]
    injection_scale: dict[str, float]  # model -> the scale k multiplies
    from_logits: bool = False
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    raw_scores: bool = False  # margin losses on raw scores: read as logits to flag

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": "sensitivity",
            "source": self.source,
            "task": self.task,
            "n_rows": self.n_rows,
            "n_dropped": self.n_dropped,
            "outliers": self.outliers[0].as_dict() if self.outliers else None,
            "outliers_by_model": {o.model: o.as_dict() for o in self.outliers},
            "results": [r.as_dict() for r in self.results],
            "injection": [i.as_dict() for i in self.injection],
            "injection_scale": dict(self.injection_scale),
            "histograms": [h.as_dict() for h in self.histograms],
            "task_reason": self.task_reason,
            "raw_scores": self.raw_scores,
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------- flagging


def true_class_probability(
    dataset: Dataset, model: str, as_logits: bool | None = None
) -> np.ndarray:
    """Predicted probability of the true class per row (stable sigmoid/softmax from logits).

    ``as_logits`` reads the predictions as logits even without --from-logits
    (raw scores of margin losses); None follows the dataset.
    """
    logits = dataset.from_logits if as_logits is None else as_logits
    pred = np.asarray(dataset.models[model], dtype=np.float64)
    y = np.asarray(dataset.y_true, dtype=np.float64)
    if dataset.task is Task.BINARY:
        p = sigmoid(pred) if logits else pred
        return np.where(y == 1, p, 1.0 - p)
    q = softmax(pred) if logits else pred
    if dataset.labels is not None:
        return q[np.arange(q.shape[0]), np.asarray(dataset.labels, dtype=np.intp)]
    return cast(np.ndarray, np.sum(y * q, axis=1))


def margin_only(selections: list[LossSelection]) -> bool:
    """Every selected loss reads y_pred as a raw score (hinge-type: margin, not probability)."""
    return bool(selections) and all(
        s.spec.properties.margin_based and not s.spec.properties.probabilistic for s in selections
    )


def check_probabilities(dataset: Dataset, selections: list[LossSelection] | None = None) -> bool:
    """Classification rows are flagged by probability: y_pred must be one (or a logit).

    Returns True when the predictions are raw scores of margin losses (outside
    [0, 1], every selected loss margin-based): they are flagged by margin.
    """
    if dataset.task is Task.REGRESSION or dataset.from_logits:
        return False
    raw = margin_only(selections or [])
    for model in dataset.model_names:
        pred = np.asarray(dataset.models[model])
        outside = ~((pred >= 0) & (pred <= 1))
        bad = np.asarray(outside.any(axis=1) if outside.ndim == 2 else outside)
        if bad.any():
            if raw:
                return True
            i = int(np.flatnonzero(bad)[0])
            shown = np.ravel(pred[i])
            raise DataError(
                f"loss sensitivity reads the predictions of {dataset.column_of('y_pred', model)} "
                f"as probabilities to find confidently wrong rows, but row "
                f"{int(dataset.row_numbers[i])} has {', '.join(f'{v:g}' for v in shown)} "
                f"({plural(int(bad.sum()), 'row')} outside [0, 1]); if these are raw scores "
                f"(logits), add --from-logits"
            )
    return False


def _positive(dataset: Dataset) -> np.ndarray:
    if dataset.weights is None:
        return np.ones(dataset.n_rows, dtype=bool)
    return np.asarray(dataset.weights) > 0


def logit(p: float) -> float:
    """ln(p / (1 - p)): the margin at which a logistic link gives probability p."""
    return math.log(p) - math.log1p(-p)


def margins(dataset: Dataset, model: str) -> np.ndarray:
    """Binary margins t s (t = 2y - 1) of raw scores."""
    t = 2.0 * np.asarray(dataset.y_true, dtype=np.float64) - 1.0
    return t * np.asarray(dataset.models[model], dtype=np.float64)


def flag_model(
    dataset: Dataset,
    model: str,
    rule: str = "mad",
    threshold: float | None = None,
    raw_scores: bool = False,
) -> ModelOutliers:
    """Flag one model's outlying rows (regression residuals, or confidently wrong rows).

    ``raw_scores``: the predictions are raw scores of margin losses; they are
    read as logits (binary: margin t s < logit(threshold)).
    """
    keep = _positive(dataset)
    mask = np.zeros(dataset.n_rows, dtype=bool)
    n_considered = int(keep.sum())
    if dataset.task is Task.REGRESSION:
        residual = residuals_of(dataset, model)
        floor = rounding_floor_of(dataset.y_true[keep], dataset.models[model][keep])
        flags = flag_outliers(residual[keep], rule, threshold, floor)
        mask[keep] = flags.mask
        return ModelOutliers(
            model=model,
            rule=flags.rule,
            threshold=flags.threshold,
            mask=mask,
            rows=[int(r) for r in dataset.row_numbers[mask]],
            n_considered=n_considered,
            scale=flags.scale,
            center=flags.center,
            fallback=flags.fallback,
            lower=flags.lower,
            upper=flags.upper,
        )
    limit = P_TRUE_THRESHOLD if threshold is None else float(threshold)
    lower = limit
    binary_margin = raw_scores and dataset.task is Task.BINARY
    if binary_margin:
        lower = logit(limit)
        mask[keep] = margins(dataset, model)[keep] < lower
    else:
        mask[keep] = true_class_probability(dataset, model, raw_scores or None)[keep] < limit
    return ModelOutliers(
        model=model,
        rule="margin" if binary_margin else "p_true",
        threshold=limit,
        mask=mask,
        rows=[int(r) for r in dataset.row_numbers[mask]],
        n_considered=n_considered,
        scale=math.nan,
        center=math.nan,
        fallback=False,
        lower=lower,
        upper=math.inf,
    )


# --------------------------------------------------------------------------- figures


def change_pct(value: float, base: float) -> float | None:
    """100 (value - base) / base; 0 when both are 0; None when base is 0 (or either is nan)."""
    if not (math.isfinite(value) and math.isfinite(base)):
        return None
    if base == 0:
        return 0.0 if value == 0 else None
    return 100.0 * (value - base) / base


def outlier_share(values: np.ndarray, weights: np.ndarray | None, mask: np.ndarray) -> float:
    """Share of sum(w l) carried by the masked rows (nan when the total is not positive)."""
    w = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64)
    contrib = np.where(w > 0, w * values, 0.0)
    total = float(np.sum(contrib))
    if not math.isfinite(total) or total <= 0:
        return math.nan
    return share_of(float(np.sum(contrib[mask])), total)


def share_of(part: float, total: float) -> float:
    """part / total, where a share past 1 by rounding alone (1 + 2e-16) reads as 1."""
    share = part / total
    return 1.0 if 1.0 < share <= 1.0 + 1e-12 else share


def _scalar_without(item: PerSample, inputs: LossInputs, mask: np.ndarray) -> float:
    """A scalar --custom loss called on the rows not flagged (nan when none is left)."""
    keep = ~mask
    if not keep.any():
        return math.nan
    with np.errstate(all="ignore"):
        values = item.selection.per_sample(inputs.take(keep))
    return float(values[0]) if values.size else math.nan


def _without(values: np.ndarray, weights: np.ndarray | None, mask: np.ndarray, kind: Any) -> float:
    keep = ~mask
    if not np.any(keep if weights is None else keep & (weights > 0)):
        return math.nan
    return reduce_values(values[keep], None if weights is None else weights[keep], kind)


# --------------------------------------------------------------------------- injection


def injection_scale(dataset: Dataset, outliers: ModelOutliers) -> float:
    """The unit k multiplies: the robust sd of the residuals (regression), 1 otherwise."""
    if dataset.task is not Task.REGRESSION:
        return 1.0
    scale = outliers.scale
    return scale if math.isfinite(scale) and scale > 0 else 1.0


def synthetic_row(
    dataset: Dataset,
    model: str,
    k: float,
    scale: float,
    *,
    write_logits: bool | None = None,
    from_logits: bool | None = None,
) -> LossInputs:
    """One row whose error is k x scale (regression) or whose true-class logit is -k.

    Classification: ``write_logits`` writes y_pred as the logits themselves
    (default: as the dataset holds them), ``from_logits`` is the flag the
    kernel sees (default: the dataset's). Both True is the unclipped view of a
    probability loss; write_logits alone is a raw score for margin losses.
    """
    keep = _positive(dataset)
    if dataset.task is Task.REGRESSION:
        p = float(np.median(dataset.models[model][keep]))
        return LossInputs(
            y_true=np.array([p + k * scale]),
            y_pred=np.array([p]),
            from_logits=dataset.from_logits,
        )
    logits = dataset.from_logits if write_logits is None else write_logits
    flag = dataset.from_logits if from_logits is None else from_logits
    if dataset.task is Task.BINARY:
        z = np.array([-k])
        return LossInputs(
            y_true=np.array([1.0]),
            y_pred=z if logits else sigmoid(z),
            from_logits=flag,
        )
    n_classes = dataset.models[model].shape[1]
    z = np.zeros((1, n_classes))
    z[0, 0] = -k
    target = np.zeros((1, n_classes))
    target[0, 0] = 1.0
    return LossInputs(
        y_true=target,
        y_pred=z if logits else softmax(z),
        from_logits=flag,
        labels=None if dataset.labels is None else np.array([0]),
    )


def _row_p_true(row: LossInputs, task: Task) -> float:
    if task is Task.BINARY:
        return float(sigmoid(row.y_pred)[0]) if row.from_logits else float(row.y_pred[0])
    q = softmax(row.y_pred) if row.from_logits else row.y_pred
    return float(q[0, 0])


def _in_domain(selection: LossSelection, row: LossInputs) -> bool:
    for rule in selection.spec.domain_for(selection.params):
        if rule.skip_with_logits and row.from_logits:
            continue
        if rule.target in ("y_true", "y_pred"):
            values = row.y_true if rule.target == "y_true" else row.y_pred
            if not np.all(rule.valid(values)):
                return False
    return True


def _appended(inputs: LossInputs, row: LossInputs) -> LossInputs:
    """The data's inputs with the synthetic row as one more row."""
    return LossInputs(
        y_true=np.concatenate([inputs.y_true, row.y_true]),
        y_pred=np.concatenate([inputs.y_pred, row.y_pred]),
        from_logits=row.from_logits,
        labels=None
        if inputs.labels is None or row.labels is None
        else np.concatenate([inputs.labels, row.labels]),
    )


def _injected_value(
    item: PerSample,
    weights: np.ndarray | None,
    row: LossInputs,
    row_weight: float,
    inputs: LossInputs | None = None,
) -> float | None:
    """The loss with the synthetic row appended (None: the row is outside its domain).

    A scalar --custom loss (``item.scalar``, given ``inputs``) is called on the
    data with the row, since its one number is not a sum over rows.
    """
    if not _in_domain(item.selection, row):
        return None
    if item.scalar and inputs is not None:
        with np.errstate(all="ignore"):
            values = item.selection.per_sample(_appended(inputs, row))
        return float(values[0]) if values.size and math.isfinite(values[0]) else None
    with np.errstate(all="ignore"):
        row_values = item.selection.per_sample(row)
    kind = item.selection.spec.reduction
    if kind is Reduction.MEDIAN:
        values = np.concatenate([item.values, row_values])
        w = None if weights is None else np.concatenate([weights, [row_weight]])
        return reduce_values(values, w, kind)
    # One more row is an O(1) update of the partial sums (as the streamed plan does it).
    acc = new_accumulator(item.selection.reducer)
    acc.add(item.values, weights)
    row_acc = new_accumulator(item.selection.reducer)
    row_acc.add(row_values, None if weights is None else np.array([row_weight]))
    return acc.merge(row_acc).result()  # type: ignore[arg-type]


def _clipping(
    eps: float,
    ks: list[float],
    changes: dict[float, float | None],
    unclipped: dict[float, float | None],
    row_losses: dict[float, float],
    top_row: LossInputs,
    task: Task,
    unclipped_probe: dict[float, float | None],
) -> Clipping | None:
    """A Clipping when the loss stops growing only because P(true class) is clipped at eps."""
    k1, k2 = ks[-2], ks[-1]
    c1, c2 = changes.get(k1), changes.get(k2)
    if c1 is None or c2 is None or _row_p_true(top_row, task) >= eps:
        return None
    l1, l2 = row_losses.get(k1, math.nan), row_losses.get(k2, math.nan)
    if not (math.isfinite(l1) and l1 == l2):
        return None
    free = unclipped.get(k2)
    if free is None or not abs(free) > abs(c2):
        return None  # through logits it grows no further: not a clipping artefact
    growth, _, exponent = growth_of(unclipped, unclipped_probe)
    return Clipping(eps, l2, c2, (k1, k2), growth, exponent, free)


def _probe_logits(
    dataset: Dataset, model: str, injected: Injected, value: float
) -> dict[float, float | None]:
    """The large-k injections through logits (no clipping)."""
    probe: dict[float, float | None] = {}
    for k in PROBE_KS:
        row = synthetic_row(dataset, model, k, 1.0, write_logits=True, from_logits=True)
        big = injected(row)
        probe[k] = None if big is None else change_pct(big, value)
        if asymptotic_exponent(probe) is not None:
            break
    return probe


# --------------------------------------------------------------------------- verdict


def asymptotic_exponent(probe: dict[float, float | None]) -> float | None:
    """The slope of log |change| against log k once successive slopes agree (None: unknown)."""
    tiny = 1e-12
    known = sorted(k for k, c in probe.items() if c is not None and math.isfinite(c))
    slopes: list[float] = []
    for k1, k2 in zip(known, known[1:]):
        c1, c2 = abs(probe[k1] or 0.0), abs(probe[k2] or 0.0)
        if c1 <= tiny:
            return None
        slopes.append(math.log(max(c2, tiny) / c1) / math.log(k2 / k1))
        if len(slopes) >= 2 and abs(slopes[-1] - slopes[-2]) <= SLOPE_AGREE:
            return slopes[-1]
    return None


def _judged_values(values: dict[float, float | None], squared: bool) -> dict[float, float | None]:
    """The injected values as judged (None where not finite): of the mean under the
    root (squared) for rmse."""
    return {
        k: None if v is None or not math.isfinite(v) else (v * v if squared else v)
        for k, v in values.items()
    }


def _from_zero(
    shown: dict[float, float | None], probe: dict[float, float | None]
) -> tuple[dict[float, float | None], dict[float, float | None]]:
    """The injected values of a loss that is 0 without them (as judged: see
    :func:`_judged_values`), as changes for :func:`growth_of`: each set scaled so that
    its largest is 100 (the thresholds there read percentages; the exponent does not
    depend on the scale)."""

    def scaled(values: dict[float, float | None]) -> dict[float, float | None]:
        terms = dict(values)
        top = max((abs(v) for v in terms.values() if v is not None), default=0.0)
        if top == 0 or not math.isfinite(top):
            return terms
        return {k: None if v is None else 100.0 * v / top for k, v in terms.items()}

    return scaled(shown), scaled(probe)


def growth_of(
    changes: dict[float, float | None], probe: dict[float, float | None] | None = None
) -> tuple[str, float | None, float | None]:
    """(label, R, b) from the injection changes (see the module docstring).

    R = change(k=100) / change(k=10); b = the growth exponent: from the large-k
    ``probe`` injections when they give one, else the slope of log |change|
    against log k between the two largest shown k.
    """
    low, high = changes.get(10.0), changes.get(100.0)
    tiny = 1e-9
    ratio = None
    if low is not None and high is not None:
        if abs(low) <= tiny:
            if abs(high) > tiny:
                return "jump", math.inf, None
        else:
            ratio = high / low
    exponent = asymptotic_exponent(probe) if probe else None
    if exponent is None:
        known = sorted(k for k, c in changes.items() if c is not None)
        if not known:  # no finite change at all (the value overflows float64)
            return "n/a", ratio, None
        if len(known) < 2:
            return "bounded", ratio, None
        k1, k2 = known[-2], known[-1]
        c1, c2 = abs(changes[k1] or 0.0), abs(changes[k2] or 0.0)
        if c1 <= tiny:
            return ("jump", math.inf, None) if c2 > tiny else ("bounded", ratio, None)
        exponent = math.log(max(c2, tiny) / c1) / math.log(k2 / k1)
    if exponent >= QUADRATIC_EXPONENT:
        return "quadratic", ratio, exponent
    if exponent >= LINEAR_EXPONENT:
        return "linear", ratio, exponent
    return "bounded", ratio, exponent


def format_pct(value: float | None) -> str:
    """A signed percentage with about 3 significant digits, in e-notation only past 1e9 %.

    The one format of every % in the report (table cells and verdict text alike).
    Changes beyond a billion percent (values near the float64 limit) read as
    ``+2.67e+201%``, not as two hundred digits.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if abs(value) < 0.005:
        return "0%"
    if abs(value) >= 1e9:
        return f"{value:+.3g}%"
    if abs(value) >= 1000:
        return f"{value:+.0f}%"
    return f"{value:+.3g}%"


_pct = format_pct


def fmt_value(value: float) -> str:
    """A value in verdict text (5 significant digits, sign kept)."""
    return f"{value:.5g}"


def power_text(growth: str, exponent: float | None) -> str:
    """~k^2 or ~k for a growth class, or ~k^b when the measured exponent is another power.

    The classes are verdict criteria (b >= 1.5 "quadratic", 0.5 <= b < 1.5
    "linear"); the text names the power measured, so a custom loss growing as
    |e|^3 reads ~k^3, not ~k^2 beside b=3.00.
    """
    base = {"quadratic": "~k^2", "linear": "~k"}[growth]
    if exponent is None:
        return base
    nominal = 2.0 if growth == "quadratic" else 1.0
    if abs(exponent - nominal) < 0.25:
        return base
    return f"~k^{exponent:.2g}" if exponent < 10 else f"~k^{exponent:.0f}"  # no 1.2e+02


def growth_text(growth: str, exponent: float | None) -> str:
    """~k^2 / ~k / bounded / jump / clipped, with the measured exponent when there is one."""
    if growth in ("quadratic", "linear"):
        base = power_text(growth, exponent)
        return base if exponent is None else f"{base} (b={exponent:.2f})"
    return growth


@dataclass(frozen=True)
class Clipping:
    """A probability loss bounded only by its clipping at eps (see the module docstring)."""

    eps: float
    row_loss: float  # the synthetic row's (clipped) loss at the largest k
    change: float | None  # the change at the two largest k (the same)
    ks: tuple[float, float]
    unclipped_growth: str
    unclipped_exponent: float | None
    unclipped_change: float | None  # through logits at the largest k


def squared_change(change: float | None) -> float | None:
    """The change of value^2 when value changes by ``change`` % (rmse -> the mean under its root)."""
    if change is None or not math.isfinite(change):
        return change
    return 100.0 * ((1.0 + change / 100.0) ** 2 - 1.0)


def _these_rows(n: int) -> str:
    """'these 1,000 rows', 'this 1 row' (the rows a verdict is measured on)."""
    return f"this {plural(n, 'row')}" if n == 1 else f"these {plural(n, 'row')}"


def verdict_of(
    change: float | None,
    share: float,
    top1: float,
    growth: str,
    ratio: float | None,
    fraction: float,
    n_rows: int = MIN_ROWS_TOP1,
    largest_row: float | None = None,
    *,
    exponent: float | None = None,
    clipping: Clipping | None = None,
    signed: tuple[float, float] | None = None,
    injected: dict[float, float | None] | None = None,
    root: str | None = None,
    robust_property: bool | None = None,
    name: str = "",
    from_zero: dict[float, float | None] | None = None,
) -> tuple[str, list[str]]:
    """("robust" | "sensitive", the reasons with their numbers).

    ``largest_row`` is given for max-type losses (max_error): the injection's
    change at the largest k; such a loss is the error of one row, so it is
    sensitive whatever its growth. ``clipping``: the growth stops only because
    probabilities are clipped at eps. ``signed``: (value, value_without) of a
    signed loss, said as "the bias moves from X to Y". ``injected``: the shown
    injection changes by k; one bad row that changes the loss by 100% or more
    (a signed loss: flips the sign of the bias, or doubles it) makes it
    sensitive, so the verdict never contradicts the injection table. ``root``:
    the loss is the square root of a mean (rmse of mse): it is judged on that
    mean (the changes and growth given are of the mean), so its verdict is the
    mean's. ``robust_property``: the registry's ``robust`` property
    (``loss info``); a verdict that differs from it says so and why.
    ``from_zero``: the loss is 0 without the bad row (exact predictions), and
    these are its values with it by k: any move away from 0 is an unbounded
    relative change, so one bad row that moves it makes it sensitive, as a
    change of 100% or more would.
    """
    sensitive: list[str] = []
    robust: list[str] = []
    it = "the mean under its root" if root else "it"
    b = "" if exponent is None else f"growth exponent {exponent:.2f} at large k"
    shown = {k: c for k, c in (injected or {}).items() if c is not None and math.isfinite(c)}
    biggest = max((abs(c) for c in shown.values()), default=0.0)
    moved_off = [
        (k, v)
        for k, v in sorted((from_zero or {}).items())
        if v is not None and math.isfinite(v) and v != 0
    ]
    if largest_row is not None:
        at_top = f"{_pct(largest_row)} at k=100"
        if moved_off and largest_row != largest_row:  # no % of 0
            at_top = f"from 0 to {fmt_value(moved_off[-1][1])} at k={moved_off[-1][0]:g}"
        sensitive.append(f"one row sets it, the largest error ({at_top})")
    elif clipping is not None:
        k1, k2 = clipping.ks
        through = growth_text(clipping.unclipped_growth, clipping.unclipped_exponent)
        sensitive.append(
            f"bounded only by clipping at eps={clipping.eps:.3g}: the bad row's P(true class) "
            f"is clipped at eps, so its loss stops at {clipping.row_loss:.4g} "
            f"(-ln(eps) = {-math.log(clipping.eps):.4g}), "
            f"{_pct(clipping.change)} at both k={k1:g} and k={k2:g}; unclipped (through "
            f"logits) it grows {through}, {_pct(clipping.unclipped_change)} at k={k2:g}"
        )
    elif growth in ("quadratic", "linear"):
        moves = f"one bad row moves {it} {power_text(growth, exponent)}" + (f" ({b})" if b else "")
        (sensitive if growth == "quadratic" else robust).append(moves)
    elif growth == "jump":
        sensitive.append(f"one bad row sets {it} (no change at k=10, a change at k=100)")
    elif biggest < BARELY_PCT:
        robust.append(f"one bad row barely moves {it} (bounded{', ' + b if b else ''})")
    else:
        robust.append(
            f"one bad row moves {it} by at most about {_pct(max(shown.values(), key=abs))} "
            f"(bounded{', ' + b if b else ''})"
        )
    # One bad row that doubles the loss (or flips the sign of a bias) in the
    # injection table: sensitive on these data, whatever its growth.
    big = [k for k in sorted(shown) if abs(shown[k]) >= SENSITIVE_CHANGE_PCT]
    if moved_off and not sensitive:
        k, v = moved_off[0]
        sensitive.append(
            f"one bad row moves {'the bias' if signed is not None else it} from 0 to "
            f"{fmt_value(v)} already at k={k:g} (in {plural(n_rows, 'row')}; growth "
            f"{growth_text(growth, exponent)})"
        )
    elif big and not sensitive:
        k = big[0]
        growth_said = growth_text(growth, exponent)
        if signed is not None:
            value = signed[0]
            moved_to = value * (1.0 + shown[k] / 100.0)
            what = (
                "flips the sign of the bias"
                if shown[k] <= -SENSITIVE_CHANGE_PCT
                else "at least doubles the bias"
            )
            sensitive.append(
                f"one bad row {what}: at k={k:g} it moves from {value:+.5g} to "
                f"{moved_to:+.5g} (in {plural(n_rows, 'row')})"
            )
        else:
            sensitive.append(
                f"one bad row changes {it} by {_pct(shown[k])} already at k={k:g} "
                f"(in {plural(n_rows, 'row')}; growth {growth_said})"
            )
    moved = ""
    if signed is not None and change is not None:
        value, without = signed
        moved = (
            f"move the bias from {fmt_value(without)} to {fmt_value(value)} "
            f"(|bias| {_pct(change_pct(abs(value), abs(without)))})"
        )
    if change is not None and abs(change) >= SENSITIVE_CHANGE_PCT:
        what = moved or f"change {it} by {_pct(change)}"
        sensitive.append(
            f"the {100 * fraction:.3g}% flagged rows {what} and carry {100 * share:.3g}% of "
            + ("its |e|" if signed is not None else "it")
        )
    elif change is None and fraction > 0:
        sensitive.append("the flagged rows carry all of it")
    elif fraction > 0 and change is not None:
        # A bias's move is said whatever the verdict (it is the reading of its change).
        (sensitive if moved and sensitive else robust).append(
            f"the flagged rows only {moved}"
            if moved
            else f"the flagged rows change {it} by only {_pct(change)}"
        )
    if n_rows >= MIN_ROWS_TOP1 and math.isfinite(top1) and top1 >= DOMINANT_SHARE:
        sensitive.append(f"the worst 1% of rows carry {100 * top1:.3g}% of it")
    verdict, reasons = ("sensitive", sensitive) if sensitive else ("robust", robust)
    if root:
        reasons.insert(0, f"{name} is the square root of a mean ({root}), judged on that mean")
    if robust_property is not None and robust_property != (verdict == "robust"):
        label = f"`loss info {name}`" if name else "`loss info`"
        if robust_property:
            reasons.append(
                f"{label} lists it as robust (in general a large error does not dominate "
                f"it), but on {_these_rows(n_rows)} the figures above say otherwise"
            )
        else:
            reasons.append(
                f"{label} lists it as not robust (in general large errors can dominate it); "
                f"on {_these_rows(n_rows)} no figure above reaches a sensitive threshold"
            )
    return verdict, reasons


# --------------------------------------------------------------------------- histogram


def residual_quantity(dataset: Dataset, model: str) -> str:
    """What a regression model's residual histogram counts: ``Residuals y_true - model_b``,
    with the file's target column and that model's own prediction column."""
    truth = dataset.columns.get("y_true") or "y_true"
    return f"Residuals {truth} - {dataset.columns.get(model) or model}"


def histogram(
    dataset: Dataset, outliers: ModelOutliers, bins: int, raw_scores: bool = False
) -> Histogram:
    """Equal-width bins of the residuals (or log10 P(true class)), flagged rows counted apart."""
    keep = _positive(dataset)
    model = outliers.model
    if dataset.task is Task.REGRESSION:
        x = residuals_of(dataset, model)[keep]
        quantity = residual_quantity(dataset, model)
        cutoffs = [c for c in (outliers.lower, outliers.upper) if math.isfinite(c)]
    elif outliers.rule == "margin":
        x = margins(dataset, model)[keep]
        quantity = "Margin t x score"
        cutoffs = [outliers.lower]
    else:
        p = true_class_probability(dataset, model, raw_scores or None)[keep]
        p = np.clip(p, HISTOGRAM_FLOOR, 1.0)
        x = np.log10(p)
        quantity = "log10 P(true class)"
        cutoffs = [math.log10(outliers.lower)] if 0 < outliers.lower <= 1 else []
    flagged = outliers.mask[keep]
    if x.size == 0:
        return Histogram(model, quantity, [], [], [], cutoffs)
    lo, hi = float(np.min(x)), float(np.max(x))
    if outliers.rule == "margin":
        lo, hi = min(lo, outliers.lower - 0.5), max(hi, outliers.lower + 0.5)
    elif dataset.task is not Task.REGRESSION:
        hi = 0.0  # log10 of probability 1
        if cutoffs:
            lo = min(lo, cutoffs[0] - 0.5)  # keep the cut-off visible on the axis
    floor = 0.0
    if dataset.task is Task.REGRESSION and outliers.rule not in ("margin", "p_true"):
        # Residuals equal up to rounding are drawn as one value, as equal ones are.
        floor = rounding_floor_of(dataset.y_true[keep], dataset.models[model][keep])
    if hi - lo <= floor:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    counts, _ = np.histogram(x, edges)
    marked, _ = np.histogram(x[flagged], edges)
    return Histogram(
        model,
        quantity,
        [float(e) for e in edges],
        [int(c) for c in counts],
        [int(c) for c in marked],
        [float(c) for c in cutoffs],
    )


@dataclass(frozen=True)
class Measured:
    """The figures of one (loss, model) measured on the data (in memory or streamed)."""

    value: float
    without: float  # the value without the flagged rows
    share: float  # outlier_share
    top1: float  # top1pct_share
    scalar: bool = False  # a --custom loss that returned one number


Injected = Callable[[LossInputs], "float | None"]


def judge_item(
    dataset: Dataset,
    selection: LossSelection,
    model: str,
    measured: Measured,
    outliers: ModelOutliers,
    scale: float,
    injected: Injected,
    injected_free: Injected,
    *,
    ks: tuple[float, ...] = INJECTION_KS,
    raw: bool = False,
) -> tuple[SensitivityResult, list[InjectionResult]]:
    """Injections, growth and verdict of one (loss, model) from its measured figures.

    ``injected(row)`` is the loss with the synthetic row appended (None outside
    its domain); ``injected_free`` the same without the scalar --custom call
    (the unclipped view through logits). ``dataset`` gives the synthetic rows
    their shape (the median prediction, the number of classes).
    """
    spec = selection.spec
    value, without, share, top1 = (
        measured.value,
        measured.without,
        measured.share,
        measured.top1,
    )
    change = change_pct(value, without)
    classification = dataset.task is not Task.REGRESSION
    clips = (
        classification
        and not dataset.from_logits
        and not raw
        and spec.properties.probabilistic
        and "eps" in selection.params
    )
    changes: dict[float, float | None] = {}
    moved_values: dict[float, float | None] = {}
    unclipped: dict[float, float | None] = {}
    row_losses: dict[float, float] = {}
    injection: list[InjectionResult] = []
    for k in ks:
        row = synthetic_row(dataset, model, k, scale, write_logits=raw or None)
        moved_value = injected(row)
        moved = None if moved_value is None else change_pct(moved_value, value)
        changes[float(k)] = moved
        moved_values[float(k)] = moved_value
        regression = not classification
        free = free_moved = None
        logit_row = (
            synthetic_row(dataset, model, k, 1.0, write_logits=True, from_logits=True)
            if classification
            else None
        )
        if clips:
            assert logit_row is not None
            free = injected_free(logit_row)
            free_moved = None if free is None else change_pct(free, value)
            unclipped[float(k)] = free_moved
            with np.errstate(all="ignore"):
                row_losses[float(k)] = float(selection.per_sample(row)[0])
        injection.append(
            InjectionResult(
                loss=spec.name,
                label=selection.label,
                params=selection.params,
                model=model,
                k=float(k),
                residual=k * scale if regression else None,
                p_true=None if logit_row is None else _row_p_true(logit_row, dataset.task),
                value=moved_value,
                change_pct=moved,
                value_unclipped=free,
                change_pct_unclipped=free_moved,
            )
        )
    probe: dict[float, float | None] = {}
    probe_values: dict[float, float | None] = {}
    for k in PROBE_KS:
        row = synthetic_row(dataset, model, k, scale, write_logits=raw or None)
        big = injected(row)
        probe[k] = None if big is None else change_pct(big, value)
        probe_values[k] = big
        if (
            asymptotic_exponent(
                probe if value != 0 else _from_zero({}, _judged_values(probe_values, False))[1]
            )
            is not None
        ):
            break
    growth, ratio, exponent = growth_of(changes, probe)
    if value == 0:
        # A loss of 0 (exact predictions) has no % change: the growth exponent is
        # scale-free, so it is read from the changes themselves.
        growth, ratio, exponent = growth_of(
            *_from_zero(_judged_values(moved_values, False), _judged_values(probe_values, False))
        )
    clipping = None
    if clips and len(ks) >= 2:
        top_row = synthetic_row(dataset, model, max(ks), 1.0, write_logits=True, from_logits=True)
        clipping = _clipping(
            selection.params["eps"],
            sorted(float(k) for k in ks),
            changes,
            unclipped,
            row_losses,
            top_row,
            dataset.task,
            _probe_logits(dataset, model, injected_free, value),
        )
        if clipping is not None:
            growth = "clipped"
    largest_row = None
    if spec.reduction is Reduction.MAX:
        moved_most = changes.get(float(max(ks)))
        largest_row = math.nan if moved_most is None else moved_most
    judged_change, judged_growth, judged_exponent = change, growth, exponent
    judged_changes, root = changes, None
    if spec.reduction is Reduction.SQRT_MEAN:
        # rmse = sqrt(mse): a monotone function of the mean under the root,
        # so it is judged on that mean and gets that mean's verdict.
        root = ROOT_OF.get(spec.name, "the mean of its per-row terms")
        judged_change = squared_change(change)
        judged_changes = {k: squared_change(c) for k, c in changes.items()}
        judged_growth, _, judged_exponent = growth_of(
            judged_changes, {k: squared_change(c) for k, c in probe.items()}
        )
        if value == 0:
            judged_growth, _, judged_exponent = growth_of(
                *_from_zero(_judged_values(moved_values, True), _judged_values(probe_values, True))
            )
    verdict, reasons = verdict_of(
        judged_change,
        share,
        top1,
        growth if clipping is not None else judged_growth,
        ratio,
        outliers.fraction,
        outliers.n_considered,
        largest_row,
        exponent=judged_exponent,
        clipping=clipping,
        signed=(value, without) if spec.signed else None,
        injected=judged_changes,
        root=root,
        robust_property=None if is_custom(spec) else spec.properties.robust,
        name=spec.name,
        from_zero=None if value != 0 else _judged_values(moved_values, root is not None),
    )
    ratio_of_sums = spec.reduction not in PLAIN_REDUCTIONS
    if measured.scalar:
        verdict = NO_VERDICT
        reasons = [
            "the custom loss returned a scalar, used for every row, so no row carries a "
            f"share of it; the flagged rows change it by {_pct(change)}"
        ]
    elif ratio_of_sums:
        verdict = NO_VERDICT
        reasons = [
            f"{spec.name} is a ratio of sums over all rows (a score or a calibration "
            "figure), not a mean of per-row losses, so no row carries a share of it; "
            f"the flagged rows change it from {value:.6g} to {without:.6g}"
        ]
    result = SensitivityResult(
        loss=spec.name,
        label=selection.label,
        params=selection.params,
        model=model,
        value=value,
        value_without_outliers=without,
        change_pct=change,
        outlier_share=share,
        top1pct_share=top1,
        growth=growth,
        growth_ratio=ratio,
        verdict=verdict,
        reasons=reasons,
        percent=spec.percent,
        signed=spec.signed,
        growth_exponent=exponent,
        clip_eps=None if clipping is None else clipping.eps,
        unclipped_exponent=None if clipping is None else clipping.unclipped_exponent,
        ratio=ratio_of_sums,
    )
    return result, injection


def scale_warnings(task: Task, flags: dict[str, ModelOutliers]) -> list[str]:
    """Warnings about the residuals' scale (MAD 0: the fallback; no spread at all)."""
    warnings: list[str] = []
    for m, o in flags.items():
        if o.fallback and o.scale > 0:
            warnings.append(
                f"{m}: MAD of the residuals is 0 (more than half are identical, up to "
                f"rounding); the scale is 1.2533 x the mean absolute deviation = {o.scale:.6g}"
            )
        if task is Task.REGRESSION and not (o.scale > 0):
            warnings.append(
                f"{m}: the residuals have no spread beyond rounding; no row is flagged and the "
                f"injection uses scale 1"
            )
    return warnings


def overflow_warnings(results: list[SensitivityResult]) -> list[str]:
    """The warning of ``loss compute`` for every loss whose value overflows float64 (inf)."""
    return [
        overflow_text(r.label, r.model)
        for r in results
        if r.value is not None and math.isinf(r.value)
    ]


# --------------------------------------------------------------------------- report


def sensitivity(
    dataset: Dataset,
    selections: list[LossSelection],
    *,
    rule: str = "mad",
    threshold: float | None = None,
    ks: tuple[float, ...] = INJECTION_KS,
    bins: int = 60,
) -> SensitivityReport:
    """The outlier-sensitivity report of every selected loss for every model."""
    if dataset.task not in SUPPORTED:
        raise DataError(
            f"loss sensitivity needs regression, binary or multiclass data; these are "
            f"{dataset.task.value} ({dataset.task_reason})"
        )
    if dataset.task is not Task.REGRESSION and threshold is None:
        threshold = P_TRUE_THRESHOLD
    if dataset.task is Task.REGRESSION and threshold is None:
        threshold = DEFAULT_THRESHOLD[rule]
    raw = check_probabilities(dataset, selections)
    items = per_sample_losses(dataset, selections)
    weights = dataset.weights
    keep = _positive(dataset)
    row_weight = 1.0 if weights is None else float(np.mean(weights[keep]))
    flags = {m: flag_model(dataset, m, rule, threshold, raw) for m in dataset.model_names}
    scales = {m: injection_scale(dataset, flags[m]) for m in dataset.model_names}

    results: list[SensitivityResult] = []
    injection: list[InjectionResult] = []
    for item in items:
        spec = item.selection.spec
        outliers = flags[item.model]
        terms = np.abs(item.values) if spec.signed else item.values
        value = reduce_values(item.values, weights, item.selection.reducer)
        # A scalar --custom loss is called again on the rows kept (and with the
        # synthetic row); it has no per-row shares.
        inputs = dataset.inputs(item.model) if item.scalar else None
        if inputs is not None:
            without = _scalar_without(item, inputs, outliers.mask)
            share = top1 = math.nan
        elif item.values.ndim == 2:
            # A ratio of sums (r2, d2_*, ece): per-row components, no per-row shares.
            without = _without(item.values, weights, outliers.mask, item.selection.reducer)
            share = top1 = math.nan
        else:
            without = _without(item.values, weights, outliers.mask, item.selection.reducer)
            share = outlier_share(terms, weights, outliers.mask)
            top1 = top_share(terms, weights, 0.01) if terms.size else math.nan

        def injected(
            row: LossInputs, item: PerSample = item, inputs: LossInputs | None = inputs
        ) -> float | None:
            return _injected_value(item, weights, row, row_weight, inputs)

        def injected_free(row: LossInputs, item: PerSample = item) -> float | None:
            return _injected_value(item, weights, row, row_weight)

        result, rows_injected = judge_item(
            dataset,
            item.selection,
            item.model,
            Measured(value, without, share, top1, item.scalar),
            outliers,
            scales[item.model],
            injected,
            injected_free,
            ks=ks,
            raw=raw,
        )
        results.append(result)
        injection.extend(rows_injected)

    return SensitivityReport(
        source=dataset.source,
        task=dataset.task.value,
        task_reason=dataset.task_reason,
        n_rows=dataset.n_rows,
        n_dropped=dataset.n_dropped,
        models=dataset.model_names,
        outliers=list(flags.values()),
        results=results,
        injection=injection,
        histograms=[histogram(dataset, flags[m], bins, raw) for m in dataset.model_names],
        injection_scale=scales,
        from_logits=dataset.from_logits,
        notes=list(dataset.notes),
        warnings=input_warnings(dataset.n_dropped, dataset.n_rows)
        + scale_warnings(dataset.task, flags)
        + overflow_warnings(results),
        raw_scores=raw,
    )
