"""compare --time-col: the Diebold-Mariano variance with Newey-West lags, streamed in order."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import losscli as lc
from losscli.analysis import significance as sig


def dm_hac(d: np.ndarray) -> tuple[float, float]:
    """DM* with the Newey-West (Bartlett) variance and L = floor(4 (n/100)^(2/9))."""
    n = d.size
    lags = int(math.floor(4 * (n / 100) ** (2 / 9)))
    c = d - d.mean()
    gamma = [np.sum(c[k:] * c[: n - k]) / n for k in range(lags + 1)]
    v = gamma[0] + 2 * sum((1 - k / (lags + 1)) * gamma[k] for k in range(1, lags + 1))
    dm = d.mean() / math.sqrt(v / n) * math.sqrt((n - 1) / n)
    return dm, 2 * stats.t.sf(abs(dm), n - 1)


def _series(tmp_path, n=20_000, shuffle=False, dates=False):
    rng = np.random.default_rng(5)
    e = rng.normal(0, 1, n + 1)
    noise = e[1:] + 0.8 * e[:-1]  # serially correlated errors
    y = rng.normal(0, 2, n)
    frame = pd.DataFrame(
        {
            "t": pd.date_range("2020-01-01", periods=n, freq="h").strftime("%Y-%m-%dT%H:%M")
            if dates
            else np.arange(n) * 10,
            "y_true": y,
            "a": y + noise,
            "b": y + 1.05 * noise + rng.normal(0, 0.3, n),
        }
    )
    if shuffle:
        frame = frame.sample(frac=1.0, random_state=1)
    path = tmp_path / "series.csv"
    frame.to_csv(path, index=False)
    return frame, path


@pytest.mark.parametrize("dates", [False, True])
def test_hac_dm_matches_the_direct_formula_streamed(run_json, tmp_path, dates):
    frame, path = _series(tmp_path, dates=dates)
    out = run_json(
        "compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "mse,mae",
        "--time-col", "t",
    )  # fmt: skip
    y = frame["y_true"].to_numpy()
    for test in out["tests"]:
        if test["loss"] == "mse":
            d = (y - frame["a"].to_numpy()) ** 2 - (y - frame["b"].to_numpy()) ** 2
        else:
            d = np.abs(y - frame["a"].to_numpy()) - np.abs(y - frame["b"].to_numpy())
        want = dm_hac(d)
        assert test["statistic"] == pytest.approx(want[0], rel=1e-9)
        assert test["p_value"] == pytest.approx(want[1], rel=1e-7)
    plain = run_json("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "mse,mae")
    # serial correlation widens the variance: the HAC statistic is smaller in size
    assert abs(out["tests"][0]["statistic"]) < abs(plain["tests"][0]["statistic"])


def test_api_in_memory_equals_cli_streamed(run_json, tmp_path):
    frame, path = _series(tmp_path, n=30_000)
    args = ("--pred-col", "a", "--pred-col", "b", "-l", "mse", "--time-col", "t")
    streamed = run_json("compare", path, *args)["tests"]
    api = lc.compare(frame, y_pred=["a", "b"], losses="mse", time_col="t").to_dict()["tests"]
    assert streamed[0]["statistic"] == pytest.approx(api[0]["statistic"], rel=1e-9)


def test_lagged_products_merge_across_boundaries_in_any_tree():
    # Parts merge exactly whatever the tree over consecutive parts and whichever side
    # of merge() the earlier part is on; parts shorter than the lag count included.
    rng = np.random.default_rng(2)
    c = rng.normal(0, 1, 503)
    whole = sig.LaggedProducts.of(c, 6)
    cuts = [0, 2, 3, 100, 104, 300, 503]
    parts = [
        sig.TimedProducts([sig.LaggedProducts.of(c[a:b], 6)], float(a), float(b - 1), "t", a + 1)
        for a, b in zip(cuts, cuts[1:])
    ]
    left = parts[1].merged(parts[0]).merged(parts[2])
    right = parts[5].merged(parts[4]).merged(parts[3])
    for merged in (right.merged(left), left.merged(right)):
        assert merged.products[0].n == 503
        assert merged.products[0].sums == pytest.approx(whole.sums, rel=1e-12)
    want = [float(np.dot(c[k:], c[:-k])) for k in range(1, 7)]
    assert whole.sums == pytest.approx(want, rel=1e-12)
    # A later part (rows 3..7) starting before the earlier one ends (time 1): out of order.
    later = sig.TimedProducts([sig.LaggedProducts.of(c[:5], 6)], 0.5, 4.0, "t", 3)
    for merged in (lambda: parts[0].merged(later), lambda: later.merged(parts[0])):
        with pytest.raises(Exception, match=r"not in time order \(row 3 comes before"):
            merged()


def test_unsorted_rows_are_a_clear_error(run, tmp_path):
    _, path = _series(tmp_path, n=500, shuffle=True)
    out = run("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "mse", "--time-col", "t")
    assert out.exit_code == 1 and out.stdout == ""
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: --time-col t: the rows are not in time order (row ")
    assert "sort the file by t first" in line


@pytest.mark.parametrize(
    "cells, message",
    [
        (["1", "", "3"], "empty cell"),
        (["1", "soon", "3"], "neither numbers nor ISO 8601"),
    ],
)
def test_bad_time_values(run, tmp_path, cells, message):
    path = tmp_path / "bad.csv"
    rows = [f"{t},{i},{i + 0.5},{i - 0.3}" for i, t in enumerate(cells)]
    path.write_text("t,y_true,a,b\n" + "\n".join(rows) + "\n")
    out = run("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "mse", "--time-col", "t")
    assert out.exit_code == 1 and out.stdout == ""
    assert message in out.stderr and "Traceback" not in out.stderr


def test_missing_time_column(run, tmp_path):
    _, path = _series(tmp_path, n=50)
    out = run("compare", path, "--pred-col", "a", "--pred-col", "b", "--time-col", "when")
    assert out.exit_code == 1 and "when" in out.stderr and "--time-col" in out.stderr


def test_plan_over_many_batches_equals_in_memory(tmp_path):
    from losscli.analysis.compare import compare_models
    from losscli.analysis.compare_plan import compare_plan
    from losscli.analysis.plan import ListSource
    from losscli.cli.common import choose_losses
    from losscli.engines.local import run_plan
    from losscli.io.columns import InputOptions, load_dataset
    from tests.plan_support import split_rows

    _, path = _series(tmp_path, n=3000)
    opts = InputOptions(pred_cols=("a", "b"), time_col="t")
    dataset = load_dataset(str(path), opts)
    selections = choose_losses(("mse,mae,huber",), dataset)
    want = compare_models(dataset, selections).as_dict()["tests"]
    batches = split_rows(dataset, [3, 5, 700, 1400, 2999])
    plan = compare_plan(lambda head: choose_losses(("mse,mae,huber",), head))
    got = run_plan(plan, ListSource(batches)).as_dict()["tests"]
    assert len(got) == len(want) == 3
    for g, w in zip(got, want):
        assert g["statistic"] == pytest.approx(w["statistic"], rel=1e-12)
        assert g["p_value"] == pytest.approx(w["p_value"], rel=1e-9)
