"""lc.Accumulator: pieces added and merged in any order equal one call on all the rows."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import losscli as lc

REL = 1e-12
RNG = np.random.default_rng(7)
N = 2000
Y = RNG.normal(10.0, 3.0, N)
P = Y + RNG.standard_t(2, N)
W = RNG.integers(0, 4, N).astype(float)
W[0] = 1.0
LABELS = (RNG.uniform(size=N) < 0.3).astype(float)
PROBS = np.clip(RNG.beta(2, 3, N), 1e-3, 1 - 1e-3)
K = 3
CLASSES = RNG.integers(0, K, N)
Q = RNG.dirichlet(np.ones(K), N)

CASES = {
    "regression": ("mse,rmse,mae,mbe,huber,median_ae,max_error,mape", "regression", Y, P),
    "binary": ("bce,brier,focal", "binary", LABELS, PROBS),
    "multiclass": ("cce,multiclass_brier,categorical_focal", "multiclass", CLASSES, Q),
}


def _pieces(n_pieces: int, seed: int) -> list[slice]:
    cuts = sorted(random.Random(seed).sample(range(1, N), n_pieces - 1)) if n_pieces > 1 else []
    bounds = [0, *cuts, N]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def _accumulated(
    case: str, pieces: list[slice], order_seed: int, weighted: bool
) -> lc.ComputeResult:
    losses, task, y, p = CASES[case]
    parts = []
    for part in pieces:
        acc = lc.Accumulator(losses, task=task)
        acc.update(y[part], p[part], W[part] if weighted else None)
        parts.append(acc)
    random.Random(order_seed).shuffle(parts)
    # merge as a random tree, not only left to right
    while len(parts) > 1:
        i = random.Random(order_seed + len(parts)).randrange(len(parts) - 1)
        parts[i : i + 2] = [parts[i].merge(parts[i + 1])]
    return parts[0].result()


def _one_call(case: str, weighted: bool) -> lc.ComputeResult:
    losses, task, y, p = CASES[case]
    data = {"y_true": y, "y_pred": p}
    if weighted:
        data["w"] = W
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LossWarning)  # the heavy-tail note of a t(2) sample
        return lc.compute(data, losses=losses, task=task, weights="w" if weighted else None)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("n_pieces", [1, 7, 1000])
@pytest.mark.parametrize("case", CASES)
def test_pieces_merged_in_any_order_equal_one_call(case, n_pieces, weighted):
    want = _one_call(case, weighted)
    for seed in (0, 1):
        got = _accumulated(case, _pieces(n_pieces, seed), seed, weighted)
        assert got.n_rows == want.n_rows
        for r in want.results:
            assert got.value(r.label) == pytest.approx(r.value, rel=REL, abs=0), r.label


@settings(max_examples=40, deadline=None)
@given(
    n_pieces=st.integers(1, 40),
    seed=st.integers(0, 10_000),
    weighted=st.booleans(),
)
def test_any_partition_and_merge_order_gives_exact_medians_and_means(n_pieces, seed, weighted):
    want = _one_call("regression", weighted)
    got = _accumulated("regression", _pieces(n_pieces, seed), seed, weighted)
    assert got.value("median_ae") == want.value("median_ae")  # exact, not approximately
    assert got.value("max_error") == want.value("max_error")
    assert got.value("mse") == pytest.approx(want.value("mse"), rel=REL, abs=0)


def test_sequential_updates_equal_merges():
    acc = lc.Accumulator("mse,median_ae", task="regression")
    for part in _pieces(7, 3):
        acc.update(Y[part], P[part])
    want = _one_call("regression", False)
    assert acc.result().value("median_ae") == want.value("median_ae")
    assert acc.result().value("mse") == pytest.approx(want.value("mse"), rel=REL)


def test_merge_leaves_both_sides_unchanged():
    a = lc.Accumulator("mae,median_ae")
    a.update([1.0, 2.0], [2.0, 2.0])
    b = lc.Accumulator("mae,median_ae")
    b.update([5.0], [1.0])
    merged = a.merge(b)
    assert merged.result().value("mae") == pytest.approx(5 / 3, rel=REL)
    assert a.result().value("mae") == 0.5 and b.result().value("mae") == 4.0
    assert merged.merge(lc.Accumulator("mae,median_ae")).result().n_rows == 3


def test_default_panel_and_task_rules():
    # The panel lc.compute chooses for the same rows: on probabilities, no hinge (it
    # was in the accumulator's panel), and the same note saying why.
    for task, y, p in [
        ("binary", [0, 1, 1], [0.2, 0.7, 0.9]),
        ("binary", [0, 1, 1], [-2.0, 0.7, 3.0]),
        ("multiclass", [0, 2], [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]),
        ("regression", [1.0, 2.0], [1.5, 2.0]),
    ]:
        acc = lc.Accumulator(task=task)
        acc.update(y, p)
        one = lc.compute({"y_true": y, "y_pred": p}, task=task)
        assert [(r.loss, r.value) for r in acc.result().results] == [
            (r.loss, r.value) for r in one.results
        ]
        assert acc.result().notes == one.notes
    acc = lc.Accumulator(task="binary")
    acc.update([0, 1], [0.2, 0.7])
    assert "hinge" not in [r.loss for r in acc.result().results]
    with pytest.raises(lc.UsageError, match="task="):
        lc.Accumulator()
    with pytest.raises(lc.UsageError, match="task="):
        lc.Accumulator("mse,bce")
    with pytest.raises(lc.UsageError, match="same losses"):
        lc.Accumulator("mse").merge(lc.Accumulator("mae"))
    with pytest.raises(lc.UsageError, match="no rows"):
        lc.Accumulator("mse").result()


def test_bad_pieces_raise_input_errors():
    acc = lc.Accumulator("bce")
    with pytest.raises(lc.InputError, match="binary labels must be 0/1"):
        acc.update([0.0, 2.0], [0.5, 0.5])
    with pytest.raises(lc.InputError, match="missing or non-numeric"):
        acc.update([0.0, 1.0], [0.5, float("nan")])
    dropping = lc.Accumulator("mae", nan="drop")
    dropping.update([1.0, 2.0], [1.0, float("nan")])
    assert (dropping.result().n_rows, dropping.result().n_dropped) == (1, 1)


def test_a_piece_that_fails_changes_nothing():
    acc = lc.Accumulator("bce", task="binary")
    acc.update([0, 1, 1], [0.2, 0.7, 0.9])
    with pytest.raises(lc.InputError, match="must be in \\[0, 1\\]"):
        acc.update([0, 1, 1], [0.2, 1.7, 0.9])
    one = lc.compute({"y_true": [0, 1, 1], "y_pred": [0.2, 0.7, 0.9]}, losses="bce")
    assert acc.result().n_rows == 3 and acc.result().value("bce") == one.value("bce")


def test_pieces_and_merges_need_the_same_classes():
    acc = lc.Accumulator("cce", task="multiclass")
    acc.update([0, 1], [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    with pytest.raises(lc.UsageError, match="this piece has 2 classes .* had 3"):
        acc.update([0, 1], [[0.7, 0.3], [0.2, 0.8]])
    assert acc.result().n_rows == 2
    other = lc.Accumulator("cce", task="multiclass")
    other.update([0, 1], [[0.7, 0.3], [0.2, 0.8]])
    with pytest.raises(lc.UsageError, match="same classes"):
        acc.merge(other)


def test_every_row_dropped_says_so():
    acc = lc.Accumulator("mae", nan="drop")
    acc.update([1.0, 2.0], [float("nan"), float("nan")])
    with pytest.raises(lc.InputError, match="every row added so far was dropped \\(2 rows"):
        acc.result()
