"""Binary classification losses (SPEC 4.2): y_true in {0, 1}, y_pred = P(class 1) or a logit."""

from __future__ import annotations

from typing import cast

import numpy as np

from losscli.core.registry import EPS, DomainRule, LossInputs, Param, Properties, Task, register
from losscli.core.stable import log_sigmoid, sigmoid, softplus

B = Task.BINARY

PROBABILITY = (
    DomainRule(
        "y_pred",
        lambda a: (a >= 0) & (a <= 1),
        "in [0, 1] (a probability)",
        skip_with_logits=True,
        hint="if these are raw scores (logits), add --from-logits",
    ),
)

_EPS_PARAM = Param("eps", EPS, float, lambda v: 0 < v < 0.5, "in (0, 0.5)", "probability clipping")


def _probability(x: LossInputs) -> np.ndarray:
    p = np.asarray(x.y_pred, dtype=np.float64)
    return sigmoid(p) if x.from_logits else p


@register(
    "bce",
    task=B,
    aliases=("log_loss", "binary_crossentropy", "binary_cross_entropy", "logloss"),
    formula=(
        "-(y log p + (1-y) log(1-p)), p clipped to [eps, 1-eps]; "
        "from logits z: softplus(z) - y z; label smoothing: y <- y(1-ls) + ls/2"
    ),
    params=(
        _EPS_PARAM,
        Param("label_smoothing", 0.0, float, lambda v: 0 <= v <= 1, "in [0, 1]"),
    ),
    domain=PROBABILITY,
    properties=Properties(
        convex=True, smooth=True, robust=False, probabilistic=True, margin_based=False
    ),
    reference="sklearn.metrics.log_loss; torch.nn.BCEWithLogitsLoss",
    default=True,
    panel_requires=("probabilities",),
    advice=(
        "Binary classification ('Binary classification -> Binary Cross-Entropy'); convex "
        "in the logit, unlike MSE on a sigmoid output."
    ),
    conventions=(
        "keras clips with epsilon 1e-7, sklearn (and losscli) with float64 machine epsilon. "
        "The guide's code (000) clips with 1e-7 and its error line misses a '+' between terms."
    ),
)
def bce(x: LossInputs, eps: float, label_smoothing: float) -> np.ndarray:
    """Binary cross-entropy (log loss): heavily penalises confident wrong predictions."""
    y = np.asarray(x.y_true, dtype=np.float64)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if x.from_logits:
        z = np.asarray(x.y_pred, dtype=np.float64)
        # y softplus(-z) + (1-y) softplus(z) == softplus(z) - y z, without cancellation.
        return cast(np.ndarray, y * softplus(-z) + (1.0 - y) * softplus(z))
    p = np.clip(np.asarray(x.y_pred, dtype=np.float64), eps, 1.0 - eps)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


@register(
    "brier",
    task=B,
    aliases=("brier_score", "brier_score_loss"),
    formula="(p - y)^2; from logits p = sigmoid(z)",
    domain=PROBABILITY,
    properties=Properties(
        convex=True, smooth=True, robust=True, probabilistic=True, margin_based=False
    ),
    reference="sklearn.metrics.brier_score_loss",
    default=True,
    panel_requires=("probabilities",),
    advice="Calibration of predicted probabilities; bounded in [0, 1], unlike log loss.",
    conventions="As a training loss on a sigmoid output it is MSE, which is non-convex in z.",
)
def brier(x: LossInputs) -> np.ndarray:
    """Brier score: squared error of the predicted probability."""
    return cast(np.ndarray, np.square(_probability(x) - np.asarray(x.y_true, dtype=np.float64)))


def _margin(x: LossInputs) -> np.ndarray:
    t = 2.0 * np.asarray(x.y_true, dtype=np.float64) - 1.0
    return t * np.asarray(x.y_pred, dtype=np.float64)


_HINGE = Properties(
    convex=True,
    smooth=False,
    robust=True,
    probabilistic=False,
    margin_based=True,
    sparse=True,
    zero_at_perfect=False,
)


@register(
    "hinge",
    task=B,
    formula="max(0, 1 - t s), t = 2y - 1 in {-1, 1}, s = y_pred as a raw score",
    properties=_HINGE,
    reference="sklearn.metrics.hinge_loss",
    default=True,
    panel_requires=("scores",),  # not on probabilities: a margin of 1 is never reached
    advice="Maximum-margin classification (SVMs): 'Maximum margin -> Hinge Loss (SVM)'.",
    conventions=(
        "y_pred is used as a raw decision score (not a probability). Labels -1/1 are read "
        "as 0/1 then mapped to t = -1/1. Not probabilistic: use bce when probabilities matter."
    ),
)
def hinge(x: LossInputs) -> np.ndarray:
    """Hinge loss: zero once a score is on the right side with margin 1."""
    return np.maximum(0.0, 1.0 - _margin(x))


@register(
    "squared_hinge",
    task=B,
    formula="max(0, 1 - t s)^2",
    properties=Properties(
        convex=True,
        smooth=True,
        robust=False,
        probabilistic=False,
        margin_based=True,
        sparse=True,
        zero_at_perfect=False,
    ),
    reference="keras SquaredHinge",
    advice="Hinge with a smooth, quadratic penalty inside the margin.",
    conventions="keras converts 0/1 labels to -1/1 the same way.",
)
def squared_hinge(x: LossInputs) -> np.ndarray:
    """Squared hinge loss: a smooth hinge that penalises margin violations quadratically."""
    return np.square(np.maximum(0.0, 1.0 - _margin(x)))


@register(
    "focal",
    task=B,
    aliases=("binary_focal", "sigmoid_focal"),
    formula=(
        "-alpha_t (1-p_t)^gamma log p_t; p_t = p if y=1 else 1-p; "
        "alpha_t = alpha if y=1 else 1-alpha; alpha < 0 disables weighting"
    ),
    params=(
        Param("gamma", 2.0, float, lambda v: v >= 0, ">= 0", "focusing strength"),
        Param("alpha", 0.25, float, lambda v: v <= 1, "<= 1 (negative disables)", "class weight"),
        _EPS_PARAM,
    ),
    domain=PROBABILITY,
    properties=Properties(
        convex=False, smooth=True, robust=False, probabilistic=True, margin_based=False
    ),
    reference="torchvision.ops.sigmoid_focal_loss",
    default=True,
    panel_requires=("probabilities",),
    advice=(
        "Imbalanced classes and detection: 'Imbalanced classes -> Focal Loss'. "
        "It down-weights easy examples so training focuses on hard ones."
    ),
    conventions=(
        "torchvision's alpha=0.25 weights the positive class; keras BinaryFocalCrossentropy "
        "ignores alpha unless apply_class_balancing=True. With gamma=0 and alpha<0 it is bce."
    ),
)
def focal(x: LossInputs, gamma: float, alpha: float, eps: float) -> np.ndarray:
    """Focal loss: cross-entropy scaled down on well-classified examples."""
    y = np.asarray(x.y_true, dtype=np.float64)
    if x.from_logits:
        z = np.asarray(x.y_pred, dtype=np.float64)
        signed = (2.0 * y - 1.0) * z
        log_pt = log_sigmoid(signed)
        one_minus_pt = sigmoid(-signed)
    else:
        p = np.clip(np.asarray(x.y_pred, dtype=np.float64), eps, 1.0 - eps)
        pt = np.where(y == 1, p, 1.0 - p)
        log_pt = np.log(pt)
        one_minus_pt = 1.0 - pt
    loss = -np.power(one_minus_pt, gamma) * log_pt
    if alpha >= 0:
        loss = np.where(y == 1, alpha, 1.0 - alpha) * loss
    return cast(np.ndarray, loss)
