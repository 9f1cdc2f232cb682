"""SPEC 12 scores stream exactly: chunked == in-memory to 1e-12, passes included.

The files are cut into chunks of a few kB and the accumulators keep at most 64
rows, so the d2_* denominators need the further pass over the values (from the
spool, or by reading the input again), and group accumulators merge too.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics
from stream_support import (
    assert_same_report,
    in_memory_report,
    streamed_report,
    write_regression,
)

from losscli.core.reduction import new_accumulator
from losscli.core.registry import LossSelection, get_loss, parse_loss_list
from losscli.io.columns import InputOptions, load_dataset

SCORES = (
    "r2,explained_variance,d2_absolute_error,d2_pinball:alpha=0.2,d2_pinball:alpha=0.97,"
    "d2_tweedie,mae"
)


def _selections(_data=None):
    return parse_loss_list(SCORES)


def _in_memory(path, opts):
    return in_memory_report(path, opts, selections=_selections)


def _streamed(path, opts, reread=True, chunk_bytes=3000):
    return streamed_report(path, opts, chunk_bytes, selections=_selections, reread=reread)


@pytest.mark.parametrize("reread", [True, False])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"weights": True}, {"groups": True}, {"weights": True, "groups": True, "holes": True}],
)
def test_scores_stream_like_in_memory(tmp_path, kwargs, reread):
    path = write_regression(tmp_path / "data.csv", **kwargs)
    opts = InputOptions(
        pred_cols=("y_pred", "model_b"),
        weight_col="w" if kwargs.get("weights") else None,
        group_by="segment" if kwargs.get("groups") else None,
        nan="drop" if kwargs.get("holes") else "error",
    )
    whole = _in_memory(path, opts)
    assert_same_report(_streamed(path, opts, reread=reread), whole)


def test_scores_stream_when_sorted_by_target(tmp_path):
    # The first chunk says nothing about the quantiles of the whole file.
    path = write_regression(tmp_path / "sorted.csv", n=3000, sort=True)
    opts = InputOptions()
    assert_same_report(_streamed(path, opts), _in_memory(path, opts))


def test_in_memory_scores_are_sklearns(tmp_path):
    path = write_regression(tmp_path / "data.csv", weights=True)
    dataset = load_dataset(str(path), InputOptions(weight_col="w"))
    report = _in_memory(path, InputOptions(weight_col="w"))
    y, p, w = dataset.y_true, dataset.models["y_pred"], dataset.weights
    want = {
        "r2": metrics.r2_score(y, p, sample_weight=w),
        "d2_absolute_error": metrics.d2_absolute_error_score(y, p, sample_weight=w),
    }
    got = {r.loss: r.value for r in report.results}
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    "name", ["r2", "d2_pinball", "d2_tweedie", "explained_variance", "ece", "mce"]
)
def test_accumulators_merge_across_shards(name):
    rng = np.random.default_rng(3)
    y = rng.gamma(3.0, 2.0, 500)
    p = y * rng.lognormal(0, 0.2, 500)
    if name in ("ece", "mce"):  # binary: labels and probabilities
        y = rng.integers(0, 2, 500).astype(float)
        p = np.clip(0.5 * y + rng.uniform(0, 0.6, 500), 0, 1)
    w = rng.uniform(0, 2, 500)
    spec = get_loss(name)
    selection = LossSelection(spec, spec.resolve_params({}))
    from losscli.core.registry import LossInputs

    values = selection.per_sample(LossInputs(y, p))
    whole = new_accumulator(selection.reducer)
    whole.add(values, w)
    parts = [new_accumulator(selection.reducer) for _ in range(3)]
    for part, rows in zip(parts, np.array_split(np.arange(500), 3)):
        part.add(values[rows], w[rows])
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert merged.result() == pytest.approx(whole.result(), rel=1e-12)


@pytest.mark.parametrize(
    "name, losses",
    [
        ("regression_outliers.csv", "r2,explained_variance,d2_absolute_error,"
         "d2_pinball:alpha=0.9,d2_tweedie,mse"),
        ("binary_imbalanced.csv", "accuracy,zero_one,bce,ece,mce,ece:n_bins=4"),
        ("multiclass_probs.csv", "accuracy,zero_one,cce,ece,mce:n_bins=7"),
    ],
)  # fmt: skip
def test_streamed_compare_plan_equals_in_memory_for_the_figures(name, losses):
    import dataclasses
    import os

    from losscli.analysis.compare import compare_models
    from losscli.analysis.compare_plan import compare_plan
    from losscli.analysis.plan import ListSource
    from losscli.cli.common import choose_losses
    from losscli.engines.local import run_plan
    from tests.plan_support import assert_same, split_rows, with_weights

    path = os.path.join(os.path.dirname(__file__), "..", "sample_data", name)
    dataset = with_weights(load_dataset(path, InputOptions()))
    rng = np.random.default_rng(1)
    first = next(iter(dataset.models.values()))
    # b differs clearly from a, so the differences to the best are not cancellations.
    scale = 10.0 if name.startswith("regression") else 0.2
    noisy = first + rng.normal(0, scale, first.shape)
    if first.ndim == 1 and name.startswith("binary"):
        noisy = np.clip(noisy, 0, 1)
    elif first.ndim == 2:
        noisy = np.abs(noisy) / np.abs(noisy).sum(axis=1, keepdims=True)
    dataset = dataclasses.replace(dataset, models={"a": first, "b": noisy})
    selections = choose_losses((losses,), dataset)
    want = compare_models(dataset, selections).as_dict()
    batches = split_rows(dataset, [37, 120, 121, 300])
    got = run_plan(
        compare_plan(lambda head: choose_losses((losses,), head)), ListSource(batches)
    ).as_dict()
    assert_same(got, want)
    assert want["rankings"]
