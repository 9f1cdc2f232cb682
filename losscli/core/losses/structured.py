"""Structured losses from the guide (SPEC 4.4): boxes, embeddings, GAN outputs, VAE latents.

Each family reads fixed columns, which io (:mod:`losscli.io.families`) maps to
:class:`LossInputs` as follows:

- detection: ``y_true`` / ``y_pred`` are (n, 4) corner boxes ``x1, y1, x2, y2``.
- similarity, pairs: ``y_true`` is the label (0 = similar, 1 = dissimilar, the
  guide's code), ``y_pred`` the distance; ``extra["a"]``/``extra["b"]`` hold the
  (n, k) embeddings when given (else ``extra["distance"]``).
- similarity, triplets: ``extra["anchor"]``, ``extra["positive"]``,
  ``extra["negative"]`` (n, k); ``y_pred`` is d(a, p) - d(a, n).
- generative: ``d_real`` and ``d_fake`` stacked into one column: ``y_true`` is 1
  for a D(x) row and 0 for a D(G(z)) row, ``y_pred`` the discriminator output.
  The two columns may differ in length, so the losses are sums of two means;
  they use :attr:`Reduction.SUM` with per-term weights 1/n_real and 1/n_fake
  (:func:`gan_term_weights`), which keeps one mergeable reduction path. A
  generator loss is 0 on the D(x) rows, which it does not depend on; it
  declares ``support`` = the D(G(z)) rows, so per-row statistics and
  --per-sample leave those rows out.
- vae: ``extra["mu"]``/``extra["logvar"]`` (n, k); ``y_true``/``y_pred`` the
  (n, D) reconstruction target and output (D may be 0 when absent).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from losscli.core.registry import (
    EPS,
    DomainRule,
    LossInputs,
    Param,
    Properties,
    Reduction,
    Task,
    register,
)
from losscli.core.stable import softplus
from losscli.errors import DataError

BOX_EPS = 1e-7  # torchvision's eps in the IoU denominators
PAIRWISE_EPS = 1e-6  # torch pairwise_distance / TripletMarginLoss eps


# --------------------------------------------------------------------------- helpers


def euclidean_distance(x: np.ndarray, y: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """Row-wise ||x - y + eps||_2 of two (n, k) arrays (torch pairwise_distance with eps)."""
    diff = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64) + eps
    with np.errstate(over="ignore", invalid="ignore"):
        plain = np.sqrt(np.sum(diff * diff, axis=1))
        if np.all(np.isfinite(plain)):
            return cast(np.ndarray, plain)
        # Squares of coordinates beyond ~1e154 overflow: scale each row by its largest
        # difference (the norm itself is finite unless a difference is).
        scale = np.max(np.abs(diff), axis=1)
        safe = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
        scaled = safe * np.sqrt(np.sum(np.square(diff / safe[:, None]), axis=1))
    return np.where(np.isfinite(plain), plain, np.where(np.isfinite(scale), scaled, np.inf))


def gan_term_weights(is_real: np.ndarray) -> np.ndarray:
    """Per-row weights 1/n_real on D(x) rows and 1/n_fake on D(G(z)) rows (SUM reduction)."""
    real = np.asarray(is_real, dtype=bool)
    n_real = int(np.count_nonzero(real))
    n_fake = int(real.size - n_real)
    return np.where(real, 1.0 / max(n_real, 1), 1.0 / max(n_fake, 1))


def _boxes(x: LossInputs) -> tuple[np.ndarray, ...]:
    t = np.asarray(x.y_true, dtype=np.float64)
    p = np.asarray(x.y_pred, dtype=np.float64)
    if t.ndim != 2 or t.shape[1] != 4 or p.shape != t.shape:
        raise DataError(
            "iou/giou need the box columns true_x1, true_y1, true_x2, true_y2 and "
            "pred_x1, pred_y1, pred_x2, pred_y2"
        )
    return t[:, 0], t[:, 1], t[:, 2], t[:, 3], p[:, 0], p[:, 1], p[:, 2], p[:, 3]


def _inter_union(x: LossInputs) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    tx1, ty1, tx2, ty2, px1, py1, px2, py2 = boxes = _boxes(x)
    # An empty overlap in either direction means no intersection (both clamped to 0).
    w = np.maximum(np.minimum(tx2, px2) - np.maximum(tx1, px1), 0.0)
    h = np.maximum(np.minimum(ty2, py2) - np.maximum(ty1, py1), 0.0)
    inter = w * h
    union = (tx2 - tx1) * (ty2 - ty1) + (px2 - px1) * (py2 - py1) - inter
    return inter, union, boxes


_BOX_PROPS = Properties(
    convex=False,
    smooth=False,
    robust=True,
    probabilistic=False,
    margin_based=False,
    zero_at_perfect=False,  # identical boxes give 1 - A/(A + 1e-7), not exactly 0
)

_BOX_POLICY = (
    "Boxes are corners with x2 >= x1 and y2 >= y1 (an error names the row otherwise). "
    "Degenerate zero-area boxes are accepted and follow the formula: with a union of 0 "
    "the 1e-7 in the denominator makes IoU 0, so the loss is 1 (a note counts them)."
)


@register(
    "iou",
    task=Task.DETECTION,
    aliases=("iou_loss", "box_iou"),
    formula="1 - inter / (union + 1e-7), boxes (x1, y1, x2, y2) from true_* and pred_*",
    properties=_BOX_PROPS,
    reference="torchvision.ops.box_iou (with torchvision's loss eps 1e-7)",
    default=True,
    advice=(
        "Object detection box regression: the guide's IoU loss 'regards a box as a whole' "
        "and is scale-invariant; pair it with focal loss for the classes (R-DET)."
    ),
    conventions=(
        "torchvision box_iou has no eps (0/0 is NaN for two empty boxes); losscli adds 1e-7 "
        "like torchvision's box losses. The guide's code (001) computes IoU of segmentation "
        "masks with a 1e-6 smoothing in numerator and denominator and thresholds it; losscli "
        "scores boxes. " + _BOX_POLICY
    ),
)
def iou(x: LossInputs) -> np.ndarray:
    """IoU loss: one minus the overlap of predicted and true boxes over their union."""
    return _rescale_overflow(_iou_values, x)


def _iou_values(x: LossInputs) -> np.ndarray:
    inter, union, _ = _inter_union(x)
    return 1.0 - inter / (union + BOX_EPS)


def _rescale_overflow(values_of: Any, x: LossInputs) -> np.ndarray:
    """Rows whose areas overflow float64 (coordinates beyond ~1e154) are recomputed with
    their coordinates scaled by a power of two: IoU and GIoU are scale-invariant, and at
    that scale the 1e-7 is negligible either way."""
    with np.errstate(all="ignore"):
        out = np.asarray(values_of(x), dtype=np.float64)
    t = np.asarray(x.y_true, dtype=np.float64)
    p = np.asarray(x.y_pred, dtype=np.float64)
    largest = np.max(np.abs(np.concatenate([t, p], axis=1)), axis=1)
    bad = ~np.isfinite(out) & np.isfinite(largest) & (largest > 0)
    if not bad.any():
        return out
    exponent = np.frexp(largest[bad])[1][:, None]
    scaled = LossInputs(y_true=np.ldexp(t[bad], -exponent), y_pred=np.ldexp(p[bad], -exponent))
    with np.errstate(all="ignore"):
        out[bad] = values_of(scaled)
    return out


@register(
    "giou",
    task=Task.DETECTION,
    aliases=("giou_loss", "generalized_iou"),
    formula=(
        "1 - (IoU - (C - union) / (C + 1e-7)), IoU = inter / (union + 1e-7), "
        "C = area of the smallest box enclosing both"
    ),
    properties=_BOX_PROPS,
    reference="torchvision.ops.generalized_box_iou_loss",
    default=True,
    advice=(
        "Detection when predicted and true boxes may not overlap: unlike IoU, GIoU still "
        "says how far apart disjoint boxes are (values in [0, 2])."
    ),
    conventions="Same eps (1e-7) as torchvision. " + _BOX_POLICY,
)
def giou(x: LossInputs) -> np.ndarray:
    """Generalized IoU loss: IoU loss plus the empty share of the enclosing box."""
    return _rescale_overflow(_giou_values, x)


def _giou_values(x: LossInputs) -> np.ndarray:
    inter, union, (tx1, ty1, tx2, ty2, px1, py1, px2, py2) = _inter_union(x)
    iou_value = inter / (union + BOX_EPS)
    enclosing = (np.maximum(tx2, px2) - np.minimum(tx1, px1)) * (
        np.maximum(ty2, py2) - np.minimum(ty1, py1)
    )
    return cast(np.ndarray, 1.0 - (iou_value - (enclosing - union) / (enclosing + BOX_EPS)))


# --------------------------------------------------------------------------- similarity

_MARGIN = Param("margin", 1.0, float, lambda v: v > 0, "> 0", "distance margin")


def _pair_distance(x: LossInputs) -> np.ndarray:
    if "a" in x.extra and "b" in x.extra:
        return euclidean_distance(x.extra["a"], x.extra["b"])
    if "distance" in x.extra:
        return np.asarray(x.extra["distance"], dtype=np.float64)
    raise DataError(
        "contrastive needs a label column and either a_0..a_{k-1}, b_0..b_{k-1} "
        "embedding columns or a distance column"
    )


@register(
    "contrastive",
    task=Task.SIMILARITY,
    aliases=("contrastive_loss",),
    formula=(
        "(1 - label) d^2 + label max(margin - d, 0)^2, d = ||a - b||_2 of columns a_*, b_* "
        "(or a distance column); label 0 = similar pair, 1 = dissimilar"
    ),
    params=(_MARGIN,),
    domain=(DomainRule("y_true", lambda a: (a == 0) | (a == 1), "0 (similar) or 1 (dissimilar)"),),
    properties=Properties(
        convex=False,
        smooth=True,
        robust=False,
        probabilistic=False,
        margin_based=True,
        zero_at_perfect=False,
    ),
    reference="the guide (001): criterion(x1, x2, label, margin=1.0)",
    default=True,
    panel_requires=("pairs",),
    advice=(
        "Similarity / metric learning on pairs (R-SIM): pulls similar pairs together and "
        "pushes dissimilar ones at least `margin` apart."
    ),
    conventions=(
        "Label convention of the guide's code: 0 = similar, 1 = dissimilar (its prose says "
        "the opposite; losscli follows the code). Its code uses torch pairwise_distance, "
        "which adds eps=1e-6 to a - b; losscli uses the plain Euclidean distance (SPEC), so "
        "identical embeddings give exactly 0. Some papers (Hadsell 2006) halve both terms."
    ),
)
def contrastive(x: LossInputs, margin: float) -> np.ndarray:
    """Contrastive loss: squared distance for similar pairs, squared margin gap otherwise."""
    d = _pair_distance(x)
    label = np.asarray(x.y_true, dtype=np.float64)
    # where(), not 0 * d^2: a huge distance of a dissimilar pair must not give 0 * inf = NaN.
    similar = np.where(label != 1.0, (1.0 - label) * d * d, 0.0)
    dissimilar = np.where(label != 0.0, label * np.square(np.maximum(margin - d, 0.0)), 0.0)
    return similar + dissimilar


@register(
    "triplet",
    task=Task.SIMILARITY,
    aliases=("triplet_margin", "triplet_loss"),
    formula=(
        "max(d(a, p) - d(a, n) + margin, 0), d(x, y) = ||x - y + 1e-6||_2 "
        "(anchor_*, positive_*, negative_*)"
    ),
    params=(_MARGIN,),
    properties=Properties(
        convex=False,
        smooth=False,
        robust=True,
        probabilistic=False,
        margin_based=True,
        sparse=True,
        zero_at_perfect=False,
    ),
    reference="torch.nn.TripletMarginLoss(margin=1.0, p=2, eps=1e-6, swap=False)",
    default=True,
    panel_requires=("triplets",),
    advice=(
        "Similarity learning from triplets (R-SIM): the anchor must be closer to the "
        "positive than to the negative by `margin`."
    ),
    conventions=(
        "torch adds eps=1e-6 to every coordinate difference before the norm, so d(x, x) = "
        "1e-6 sqrt(k), not 0; losscli does the same. keras-style implementations often use "
        "squared distances instead."
    ),
)
def triplet(x: LossInputs, margin: float) -> np.ndarray:
    """Triplet margin loss: the anchor should be nearer the positive than the negative."""
    try:
        a, p, n = x.extra["anchor"], x.extra["positive"], x.extra["negative"]
    except KeyError:
        raise DataError(
            "triplet needs anchor_0.., positive_0.., negative_0.. embedding columns"
        ) from None
    d_ap = euclidean_distance(a, p, PAIRWISE_EPS)
    d_an = euclidean_distance(a, n, PAIRWISE_EPS)
    return cast(np.ndarray, np.maximum(d_ap - d_an + margin, 0.0))


# --------------------------------------------------------------------------- GAN

_GAN_EPS = Param("eps", EPS, float, lambda v: 0 < v < 0.5, "in (0, 0.5)", "probability clipping")
_GAN_DOMAIN = (
    DomainRule(
        "y_pred",
        lambda a: (a >= 0) & (a <= 1),
        "in [0, 1] (discriminator probabilities)",
        skip_with_logits=True,
        hint="if these are raw scores (logits), add --from-logits",
    ),
)
_GAN_NOTE = (
    "d_real and d_fake may have different lengths: each mean is over its own column "
    "(per-term weights 1/n_real, 1/n_fake). Probabilities are clipped to [eps, 1-eps]; "
    "with --from-logits log D = log_sigmoid(z), unclipped."
)


def _log_d(x: LossInputs, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(log D, log(1 - D)) per row, from probabilities or stably from logits."""
    d = np.asarray(x.y_pred, dtype=np.float64)
    if x.from_logits:
        return -softplus(-d), -softplus(d)
    p = np.clip(d, eps, 1.0 - eps)
    return np.log(p), np.log1p(-p)


def _is_real(x: LossInputs) -> np.ndarray:
    return cast(np.ndarray, np.asarray(x.y_true, dtype=np.float64) == 1.0)


def _fake_rows(x: LossInputs) -> np.ndarray:
    """The D(G(z)) rows (d_fake): where a generator loss is defined."""
    return ~_is_real(x)


@register(
    "gan_discriminator",
    task=Task.GENERATIVE,
    aliases=("discriminator", "d_loss"),
    formula="-(mean log D(x) + mean log(1 - D(G(z)))), D(x) = column d_real, D(G(z)) = d_fake",
    params=(_GAN_EPS,),
    domain=_GAN_DOMAIN,
    reduction=Reduction.SUM,
    properties=Properties(
        convex=True,
        smooth=True,
        robust=False,
        probabilistic=True,
        margin_based=False,
        zero_at_perfect=False,
    ),
    reference="the guide (001), Goodfellow et al. 2014 (minimax value function, negated)",
    default=True,
    panel_requires=("d_real",),
    advice=(
        "Training or monitoring a GAN's discriminator (R-GEN): the cross-entropy of telling "
        "real (D(x) -> 1) from generated (D(G(z)) -> 0); 2 log 2 = 1.386 at D = 0.5."
    ),
    conventions=(
        "torch BCELoss on real and fake batches summed gives the same value. " + _GAN_NOTE
    ),
)
def gan_discriminator(x: LossInputs, eps: float) -> np.ndarray:
    """GAN discriminator loss: cross-entropy of real (d_real) against generated (d_fake)."""
    is_real = _is_real(x)
    if not is_real.any():
        raise DataError("gan_discriminator needs a d_real column (D(x)) next to d_fake")
    log_d, log_1md = _log_d(x, eps)
    return -np.where(is_real, log_d, log_1md)


@register(
    "gan_generator",
    task=Task.GENERATIVE,
    aliases=("generator_minimax", "g_loss_minimax"),
    formula="mean log(1 - D(G(z))), D(G(z)) = column d_fake (minimax, saturating)",
    params=(_GAN_EPS,),
    domain=_GAN_DOMAIN,
    reduction=Reduction.SUM,
    properties=Properties(
        convex=False,
        smooth=True,
        robust=False,
        probabilistic=True,
        margin_based=False,
        nonnegative=False,
        zero_at_perfect=False,
    ),
    reference="the guide (001) (Goodfellow et al. 2014, the generator's minimax term)",
    default=True,
    advice=(
        "The generator loss of the original minimax game, as in the guide; it saturates "
        "(vanishing gradient) when D confidently rejects fakes - prefer gan_generator_ns "
        "for training."
    ),
    conventions=(
        "Negative by construction (log of a probability); lower is better for the "
        "generator. Only d_fake is used (empty on d_real rows in --per-sample). " + _GAN_NOTE
    ),
    support=_fake_rows,
)
def gan_generator(x: LossInputs, eps: float) -> np.ndarray:
    """GAN generator loss (minimax): mean log(1 - D(G(z))), which saturates early in training."""
    _, log_1md = _log_d(x, eps)
    return np.where(_is_real(x), 0.0, log_1md)


@register(
    "gan_generator_ns",
    task=Task.GENERATIVE,
    aliases=("generator_ns", "non_saturating"),
    formula="-mean log D(G(z)), D(G(z)) = column d_fake (non-saturating)",
    params=(_GAN_EPS,),
    domain=_GAN_DOMAIN,
    reduction=Reduction.SUM,
    properties=Properties(
        convex=True,
        smooth=True,
        robust=False,
        probabilistic=True,
        margin_based=False,
        zero_at_perfect=False,
    ),
    reference="Goodfellow et al. 2014 (the non-saturating heuristic)",
    default=True,
    advice=(
        "The generator loss used in practice: same fixed point as the minimax loss but "
        "strong gradients when D rejects fakes."
    ),
    conventions=(
        "Equals torch BCELoss(D(G(z)), ones). Only d_fake is used (empty on d_real rows "
        "in --per-sample). " + _GAN_NOTE
    ),
    support=_fake_rows,
)
def gan_generator_ns(x: LossInputs, eps: float) -> np.ndarray:
    """GAN generator loss (non-saturating): -mean log D(G(z))."""
    log_d, _ = _log_d(x, eps)
    return np.where(_is_real(x), 0.0, -log_d)


# --------------------------------------------------------------------------- VAE

_KL_REDUCTION = Param(
    "kl_reduction",
    "mean",
    str,
    choices=("mean", "sum"),
    requirement="mean or sum",
    help="mean over latent entries (the guide) or sum over latent dimensions",
)


def _latent(x: LossInputs) -> tuple[np.ndarray, np.ndarray]:
    try:
        return (
            np.asarray(x.extra["mu"], dtype=np.float64),
            np.asarray(x.extra["logvar"], dtype=np.float64),
        )
    except KeyError:
        raise DataError("vae_kl needs mu_0.. and logvar_0.. columns") from None


def _kl_rows(x: LossInputs, kl_reduction: str) -> np.ndarray:
    mu, logvar = _latent(x)
    # 1 + logvar - exp(logvar) == logvar - expm1(logvar): no cancellation near logvar = 0.
    terms = -0.5 * (logvar - np.expm1(logvar) - mu * mu)
    return cast(
        np.ndarray, np.mean(terms, axis=1) if kl_reduction == "mean" else np.sum(terms, axis=1)
    )


_VAE_NOTE = (
    "The guide's vae_kl_loss reads vae.mean/vae.logvar from the model, not from (y_true, "
    "y_pred); losscli reads them from mu_*/logvar_* columns. Its tf.reduce_mean averages "
    "over latent dimensions too, so the KL is k times smaller than the textbook sum "
    "(kl_reduction=sum, as in Kingma & Welling 2014 and most torch code)."
)


@register(
    "vae_kl",
    task=Task.VAE,
    aliases=("kl_latent", "vae_kl_loss"),
    formula=(
        "-0.5 mean over latent entries of (1 + logvar - mu^2 - exp(logvar)), columns "
        "mu_*, logvar_*; "
        "kl_reduction=sum sums over latent dims and averages over rows"
    ),
    params=(_KL_REDUCTION,),
    properties=Properties(
        convex=True,
        smooth=True,
        robust=False,
        probabilistic=True,
        margin_based=False,
        zero_at_perfect=False,
    ),
    reference="the guide (000): vae_kl_loss (Cheong, Hands-On Image Generation with TensorFlow)",
    default=True,
    advice=(
        "The VAE's regulariser: KL divergence of the encoder's Gaussian N(mu, exp(logvar)) "
        "from N(0, 1); 0 when mu = 0 and logvar = 0."
    ),
    conventions=_VAE_NOTE,
)
def vae_kl(x: LossInputs, kl_reduction: str) -> np.ndarray:
    """VAE KL term: divergence of the latent Gaussian from the standard normal prior."""
    return _kl_rows(x, kl_reduction)


@register(
    "vae",
    task=Task.VAE,
    aliases=("vae_loss",),
    formula="kl_weight * vae_kl + reconstruction MSE (mean over y_true_*/y_pred_* per row)",
    params=(
        Param("kl_weight", 0.01, float, lambda v: v >= 0, ">= 0", "weight of the KL term"),
        _KL_REDUCTION,
    ),
    properties=Properties(
        convex=True,
        smooth=True,
        robust=False,
        probabilistic=False,
        margin_based=False,
        zero_at_perfect=False,
    ),
    reference="the guide (000): vae_loss = 0.01 * vae_kl_loss + vae_rc_loss (keras MSE)",
    default=True,
    panel_requires=("reconstruction",),
    advice=(
        "The whole VAE objective of the guide: reconstruction error plus a small weight "
        "(0.01) on the KL term."
    ),
    conventions=(
        "The reconstruction term is keras MSE: the mean over output columns per row (the "
        "guide notes binary cross-entropy as the alternative). " + _VAE_NOTE
    ),
)
def vae(x: LossInputs, kl_weight: float, kl_reduction: str) -> np.ndarray:
    """VAE loss: reconstruction MSE plus kl_weight times the KL term (the guide's vae_loss)."""
    t = np.asarray(x.y_true, dtype=np.float64)
    p = np.asarray(x.y_pred, dtype=np.float64)
    if t.ndim == 1:
        t, p = t[:, None], p[:, None]
    if t.shape[1] == 0:
        raise DataError(
            "vae needs reconstruction columns: y_true_*/y_pred_* (or y_true/y_pred) "
            "next to mu_*/logvar_*; vae_kl alone works without them"
        )
    reconstruction = np.mean(np.square(t - p), axis=1)
    return cast(np.ndarray, kl_weight * _kl_rows(x, kl_reduction) + reconstruction)
