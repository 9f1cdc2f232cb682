"""Multiclass losses (SPEC 4.3): y_true is an (n, K) target matrix, y_pred (n, K) scores.

Rows of probabilities are used as given (never renormalised); a pitfall warning
elsewhere says when they do not sum to 1.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from losscli.core.registry import EPS, DomainRule, LossInputs, Param, Properties, Task, register
from losscli.core.stable import log_softmax, softmax
from losscli.errors import DataError

M = Task.MULTICLASS

PROBABILITIES = (
    DomainRule(
        "y_pred",
        lambda a: (a >= 0) & (a <= 1),
        "in [0, 1] (class probabilities)",
        skip_with_logits=True,
        hint="if these are raw scores (logits), add --from-logits",
    ),
)
_EPS_PARAM = Param("eps", EPS, float, lambda v: 0 < v < 0.5, "in (0, 0.5)", "probability clipping")


def _targets(x: LossInputs, label_smoothing: float = 0.0) -> np.ndarray:
    t = np.asarray(x.y_true, dtype=np.float64)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / t.shape[1]
    return t


def _log_probabilities(x: LossInputs, eps: float) -> np.ndarray:
    if x.from_logits:
        return log_softmax(x.y_pred)
    return np.log(np.clip(np.asarray(x.y_pred, dtype=np.float64), eps, 1.0 - eps))


def _probabilities(x: LossInputs) -> np.ndarray:
    return softmax(x.y_pred) if x.from_logits else np.asarray(x.y_pred, dtype=np.float64)


def _weighted_sum(t: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    # 0 * log(q) is 0 even where log(q) is -inf (a logit of -inf, say).
    return cast(np.ndarray, np.sum(np.where(t == 0, 0.0, t * log_q), axis=1))


@register(
    "cce",
    task=M,
    aliases=("categorical_crossentropy", "cross_entropy", "categorical_cross_entropy", "ce"),
    formula=(
        "-sum_c t_c log clip(q_c, eps, 1-eps); from logits: log_softmax; "
        "label smoothing: t <- t(1-ls) + ls/K"
    ),
    params=(_EPS_PARAM, Param("label_smoothing", 0.0, float, lambda v: 0 <= v <= 1, "in [0, 1]")),
    domain=PROBABILITIES,
    properties=Properties(
        convex=True, smooth=True, robust=False, probabilistic=True, margin_based=False
    ),
    reference="sklearn.metrics.log_loss; torch.nn.CrossEntropyLoss",
    default=True,
    panel_requires=("probabilities",),
    advice="Multi-class classification with softmax outputs: 'Multi-class -> Categorical Cross-Entropy'.",
    conventions=(
        "sklearn log_loss renormalises rows that do not sum to 1; losscli does not (it warns). "
        "torch CrossEntropyLoss takes logits (use --from-logits); keras clips with 1e-7."
    ),
)
def cce(x: LossInputs, eps: float, label_smoothing: float) -> np.ndarray:
    """Categorical cross-entropy: the negative log-probability of the true class."""
    return -_weighted_sum(_targets(x, label_smoothing), _log_probabilities(x, eps))


@register(
    "multiclass_brier",
    task=M,
    aliases=("brier_multiclass",),
    formula="sum_c (q_c - t_c)^2; from logits q = softmax(z)",
    domain=PROBABILITIES,
    properties=Properties(
        convex=True, smooth=True, robust=True, probabilistic=True, margin_based=False
    ),
    reference="sklearn.metrics.brier_score_loss (multiclass, scale_by_half=False)",
    default=True,
    panel_requires=("probabilities",),
    advice="Calibration of class probabilities, bounded in [0, 2].",
    conventions="Some texts halve it to lie in [0, 1]; losscli sums over classes without halving.",
)
def multiclass_brier(x: LossInputs) -> np.ndarray:
    """Multiclass Brier score: squared distance between probabilities and the one-hot target."""
    return cast(np.ndarray, np.sum(np.square(_probabilities(x) - _targets(x)), axis=1))


@register(
    "multiclass_hinge",
    task=M,
    aliases=("categorical_hinge", "crammer_singer"),
    formula="max(0, 1 + max_{j != y} s_j - s_y) (Crammer-Singer), s = class scores",
    properties=Properties(
        convex=True,
        smooth=False,
        robust=True,
        probabilistic=False,
        margin_based=True,
        sparse=True,
        zero_at_perfect=False,
    ),
    reference="sklearn.metrics.hinge_loss (multiclass)",
    default=True,
    panel_requires=("hard_labels", "scores"),
    advice="Maximum-margin multi-class classification.",
    conventions=(
        "keras CategoricalHinge is max(0, 1 + max_{j != y} s_j - s_y) too. Needs hard labels; "
        "scores are used as given (also with --from-logits)."
    ),
)
def multiclass_hinge(x: LossInputs) -> np.ndarray:
    """Multiclass hinge loss: the true class must beat every other by a margin of 1."""
    if x.labels is None:
        raise DataError("multiclass_hinge needs hard class labels in y_true, not soft targets")
    s = np.asarray(x.y_pred, dtype=np.float64)
    rows = np.arange(s.shape[0])
    true_score = s[rows, x.labels]
    others = s.copy()
    others[rows, x.labels] = -np.inf
    return cast(np.ndarray, np.maximum(0.0, 1.0 + np.max(others, axis=1) - true_score))


@register(
    "categorical_focal",
    task=M,
    aliases=("multiclass_focal", "categorical_focal_crossentropy"),
    formula="-sum_c alpha (1-q_c)^gamma t_c log clip(q_c, eps, 1-eps)",
    params=(
        Param("gamma", 2.0, float, lambda v: v >= 0, ">= 0", "focusing strength"),
        Param("alpha", 0.25, float, lambda v: v >= 0, ">= 0", "overall weight"),
        _EPS_PARAM,
    ),
    domain=PROBABILITIES,
    properties=Properties(
        convex=False, smooth=True, robust=False, probabilistic=True, margin_based=False
    ),
    reference="keras CategoricalFocalCrossentropy",
    default=True,
    panel_requires=("probabilities",),
    advice="Imbalanced multi-class problems: focuses training on hard, misclassified rows.",
    conventions="keras renormalises rows that do not sum to 1 and clips with 1e-7; losscli does neither.",
)
def categorical_focal(x: LossInputs, gamma: float, alpha: float, eps: float) -> np.ndarray:
    """Categorical focal loss: cross-entropy down-weighted on confident, correct classes."""
    if x.from_logits:
        log_q = log_softmax(x.y_pred)
        q = np.exp(log_q)
    else:
        q = np.clip(np.asarray(x.y_pred, dtype=np.float64), eps, 1.0 - eps)
        log_q = np.log(q)
    modulated = alpha * np.power(1.0 - q, gamma) * log_q
    return -_weighted_sum(_targets(x), modulated)


def _xlogx(t: np.ndarray) -> np.ndarray:
    safe = np.where(t > 0, t, 1.0)
    return np.where(t > 0, t * np.log(safe), 0.0)


@register(
    "kl_div",
    task=M,
    aliases=("kld", "kl_divergence", "kullback_leibler"),
    formula="sum_c t_c log(t_c / clip(q_c)), 0 log 0 = 0",
    params=(_EPS_PARAM,),
    domain=PROBABILITIES,
    default=True,
    panel_requires=("target_columns", "probabilities"),  # SPEC 3: with y_true_* columns
    properties=Properties(
        convex=True, smooth=True, robust=False, probabilistic=True, margin_based=False
    ),
    reference="torch.nn.KLDivLoss(reduction='batchmean'); keras KLDivergence",
    advice=(
        "Matching a target distribution (soft labels, distillation, VAEs): "
        "'Measures how one probability distribution diverges from another'."
    ),
    conventions=(
        "torch takes log-probabilities as input; keras clips y_true too (to [1e-7, 1]), "
        "so zero targets contribute a little there and nothing here."
    ),
)
def kl_div(x: LossInputs, eps: float) -> np.ndarray:
    """Kullback-Leibler divergence of the predicted distribution from the target."""
    t = _targets(x)
    return cast(
        np.ndarray, np.sum(_xlogx(t), axis=1) - _weighted_sum(t, _log_probabilities(x, eps))
    )
