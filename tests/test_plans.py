"""Plans (compare, sensitivity, recommend) equal the in-memory reference across batches."""

from __future__ import annotations

import dataclasses
import glob
import os

import numpy as np
import pytest
from plan_support import assert_same, split_rows, with_weights

from losscli.analysis.compare import compare_models
from losscli.analysis.compare_plan import compare_plan
from losscli.analysis.plan import ListSource
from losscli.cli.common import choose_losses
from losscli.core import quantiles
from losscli.engines.local import run_plan
from losscli.io import InputOptions, load_dataset

SAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "sample_data", "*.csv")))


def _load(name: str, **opts: object) -> object:
    path = next(p for p in SAMPLES if os.path.basename(p) == name)
    return load_dataset(path, InputOptions(**opts))  # type: ignore[arg-type]


def _cuts(n: int, seed: int = 0, parts: int = 5) -> list[int]:
    rng = np.random.default_rng(seed)
    return sorted(set(rng.integers(1, max(2, n), parts).tolist()))


@pytest.fixture(params=[1 << 16, 64], ids=["kept", "tiny-cap"])
def cap(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """The default cap, and a tiny one that forces narrowing and refinement passes."""
    monkeypatch.setattr(quantiles, "KEPT_CAP", request.param)
    return int(request.param)


def _compare_both(dataset, losses=()):
    selections = choose_losses(tuple(losses), dataset)
    want = compare_models(dataset, selections).as_dict()
    batches = (
        [dataset]
        if dataset.task.value == "generative"
        else split_rows(dataset, _cuts(dataset.n_rows))
    )
    got = run_plan(
        compare_plan(lambda head: choose_losses(tuple(losses), head)), ListSource(batches)
    ).as_dict()
    return got, want


@pytest.mark.parametrize("path", SAMPLES, ids=os.path.basename)
def test_compare_plan_equals_in_memory_for_every_sample(path, cap):
    dataset = load_dataset(path, InputOptions())
    if dataset.task.value == "generative" and cap < 1 << 16:
        # GAN weights are 1/n: with the values not all kept, sums of them in another
        # order round differently and p95's cumulative weight lands exactly on its
        # target (190 x 1/200 = 0.95). Documented in core/quantiles.py.
        pytest.skip("non-dyadic weights on an exact tie")
    got, want = _compare_both(dataset)
    assert_same(got, want)


@pytest.mark.parametrize(
    "name", ["regression_outliers.csv", "binary_imbalanced.csv", "multiclass_probs.csv"]
)
def test_compare_plan_with_weights(name, cap):
    dataset = with_weights(_load(name))
    got, want = _compare_both(dataset)
    assert_same(got, want)


def test_compare_plan_two_models_every_regression_loss(cap):
    dataset = _load("regression_outliers.csv")
    rng = np.random.default_rng(3)
    second = dataset.models["y_pred"] + rng.normal(0, 2, dataset.n_rows)
    dataset = dataclasses.replace(dataset, models={"a": dataset.models["y_pred"], "b": second})
    losses = ("mse,rmse,mae,mbe,huber,log_cosh,median_ae,max_error,pinball,smape",)
    got, want = _compare_both(with_weights(dataset, 5), losses)
    assert_same(got, want)
    got, want = _compare_both(dataset, losses)
    assert_same(got, want)


# --------------------------------------------------------------------------- recommend


def _profile_both(dataset, cuts=None):
    from losscli.analysis.diagnostics import ROWSUM_TOLERANCE
    from losscli.analysis.profile import profile_dataset
    from losscli.analysis.profile_plan import profile_plan

    want = profile_dataset(dataset, ROWSUM_TOLERANCE)
    batches = split_rows(dataset, _cuts(dataset.n_rows) if cuts is None else cuts)
    got = run_plan(profile_plan(ROWSUM_TOLERANCE), ListSource(batches)).profile
    return got, want


@pytest.mark.parametrize("path", SAMPLES, ids=os.path.basename)
def test_profile_plan_equals_in_memory_for_every_sample(path, cap):
    got, want = _profile_both(load_dataset(path, InputOptions()))
    assert_same(got.evidence(), want.evidence())
    assert (got.task, got.n_rows, got.model, got.models) == (
        want.task,
        want.n_rows,
        want.model,
        want.models,
    )


@pytest.mark.parametrize("seed", range(6))
def test_profile_plan_regression_shapes(seed, cap):
    """Skewed, heavy-tailed, tied (MAD 0: the fallback) and sorted residuals."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 4000))
    y = rng.normal(100, 25, n)
    noise = [
        rng.normal(0, 1.5, n),
        rng.standard_t(2, n),
        rng.exponential(2.0, n),
        np.where(rng.random(n) < 0.7, 0.0, rng.normal(0, 3, n)),  # MAD 0
        np.sort(rng.normal(0, 1, n)),  # sorted: the kept ranges miss, passes find it
        np.round(rng.normal(0, 2, n)),  # many ties
    ][seed]
    dataset = _load("regression_clean.csv")
    dataset = dataclasses.replace(
        dataset,
        y_true=y,
        models={"y_pred": y - noise},
        row_numbers=np.arange(1, n + 1),
    )
    got, want = _profile_both(dataset, _cuts(n, seed, 8))
    assert_same(got.evidence(), want.evidence())
