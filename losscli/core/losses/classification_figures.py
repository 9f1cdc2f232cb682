"""Figures reported beside classification losses: zero-one error and accuracy (SPEC 12).

They read binary files (y_pred = P(class 1), or a logit with --from-logits) and
multiclass files (one probability or logit column per class) alike: the kernel
tells them apart by the shape of y_pred. The predicted class is 1 when p > 0.5
(z > 0 for logits; a tie predicts 0), or the first class of largest
probability (``np.argmax``, as scikit-learn's ``predict``). Soft multiclass
targets (y_true_* columns) count their largest entry as the true class.
"""

from __future__ import annotations

import numpy as np

from losscli.core.registry import Direction, DomainRule, LossInputs, Properties, Task, register

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
    return np.argmax(y, axis=1).astype(np.float64)


def predicted_class(x: LossInputs) -> np.ndarray:
    """The predicted class per row: p > 0.5 (z > 0 from logits), or the first argmax."""
    s = np.asarray(x.y_pred, dtype=np.float64)
    if s.ndim == 1:
        threshold = 0.0 if x.from_logits else 0.5
        return (s > threshold).astype(np.float64)
    # softmax is monotone: the argmax of logits is the argmax of the probabilities.
    return np.argmax(s, axis=1).astype(np.float64)


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
    return (predicted_class(x) != true_class(x)).astype(np.float64)


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
    return (predicted_class(x) == true_class(x)).astype(np.float64)
