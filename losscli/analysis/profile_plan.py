"""``loss recommend FILE``'s data profile as a plan: counts, sums and exact quantiles.

Pass 1 (:class:`ProfileScan`) gathers what needs no earlier figure: the
residuals' kept ranges (median and MAD, :mod:`losscli.analysis.robust_plan`),
their sum, minimum and maximum; the target's sum, largest magnitude, zeros and
negatives; class counts, prediction ranges and row sums. Pass 2
(:class:`ProfileMoments`, regression only) flags the outliers with the exact
median and MAD (count and first rows) and takes the moments about the mean
(skew, excess kurtosis, the target's standard deviation), scaled as
:mod:`losscli.analysis.profile` scales them. The result is the same
:class:`~losscli.analysis.profile.DataProfile` as
:func:`~losscli.analysis.profile.profile_dataset`, which stays the reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losscli.analysis.calibration_check import CalibrationEvidence
from losscli.analysis.diagnostics import true_class_zero
from losscli.analysis.exact import Tracked
from losscli.analysis.outliers import (
    DEFAULT_THRESHOLD,
    add_counts,
    magnitude_counts,
    residuals_of,
    rounding_floor,
)
from losscli.analysis.plan import InputTally
from losscli.analysis.profile import MAX_ROWS_LISTED, OUTLIER_RULE, DataProfile, _balance
from losscli.analysis.robust_plan import RobustScale, flag_mask, residual_tracker, robust_scales
from losscli.analysis.rules import MIN_ROWS_FOR_MOMENTS
from losscli.core.dataset import Dataset


@dataclass(frozen=True)
class ProfiledInput:
    """The profile and what the command says about its input."""

    profile: DataProfile
    task: str
    task_reason: str
    models: list[str]
    notes: list[str]


@dataclass
class ProfileState:
    """Pass-1 counts and sums (mergeable)."""

    tally: InputTally = field(default_factory=InputTally)
    residuals: Tracked = field(default_factory=lambda: residual_tracker(OUTLIER_RULE))
    sum_r: float = 0.0
    min_r: float = math.inf
    max_r: float = -math.inf
    sum_y: float = 0.0
    abs_max_y: float = 0.0
    # Rows per binade of max(|y|, |q|): the rounding floor of the residuals' spread.
    magnitudes: np.ndarray | None = None
    zeros: int = 0
    negatives: int = 0
    class_sums: np.ndarray | None = None  # sum of targets per class (binary: [n0, n1])
    pred_min: float = math.inf
    pred_max: float = -math.inf
    outside: int = 0
    exact01: int = 0
    true_zero: int = 0
    rowsum_off: int = 0
    rowsum_max: float = 0.0
    calibration: CalibrationEvidence | None = None  # classification: every model (P-CALIB)

    def merge(self, other: ProfileState) -> ProfileState:
        sums = other.class_sums if self.class_sums is None else self.class_sums
        if self.class_sums is not None and other.class_sums is not None:
            sums = self.class_sums + other.class_sums
        return ProfileState(
            tally=self.tally.merge(other.tally),
            residuals=self.residuals.merge(other.residuals),
            sum_r=self.sum_r + other.sum_r,
            min_r=min(self.min_r, other.min_r),
            max_r=max(self.max_r, other.max_r),
            sum_y=self.sum_y + other.sum_y,
            abs_max_y=max(self.abs_max_y, other.abs_max_y),
            magnitudes=add_counts(self.magnitudes, other.magnitudes),
            zeros=self.zeros + other.zeros,
            negatives=self.negatives + other.negatives,
            class_sums=sums,
            pred_min=min(self.pred_min, other.pred_min),
            pred_max=max(self.pred_max, other.pred_max),
            outside=self.outside + other.outside,
            exact01=self.exact01 + other.exact01,
            true_zero=self.true_zero + other.true_zero,
            rowsum_off=self.rowsum_off + other.rowsum_off,
            rowsum_max=max(self.rowsum_max, other.rowsum_max),
            calibration=(
                other.calibration
                if self.calibration is None
                else self.calibration
                if other.calibration is None
                else self.calibration.merge(other.calibration)
            ),
        )


def _residuals(batch: Dataset, key: Hashable) -> np.ndarray:
    return residuals_of(batch, str(key))


@dataclass
class ProfileScan:
    """Pass 1 of the profile."""

    task: str
    model: str | None
    rowsum_tolerance: float

    @property
    def more_passes(self) -> bool:
        """A regression profile's moments take a second pass (see plan.more_passes)."""
        return self.task == "regression" and self.model is not None

    def new_state(self) -> ProfileState:
        if self.task in ("binary", "multiclass"):
            return ProfileState(calibration=CalibrationEvidence(self.task))
        return ProfileState()

    def update(self, state: ProfileState, batch: Dataset) -> ProfileState:
        state.tally.add(batch)
        if self.model is None or batch.n_rows == 0:
            return state
        if state.calibration is not None:
            state.calibration.add(batch)
        y = np.asarray(batch.y_true, dtype=np.float64)
        q = np.asarray(batch.models[self.model], dtype=np.float64)
        if self.task == "regression":
            r = _residuals(batch, self.model)
            state.residuals.add(r)
            state.sum_r += float(np.sum(r))
            state.min_r = min(state.min_r, float(np.min(r)))
            state.max_r = max(state.max_r, float(np.max(r)))
            state.sum_y += float(np.sum(y))
            state.abs_max_y = max(state.abs_max_y, float(np.max(np.abs(y))))
            state.magnitudes = add_counts(state.magnitudes, magnitude_counts(y, q))
            state.zeros += int(np.count_nonzero(y == 0))
            state.negatives += int(np.count_nonzero(y < 0))
            return state
        if self.task == "binary":
            ones = float(np.count_nonzero(y == 1))
            counts = np.array([0.0, ones])
        elif self.task == "multiclass" and q.ndim == 2:
            counts = y.sum(axis=0)
            if not batch.from_logits:
                deviation = np.abs(q.sum(axis=1) - 1.0)
                state.rowsum_off += int(np.count_nonzero(deviation > self.rowsum_tolerance))
                state.rowsum_max = max(state.rowsum_max, float(np.max(deviation)))
        else:
            return state
        state.class_sums = counts if state.class_sums is None else state.class_sums + counts
        state.pred_min = min(state.pred_min, float(np.min(q)))
        state.pred_max = max(state.pred_max, float(np.max(q)))
        state.outside += int(np.count_nonzero((q < 0) | (q > 1)))
        state.exact01 += int(np.count_nonzero((q == 0) | (q == 1)))
        if not batch.from_logits:
            state.true_zero += int(np.count_nonzero(true_class_zero(q, y)))
        return state

    def merge(self, a: ProfileState, b: ProfileState) -> ProfileState:
        return a.merge(b)

    def finish(self, state: ProfileState) -> ProfileState:
        return state


@dataclass
class MomentState:
    flagged: int = 0
    rows: list[int] = field(default_factory=list)
    z2: float = 0.0
    z3: float = 0.0
    z4: float = 0.0
    # x = y / largest |y|: count, mean and sum of squared deviations (merged as Chan et al.)
    nx: int = 0
    mx: float = 0.0
    m2x: float = 0.0

    def merge(self, other: MomentState) -> MomentState:
        return MomentState(
            self.flagged + other.flagged,
            (self.rows + other.rows)[:MAX_ROWS_LISTED],
            self.z2 + other.z2,
            self.z3 + other.z3,
            self.z4 + other.z4,
            *_chan(self.nx, self.mx, self.m2x, other.nx, other.mx, other.m2x),
        )


def _chan(
    n_a: int, mean_a: float, m2_a: float, n_b: int, mean_b: float, m2_b: float
) -> tuple[int, float, float]:
    """Count, mean and sum of squared deviations of two parts together (Chan et al. 1979)."""
    if n_a == 0:
        return n_b, mean_b, m2_b
    if n_b == 0:
        return n_a, mean_a, m2_a
    n = n_a + n_b
    delta = mean_b - mean_a
    return n, mean_a + delta * n_b / n, m2_a + m2_b + delta * delta * n_a * n_b / n


@dataclass
class ProfileMoments:
    """Pass 2 of a regression profile: outlier flags and moments about the mean."""

    model: str
    figures: RobustScale
    threshold: float
    mean_r: float
    largest_r: float
    abs_max_y: float

    def new_state(self) -> MomentState:
        return MomentState()

    def update(self, state: MomentState, batch: Dataset) -> MomentState:
        r = _residuals(batch, self.model)
        mask = flag_mask(r, self.figures, OUTLIER_RULE, self.threshold)
        count = int(np.count_nonzero(mask))
        state.flagged += count
        if count and len(state.rows) < MAX_ROWS_LISTED:
            state.rows.extend(int(x) for x in batch.row_numbers[mask][:MAX_ROWS_LISTED])
            del state.rows[MAX_ROWS_LISTED:]
        if self.largest_r > 0 and math.isfinite(self.largest_r):
            # The operations of profile._moments, so one batch gives its very numbers.
            z = (r - self.mean_r) / self.largest_r
            z2 = z * z
            state.z2 += float(np.sum(z2))
            state.z3 += float(np.sum(z2 * z))
            state.z4 += float(np.sum(z2 * z2))
        if self.abs_max_y > 0 and math.isfinite(self.abs_max_y) and r.size:
            # np.std's own steps per batch (mean, then squared deviations), merged.
            x = np.asarray(batch.y_true, dtype=np.float64) / self.abs_max_y
            mean = np.add.reduce(x) / x.size
            d = x - mean
            part = (int(x.size), float(mean), float(np.add.reduce(d * d)))
            state.nx, state.mx, state.m2x = _chan(state.nx, state.mx, state.m2x, *part)
        return state

    def merge(self, a: MomentState, b: MomentState) -> MomentState:
        return a.merge(b)

    def finish(self, state: MomentState) -> MomentState:
        return state


def profile_plan(
    rowsum_tolerance: float, outlier_threshold: float | None = None
) -> Callable[[Dataset], Generator[Any, Any, ProfiledInput]]:
    """The plan of ``loss recommend FILE``'s evidence (the first model when there are several)."""

    def plan(head: Dataset) -> Generator[Any, Any, ProfiledInput]:
        task = head.task.value
        models = head.model_names
        model = models[0] if models else None
        state: ProfileState = yield ProfileScan(task, model, rowsum_tolerance)
        n = state.tally.n_rows
        figures: dict[str, Any] = {}
        if n and model is not None:
            if task == "regression":
                figures = yield from _regression(state, model, n, outlier_threshold)
            elif task in ("binary", "multiclass") and state.class_sums is not None:
                figures = _classification(state, head, n)
                if state.calibration is not None:
                    figures["calibration"] = state.calibration.figures()
        if task == "similarity":
            figures["form"] = (
                "triplets" if any(k.startswith("anchor") for k in head.extra) else "pairs"
            )
        profile = DataProfile(
            source=head.source,
            task=task,
            task_reason=head.task_reason,
            n_rows=n,
            n_dropped=state.tally.n_dropped,
            model=model if task in ("regression", "binary", "multiclass") else None,
            models=tuple(models),
            from_logits=head.from_logits,
            **figures,
        )
        return ProfiledInput(profile, task, head.task_reason, models, state.tally.notes)

    return plan


def _regression(
    state: ProfileState, model: str, n: int, threshold: float | None
) -> Generator[Any, Any, dict[str, Any]]:
    threshold = DEFAULT_THRESHOLD[OUTLIER_RULE] if threshold is None else threshold
    floor = 0.0 if state.magnitudes is None else rounding_floor(state.magnitudes)
    scales = yield from robust_scales(
        {model: state.residuals}, OUTLIER_RULE, _residuals, {model: floor}
    )
    robust = scales[model]
    mean_r = state.sum_r / n
    largest = max(state.max_r - mean_r, mean_r - state.min_r)
    moments: MomentState = yield ProfileMoments(
        model, robust, threshold, mean_r, largest, state.abs_max_y
    )
    kurtosis = skew = None
    if n >= MIN_ROWS_FOR_MOMENTS and math.isfinite(largest) and largest > floor:
        m2 = moments.z2 / n
        if m2 > np.finfo(np.float64).eps ** 2:
            kurtosis = (moments.z4 / n) / m2**2 - 3.0
            skew = (moments.z3 / n) / m2**1.5
    if state.abs_max_y == 0:
        std = 0.0
    elif not math.isfinite(state.abs_max_y):
        std = math.nan
    else:
        std = float(np.sqrt(moments.m2x / n)) * state.abs_max_y
    return {
        "outlier_rule": OUTLIER_RULE,
        "outlier_threshold": float(threshold),
        "outlier_count": moments.flagged,
        "outlier_fraction": moments.flagged / n,
        "residual_median": robust.center,
        "residual_scale": robust.scale,
        "residual_scale_fallback": robust.fallback,
        "excess_kurtosis": kurtosis,
        "skew": skew,
        "target_mean": state.sum_y / n,
        "target_std": std,
        "target_abs_max": state.abs_max_y,
        "n_zero_targets": state.zeros,
        "n_negative_targets": state.negatives,
        "outlier_rows": tuple(moments.rows),
    }


def _classification(state: ProfileState, head: Dataset, n: int) -> dict[str, Any]:
    assert state.class_sums is not None
    if head.task.value == "binary":
        positive = state.class_sums[1] / n
        figures = _balance(["0", "1"], np.array([1.0 - positive, positive]))
    else:
        k = state.class_sums.size
        names = list(head.classes) or [str(i) for i in range(k)]
        figures = _balance(names, state.class_sums / n)
    figures.update(
        {
            "pred_min": state.pred_min,
            "pred_max": state.pred_max,
            "n_pred_outside_01": state.outside,
            "predictions": "logits" if head.from_logits or state.outside else "probabilities",
        }
    )
    if not head.from_logits:
        figures["n_pred_exact_01"] = state.exact01
        figures["n_true_class_zero"] = state.true_zero
    if head.task.value == "multiclass":
        if not head.from_logits:
            figures["n_rows_not_summing_to_1"] = state.rowsum_off
            figures["max_rowsum_deviation"] = state.rowsum_max
        figures["soft_targets"] = head.soft_targets
    return figures
