"""Every loss of SPEC 4.1-4.3 against its named reference, to 1e-12 relative.

scikit-learn is the reference wherever it has the loss (with and without
sample weights, with named string classes); the torch/keras/torchvision
conventions are checked against hand computations of their documented
formulas, done in 50-digit decimal arithmetic so the reference is exact.
"""

from __future__ import annotations

from decimal import Decimal, getcontext

import numpy as np
import pytest
from sklearn import metrics

from losscli.core.reduction import reduce_values
from losscli.core.registry import LossInputs, get_loss

getcontext().prec = 50
REL = 1e-12

COVERED_LOSSES = {
    # 4.1 regression
    "mse",
    "rmse",
    "mae",
    "mbe",
    "huber",
    "log_cosh",
    "mape",
    "smape",
    "msle",
    "rmsle",
    "median_ae",
    "max_error",
    "pinball",
    "poisson",
    "gamma",
    "tweedie",
    # 4.2 binary
    "bce",
    "brier",
    "hinge",
    "squared_hinge",
    "focal",
    # 4.3 multiclass
    "cce",
    "multiclass_brier",
    "multiclass_hinge",
    "categorical_focal",
    "kl_div",
}


def loss_value(name, y_true, y_pred, weights=None, *, from_logits=False, labels=None, **params):
    """The value losscli reports: the registered kernel through the one reduction path."""
    spec = get_loss(name)
    inputs = LossInputs(
        y_true=np.asarray(y_true, dtype=np.float64),
        y_pred=np.asarray(y_pred, dtype=np.float64),
        from_logits=from_logits,
        labels=labels,
    )
    per_sample = spec.per_sample(inputs, params)
    return reduce_values(per_sample, weights, spec.reduction)


def D(x) -> Decimal:
    """The exact value of a float64 as a decimal (not its shortest repr)."""
    return Decimal(float(x))


def weighted_mean(values, weights=None) -> float:
    values = [Decimal(v) if not isinstance(v, Decimal) else v for v in values]
    if weights is None:
        weights = [1.0] * len(values)
    w = [D(x) for x in weights]
    return float(sum(a * b for a, b in zip(w, values)) / sum(w))


# --------------------------------------------------------------------------- data

RNG = np.random.default_rng(20261123)
N = 57
Y_POS = RNG.uniform(0.2, 30.0, N)
P_POS = Y_POS * RNG.lognormal(0.0, 0.3, N)
Y_REAL = RNG.normal(0.0, 3.0, N)
P_REAL = Y_REAL + RNG.standard_t(3, N)
WEIGHTS = RNG.uniform(0.0, 3.0, N)
WEIGHTS[[3, 10]] = 0.0
INT_WEIGHTS = RNG.integers(0, 4, N).astype(float)

REGRESSION_CASES = {
    "positive": (Y_POS, P_POS),
    "real": (Y_REAL, P_REAL),
}
WEIGHT_CASES = {"unweighted": None, "weighted": WEIGHTS, "integer_weights": INT_WEIGHTS}


WEIGHTED = pytest.mark.parametrize("weights", list(WEIGHT_CASES.values()), ids=list(WEIGHT_CASES))


# --------------------------------------------------------------------------- 4.1 regression

SKLEARN_REGRESSION = [
    ("mse", metrics.mean_squared_error, "real"),
    ("l2", metrics.mean_squared_error, "positive"),
    ("rmse", metrics.root_mean_squared_error, "real"),
    ("mae", metrics.mean_absolute_error, "real"),
    ("mape", metrics.mean_absolute_percentage_error, "real"),
    ("mape", metrics.mean_absolute_percentage_error, "positive"),
    ("msle", metrics.mean_squared_log_error, "positive"),
    ("rmsle", metrics.root_mean_squared_log_error, "positive"),
    ("median_ae", metrics.median_absolute_error, "real"),
    ("poisson", metrics.mean_poisson_deviance, "positive"),
    ("gamma", metrics.mean_gamma_deviance, "positive"),
]


@pytest.mark.parametrize(
    ("name", "reference", "case"),
    SKLEARN_REGRESSION,
    ids=[f"{n}-{c}" for n, _, c in SKLEARN_REGRESSION],
)
@WEIGHTED
def test_regression_matches_sklearn(name, reference, case, weights):
    y, p = REGRESSION_CASES[case]
    expected = reference(y, p, sample_weight=weights)
    assert loss_value(name, y, p, weights) == pytest.approx(expected, rel=REL, abs=0)


def test_median_ae_odd_and_even_unit_weights_is_np_median():
    y, p = REGRESSION_CASES["real"]
    for n in (N, N - 1):
        expected = metrics.median_absolute_error(y[:n], p[:n])
        assert expected == pytest.approx(np.median(np.abs(y[:n] - p[:n])), rel=REL, abs=0)
        assert loss_value("median_ae", y[:n], p[:n]) == pytest.approx(expected, rel=REL, abs=0)


def test_mape_with_zero_target_uses_float64_eps():
    y = np.array([0.0, 1.0, -2.0, 4.0])
    p = np.array([0.5, 1.5, -1.0, 3.0])
    expected = metrics.mean_absolute_percentage_error(y, p)
    assert expected > 1e14  # eps = 2.2e-16 in the denominator
    assert loss_value("mape", y, p) == pytest.approx(expected, rel=REL, abs=0)


@pytest.mark.parametrize("weights", [None, WEIGHTS], ids=["unweighted", "weighted"])
def test_max_error_matches_sklearn_and_ignores_weights(weights):
    y, p = REGRESSION_CASES["real"]
    expected = metrics.max_error(y, p)
    if weights is not None:
        # Rows of zero weight are left out; other weights do not matter.
        keep = weights > 0
        expected = metrics.max_error(y[keep], p[keep])
    assert loss_value("max_error", y, p, weights) == pytest.approx(expected, rel=REL, abs=0)


@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9, 0.0, 1.0])
@WEIGHTED
def test_pinball_matches_sklearn(alpha, weights):
    y, p = REGRESSION_CASES["real"]
    expected = metrics.mean_pinball_loss(y, p, alpha=alpha, sample_weight=weights)
    got = loss_value("pinball", y, p, weights, alpha=alpha)
    assert got == pytest.approx(expected, rel=REL, abs=0 if expected else 1e-300)


@pytest.mark.parametrize("power", [0.0, -1.0, 1.0, 1.2, 1.5, 1.9, 2.0, 2.5, 3.0])
@WEIGHTED
def test_tweedie_matches_sklearn(power, weights):
    y, p = REGRESSION_CASES["positive"]
    expected = metrics.mean_tweedie_deviance(y, p, power=power, sample_weight=weights)
    assert loss_value("tweedie", y, p, weights, power=power) == pytest.approx(
        expected, rel=REL, abs=0
    )


@pytest.mark.parametrize("power", [1.0, 1.5])
def test_tweedie_zero_targets_match_sklearn(power):
    y = np.array([0.0, 2.0, 0.0, 5.0, 1.0])
    p = np.array([0.5, 1.5, 2.0, 4.0, 1.0])
    expected = metrics.mean_tweedie_deviance(y, p, power=power)
    assert loss_value("tweedie", y, p, power=power) == pytest.approx(expected, rel=REL, abs=0)
    if power == 1.0:
        assert loss_value("poisson", y, p) == pytest.approx(expected, rel=REL, abs=0)


@pytest.mark.parametrize("power", [-1.0, -0.5, 1.5, 3.0])
def test_tweedie_large_targets_match_exact_arithmetic(power):
    # sklearn's direct formula cancels terms of size y^(2-p): at power -1 and y = 1e6 it
    # returns -128 for a perfect prediction. The unit deviance itself, in exact arithmetic:
    y = np.array([1e4, 1e6, 2.5e5, 3e3])
    p = np.array([1e4 * (1 + 1e-6), 1e6, 2.4e5, 3.3e3])
    a, b = D(2.0 - power), D(1.0 - power)
    per_row = []
    for yi, mi in zip(y, p):
        yd, md = D(yi), D(mi)
        per_row.append(2 * (yd**a / (a * b) - yd * md**b / b + md**a / a))
    assert loss_value("tweedie", y, p, power=power) == pytest.approx(
        weighted_mean(per_row), rel=REL, abs=0
    )
    assert loss_value("tweedie", y[1:2], p[1:2], power=power) == 0.0


def test_tweedie_negative_power_negative_targets_match_sklearn():
    y = np.array([-2.0, 0.0, 3.0, -0.5])
    p = np.array([0.5, 1.5, 2.0, 4.0])
    expected = metrics.mean_tweedie_deviance(y, p, power=-1.0)
    assert loss_value("tweedie", y, p, power=-1.0) == pytest.approx(expected, rel=REL, abs=0)


@WEIGHTED
def test_mbe_is_the_guides_numpy_code(weights):
    y, p = REGRESSION_CASES["real"]
    if weights is None:
        expected = np.sum(y - p) / np.size(y)  # seed 001, verbatim formula
        # summation order of np.sum differs from np.dot: compare in exact arithmetic too
        assert loss_value("mbe", y, p) == pytest.approx(expected, rel=1e-12, abs=0)
    errors = [D(a) - D(b) for a, b in zip(y, p)]
    assert loss_value("mbe", y, p, weights) == pytest.approx(
        weighted_mean(errors, weights), rel=REL
    )


def test_mbe_sign_positive_means_under_prediction():
    assert loss_value("mbe", [3.0, 5.0], [2.0, 4.0]) == 1.0
    assert loss_value("mbe", [3.0, 5.0], [4.0, 6.0]) == -1.0


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0, 10.0])
@WEIGHTED
def test_huber_is_torch_huber_loss(delta, weights):
    # torch.nn.HuberLoss: 0.5 (x-y)^2 if |x-y| < delta else delta (|x-y| - 0.5 delta)
    y, p = REGRESSION_CASES["real"]
    d = D(delta)
    per_row = []
    for a, b in zip(y, p):
        e = abs(D(a) - D(b))
        per_row.append(Decimal("0.5") * e * e if e < d else d * (e - Decimal("0.5") * d))
    got = loss_value("huber", y, p, weights, delta=delta)
    assert got == pytest.approx(weighted_mean(per_row, weights), rel=REL, abs=0)


def test_huber_hand_values():
    # e = 0.5 -> 0.125; e = 3 with delta 1 -> 2.5; e = -1 (boundary) -> 0.5
    assert loss_value("huber", [0.5, 3.0, -1.0], [0.0, 0.0, 0.0]) == pytest.approx(
        (0.125 + 2.5 + 0.5) / 3, rel=REL
    )


def _log_cosh_decimal(e: Decimal) -> Decimal:
    return ((e.exp() + (-e).exp()) / 2).ln()


@WEIGHTED
def test_log_cosh_is_keras_log_cosh(weights):
    # keras LogCosh: mean(log((exp(x) + exp(-x)) / 2)), x = y_pred - y_true
    y, p = REGRESSION_CASES["real"]
    per_row = [_log_cosh_decimal(D(b) - D(a)) for a, b in zip(y, p)]
    assert loss_value("log_cosh", y, p, weights) == pytest.approx(
        weighted_mean(per_row, weights), rel=REL
    )


def test_log_cosh_large_errors_do_not_overflow():
    got = loss_value("log_cosh", [0.0, 0.0], [1000.0, -800.0])
    expected = weighted_mean([_log_cosh_decimal(D(1000.0)), _log_cosh_decimal(D(800.0))])
    assert got == pytest.approx(expected, rel=REL, abs=0)


@WEIGHTED
def test_smape_hand_formula(weights):
    y, p = REGRESSION_CASES["real"]
    per_row = [2 * abs(D(a) - D(b)) / (abs(D(a)) + abs(D(b))) for a, b in zip(y, p)]
    assert loss_value("smape", y, p, weights) == pytest.approx(
        weighted_mean(per_row, weights), rel=REL
    )


def test_smape_zero_when_both_zero_and_bounded_by_two():
    assert loss_value("smape", [0.0], [0.0]) == 0.0
    assert loss_value("smape", [1.0], [-1.0]) == pytest.approx(2.0, rel=REL, abs=0)
    assert loss_value("smape", [0.0, 3.0], [2.0, 1.0]) == pytest.approx(
        (2.0 + 1.0) / 2, rel=REL, abs=0
    )


# --------------------------------------------------------------------------- 4.2 binary

Y_BIN = RNG.integers(0, 2, N).astype(float)
Y_BIN[:2] = [0.0, 1.0]
P_BIN = np.clip(RNG.beta(2, 2, N), 0.001, 0.999)
Z_BIN = RNG.normal(0.0, 3.0, N)


@WEIGHTED
def test_bce_matches_sklearn_log_loss(weights):
    expected = metrics.log_loss(Y_BIN, P_BIN, sample_weight=weights)
    assert loss_value("bce", Y_BIN, P_BIN, weights) == pytest.approx(expected, rel=REL, abs=0)
    assert loss_value("log_loss", Y_BIN, P_BIN, weights) == pytest.approx(expected, rel=REL, abs=0)


def test_bce_clips_exact_zero_and_one_like_sklearn():
    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.0, 1.0, 1.0, 0.0])
    expected = metrics.log_loss(y, p)
    assert np.isfinite(expected)
    assert loss_value("bce", y, p) == pytest.approx(expected, rel=REL, abs=0)


@pytest.mark.parametrize("name", ["bce", "focal", "cce", "categorical_focal", "kl_div"])
def test_eps_parameter_sets_the_clipping(name):
    # keras clips with 1e-7: bce:eps=1e-7 reproduces it on predictions of exactly 0 and 1
    if name in ("bce", "focal"):
        y, p, labels = np.array([1.0, 0.0]), np.array([0.0, 1.0]), None
        params = {"gamma": 0.0, "alpha": -1.0} if name == "focal" else {}
    else:
        y, p, labels = np.eye(2), np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1])
        params = {"gamma": 0.0, "alpha": 1.0} if name == "categorical_focal" else {}
    for eps in (1e-7, float(np.finfo(float).eps)):
        # p = 0 is clipped to eps; p = 1 to the float64 number 1 - eps (binary only)
        upper = D(1.0 - eps)
        other = -(1 - upper).ln() if labels is None else -D(eps).ln()
        expected = weighted_mean([-D(eps).ln(), other])
        got = loss_value(name, y, p, labels=labels, eps=eps, **params)
        assert got == pytest.approx(expected, rel=REL, abs=0)
    default = loss_value(name, y, p, labels=labels, **params)
    assert default == loss_value(name, y, p, labels=labels, eps=np.finfo(float).eps, **params)


@WEIGHTED
def test_brier_matches_sklearn(weights):
    expected = metrics.brier_score_loss(Y_BIN, P_BIN, sample_weight=weights)
    assert loss_value("brier", Y_BIN, P_BIN, weights) == pytest.approx(expected, rel=REL, abs=0)


@WEIGHTED
def test_hinge_matches_sklearn(weights):
    expected = metrics.hinge_loss(Y_BIN, Z_BIN, sample_weight=weights)
    assert loss_value("hinge", Y_BIN, Z_BIN, weights) == pytest.approx(expected, rel=REL, abs=0)
    # -1/1 labels: the io layer maps -1 to 0; sklearn takes them as given
    signed = 2 * Y_BIN - 1
    assert metrics.hinge_loss(signed, Z_BIN, sample_weight=weights) == pytest.approx(
        expected, rel=REL
    )


def _sigmoid(z: Decimal) -> Decimal:
    return 1 / (1 + (-z).exp())


@WEIGHTED
def test_bce_from_logits_is_torch_bce_with_logits(weights):
    # torch BCEWithLogitsLoss: -[y log sigmoid(z) + (1-y) log(1 - sigmoid(z))]
    per_row = []
    for y, z in zip(Y_BIN, Z_BIN):
        s = _sigmoid(D(z))
        per_row.append(-(D(y) * s.ln() + (1 - D(y)) * (1 - s).ln()))
    got = loss_value("bce", Y_BIN, Z_BIN, weights, from_logits=True)
    assert got == pytest.approx(weighted_mean(per_row, weights), rel=REL, abs=0)


def test_bce_from_logits_extreme_logits_stay_exact():
    # softplus(z) - y z: for z = -1e4, y = 1 the loss is 1e4; log(sigmoid(z)) would give inf
    got = loss_value("bce", [1.0, 0.0, 1.0, 0.0], [-1e4, 1e4, 1e4, -1e4], from_logits=True)
    assert got == pytest.approx((1e4 + 1e4 + 0.0 + 0.0) / 4, rel=REL, abs=0)
    assert loss_value("bce", [1.0], [-800.0], from_logits=True) == pytest.approx(
        800.0, rel=REL, abs=0
    )


@pytest.mark.parametrize("ls", [0.1, 0.2, 1.0])
@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
def test_bce_label_smoothing_is_keras_convention(ls, from_logits):
    # keras BinaryCrossentropy(label_smoothing): y <- y (1 - ls) + 0.5 ls
    pred = Z_BIN if from_logits else P_BIN
    per_row = []
    for y, v in zip(Y_BIN, pred):
        t = D(y) * (1 - D(ls)) + D(ls) / 2
        p = _sigmoid(D(v)) if from_logits else D(v)
        per_row.append(-(t * p.ln() + (1 - t) * (1 - p).ln()))
    got = loss_value("bce", Y_BIN, pred, from_logits=from_logits, label_smoothing=ls)
    assert got == pytest.approx(weighted_mean(per_row), rel=REL, abs=0)


@WEIGHTED
def test_squared_hinge_is_keras_squared_hinge(weights):
    # keras SquaredHinge: 0/1 labels -> -1/1, mean(square(max(1 - y_true * y_pred, 0)))
    per_row = []
    for y, s in zip(Y_BIN, Z_BIN):
        t = 2 * D(y) - 1
        per_row.append(max(Decimal(0), 1 - t * D(s)) ** 2)
    got = loss_value("squared_hinge", Y_BIN, Z_BIN, weights)
    assert got == pytest.approx(weighted_mean(per_row, weights), rel=REL, abs=0)


def _torchvision_focal(y: float, z_or_p: float, gamma: float, alpha: float, logits: bool):
    # torchvision.ops.sigmoid_focal_loss: p = sigmoid(inputs);
    # ce = BCE-with-logits; p_t = p t + (1-p)(1-t); loss = ce (1 - p_t)^gamma;
    # alpha >= 0: loss *= alpha t + (1 - alpha)(1 - t)
    t = D(y)
    p = _sigmoid(D(z_or_p)) if logits else D(z_or_p)
    ce = -(t * p.ln() + (1 - t) * (1 - p).ln())
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** D(gamma) if gamma else ce
    if alpha >= 0:
        loss *= D(alpha) * t + (1 - D(alpha)) * (1 - t)
    return loss


@pytest.mark.parametrize(
    ("gamma", "alpha"), [(2.0, 0.25), (0.0, 0.25), (3.0, 0.5), (1.5, -1.0), (2.0, 1.0)]
)
@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
@WEIGHTED
def test_focal_is_torchvision_sigmoid_focal_loss(gamma, alpha, from_logits, weights):
    pred = Z_BIN if from_logits else P_BIN
    per_row = [_torchvision_focal(y, v, gamma, alpha, from_logits) for y, v in zip(Y_BIN, pred)]
    got = loss_value(
        "focal", Y_BIN, pred, weights, from_logits=from_logits, gamma=gamma, alpha=alpha
    )
    assert got == pytest.approx(weighted_mean(per_row, weights), rel=REL, abs=0)


@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
def test_focal_gamma0_alpha_negative_equals_bce(from_logits):
    pred = Z_BIN if from_logits else P_BIN
    focal = loss_value("focal", Y_BIN, pred, from_logits=from_logits, gamma=0.0, alpha=-1.0)
    bce = loss_value("bce", Y_BIN, pred, from_logits=from_logits)
    assert focal == pytest.approx(bce, rel=REL, abs=0)
    if not from_logits:
        assert focal == pytest.approx(metrics.log_loss(Y_BIN, P_BIN), rel=REL, abs=0)


def test_focal_alpha_weights_positive_class():
    # one positive row: alpha_t = alpha; one negative: 1 - alpha
    pos = loss_value("focal", [1.0], [0.3], gamma=0.0, alpha=0.25)
    neg = loss_value("focal", [0.0], [0.7], gamma=0.0, alpha=0.25)
    assert pos == pytest.approx(-0.25 * np.log(0.3), rel=REL, abs=0)
    assert neg == pytest.approx(-0.75 * np.log(0.3), rel=REL, abs=0)


# --------------------------------------------------------------------------- 4.3 multiclass

CLASSES = ("cat", "dog", "bird")  # column order, deliberately not alphabetical
K = len(CLASSES)
LABELS = RNG.integers(0, K, N)
LABELS[:K] = np.arange(K)
ONE_HOT = np.eye(K)[LABELS]
NAMES = np.array(CLASSES, dtype=object)[LABELS]
LOGITS = RNG.normal(0.0, 2.0, (N, K))
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
SOFT = RNG.dirichlet(np.ones(K) * 2, N)
SORTED = np.argsort(CLASSES)  # sklearn orders the class columns alphabetically


def mc_value(name, pred, weights=None, *, target=ONE_HOT, labels=LABELS, **kwargs):
    return loss_value(name, target, pred, weights, labels=labels, **kwargs)


@WEIGHTED
def test_cce_matches_sklearn_log_loss_named_classes(weights):
    expected = metrics.log_loss(
        NAMES, PROBS[:, SORTED], sample_weight=weights, labels=sorted(CLASSES)
    )
    assert mc_value("cce", PROBS, weights) == pytest.approx(expected, rel=REL, abs=0)
    assert mc_value("cross_entropy", PROBS, weights) == pytest.approx(expected, rel=REL, abs=0)


@WEIGHTED
def test_two_named_classes_match_sklearn_binary_log_loss_and_brier(weights):
    # "spam"/"ham": sklearn's binary form takes P(the later class in sorted order) = P(spam)
    names = np.where(Y_BIN == 1, "spam", "ham")
    q = np.column_stack([P_BIN, 1 - P_BIN])  # columns y_pred_spam, y_pred_ham
    labels = np.where(Y_BIN == 1, 0, 1)
    t = np.eye(2)[labels]
    assert loss_value("cce", t, q, weights, labels=labels) == pytest.approx(
        metrics.log_loss(names, P_BIN, sample_weight=weights), rel=REL, abs=0
    )
    assert loss_value("multiclass_brier", t, q, weights, labels=labels) == pytest.approx(
        metrics.brier_score_loss(names, P_BIN, sample_weight=weights, pos_label="spam")
        * 2,  # sklearn halves the binary Brier score; the multiclass sum does not
        rel=REL,
        abs=0,
    )


@WEIGHTED
def test_multiclass_brier_matches_sklearn_named_classes(weights):
    expected = metrics.brier_score_loss(
        NAMES, PROBS[:, SORTED], sample_weight=weights, labels=sorted(CLASSES), scale_by_half=False
    )
    assert mc_value("multiclass_brier", PROBS, weights) == pytest.approx(expected, rel=REL, abs=0)


@WEIGHTED
def test_multiclass_hinge_matches_sklearn_named_classes(weights):
    expected = metrics.hinge_loss(
        NAMES, LOGITS[:, SORTED], labels=sorted(CLASSES), sample_weight=weights
    )
    assert mc_value("multiclass_hinge", LOGITS, weights) == pytest.approx(expected, rel=REL, abs=0)
    assert mc_value("categorical_hinge", LOGITS, weights) == pytest.approx(expected, rel=REL, abs=0)


def _log_softmax_decimal(row) -> list[Decimal]:
    zs = [D(v) for v in row]
    total = sum(z.exp() for z in zs)
    return [z - total.ln() for z in zs]


@WEIGHTED
def test_cce_from_logits_is_torch_cross_entropy(weights):
    # torch CrossEntropyLoss: -log_softmax(z)[y]
    per_row = [-_log_softmax_decimal(z)[c] for z, c in zip(LOGITS, LABELS)]
    got = mc_value("cce", LOGITS, weights, from_logits=True)
    assert got == pytest.approx(weighted_mean(per_row, weights), rel=REL, abs=0)


@pytest.mark.parametrize("ls", [0.1, 0.3])
def test_cce_label_smoothing_is_torch_convention(ls):
    # torch CrossEntropyLoss(label_smoothing): t = (1 - ls) one_hot + ls / K
    per_row = []
    for z, c in zip(LOGITS, LABELS):
        logq = _log_softmax_decimal(z)
        t = [(1 - D(ls)) * (1 if j == c else 0) + D(ls) / K for j in range(K)]
        per_row.append(-sum(tj * lj for tj, lj in zip(t, logq)))
    got = mc_value("cce", LOGITS, from_logits=True, label_smoothing=ls)
    assert got == pytest.approx(weighted_mean(per_row), rel=REL, abs=0)
    # the same from probabilities
    got_p = mc_value("cce", PROBS, label_smoothing=ls)
    assert got_p == pytest.approx(weighted_mean(per_row), rel=1e-10)


def test_cce_soft_targets_hand_formula():
    per_row = [
        -sum(D(t) * D(q).ln() for t, q in zip(trow, qrow)) for trow, qrow in zip(SOFT, PROBS)
    ]
    got = mc_value("cce", PROBS, target=SOFT, labels=None)
    assert got == pytest.approx(weighted_mean(per_row), rel=REL, abs=0)


@pytest.mark.parametrize(("gamma", "alpha"), [(2.0, 0.25), (0.0, 1.0), (3.0, 0.5)])
@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
@WEIGHTED
def test_categorical_focal_is_keras_formula(gamma, alpha, from_logits, weights):
    # keras CategoricalFocalCrossentropy: -sum_c alpha (1 - q_c)^gamma t_c log q_c
    pred = LOGITS if from_logits else PROBS
    per_row = []
    for z, p, t in zip(LOGITS, PROBS, ONE_HOT):
        logq = _log_softmax_decimal(z) if from_logits else [D(v).ln() for v in p]
        total = Decimal(0)
        for tc, lq in zip(t, logq):
            q = lq.exp()
            total += D(alpha) * (1 - q) ** D(gamma) * D(tc) * lq if gamma else D(alpha) * D(tc) * lq
        per_row.append(-total)
    got = mc_value(
        "categorical_focal", pred, weights, from_logits=from_logits, gamma=gamma, alpha=alpha
    )
    assert got == pytest.approx(weighted_mean(per_row, weights), rel=REL, abs=0)


def test_categorical_focal_gamma0_alpha1_equals_cce():
    assert mc_value("categorical_focal", PROBS, gamma=0.0, alpha=1.0) == pytest.approx(
        mc_value("cce", PROBS), rel=REL
    )


@WEIGHTED
def test_kl_div_is_torch_kldiv_batchmean(weights):
    # torch KLDivLoss(reduction="batchmean")(log q, t) = sum(t (log t - log q)) / batch
    per_row = [
        sum(D(t) * (D(t).ln() - D(q).ln()) for t, q in zip(trow, qrow))
        for trow, qrow in zip(SOFT, PROBS)
    ]
    got = mc_value("kl_div", PROBS, weights, target=SOFT, labels=None)
    assert got == pytest.approx(weighted_mean(per_row, weights), rel=REL, abs=0)


def test_kl_div_zero_targets_contribute_nothing_and_one_hot_equals_cce():
    t = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    q = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    expected = weighted_mean(
        [D(0.5) * (D(0.5) / D(0.3)).ln() + D(0.5) * (D(0.5) / D(0.5)).ln(), -D(0.6).ln()]
    )
    assert loss_value("kl_div", t, q) == pytest.approx(expected, rel=REL, abs=0)
    assert mc_value("kl_div", PROBS) == pytest.approx(mc_value("cce", PROBS), rel=REL, abs=0)


def test_kl_div_from_logits_uses_log_softmax():
    per_row = []
    for trow, z in zip(SOFT, LOGITS):
        logq = _log_softmax_decimal(z)
        per_row.append(sum(D(t) * (D(t).ln() - lq) for t, lq in zip(trow, logq)))
    got = mc_value("kl_div", LOGITS, target=SOFT, labels=None, from_logits=True)
    assert got == pytest.approx(weighted_mean(per_row), rel=REL, abs=0)


def test_covered_losses_are_the_spec_4_1_to_4_3_catalogue():
    from test_reference_figures import COVERED_LOSSES as SPEC_12_FIGURES

    from losscli.core.registry import Task, all_losses

    core = {
        s.name for s in all_losses() if s.task in (Task.REGRESSION, Task.BINARY, Task.MULTICLASS)
    }
    assert core - SPEC_12_FIGURES == COVERED_LOSSES
