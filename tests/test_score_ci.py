"""--ci for the skill scores r2 and explained_variance (ratios of sums, resampled by block).

Each Poisson-bootstrap replicate reweights the rows of a block by the block's
draw; the replicate's r2 must then be scikit-learn's r2_score with those
per-row weights, whatever the split of the input into batches or partitions.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import explained_variance_score, r2_score

from losscli.analysis.bootstrap import PoissonBootstrap, block_of_rows, poisson_draws
from losscli.core.registry import Reduction

KINDS = [Reduction.R2, Reduction.EXPLAINED_VARIANCE, Reduction.MEAN]


def _data(n=3000, seed=1, offset=0.0):
    rng = np.random.default_rng(seed)
    y = offset + rng.normal(size=n)
    p = y + rng.normal(0.2, 0.4, size=n)
    w = rng.uniform(0, 2, n)
    w[:40] = 0.0
    return y, p, w


def _values(y, p):
    comp = np.column_stack([y - p, y])
    return [comp, comp, (y - p) ** 2]


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_replicates_are_sklearn_scores_under_the_drawn_weights(offset):
    y, p, w = _data(offset=offset)
    state = PoissonBootstrap(KINDS, 40, seed=3)
    state.update(_values(y, p), w)
    got = state.replicates()
    draws = poisson_draws(3, 40).astype(np.float64)
    block = block_of_rows(np.arange(len(y), dtype=np.uint64), 3)
    for r in range(40):
        weights = w * draws[r, block]
        assert got[r, 0] == pytest.approx(r2_score(y, p, sample_weight=weights), rel=1e-9)
        assert got[r, 1] == pytest.approx(
            explained_variance_score(y, p, sample_weight=weights), rel=1e-9
        )


@pytest.mark.parametrize("n, ties", [(2, False), (3, False), (5, False), (8, True)])
def test_few_rows_replicates_of_one_distinct_value_are_sklearns(n, ties):
    """A replicate drawing one row (or only tied targets) has no spread: scikit-learn
    gives r2 0 (1 when exact) and explained_variance 1; rounding residue gave 8.7e16."""
    rng = np.random.default_rng(n)
    y = np.round(rng.normal(size=n), 1) if not ties else np.array([1.0, 1, 1, 2, 2, 1, 2, 1])
    p = y + rng.normal(0.3, 0.8, size=n)
    state = PoissonBootstrap(KINDS, 300, seed=0)
    state.update(_values(y, p), None)
    got = state.replicates()
    draws = poisson_draws(0, 300).astype(np.float64)
    block = block_of_rows(np.arange(n, dtype=np.uint64), 0)
    for r in range(300):
        weights = draws[r, block]
        if weights.sum() == 0:
            assert np.isnan(got[r, :2]).all()
            continue
        drawn = weights > 0
        if np.unique(y[drawn]).size == 1:
            # No spread in y: scikit-learn's rule (force_finite) is r2 = 0 unless every
            # residual is 0; explained_variance = 1 when the residuals do not vary
            # either. (sklearn's own weighted mean can leave a rounding residue here.)
            residuals = (y - p)[drawn]
            assert got[r, 0] == (1.0 if np.all(residuals == 0) else 0.0)
            assert got[r, 1] == (1.0 if np.unique(residuals).size == 1 else 0.0)
            continue
        want = r2_score(y, p, sample_weight=weights)
        assert got[r, 0] == pytest.approx(want, rel=1e-9, abs=1e-12)
        want = explained_variance_score(y, p, sample_weight=weights)
        assert got[r, 1] == pytest.approx(want, rel=1e-9, abs=1e-12)
        assert got[r, 0] <= 1.0 and got[r, 1] <= 1.0


def test_replicates_do_not_depend_on_the_split():
    y, p, w = _data()
    whole = PoissonBootstrap(KINDS, 60, seed=5)
    whole.update(_values(y, p), w)
    cuts = [0, 1, 1234, 2999, 3000]
    parts = []
    for a, b in zip(cuts, cuts[1:]):
        part = PoissonBootstrap(KINDS, 60, seed=5)
        part.update(_values(y[a:b], p[a:b]), w[a:b], first_row=a)
        parts.append(part)
    merged = parts[3].merge(parts[1]).merge(parts[0].merge(parts[2]))
    np.testing.assert_allclose(merged.replicates(), whole.replicates(), rtol=1e-12)


def test_groups_pool_cells_like_one_sample():
    y, p, w = _data()
    cells = (np.arange(len(y)) % 3).astype(np.intp)
    grouped = PoissonBootstrap(KINDS, 30, seed=2)
    grouped.update(_values(y, p), w, cells=cells)
    plain = PoissonBootstrap(KINDS, 30, seed=2)
    plain.update(_values(y, p), w)
    np.testing.assert_allclose(grouped.replicates(), plain.replicates(), rtol=1e-12)
    one = grouped.replicates([1])
    mask = cells == 1
    draws = poisson_draws(2, 30).astype(np.float64)
    block = block_of_rows(np.arange(len(y), dtype=np.uint64), 2)
    weights = (w * draws[0, block])[mask]
    assert one[0, 0] == pytest.approx(r2_score(y[mask], p[mask], sample_weight=weights), rel=1e-9)


def test_cli_compute_and_compare_give_score_intervals(run, tmp_path):
    y, p, w = _data(n=800)
    q = y + np.random.default_rng(9).normal(0, 0.6, len(y))
    path = tmp_path / "scores.csv"
    columns = zip(*(v.tolist() for v in (y, p, q, w)))
    rows = ["y_true,a,b,w"] + [",".join(map(repr, row)) for row in columns]
    path.write_text("\n".join(rows) + "\n")
    base = [str(path), "--pred-col", "a", "--pred-col", "b", "--weight-col", "w"]
    base += ["-l", "r2,explained_variance", "--ci", "0.95", "--format", "json"]
    result = run("compute", *base)
    assert result.exit_code == 0, result.stderr
    for row in json.loads(result.stdout)["results"]:
        assert row["ci_low"] < row["value"] < row["ci_high"], row
        assert row["ci_high"] <= 1.0
    result = run("compare", *base)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    text = json.dumps(data)
    assert "NaN" not in text
    # b is the noisier model: its r2 is lower, and the paired interval of how far
    # behind the best it is (diff_to_best, >= 0 for scores too) excludes zero.
    behind = [r for r in data["results"] if r["loss"] == "r2" and r["model"] == "b"]
    assert len(behind) == 1 and behind[0]["rank"] == 2, data["results"]
    assert 0 < behind[0]["diff_ci_low"] < behind[0]["diff_to_best"] < behind[0]["diff_ci_high"]
