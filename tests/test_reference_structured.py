"""Reference values of the structured losses (SPEC 4.4), 1e-12 relative, on hand-built cases.

Each reference below is written from the named source's documented formula in
plain Python scalars (math, no NumPy), independently of the kernels:

- iou / giou: torchvision ``box_iou`` / ``generalized_box_iou_loss`` (eps 1e-7).
- contrastive: the guide's (001) ``criterion``: (1-label) d^2 + label
  clamp(margin - d, min=0)^2, with the plain Euclidean distance (SPEC).
- triplet: torch ``TripletMarginLoss``: max(d(a,p) - d(a,n) + margin, 0),
  d(x, y) = ||x - y + 1e-6||_2.
- GAN: -(mean log D(x) + mean log(1 - D(G(z)))), mean log(1 - D(G(z))),
  -mean log D(G(z)) - each mean over its own column.
- vae_kl / vae: the guide's (000) vae_kl_loss (tf.reduce_mean) and vae_loss.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from losscli.core.losses.structured import gan_term_weights
from losscli.core.reduction import new_accumulator, reduce_values
from losscli.core.registry import LossInputs, Reduction, get_loss

COVERED_LOSSES = {
    "iou",
    "giou",
    "contrastive",
    "triplet",
    "gan_discriminator",
    "gan_generator",
    "gan_generator_ns",
    "vae_kl",
    "vae",
}

REL = 1e-12


def value(name: str, x: LossInputs, weights=None, **params) -> float:
    spec = get_loss(name)
    return reduce_values(spec.per_sample(x, params), weights, spec.reduction)


def per_sample(name: str, x: LossInputs, **params) -> np.ndarray:
    return get_loss(name).per_sample(x, params)


# --------------------------------------------------------------------------- boxes


def ref_box(t, p, generalized: bool) -> float:
    """torchvision's formula for one pair of (x1, y1, x2, y2) boxes, eps = 1e-7."""
    eps = 1e-7
    tx1, ty1, tx2, ty2 = t
    px1, py1, px2, py2 = p
    ix1, iy1, ix2, iy2 = max(tx1, px1), max(ty1, py1), min(tx2, px2), min(ty2, py2)
    inter = (ix2 - ix1) * (iy2 - iy1) if (ix2 > ix1 and iy2 > iy1) else 0.0
    union = (tx2 - tx1) * (ty2 - ty1) + (px2 - px1) * (py2 - py1) - inter
    iou = inter / (union + eps)
    if not generalized:
        return 1.0 - iou
    area_c = (max(tx2, px2) - min(tx1, px1)) * (max(ty2, py2) - min(ty1, py1))
    return 1.0 - (iou - (area_c - union) / (area_c + eps))


BOX_CASES = {
    "identical": ((0.0, 0.0, 2.0, 2.0), (0.0, 0.0, 2.0, 2.0)),
    "disjoint": ((0.0, 0.0, 1.0, 1.0), (2.0, 2.0, 3.0, 3.0)),
    "overlap": ((0.0, 0.0, 2.0, 2.0), (1.0, 1.0, 3.0, 3.0)),
    "contained": ((0.0, 0.0, 4.0, 4.0), (1.0, 1.0, 2.0, 2.0)),
    "touching": ((0.0, 0.0, 1.0, 1.0), (1.0, 0.0, 2.0, 1.0)),
    "overlap_x_only": ((0.0, 0.0, 2.0, 1.0), (1.0, 3.0, 3.0, 4.0)),
    "point_boxes": ((1.0, 1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 1.0)),
    "flat_inside": ((0.0, 0.0, 4.0, 4.0), (1.0, 2.0, 3.0, 2.0)),
    "fractional": ((12.5, 30.25, 80.0, 91.5), (10.0, 35.0, 77.75, 99.0)),
}


@pytest.mark.parametrize("generalized", [False, True], ids=["iou", "giou"])
@pytest.mark.parametrize("case", BOX_CASES, ids=list(BOX_CASES))
def test_box_losses_match_torchvision_formula(case, generalized):
    t, p = BOX_CASES[case]
    x = LossInputs(y_true=np.array([t]), y_pred=np.array([p]))
    got = per_sample("giou" if generalized else "iou", x)[0]
    assert got == pytest.approx(ref_box(t, p, generalized), rel=REL, abs=0)


def test_box_edge_values_by_hand():
    x = LossInputs(
        y_true=np.array([BOX_CASES[c][0] for c in ("identical", "disjoint", "overlap")]),
        y_pred=np.array([BOX_CASES[c][1] for c in ("identical", "disjoint", "overlap")]),
    )
    iou = per_sample("iou", x)
    giou = per_sample("giou", x)
    # identical 2x2 boxes: 1 - 4 / (4 + 1e-7), a hair above 0
    assert iou[0] == pytest.approx(1 - 4 / (4 + 1e-7), rel=REL)
    assert 0 < iou[0] < 1e-7
    # disjoint: IoU loss saturates at 1; GIoU adds the empty share of the 3x3 enclosing box
    assert iou[1] == 1.0
    assert giou[1] == pytest.approx(1 + 7 / (9 + 1e-7), rel=REL)
    # 2x2 boxes overlapping in a unit square: inter 1, union 7, enclosing 9
    assert iou[2] == pytest.approx(1 - 1 / (7 + 1e-7), rel=REL)
    assert giou[2] == pytest.approx(1 - (1 / (7 + 1e-7) - 2 / (9 + 1e-7)), rel=REL)


def test_degenerate_boxes_follow_the_documented_policy():
    # Zero-area boxes: union 0 -> IoU 0 / (0 + 1e-7) = 0 -> loss 1 (no NaN), GIoU likewise.
    t, p = BOX_CASES["point_boxes"]
    x = LossInputs(y_true=np.array([t]), y_pred=np.array([p]))
    assert per_sample("iou", x)[0] == 1.0
    assert per_sample("giou", x)[0] == 1.0


# --------------------------------------------------------------------------- similarity


def ref_contrastive(a, b, label, margin=1.0) -> float:
    d = math.sqrt(sum((u - v) ** 2 for u, v in zip(a, b)))
    return (1 - label) * d**2 + label * max(margin - d, 0.0) ** 2


PAIRS = [
    # (a, b, label): zero distance, margin boundary, inside and outside the margin
    ((0.5, -1.0, 2.0), (0.5, -1.0, 2.0), 0),
    ((0.5, -1.0, 2.0), (0.5, -1.0, 2.0), 1),
    ((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), 1),
    ((0.0, 0.0, 0.0), (0.6, 0.0, 0.0), 1),
    ((0.0, 0.0, 0.0), (3.0, 4.0, 0.0), 0),
    ((0.0, 0.0, 0.0), (3.0, 4.0, 0.0), 1),
    ((0.1, 0.2, 0.3), (-0.4, 0.25, 0.9), 0),
    ((0.1, 0.2, 0.3), (-0.4, 0.25, 0.9), 1),
]


@pytest.mark.parametrize("margin", [1.0, 2.5])
def test_contrastive_matches_the_guide(margin):
    a = np.array([p[0] for p in PAIRS])
    b = np.array([p[1] for p in PAIRS])
    label = np.array([float(p[2]) for p in PAIRS])
    x = LossInputs(y_true=label, y_pred=np.zeros(len(PAIRS)), extra={"a": a, "b": b})
    got = per_sample("contrastive", x, margin=margin)
    want = [ref_contrastive(*p, margin=margin) for p in PAIRS]
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=REL, abs=0)
    assert value("contrastive", x, margin=margin) == pytest.approx(
        math.fsum(want) / len(want), rel=REL
    )


def test_contrastive_edge_values_by_hand():
    a = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    b = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    label = np.array([0.0, 1.0, 1.0, 0.0])
    got = per_sample("contrastive", LossInputs(label, np.zeros(4), extra={"a": a, "b": b}))
    # similar & identical: 0; dissimilar & identical: margin^2; at the margin: 0; d = 5: 25
    assert got.tolist() == [0.0, 1.0, 0.0, 25.0]


def test_contrastive_from_a_distance_column():
    d = np.array([0.0, 0.3, 1.0, 1.7])
    label = np.array([0.0, 1.0, 1.0, 0.0])
    got = per_sample("contrastive", LossInputs(label, d, extra={"distance": d}))
    want = [0.0, 0.7**2, 0.0, 1.7**2]
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=REL, abs=0)


def ref_triplet(a, p, n, margin=1.0) -> float:
    def dist(x, y):
        return math.sqrt(sum((u - v + 1e-6) ** 2 for u, v in zip(x, y)))

    return max(dist(a, p) - dist(a, n) + margin, 0.0)


TRIPLETS = [
    ((0.0, 0.0), (0.0, 0.0), (3.0, 4.0)),  # easy: far negative, loss 0
    ((0.0, 0.0), (0.0, 0.0), (0.0, 0.0)),  # all equal: loss = margin
    ((0.0, 0.0), (1.0, 0.0), (0.5, 0.0)),  # negative nearer than positive
    ((0.3, -0.2), (0.1, 0.4), (1.2, 0.9)),
    ((-1.5, 2.0), (-1.0, 2.5), (-1.2, 1.1)),
]


@pytest.mark.parametrize("margin", [1.0, 0.2])
def test_triplet_matches_torch_formula(margin):
    extra = {
        "anchor": np.array([t[0] for t in TRIPLETS]),
        "positive": np.array([t[1] for t in TRIPLETS]),
        "negative": np.array([t[2] for t in TRIPLETS]),
    }
    n = len(TRIPLETS)
    x = LossInputs(np.zeros(n), np.zeros(n), extra=extra)
    got = per_sample("triplet", x, margin=margin)
    for g, t in zip(got, TRIPLETS):
        want = ref_triplet(*t, margin=margin)
        assert g == pytest.approx(want, rel=REL, abs=0)
    # all three equal: d(a,p) = d(a,n) = 1e-6 sqrt(2), so the loss is the margin itself
    assert got[1] == pytest.approx(margin, rel=REL)
    assert got[0] == 0.0


def test_triplet_at_the_margin_boundary_is_zero():
    # d(a, n) - d(a, p) == margin exactly (1-D, with torch's +1e-6 on both differences)
    a, p, n = [[0.0]], [[-0.5]], [[-1.5]]
    x = LossInputs(np.zeros(1), np.zeros(1), extra={"anchor": a, "positive": p, "negative": n})
    assert per_sample("triplet", x)[0] == pytest.approx(0.0, abs=1e-15)


# --------------------------------------------------------------------------- GAN

D_REAL = [0.9, 0.8, 0.6, 0.99]
D_FAKE = [0.1, 0.3, 0.45]


def gan_inputs(real, fake, from_logits=False) -> tuple[LossInputs, np.ndarray]:
    is_real = np.array([1.0] * len(real) + [0.0] * len(fake))
    x = LossInputs(is_real, np.array(list(real) + list(fake)), from_logits=from_logits)
    return x, gan_term_weights(is_real)


def mean(values) -> float:
    values = list(values)
    return math.fsum(values) / len(values)


def test_gan_losses_with_unequal_lengths():
    x, w = gan_inputs(D_REAL, D_FAKE)
    disc = -(mean(math.log(d) for d in D_REAL) + mean(math.log(1 - d) for d in D_FAKE))
    gen = mean(math.log(1 - d) for d in D_FAKE)
    gen_ns = -mean(math.log(d) for d in D_FAKE)
    assert value("gan_discriminator", x, w) == pytest.approx(disc, rel=REL)
    assert value("gan_generator", x, w) == pytest.approx(gen, rel=REL)
    assert value("gan_generator_ns", x, w) == pytest.approx(gen_ns, rel=REL)


def test_gan_at_the_equilibrium_d_one_half():
    x, w = gan_inputs([0.5] * 5, [0.5] * 2)
    assert value("gan_discriminator", x, w) == pytest.approx(2 * math.log(2), rel=REL)
    assert value("gan_generator", x, w) == pytest.approx(-math.log(2), rel=REL)
    assert value("gan_generator_ns", x, w) == pytest.approx(math.log(2), rel=REL)


def test_gan_from_logits_equals_probabilities_without_clipping():
    z_real, z_fake = [2.0, -0.5, 30.0], [-3.0, 0.25]

    def sig(z):
        return 1 / (1 + math.exp(-z))

    x, w = gan_inputs(z_real, z_fake, from_logits=True)
    disc = -(mean(math.log(sig(z)) for z in z_real) + mean(math.log(1 - sig(z)) for z in z_fake))
    assert value("gan_discriminator", x, w) == pytest.approx(disc, rel=1e-11)
    # a logit of -800: D = 0 underflows, but log D = -800 exactly (no clipping at eps)
    x, w = gan_inputs([1.0], [-800.0], from_logits=True)
    assert value("gan_generator_ns", x, w) == pytest.approx(800.0, rel=REL)


def test_gan_probabilities_are_clipped_at_eps():
    eps = np.finfo(float).eps
    x, w = gan_inputs([1.0], [1.0])
    assert value("gan_discriminator", x, w) == pytest.approx(-math.log(eps), rel=1e-12)


def test_gan_sum_reduction_is_mergeable_across_chunks():
    x, w = gan_inputs(D_REAL, D_FAKE)
    spec = get_loss("gan_discriminator")
    values = spec.per_sample(x)
    whole = new_accumulator(Reduction.SUM)
    whole.add(values, w)
    left, right = new_accumulator(Reduction.SUM), new_accumulator(Reduction.SUM)
    left.add(values[:3], w[:3])
    right.add(values[3:], w[3:])
    assert left.merge(right).result() == pytest.approx(whole.result(), rel=REL)


# --------------------------------------------------------------------------- VAE

MU = [[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [0.3, 0.1, -0.7]]
LOGVAR = [[0.0, 0.0, 0.0], [0.5, -1.0, 0.0], [-0.2, 1e-9, 2.0]]
RECON_TRUE = [[0.2, 0.4], [0.9, 0.1], [0.5, 0.5]]
RECON_PRED = [[0.25, 0.3], [0.7, 0.2], [0.5, 0.5]]


def kl_term(mu: float, logvar: float) -> float:
    return -0.5 * (1 + logvar - mu**2 - math.exp(logvar))


def vae_inputs() -> LossInputs:
    return LossInputs(
        y_true=np.array(RECON_TRUE),
        y_pred=np.array(RECON_PRED),
        extra={"mu": np.array(MU), "logvar": np.array(LOGVAR)},
    )


def test_vae_kl_is_the_guides_reduce_mean():
    terms = [kl_term(m, v) for row_m, row_v in zip(MU, LOGVAR) for m, v in zip(row_m, row_v)]
    assert value("vae_kl", vae_inputs()) == pytest.approx(mean(terms), rel=REL)
    rows = per_sample("vae_kl", vae_inputs())
    assert rows[0] == 0.0  # mu = 0, logvar = 0: the prior itself


def test_vae_kl_sum_over_latent_dims():
    sums = [math.fsum(kl_term(m, v) for m, v in zip(rm, rv)) for rm, rv in zip(MU, LOGVAR)]
    got = value("vae_kl", vae_inputs(), kl_reduction="sum")
    assert got == pytest.approx(mean(sums), rel=REL)


def test_vae_loss_is_the_guides_vae_loss():
    kl = mean(kl_term(m, v) for rm, rv in zip(MU, LOGVAR) for m, v in zip(rm, rv))
    rc = [mean((t - p) ** 2 for t, p in zip(rt, rp)) for rt, rp in zip(RECON_TRUE, RECON_PRED)]
    want = mean(0.01 * kl + r for r in rc)  # kl_weight_const * kl_loss + rc_loss, averaged
    assert value("vae", vae_inputs()) == pytest.approx(want, rel=REL)
    assert value("vae", vae_inputs(), kl_weight=0.5) == pytest.approx(0.5 * kl + mean(rc), rel=REL)


def test_vae_with_one_reconstruction_column():
    x = LossInputs(
        y_true=np.array([1.0, 2.0, 3.0]),
        y_pred=np.array([1.5, 2.0, 2.0]),
        extra={"mu": np.array(MU), "logvar": np.array(LOGVAR)},
    )
    kl = mean(kl_term(m, v) for rm, rv in zip(MU, LOGVAR) for m, v in zip(rm, rv))
    assert value("vae", x) == pytest.approx(0.01 * kl + (0.25 + 0 + 1) / 3, rel=REL)
