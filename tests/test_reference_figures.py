"""SPEC 12 figures against their references, to 1e-12 relative, weights included.

zero_one and accuracy against scikit-learn (on the labels the 0.5 threshold or
the argmax gives); the regression scores against scikit-learn; ece and mce
against a direct NumPy implementation of torchmetrics' binning and against the
example values printed in torchmetrics' documentation.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from losscli.core.reduction import reduce_values
from losscli.core.registry import LossInputs, get_loss

REL = 1e-12

COVERED_LOSSES = {
    "zero_one",
    "accuracy",
    "r2",
    "explained_variance",
    "d2_absolute_error",
    "d2_pinball",
    "d2_tweedie",
    "ece",
    "mce",
}

RNG = np.random.default_rng(20261202)
N = 61
WEIGHTS = RNG.uniform(0.0, 3.0, N)
WEIGHTS[[2, 9]] = 0.0
WEIGHT_CASES = {"unweighted": None, "weighted": WEIGHTS}

Y_BIN = RNG.integers(0, 2, N).astype(float)
P_BIN = RNG.uniform(0.0, 1.0, N)
P_BIN[[0, 1]] = 0.5  # ties predict class 0
Z_BIN = RNG.normal(0.0, 2.0, N)
K = 4
LABELS = RNG.integers(0, K, N)
LOGITS = RNG.normal(0.0, 1.5, (N, K))
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)


def value(name, y_true, y_pred, weights=None, *, labels=None, from_logits=False, **params):
    spec = get_loss(name)
    inputs = LossInputs(
        y_true=np.asarray(y_true, dtype=np.float64),
        y_pred=np.asarray(y_pred, dtype=np.float64),
        from_logits=from_logits,
        labels=labels,
    )
    from losscli.core.registry import LossSelection

    selection = LossSelection(spec, spec.resolve_params(params))
    return reduce_values(selection.per_sample(inputs), weights, selection.reducer)


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]


# --------------------------------------------------------------------------- zero_one, accuracy


@pytest.mark.parametrize("weights", WEIGHT_CASES.values(), ids=WEIGHT_CASES.keys())
def test_binary_zero_one_and_accuracy_match_sklearn(weights):
    predicted = (P_BIN > 0.5).astype(int)
    want_err = metrics.zero_one_loss(Y_BIN, predicted, sample_weight=weights)
    want_acc = metrics.accuracy_score(Y_BIN, predicted, sample_weight=weights)
    assert value("zero_one", Y_BIN, P_BIN, weights) == pytest.approx(want_err, rel=REL, abs=0)
    assert value("accuracy", Y_BIN, P_BIN, weights) == pytest.approx(want_acc, rel=REL, abs=0)


@pytest.mark.parametrize("weights", WEIGHT_CASES.values(), ids=WEIGHT_CASES.keys())
def test_binary_from_logits_thresholds_at_zero(weights):
    predicted = (Z_BIN > 0).astype(int)
    want = metrics.accuracy_score(Y_BIN, predicted, sample_weight=weights)
    got = value("accuracy", Y_BIN, Z_BIN, weights, from_logits=True)
    assert got == pytest.approx(want, rel=REL, abs=0)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("weights", WEIGHT_CASES.values(), ids=WEIGHT_CASES.keys())
def test_multiclass_zero_one_and_accuracy_match_sklearn(weights, from_logits):
    scores = LOGITS if from_logits else PROBS
    predicted = np.argmax(PROBS, axis=1)
    want_err = metrics.zero_one_loss(LABELS, predicted, sample_weight=weights)
    want_acc = metrics.accuracy_score(LABELS, predicted, sample_weight=weights)
    kw = {"labels": LABELS, "from_logits": from_logits}
    got_err = value("zero_one", one_hot(LABELS, K), scores, weights, **kw)
    got_acc = value("accuracy", one_hot(LABELS, K), scores, weights, **kw)
    assert got_err == pytest.approx(want_err, rel=REL, abs=0)
    assert got_acc == pytest.approx(want_acc, rel=REL, abs=0)


def test_soft_targets_count_their_largest_entry_as_the_true_class():
    soft = 0.8 * one_hot(LABELS, K) + 0.05
    want = metrics.accuracy_score(LABELS, np.argmax(PROBS, axis=1))
    assert value("accuracy", soft, PROBS) == pytest.approx(want, rel=REL, abs=0)


# --------------------------------------------------------------------------- regression scores

Y_POS = RNG.gamma(2.0, 3.0, N)
P_POS = Y_POS * RNG.lognormal(0.0, 0.4, N)
Y_REAL = RNG.normal(5.0, 3.0, N)
P_REAL = Y_REAL + RNG.standard_t(3, N)
INT_WEIGHTS = RNG.integers(0, 4, N).astype(float)
REG_WEIGHTS = {"unweighted": None, "weighted": WEIGHTS, "integer_weights": INT_WEIGHTS}
REG_DATA = {"positive": (Y_POS, P_POS), "real": (Y_REAL, P_REAL)}

SCORES = [
    ("r2", {}, lambda y, p, w: metrics.r2_score(y, p, sample_weight=w)),
    (
        "explained_variance",
        {},
        lambda y, p, w: metrics.explained_variance_score(y, p, sample_weight=w),
    ),
    (
        "d2_absolute_error",
        {},
        lambda y, p, w: metrics.d2_absolute_error_score(y, p, sample_weight=w),
    ),
    *[
        (
            "d2_pinball",
            {"alpha": a},
            lambda y, p, w, a=a: metrics.d2_pinball_score(y, p, sample_weight=w, alpha=a),
        )
        for a in (0.05, 0.3, 0.5, 0.9, 1.0)
    ],
    ("d2_tweedie", {}, lambda y, p, w: metrics.d2_tweedie_score(y, p, sample_weight=w)),
]
POSITIVE_ONLY = [
    (
        "d2_tweedie",
        {"power": power},
        lambda y, p, w, power=power: metrics.d2_tweedie_score(y, p, sample_weight=w, power=power),
    )
    for power in (-1.0, 1.0, 1.5, 2.0, 3.0)
]


@pytest.mark.parametrize("data", REG_DATA.values(), ids=REG_DATA.keys())
@pytest.mark.parametrize("weights", REG_WEIGHTS.values(), ids=REG_WEIGHTS.keys())
@pytest.mark.parametrize("name, params, reference", SCORES, ids=[f"{n}{p}" for n, p, _ in SCORES])
def test_regression_scores_match_sklearn(name, params, reference, weights, data):
    y, p = data
    got = value(name, y, p, weights, **params)
    assert got == pytest.approx(reference(y, p, weights), rel=REL, abs=0)


@pytest.mark.parametrize("weights", REG_WEIGHTS.values(), ids=REG_WEIGHTS.keys())
@pytest.mark.parametrize(
    "name, params, reference", POSITIVE_ONLY, ids=[f"{n}{p}" for n, p, _ in POSITIVE_ONLY]
)
def test_d2_tweedie_powers_match_sklearn(name, params, reference, weights):
    got = value(name, Y_POS, P_POS, weights, **params)
    assert got == pytest.approx(reference(Y_POS, P_POS, weights), rel=REL, abs=0)


@pytest.mark.parametrize(
    "name, reference",
    [
        ("r2", metrics.r2_score),
        ("explained_variance", metrics.explained_variance_score),
        ("d2_absolute_error", metrics.d2_absolute_error_score),
    ],
)
def test_edge_cases_follow_sklearns_force_finite(name, reference):
    y = np.array([2.0, 2.0, 2.0])
    assert value(name, y, y) == reference(y, y) == 1.0  # perfect, constant y_true
    # constant y_true: 0 (explained_variance ignores the constant bias: 1)
    assert value(name, y, y + 1) == reference(y, y + 1)
    assert value(name, y, y + [0, 1, 2]) == reference(y, y + [0, 1, 2]) == 0.0
    assert np.isnan(value(name, [1.0], [2.0]))  # fewer than two rows


def test_scores_are_higher_is_better_and_not_training_losses():
    for name in ("r2", "explained_variance", "d2_absolute_error", "d2_pinball", "d2_tweedie"):
        spec = get_loss(name)
        assert spec.higher_is_better and spec.evaluation_only


# --------------------------------------------------------------------------- ece, mce


def torchmetrics_ece(probabilities, labels, n_bins, norm, weights=None):
    """torchmetrics' top-label calibration error written out directly, bin by bin.

    Confidence = the largest class probability (binary: max(p, 1 - p)), accuracy
    = whether its class (the first argmax; p > 0.5 for binary) is the label.
    Bins: [k/n, (k+1)/n) for k < n from linspace(0, 1, n + 1), and confidences of
    exactly 1 in a bin of their own (torchmetrics' ``bucketize(right=True) - 1``
    over n + 1 boundaries). ``weights`` replace the row counts (a weighted row
    is that many repeated rows; torchmetrics itself takes none).
    """
    q = np.asarray(probabilities, dtype=np.float64)
    if q.ndim == 1:
        q = np.column_stack([1.0 - q, q])
        # a tie p = 0.5 predicts class 0, like argmax of [0.5, 0.5]
    predicted = np.argmax(q, axis=1)
    confidence = q[np.arange(q.shape[0]), predicted]
    accurate = (predicted == np.asarray(labels)).astype(float)
    w = np.ones(q.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    total = w.sum()
    gaps, shares = [], []
    for k in range(n_bins + 1):
        low = k / n_bins
        if k < n_bins:
            inside = (confidence >= low) & (confidence < (k + 1) / n_bins)
        else:
            inside = confidence == 1.0
        inside &= w > 0
        if not inside.any():
            continue
        wk = w[inside]
        acc = np.sum(wk * accurate[inside]) / wk.sum()
        conf = np.sum(wk * confidence[inside]) / wk.sum()
        gaps.append(abs(acc - conf))
        shares.append(wk.sum() / total)
    if norm == "l1":
        return float(np.dot(gaps, shares))
    return float(max(gaps))


P_CAL = RNG.uniform(0.0, 1.0, N)
P_CAL[[3, 4, 5]] = [1.0, 0.0, 0.5]  # confidence exactly 1 (twice) and a tie


@pytest.mark.parametrize("n_bins", [1, 3, 15, 40])
@pytest.mark.parametrize("weights", REG_WEIGHTS.values(), ids=REG_WEIGHTS.keys())
def test_binary_ece_mce_match_the_torchmetrics_definition(weights, n_bins):
    for name, norm in (("ece", "l1"), ("mce", "max")):
        want = torchmetrics_ece(P_CAL, Y_BIN, n_bins, norm, weights)
        got = value(name, Y_BIN, P_CAL, weights, n_bins=n_bins)
        assert got == pytest.approx(want, rel=REL, abs=1e-15)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("weights", REG_WEIGHTS.values(), ids=REG_WEIGHTS.keys())
def test_multiclass_ece_mce_match_the_torchmetrics_definition(weights, from_logits):
    scores = LOGITS if from_logits else PROBS
    kw = {"labels": LABELS, "from_logits": from_logits}
    for name, norm in (("ece", "l1"), ("mce", "max")):
        want = torchmetrics_ece(PROBS, LABELS, 15, norm, weights)
        got = value(name, one_hot(LABELS, K), scores, weights, **kw)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_binary_logits_are_scored_as_their_sigmoid():
    p = 1.0 / (1.0 + np.exp(-Z_BIN))
    for name, norm in (("ece", "l1"), ("mce", "max")):
        want = torchmetrics_ece(p, Y_BIN, 15, norm, WEIGHTS)
        got = value(name, Y_BIN, Z_BIN, WEIGHTS, from_logits=True)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_torchmetrics_documented_examples_through_the_registry():
    # torchmetrics MulticlassCalibrationError docstring (torchmetrics 1.x): these preds
    # and targets with n_bins=3 print tensor(0.2000) for norm='l1', tensor(0.2333) for 'max'.
    preds = np.array(
        [[0.25, 0.20, 0.55], [0.55, 0.05, 0.40], [0.10, 0.30, 0.60], [0.90, 0.05, 0.05]]
    )
    target = np.array([0, 1, 2, 0])
    kw = {"labels": target, "n_bins": 3}
    assert round(value("ece", one_hot(target, 3), preds, **kw), 4) == 0.2000
    assert round(value("mce", one_hot(target, 3), preds, **kw), 4) == 0.2333
    # BinaryCalibrationError docstring: preds [0.25, 0.25, 0.55, 0.75, 0.75], target
    # [0, 0, 1, 1, 1], n_bins=2: tensor(0.2900) for 'l1' (ours too: every prediction is
    # right, so the top-label bins give the same L1 gap); tensor(0.3167) for 'max',
    # where torchmetrics bins p itself and losscli bins max(p, 1 - p) (documented in
    # `loss info mce`): one bin of mean confidence 0.71, gap 0.29.
    p = np.array([0.25, 0.25, 0.55, 0.75, 0.75])
    y = np.array([0.0, 0.0, 1.0, 1.0, 1.0])
    assert round(value("ece", y, p, n_bins=2), 4) == 0.2900
    assert value("mce", y, p, n_bins=2) == pytest.approx(0.29, rel=REL)


def test_soft_targets_calibrate_against_their_largest_entry():
    soft = 0.8 * one_hot(LABELS, K) + 0.05
    want = torchmetrics_ece(PROBS, LABELS, 15, "l1")
    assert value("ece", soft, PROBS) == pytest.approx(want, rel=REL, abs=1e-15)


def test_calibration_figures_are_lower_is_better_and_not_training_losses():
    for name in ("ece", "mce"):
        spec = get_loss(name)
        assert not spec.higher_is_better and spec.evaluation_only
        assert [p.name for p in spec.params] == ["n_bins"] and spec.params[0].default == 15
    from losscli.errors import UsageError

    for bad in ("0", "1.5", "x"):
        with pytest.raises(UsageError, match="n_bins"):
            get_loss("ece").resolve_params({"n_bins": bad})
