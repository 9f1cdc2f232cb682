"""Figures reported beside classification losses: zero-one error and accuracy (SPEC 12).

They read binary files (y_pred = P(class 1), or a logit with --from-logits) and
multiclass files (one probability or logit column per class) alike: the kernel
tells them apart by the shape of y_pred. The predicted class is 1 when p > 0.5
(z > 0 for logits; a tie predicts 0), or the first class of largest
probability (``np.argmax``, as scikit-learn's ``predict``). Soft multiclass
targets (y_true_* columns) count their largest entry as the true class.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from losscli.core.registry import (
    Direction,
    DomainRule,
    LossInputs,
    Param,
    Properties,
    Reduction,
    Task,
    register,
)

_PROBABILITIES = (
    DomainRule(
        "y_pred",
        lambda a: (a >= 0) & (a <= 1),
        "in [0, 1] (probabilities)",
        skip_with_logits=True,
        hint="if these are raw scores (logits), add --from-logits",
    ),
)

# Step functions of the prediction: no useful gradient, nothing to train on.
_STEP = Properties(
    convex=False,
    smooth=False,
    robust=True,
    probabilistic=False,
    margin_based=False,
)


def true_class(x: LossInputs) -> np.ndarray:
    """The true class per row: the 0/1 label, the class index, or a soft target's argmax."""
    y = np.asarray(x.y_true)
    if y.ndim == 1:
        return y.astype(np.float64)
    if x.labels is not None:
        return np.asarray(x.labels, dtype=np.float64)
    return cast(np.ndarray, np.argmax(y, axis=1).astype(np.float64))


def predicted_class(x: LossInputs) -> np.ndarray:
    """The predicted class per row: p > 0.5 (z > 0 from logits), or the first argmax."""
    s = np.asarray(x.y_pred, dtype=np.float64)
    if s.ndim == 1:
        threshold = 0.0 if x.from_logits else 0.5
        return (s > threshold).astype(np.float64)
    # softmax is monotone: the argmax of logits is the argmax of the probabilities.
    return cast(np.ndarray, np.argmax(s, axis=1).astype(np.float64))


@register(
    "zero_one",
    task=Task.BINARY,
    also_tasks=(Task.MULTICLASS,),
    aliases=("zero_one_loss", "error_rate", "0-1"),
    formula=(
        "1 if the predicted class differs from the true one else 0; predicted class: "
        "p > 0.5 (binary; z > 0 from logits) or argmax_c q_c (multiclass)"
    ),
    domain=_PROBABILITIES,
    properties=_STEP,
    reference="sklearn.metrics.zero_one_loss (normalize=True)",
    evaluation_only=True,
    advice=(
        "The share of misclassified rows, to report beside a training loss (bce, cce); "
        "McNemar's exact test compares two models on it in `compare`."
    ),
    conventions=(
        "scikit-learn takes predicted labels; losscli thresholds probabilities at 0.5 "
        "(a tie predicts class 0, as sklearn's predict, which needs decision > 0) and "
        "takes the first argmax. torchmetrics' BinaryAccuracy thresholds with p > 0.5 too; "
        "keras' binary_accuracy uses p > 0.5 as well. It is 1 - accuracy."
    ),
)
def zero_one(x: LossInputs) -> np.ndarray:
    """Zero-one loss: the share of rows whose predicted class is wrong."""
    return cast(np.ndarray, (predicted_class(x) != true_class(x)).astype(np.float64))


@register(
    "accuracy",
    task=Task.BINARY,
    also_tasks=(Task.MULTICLASS,),
    aliases=("accuracy_score", "acc"),
    formula=(
        "1 if the predicted class is the true one else 0, averaged; predicted class: "
        "p > 0.5 (binary; z > 0 from logits) or argmax_c q_c (multiclass)"
    ),
    domain=_PROBABILITIES,
    properties=Properties(
        convex=False,
        smooth=False,
        robust=True,
        probabilistic=False,
        margin_based=False,
        zero_at_perfect=False,
    ),
    reference="sklearn.metrics.accuracy_score",
    direction=Direction.HIGHER,
    advice=(
        "The share of rows classified right: a score (higher is better), misleading on "
        "imbalanced classes (predicting the majority scores high)."
    ),
    conventions=(
        "scikit-learn takes predicted labels; losscli thresholds probabilities at 0.5 "
        "(a tie predicts class 0) and takes the first argmax, as torchmetrics' "
        "BinaryAccuracy/MulticlassAccuracy(average='micro') do. It is 1 - zero_one."
    ),
)
def accuracy(x: LossInputs) -> np.ndarray:
    """Accuracy: the share of rows whose predicted class is right (higher is better)."""
    return cast(np.ndarray, (predicted_class(x) == true_class(x)).astype(np.float64))


def _calibration_components(x: LossInputs) -> np.ndarray:
    """(top-label confidence, correct) per row, from probabilities or logits."""
    from losscli.core.calibration import top_label
    from losscli.core.stable import sigmoid, softmax

    s = np.asarray(x.y_pred, dtype=np.float64)
    if x.from_logits:
        s = sigmoid(s) if s.ndim == 1 else softmax(s)
    confidence, correct = top_label(true_class(x), s)
    return np.column_stack([confidence, correct])


_BINS = Param(
    "n_bins",
    15,
    int,
    lambda v: 1 <= v <= 10_000,
    "an integer in [1, 10000]",
    "equal-width confidence bins over [0, 1]",
)
_CALIBRATION = Properties(
    convex=False,
    smooth=False,
    robust=True,
    probabilistic=True,
    margin_based=False,
)
_TOP_LABEL = (
    "top-label confidence c = max(p, 1 - p) (binary) or max_c q_c (multiclass), correct = "
    "the predicted class is the true one; bins [k/n, (k+1)/n) plus one for c = 1 exactly"
)
_CALIBRATION_CONVENTIONS = (
    "torchmetrics' MulticlassCalibrationError bins the same way (its documented example "
    "gives 0.2000 for ece and 0.2333 for mce with n_bins=3); its BinaryCalibrationError "
    "instead bins p itself against the label (a reliability diagram of class 1), which "
    "can differ from the top-label figure when some p < 0.5: rows of p and of 1 - p then "
    "share a top-label bin (its example: max-norm 0.3167 where the top-label mce is 0.29; "
    "both give ece 0.29). Weights weight each row in its bin (torchmetrics has none; "
    "integer weights equal repeated rows). scikit-learn has no ECE (calibration_curve "
    "gives the diagram's points, uniform bins of p). Binned estimates are biased upwards "
    "on small samples; recommend's P-CALIB allows for that."
)


@register(
    "ece",
    task=Task.BINARY,
    also_tasks=(Task.MULTICLASS,),
    aliases=("expected_calibration_error", "calibration_error"),
    formula=("sum_b (W_b / W) |acc_b - conf_b| over n_bins equal-width bins of the " + _TOP_LABEL),
    params=(_BINS,),
    domain=_PROBABILITIES,
    properties=_CALIBRATION,
    reference="torchmetrics MulticlassCalibrationError(norm='l1')",
    reduction=Reduction.ECE,
    evaluation_only=True,
    advice=(
        "How far predicted confidence is from observed accuracy, averaged over bins: 0 is "
        "calibrated. Check it when probabilities are used as probabilities (risk, "
        "thresholds); a model can rank well and still be miscalibrated (P-CALIB)."
    ),
    conventions=_CALIBRATION_CONVENTIONS,
)
def ece(x: LossInputs, n_bins: int) -> np.ndarray:
    """Expected calibration error: the confidence-accuracy gap averaged over confidence bins."""
    return _calibration_components(x)


@register(
    "mce",
    task=Task.BINARY,
    also_tasks=(Task.MULTICLASS,),
    aliases=("maximum_calibration_error",),
    formula="max over non-empty bins b of |acc_b - conf_b|, bins of the " + _TOP_LABEL,
    params=(_BINS,),
    domain=_PROBABILITIES,
    properties=_CALIBRATION,
    reference="torchmetrics MulticlassCalibrationError(norm='max')",
    reduction=Reduction.MCE,
    evaluation_only=True,
    advice=(
        "The worst bin's confidence-accuracy gap: sensitive to sparsely filled bins, so "
        "read it with ece and the reliability diagram."
    ),
    conventions=_CALIBRATION_CONVENTIONS,
)
def mce(x: LossInputs, n_bins: int) -> np.ndarray:
    """Maximum calibration error: the largest confidence-accuracy gap of any confidence bin."""
    return _calibration_components(x)
