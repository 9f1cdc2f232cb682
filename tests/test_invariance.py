"""Invariances over the whole registry, scikit-learn style (sklearn/metrics/tests/test_common.py).

Every registered loss gets inputs built for its task (structured tasks included)
and must satisfy: non-negativity where declared, zero at perfect prediction
where declared, integer weights = repeated rows, zero weight = dropped row,
invariance to row order, float32 input = the same values in float64, and
Python lists = arrays. Inputs are drawn by hypothesis (bounded examples).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscli.core.reduction import reduce_values
from losscli.core.registry import (
    PLAIN_REDUCTIONS,
    LossInputs,
    LossSelection,
    Task,
    all_losses,
    get_loss,
)

# Every registered loss with its defaults, plus parameter values that take other code paths.
VARIANTS = {
    "huber": [{"delta": 0.1}],
    "pinball": [{"alpha": 0.9}],
    "tweedie": [{"power": 1.0}, {"power": 1.5}, {"power": 2.0}, {"power": 3.0}, {"power": -1.0}],
    "bce": [{"label_smoothing": 0.2}],
    "focal": [{"gamma": 0.0, "alpha": -1.0}, {"gamma": 3.5, "alpha": 0.6}],
    "cce": [{"label_smoothing": 0.2}],
    "categorical_focal": [{"gamma": 0.0, "alpha": 1.0}],
}
LOSSES = [LossSelection(s, s.resolve_params({})) for s in all_losses()] + [
    LossSelection(get_loss(name), get_loss(name).resolve_params(params))
    for name, variants in VARIANTS.items()
    for params in variants
]
IDS = [sel.label for sel in LOSSES]
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROBABILITY_TASKS = (Task.BINARY, Task.MULTICLASS, Task.GENERATIVE)


# --------------------------------------------------------------------------- inputs per task


def _rows(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def make_inputs(
    loss: LossSelection,
    rng: np.random.Generator,
    n: int,
    scale: float,
    from_logits: bool,
    soft: bool,
) -> LossInputs:
    """Valid inputs of n rows for the loss's task and domain."""
    spec = loss.spec
    task = spec.task
    if task is Task.REGRESSION:
        if spec.domain_for(loss.params):
            y = rng.uniform(0.05, 10.0, n) * scale
            p = y * rng.lognormal(0.0, 0.5, n)
        else:
            y = rng.normal(0.0, 3.0, n) * scale
            p = y + rng.standard_t(3, n) * scale
        return LossInputs(y_true=y, y_pred=p)
    if task is Task.BINARY:
        y = rng.integers(0, 2, n).astype(np.float64)
        p = rng.normal(0.0, 3.0, n) if from_logits else rng.uniform(0.001, 0.999, n)
        if spec.properties.margin_based:
            p = rng.normal(0.0, 2.0, n)
        return LossInputs(y_true=y, y_pred=p, from_logits=from_logits)
    if task is Task.MULTICLASS:
        k = int(rng.integers(2, 5))
        labels = rng.integers(0, k, n)
        z = rng.normal(0.0, 2.0, (n, k))
        q = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        if soft and "hard_labels" not in spec.panel_requires:
            t, labels = rng.dirichlet(np.ones(k), n), None
        else:
            t = np.eye(k)[labels]
        pred = z if (from_logits or spec.properties.margin_based) else q
        return LossInputs(y_true=t, y_pred=pred, from_logits=from_logits, labels=labels)
    if task is Task.DETECTION:
        xy = rng.uniform(0.0, 10.0, (n, 2))
        wh = rng.uniform(0.5, 5.0, (n, 2))
        true = np.hstack([xy, xy + wh])
        pxy = xy + rng.normal(0.0, 1.0, (n, 2))
        pwh = wh * rng.lognormal(0.0, 0.3, (n, 2))
        return LossInputs(y_true=true, y_pred=np.hstack([pxy, pxy + pwh]))
    if task is Task.SIMILARITY:
        k = 3
        a, b = rng.normal(0.0, 1.0, (n, k)), rng.normal(0.0, 1.0, (n, k))
        label = rng.integers(0, 2, n).astype(np.float64)
        distance = np.sqrt(np.sum((a - b) ** 2, axis=1))
        extra = {
            "a": a,
            "b": b,
            "anchor": rng.normal(0.0, 1.0, (n, k)),
            "positive": rng.normal(0.0, 1.0, (n, k)),
            "negative": rng.normal(0.0, 1.0, (n, k)),
        }
        return LossInputs(y_true=label, y_pred=distance, extra=extra)
    if task is Task.GENERATIVE:
        is_real = rng.integers(0, 2, n).astype(np.float64)
        is_real[:2] = [1.0, 0.0]  # both columns present (the first two rows keep weight)
        d = rng.normal(0.0, 3.0, n) if from_logits else rng.uniform(0.001, 0.999, n)
        return LossInputs(y_true=is_real, y_pred=d, from_logits=from_logits)
    if task is Task.VAE:
        k, dim = 3, 4
        t = rng.normal(0.0, 1.0, (n, dim))
        extra = {"mu": rng.normal(0.0, 1.0, (n, k)), "logvar": rng.normal(0.0, 0.5, (n, k))}
        return LossInputs(y_true=t, y_pred=t + rng.normal(0.0, 0.3, (n, dim)), extra=extra)
    if task is Task.INTERVAL:
        y = rng.normal(0.0, 3.0, n) * scale
        middle = y + rng.normal(0.0, 1.0, n) * scale
        half = rng.uniform(0.1, 2.0, n) * scale
        bounds = np.column_stack([middle - half, middle + half])
        return LossInputs(y_true=y, y_pred=bounds, extra={"level": np.full(n, 0.8)})
    if task is Task.QUANTILE:
        levels = np.array([0.1, 0.5, 0.9])
        y = rng.normal(0.0, 3.0, n) * scale
        q = np.sort(y[:, None] + rng.normal(0.0, 1.0, (n, 3)) * scale, axis=1)
        return LossInputs(y_true=y, y_pred=q, extra={"levels": np.tile(levels, (n, 1))})
    raise AssertionError(f"no input builder for task {task}")  # pragma: no cover


def perfect_inputs(loss: LossSelection, x: LossInputs) -> LossInputs:
    """The same targets with a perfect prediction: p = y (probabilities of the true class = 1)."""
    if loss.spec.task is Task.MULTICLASS and x.from_logits:
        pytest.skip("a perfect prediction is not reachable with finite logits")
    if loss.spec.task is Task.BINARY and x.from_logits:
        return LossInputs(
            y_true=x.y_true, y_pred=np.where(x.y_true == 1, 800.0, -800.0), from_logits=True
        )
    if loss.spec.task is Task.QUANTILE:  # every quantile at the target
        perfect = np.repeat(np.asarray(x.y_true)[:, None], x.y_pred.shape[1], axis=1)
        return LossInputs(y_true=x.y_true, y_pred=perfect, extra=x.extra)
    return LossInputs(
        y_true=x.y_true, y_pred=np.array(x.y_true, copy=True), labels=x.labels, extra=x.extra
    )


def value(loss: LossSelection, x: LossInputs, weights: np.ndarray | None = None) -> float:
    return reduce_values(loss.per_sample(x), weights, loss.reducer)


def assert_close(
    a: float, b: float, per_sample: np.ndarray, rel: float = 1e-12, loss: Any = None
) -> None:
    """Equal to rel, with an absolute floor relative to the size of the terms summed.

    Reordering a sum changes its rounding by about eps * sum(|terms|), which matters
    for signed losses (mbe) whose mean can be far smaller than its terms. A skill
    score 1 - A/B (r2, d2_*) of a near-perfect model cancels: the rounding of A/B
    (about eps) is then absolute in the score, e.g. 1.2692312315931709e-05 against
    1.2692312315265575e-05 for d2_absolute_error, so its floor is 64 eps.
    """
    floor = 64 * np.finfo(float).eps * float(np.max(np.abs(per_sample), initial=0.0))
    if (
        loss is not None
        and loss.spec.higher_is_better
        and loss.spec.reduction not in (PLAIN_REDUCTIONS)
    ):
        floor = max(floor, 64 * np.finfo(float).eps)
    assert a == pytest.approx(b, rel=rel, abs=floor), (a, b)


# --------------------------------------------------------------------------- strategies

cases = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "n": st.integers(2, 30),
        "scale": st.sampled_from([1e-3, 1.0, 1e3]),
        "from_logits": st.booleans(),
        "soft": st.booleans(),
    }
)


def build(loss: LossSelection, case: dict) -> tuple[np.random.Generator, LossInputs]:
    rng = np.random.default_rng(case["seed"])
    logits = case["from_logits"] and loss.spec.task in PROBABILITY_TASKS
    return rng, make_inputs(loss, rng, case["n"], case["scale"], logits, case["soft"])


# --------------------------------------------------------------------------- the invariances


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
@SETTINGS
@given(case=cases)
def test_nonnegative(loss, case):
    spec = loss.spec
    if not spec.properties.nonnegative:
        pytest.skip(f"{spec.name} is signed (properties.nonnegative is False)")
    _, x = build(loss, case)
    per_sample = loss.per_sample(x)
    if spec.reduction in PLAIN_REDUCTIONS:
        assert per_sample.shape == (case["n"],)
    else:  # a ratio of sums (ece): per-row components, each non-negative
        assert per_sample.shape[0] == case["n"] and per_sample.ndim == 2
    assert np.all(np.isfinite(per_sample))
    assert np.all(per_sample >= 0)
    assert value(loss, x) >= 0


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
@SETTINGS
@given(case=cases)
def test_zero_at_perfect_prediction(loss, case):
    spec = loss.spec
    if not spec.properties.zero_at_perfect:
        pytest.skip(f"{spec.name} is not zero at a perfect prediction (by declaration)")
    if loss.params.get("label_smoothing"):
        pytest.skip("smoothed targets are never predicted exactly by a 0/1 prediction")
    _, x = build(loss, case)
    perfect = perfect_inputs(loss, x)
    # Probability losses clip p to [eps, 1-eps]: -log(1 - eps) ~ 1e-16 is "zero".
    if spec.reduction in PLAIN_REDUCTIONS:  # components (ece) are not losses per row
        assert np.all(np.abs(loss.per_sample(perfect)) <= 1e-12)
    assert abs(value(loss, perfect)) <= 1e-12


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
@SETTINGS
@given(case=cases)
def test_integer_weights_equal_repeated_rows(loss, case):
    rng, x = build(loss, case)
    n = case["n"]
    weights = rng.integers(0, 4, n).astype(np.float64)
    weights[:2] = rng.integers(1, 4, 2)
    repeated = x.take(np.repeat(np.arange(n), weights.astype(int)))
    per_sample = loss.per_sample(x)
    assert_close(value(loss, x, weights), value(loss, repeated), per_sample, loss=loss)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
@SETTINGS
@given(case=cases)
def test_zero_weight_equals_dropped_row(loss, case):
    rng, x = build(loss, case)
    n = case["n"]
    weights = rng.uniform(0.1, 3.0, n)
    weights[rng.uniform(size=n) < 0.4] = 0.0
    weights[:2] = rng.uniform(0.1, 3.0, 2)
    keep = weights > 0
    per_sample = loss.per_sample(x)
    dropped = value(loss, x.take(keep), weights[keep])
    assert_close(value(loss, x, weights), dropped, per_sample, loss=loss)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
@SETTINGS
@given(case=cases, weighted=st.booleans())
def test_row_order_does_not_matter(loss, case, weighted):
    rng, x = build(loss, case)
    n = case["n"]
    weights = rng.uniform(0.1, 3.0, n) if weighted else None
    perm = rng.permutation(n)
    shuffled = x.take(perm)
    per_sample = loss.per_sample(x)
    np.testing.assert_array_equal(loss.per_sample(shuffled), per_sample[perm])
    got = value(loss, shuffled, None if weights is None else weights[perm])
    assert_close(got, value(loss, x, weights), per_sample, loss=loss)


def _cast(x: LossInputs, dtype: type) -> LossInputs:
    def conv(a):
        a = np.asarray(a)
        return a.astype(dtype) if a.dtype.kind == "f" else a

    return LossInputs(
        y_true=conv(x.y_true),
        y_pred=conv(x.y_pred),
        from_logits=x.from_logits,
        labels=x.labels,
        extra={k: conv(v) for k, v in x.extra.items()},
    )


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
@SETTINGS
@given(case=cases)
def test_float32_input_equals_float64_input(loss, case):
    _, x = build(loss, case)
    x32 = _cast(x, np.float32)
    # The reference: the very same (float32-rounded) numbers, held as float64.
    x64 = _cast(x32, np.float64)
    per32, per64 = loss.per_sample(x32), loss.per_sample(x64)
    assert per32.dtype == np.float64
    np.testing.assert_allclose(per32, per64, rtol=1e-12, atol=0)
    assert_close(value(loss, x32), value(loss, x64), per64)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
@SETTINGS
@given(case=cases)
def test_list_inputs_equal_array_inputs(loss, case):
    _, x = build(loss, case)
    as_lists = LossInputs(
        y_true=x.y_true.tolist(),
        y_pred=x.y_pred.tolist(),
        from_logits=x.from_logits,
        labels=None if x.labels is None else x.labels.tolist(),
        extra={k: np.asarray(v).tolist() for k, v in x.extra.items()},
    )
    np.testing.assert_array_equal(loss.per_sample(as_lists), loss.per_sample(x))


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_extreme_inputs_stay_finite(loss):
    """Huge errors and extreme logits (+-1e4) give finite (or +inf for huge) losses, never NaN."""
    rng = np.random.default_rng(0)
    spec = loss.spec
    x = make_inputs(loss, rng, 6, 1.0, spec.task in PROBABILITY_TASKS, False)
    if x.from_logits:
        x = LossInputs(
            y_true=x.y_true,
            y_pred=np.sign(x.y_pred) * 1e4,
            from_logits=True,
            labels=x.labels,
            extra=x.extra,
        )
        per_sample = loss.per_sample(x)
        assert np.all(np.isfinite(per_sample))
    elif spec.task is Task.REGRESSION:
        big = LossInputs(y_true=x.y_true * 1e150, y_pred=x.y_pred * 1e-150)
        per_sample = loss.per_sample(big)
        assert not np.any(np.isnan(per_sample))
        assert not math.isnan(value(loss, big))
