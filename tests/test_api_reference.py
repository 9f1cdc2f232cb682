"""Every loss of SPEC 4 through the Python API (``lc.losses.<name>``), against its reference.

The reference tests of ``test_reference_core`` and ``test_reference_structured``
run here a second time, with their one entry point into losscli (the
``loss_value`` / ``value`` / ``per_sample`` helpers) replaced by calls to
``lc.losses``: the same cases and references, 1e-12 relative, through the
public functions (and so through the same column mapping and validation as
a file).
"""

from __future__ import annotations

import numpy as np
import pytest
import test_reference_core as core
import test_reference_structured as structured

import losscli as lc
from losscli.core.registry import LossInputs, Task, all_losses, get_loss

# Collect the reference tests again in this module (the autouse fixture below reroutes them).
for _module in (core, structured):
    for _name in dir(_module):
        if _name.startswith("test_"):
            globals()[f"{_module.__name__}__{_name}"] = getattr(_module, _name)


def api_loss_value(name, y_true, y_pred, weights=None, *, from_logits=False, labels=None, **params):
    """core.loss_value through lc.losses (targets as given: labels are derived from one-hot)."""
    function = getattr(lc.losses, name)
    return function(y_true, y_pred, sample_weight=weights, from_logits=from_logits, **params)


def _call(name: str, x: LossInputs, weights, per_sample: bool, **params):
    spec = get_loss(name)
    function = getattr(lc.losses, name)
    arrays = {k: np.asarray(v) for k, v in x.extra.items()}
    if spec.task is Task.GENERATIVE:
        # The API weighs d_real and d_fake by their own counts (the test's gan_term_weights).
        weights = None
    if spec.task is Task.SIMILARITY and "anchor" in arrays:
        return function(
            sample_weight=weights,
            per_sample=per_sample,
            from_logits=x.from_logits,
            **arrays,
            **params,
        )
    y_pred = None if spec.task is Task.SIMILARITY and arrays else x.y_pred
    return function(
        x.y_true,
        y_pred,
        sample_weight=weights,
        per_sample=per_sample,
        from_logits=x.from_logits,
        **arrays,
        **params,
    )


def api_value(name: str, x: LossInputs, weights=None, **params) -> float:
    return _call(name, x, weights, False, **params)


def api_per_sample(name: str, x: LossInputs, **params) -> np.ndarray:
    return _call(name, x, None, True, **params)


@pytest.fixture(autouse=True)
def through_the_api(monkeypatch):
    monkeypatch.setattr(core, "loss_value", api_loss_value)
    monkeypatch.setattr(structured, "value", api_value)
    monkeypatch.setattr(structured, "per_sample", api_per_sample)


def test_every_registered_loss_and_alias_is_a_function_with_a_docstring():
    for spec in all_losses():
        for name in (spec.name, *spec.aliases):
            function = getattr(lc.losses, name)
            assert callable(function)
            assert function.__doc__.startswith(spec.summary)
            assert spec.reference in function.__doc__
        assert spec.name in dir(lc.losses)


def test_aliases_give_the_same_value():
    y, p = [1.0, 2.0, 3.0], [1.5, 2.0, 4.0]
    assert lc.losses.l2(y, p) == lc.losses.mse(y, p) == lc.losses.MSE(y, p)


def test_unknown_loss_is_an_attribute_error_naming_the_catalogue():
    with pytest.raises(AttributeError, match="list_losses"):
        lc.losses.no_such_loss  # noqa: B018


def test_bad_parameter_is_a_usage_error_and_a_value_error():
    with pytest.raises(lc.UsageError, match="delta") as info:
        lc.losses.huber([1.0], [2.0], delta=0)
    assert isinstance(info.value, ValueError)


def test_bad_values_are_input_errors_with_the_cli_message():
    with pytest.raises(lc.InputError, match=r"column y_pred: 1 missing or non-numeric value"):
        lc.losses.mse([1.0, 2.0], [1.0, float("nan")])
    with pytest.raises(lc.InputError, match="bce"):
        lc.losses.bce([0, 1], [0.5, 1.5])
    with pytest.raises(lc.InputError, match="different lengths"):
        lc.losses.mae([1.0, 2.0], [1.0])


def test_per_sample_returns_the_rows_and_weights_weigh_them():
    y, p, w = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 4.0]), np.array([1.0, 0.0, 3.0])
    rows = lc.losses.mse(y, p, per_sample=True)
    assert rows.tolist() == [1.0, 0.0, 4.0]
    assert lc.losses.mse(y, p, sample_weight=w) == pytest.approx((1 + 12) / 4, rel=1e-12)


def test_multiclass_from_class_indices_and_from_gan_columns():
    q = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    by_index = lc.losses.cce([0, 1], q)
    assert by_index == pytest.approx(-(np.log(0.7) + np.log(0.8)) / 2, rel=1e-12)
    assert lc.losses.cce(np.eye(3)[[0, 1]], q) == pytest.approx(by_index, rel=1e-12)
    d = lc.losses.gan_discriminator(d_real=[0.9, 0.8], d_fake=[0.1, 0.3, 0.2])
    want = -(np.mean(np.log([0.9, 0.8])) + np.mean(np.log([0.9, 0.7, 0.8])))
    assert d == pytest.approx(want, rel=1e-12)
