"""lc.losses.*: overflow warnings, the GAN losses' arguments, and the shape messages."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import losscli as lc

OVERFLOWING = [
    ("mse", [1e200, 1.0], [-1e200, 1.0]),
    ("rmse", [1e200, 1.0], [-1e200, 1.0]),
    ("mae", [1.7e308], [-1.7e308]),
    ("log_cosh", [1e308], [-1e308]),
    ("huber", [1e308], [-1e308]),
]


@pytest.mark.parametrize(("name", "y_true", "y_pred"), OVERFLOWING)
def test_overflowing_losses_warn_as_compute_does(name, y_true, y_pred):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = getattr(lc.losses, name)(y_true, y_pred)
        expected = lc.compute({"y_true": y_true, "y_pred": y_pred}, losses=name).value(name)
    assert value == expected == np.inf
    assert all(w.category is lc.LossWarning for w in caught), [str(w.message) for w in caught]
    texts = [str(w.message) for w in caught]
    assert len(texts) == 2 and texts[0] == texts[1]  # the same warning as lc.compute's
    assert texts[0].startswith(f"{name} (y_pred): some per-row losses overflow float64")
    assert caught[0].filename == __file__  # the caller's line, not losscli's


def test_overflow_warns_with_per_sample_too_and_not_when_finite():
    with pytest.warns(lc.LossWarning, match="overflow float64"):
        rows = lc.losses.mse([1e200, 1.0], [-1e200, 1.0], per_sample=True)
    assert rows.tolist() == [np.inf, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lc.losses.mse([1e150, 1.0], [-1e150, 1.0]) == pytest.approx(2e300)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gan_generator", lambda f: np.mean(np.log(1 - f))),
        ("gan_generator_ns", lambda f: -np.mean(np.log(f))),
    ],
)
def test_gan_generators_read_d_fake_alone(name, expected):
    fake = np.array([0.1, 0.2])
    value = getattr(lc.losses, name)(d_fake=fake)
    assert value == pytest.approx(lc.compute({"d_fake": fake}, losses=name).value(name), abs=1e-12)
    assert value == pytest.approx(expected(fake), abs=1e-12)
    assert lc.losses.gan_generator(d_fake=fake) == pytest.approx(-0.16425203348601802, abs=1e-12)
    # d_real given as well changes nothing
    assert getattr(lc.losses, name)(d_real=[0.9], d_fake=fake) == pytest.approx(value, abs=1e-12)


def test_gan_discriminator_still_needs_d_real():
    with pytest.raises(lc.InputError, match="needs a d_real column"):
        lc.losses.gan_discriminator(d_fake=[0.1, 0.2])


@pytest.mark.parametrize(
    ("name", "args", "match"),
    [
        ("gan_discriminator", ([0.9, 0.8, 0.7], [0.1, 0.2]), "3 label"),
        ("gan_discriminator", ([0.9, 0.8], [0.1, 0.2]), "values other than 0 and 1"),
        ("gan_generator", ([0.1, 0.2],), "got only y_true"),
        ("gan_generator", (None, [0.1, 0.2]), "got only y_pred"),
        ("gan_generator_ns", ([0.1, 0.2],), "got only y_true"),
    ],
)
def test_gan_positional_misuse_is_one_usage_error(name, args, match):
    with pytest.raises(lc.UsageError, match=match) as info:
        getattr(lc.losses, name)(*args)
    assert "by name" in str(info.value)
    if name == "gan_discriminator":
        assert "d_real=... and d_fake=..." in str(info.value)


def test_gan_positional_labels_and_names_together_is_a_usage_error():
    with pytest.raises(lc.UsageError, match="not both"):
        lc.losses.gan_discriminator([1, 0], [0.9, 0.1], d_real=[0.9], d_fake=[0.1])


def test_gan_positional_labels_equal_the_named_form_unequal_lengths():
    real, fake = [0.9, 0.8, 0.7], [0.1, 0.2]
    named = lc.losses.gan_discriminator(d_real=real, d_fake=fake)
    labelled = lc.losses.gan_discriminator([1, 1, 1, 0, 0], real + fake)
    by_hand = -(np.mean(np.log(real)) + np.mean(np.log(1 - np.array(fake))))
    assert named == pytest.approx(by_hand, abs=1e-12)
    assert labelled == pytest.approx(by_hand, abs=1e-12)
    assert lc.losses.gan_generator([0, 0], fake) == pytest.approx(
        lc.losses.gan_generator(d_fake=fake), abs=1e-12
    )


def test_two_dimensional_regression_arrays_say_so_without_cli_words():
    with pytest.raises(lc.InputError) as info:
        lc.losses.mse([[1, 2], [3, 4]], [[1, 2], [3, 5]])
    text = str(info.value)
    assert "mse takes y_true and y_pred as 1-D arrays of the same length" in text
    assert "(2, 2)" in text
    for word in ("--", "file", "column"):
        assert word not in text


def test_contrastive_takes_label_by_name():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    label = np.array([0, 1, 0, 1, 1])
    value = lc.losses.contrastive(a=a, b=b, label=label)
    assert value == pytest.approx(lc.losses.contrastive(label, a=a, b=b), abs=1e-15)
    d = np.linalg.norm(a - b, axis=1)
    by_hand = np.mean((1 - label) * d**2 + label * np.maximum(1.0 - d, 0) ** 2)
    assert value == pytest.approx(by_hand, rel=1e-12)
    with pytest.raises(lc.UsageError, match="not both"):
        lc.losses.contrastive(label, a=a, b=b, label=label)
    with pytest.raises(lc.UsageError, match="needs the pair labels"):
        lc.losses.contrastive(a=a, b=b)


@pytest.mark.parametrize("name", ["accuracy", "zero_one", "ece", "mce"])
def test_figures_of_binary_and_multiclass_take_class_probabilities(name):
    """lc.losses.accuracy(y, P) with P of shape (n, K) was an error ("1-D arrays")."""
    from sklearn.metrics import accuracy_score, zero_one_loss

    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(4), 300)
    y = rng.integers(0, 4, 300)
    w = rng.integers(0, 3, 300).astype(float)
    function = getattr(lc.losses, name)
    frame = {"y_true": y, "y_pred": P, "w": w}
    assert function(y, P) == lc.compute(frame, losses=name).value(name)
    weighted = lc.compute(frame, losses=name, weights="w").value(name)
    assert function(y, P, sample_weight=w) == weighted
    if name in ("accuracy", "zero_one"):
        reference = accuracy_score if name == "accuracy" else zero_one_loss
        hit = P.argmax(axis=1)
        assert function(y, P) == pytest.approx(reference(y, hit), rel=1e-12)
        assert weighted == pytest.approx(reference(y, hit, sample_weight=w), rel=1e-12)
