"""The data profile ``loss recommend`` measures from a file: the evidence its rules test.

Everything here is pure NumPy on the arrays of a :class:`Dataset`; nothing is
decided here (the thresholds live in :mod:`losscli.analysis.rules`), only
measured:

- regression: residuals r = y_true - y_pred of the profiled model; outliers by
  the rule ``sensitivity`` uses (:func:`losscli.analysis.outliers.flag_outliers`,
  |0.6745 (r - median) / MAD| > 3.5); the robust scale 1.4826 MAD; excess
  kurtosis m4/m2^2 - 3 and skewness m3/m2^1.5 (population moments, Fisher's
  definition, so a normal sample gives about 0 for both); the target's mean,
  standard deviation and largest magnitude; zeros and negatives in y_true.
- binary / multiclass: the share of each class (the class balance), whether
  the predictions are valid probabilities or look like logits (any value
  outside [0, 1]), predictions of exactly 0 or 1, and for multiclass the rows
  whose class probabilities do not sum to 1; for every model its log loss,
  Brier score and ece (:mod:`losscli.analysis.calibration_check`, P-CALIB).

With several models (``--pred-col`` repeated) the first model is profiled:
the targets are the same for every model, and the residual evidence is that
of the first model (put the model you train first). Sample weights are not
used: counts and fractions are per row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from losscli.analysis.diagnostics import true_class_zero
from losscli.analysis.outliers import (
    DEFAULT_THRESHOLD,
    flag_outliers,
    residuals_of,
    rounding_floor_of,
)
from losscli.analysis.rules import MIN_ROWS_FOR_MOMENTS
from losscli.core.dataset import Dataset

OUTLIER_RULE = "mad"  # the same rule and threshold as `loss sensitivity` by default
MAX_ROWS_LISTED = 10  # outlier rows quoted in the evidence


@dataclass(frozen=True)
class DataProfile:
    """What the data say, measured; None where a figure does not apply to the task."""

    source: str
    task: str
    task_reason: str
    n_rows: int
    n_dropped: int = 0  # rows skipped for missing values (--nan drop)
    model: str | None = None
    models: tuple[str, ...] = ()
    from_logits: bool = False
    # regression: residuals of the profiled model
    outlier_rule: str | None = None
    outlier_threshold: float | None = None
    outlier_count: int | None = None
    outlier_fraction: float | None = None
    outlier_rows: tuple[int, ...] = ()
    residual_median: float | None = None
    residual_scale: float | None = None
    residual_scale_fallback: bool | None = None
    excess_kurtosis: float | None = None
    skew: float | None = None
    # regression: the target
    target_mean: float | None = None
    target_std: float | None = None
    target_abs_max: float | None = None
    n_zero_targets: int | None = None
    n_negative_targets: int | None = None
    # classification
    class_fractions: dict[str, float] = field(default_factory=dict)
    minority_class: str | None = None
    minority_fraction: float | None = None
    imbalance_ratio: float | None = None  # smallest class share / largest class share
    predictions: str | None = None  # "probabilities" | "logits" (from the data or --from-logits)
    pred_min: float | None = None
    pred_max: float | None = None
    n_pred_outside_01: int | None = None
    n_pred_exact_01: int | None = None
    # rows whose probability of the true class is exactly 0: their log loss is set by
    # the clipping eps (the rows P-LOG0 counts, as `loss compute`'s warning does)
    n_true_class_zero: int | None = None
    soft_targets: bool | None = None  # multiclass: y_true_* columns (distributions) given
    n_rows_not_summing_to_1: int | None = None
    max_rowsum_deviation: float | None = None
    # classification, every model: log_loss, brier, ece, ece_noise (P-CALIB;
    # losscli.analysis.calibration_check)
    calibration: dict[str, dict[str, float]] | None = None
    # structured families
    form: str | None = None  # similarity: "pairs" | "triplets"

    def evidence(self) -> dict[str, Any]:
        """The measured figures as a flat JSON-ready dict (figures that do not apply left out)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if key in ("source", "task", "task_reason", "models", "from_logits"):
                continue
            if value is None or value == () or value == {}:
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        return out


def _moments(r: np.ndarray, floor: float = 0.0) -> tuple[float | None, float | None]:
    """(excess kurtosis, skewness) with population moments; None when r is constant.

    Constant up to rounding too: deviations from the mean within ``floor``.
    """
    if r.size < MIN_ROWS_FOR_MOMENTS:
        return None, None
    centred = r - r.mean()
    largest = float(np.max(np.abs(centred)))
    if not np.isfinite(largest) or not largest > floor:
        return None, None
    # Scale-free moments: dividing by the largest deviation first keeps the 4th
    # power from overflowing for residuals of 1e100 and more.
    z = centred / largest
    # Products, not z**3 and z**4 (a general power, ~10x slower); the plan does the same.
    z2 = z * z
    m2 = float(np.mean(z2))
    if m2 <= np.finfo(np.float64).eps ** 2:
        return None, None
    m3 = float(np.mean(z2 * z))
    m4 = float(np.mean(z2 * z2))
    return m4 / m2**2 - 3.0, m3 / m2**1.5


def _scaled_std(values: np.ndarray) -> float:
    """np.std without overflow for huge magnitudes (scaled by the largest value first)."""
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    if largest == 0 or not np.isfinite(largest):
        return 0.0 if largest == 0 else float("nan")
    return float(np.std(values / largest)) * largest


def profile_regression(
    y_true: np.ndarray, y_pred: np.ndarray, threshold: float | None = None
) -> dict[str, Any]:
    """Residual and target figures of one regression model."""
    y = np.asarray(y_true, dtype=np.float64)
    residuals = y - np.asarray(y_pred, dtype=np.float64)
    threshold = DEFAULT_THRESHOLD[OUTLIER_RULE] if threshold is None else threshold
    floor = rounding_floor_of(y, np.asarray(y_pred, dtype=np.float64))
    flags = flag_outliers(residuals, OUTLIER_RULE, threshold, floor)
    kurtosis, skew = _moments(residuals, floor)
    return {
        "outlier_rule": flags.rule,
        "outlier_threshold": flags.threshold,
        "outlier_count": flags.count,
        "outlier_fraction": flags.fraction,
        "residual_median": flags.center,
        "residual_scale": flags.scale,
        "residual_scale_fallback": flags.fallback,
        "excess_kurtosis": kurtosis,
        "skew": skew,
        "target_mean": float(np.mean(y)),
        "target_std": _scaled_std(y),
        "target_abs_max": float(np.max(np.abs(y))),
        "n_zero_targets": int(np.count_nonzero(y == 0)),
        "n_negative_targets": int(np.count_nonzero(y < 0)),
        "_mask": flags.mask,
    }


def _balance(names: list[str], shares: np.ndarray) -> dict[str, Any]:
    shares = np.asarray(shares, dtype=np.float64)
    i_min = int(np.argmin(shares))
    largest = float(np.max(shares))
    return {
        "class_fractions": {name: float(s) for name, s in zip(names, shares)},
        "minority_class": names[i_min],
        "minority_fraction": float(shares[i_min]),
        "imbalance_ratio": float(shares[i_min]) / largest if largest > 0 else None,
    }


def _prediction_figures(q: np.ndarray, from_logits: bool, t: np.ndarray) -> dict[str, Any]:
    outside = int(np.count_nonzero((q < 0) | (q > 1)))
    out: dict[str, Any] = {
        "pred_min": float(np.min(q)),
        "pred_max": float(np.max(q)),
        "n_pred_outside_01": outside,
        "predictions": "logits" if from_logits or outside else "probabilities",
    }
    if not from_logits:
        out["n_pred_exact_01"] = int(np.count_nonzero((q == 0) | (q == 1)))
        out["n_true_class_zero"] = int(np.count_nonzero(true_class_zero(q, t)))
    return out


def profile_binary(y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool) -> dict[str, Any]:
    """Class balance (0/1 labels) and what the predictions look like."""
    y = np.asarray(y_true, dtype=np.float64)
    positive = float(np.mean(y == 1)) if y.size else 0.0
    figures = _balance(["0", "1"], np.array([1.0 - positive, positive]))
    figures.update(_prediction_figures(np.asarray(y_pred, dtype=np.float64), from_logits, y))
    return figures


def profile_multiclass(
    targets: np.ndarray,
    q: np.ndarray,
    classes: tuple[str, ...],
    from_logits: bool,
    rowsum_tolerance: float,
) -> dict[str, Any]:
    """Class balance (from one-hot or soft targets), probability validity, row sums."""
    t = np.asarray(targets, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    names = list(classes) or [str(i) for i in range(q.shape[1])]
    shares = t.mean(axis=0) if t.size else np.zeros(q.shape[1])
    figures = _balance(names, shares)
    figures.update(_prediction_figures(q, from_logits, t))
    if not from_logits:
        deviation = np.abs(q.sum(axis=1) - 1.0)
        figures["n_rows_not_summing_to_1"] = int(np.count_nonzero(deviation > rowsum_tolerance))
        figures["max_rowsum_deviation"] = float(np.max(deviation)) if deviation.size else 0.0
    return figures


def profile_dataset(
    dataset: Dataset, rowsum_tolerance: float, outlier_threshold: float | None = None
) -> DataProfile:
    """Measure the evidence of a loaded file (the first model when there are several)."""
    task = dataset.task.value
    models = tuple(dataset.model_names)
    model = models[0] if models else None
    figures: dict[str, Any] = {}
    if dataset.n_rows and model is not None:
        y_pred = dataset.models[model]
        if task == "regression":
            residuals_of(dataset, model)  # an overflowing residual is an error, not inf
            figures = profile_regression(dataset.y_true, y_pred, outlier_threshold)
            mask = figures.pop("_mask")
            rows = dataset.row_numbers[np.asarray(mask, dtype=bool)][:MAX_ROWS_LISTED]
            figures["outlier_rows"] = tuple(int(r) for r in rows)
        elif task == "binary":
            figures = profile_binary(dataset.y_true, y_pred, dataset.from_logits)
        elif task == "multiclass" and y_pred.ndim == 2:
            figures = profile_multiclass(
                dataset.y_true, y_pred, dataset.classes, dataset.from_logits, rowsum_tolerance
            )
            figures["soft_targets"] = dataset.soft_targets
        if task in ("binary", "multiclass"):
            from losscli.analysis.calibration_check import CalibrationEvidence

            evidence = CalibrationEvidence(task)
            evidence.add(dataset)
            figures["calibration"] = evidence.figures()
    if task == "similarity":
        figures["form"] = (
            "triplets" if any(k.startswith("anchor") for k in dataset.extra) else "pairs"
        )
    return DataProfile(
        source=dataset.source,
        task=task,
        task_reason=dataset.task_reason,
        n_rows=dataset.n_rows,
        n_dropped=dataset.n_dropped,
        model=model if task in ("regression", "binary", "multiclass") else None,
        models=models,
        from_logits=dataset.from_logits,
        **figures,
    )
