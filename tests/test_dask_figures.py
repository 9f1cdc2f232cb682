"""--engine dask gives the local engine's JSON for the figures of SPEC 12.

Significance tests of ``compare`` (Diebold-Mariano with the HLN correction,
McNemar for zero_one, Holm), ``--time-col`` (the HAC variance, rows in time
order across files), the interval and quantile families, ece/mce and the
skill scores with ``--ci``: each on a directory of several files (CSV and
Parquet, uneven sizes, several batches per Parquet file) read by two worker
processes, against the same input on the local engine: every non-random
figure to 1e-12 relative, bootstrap intervals equal with the same ``--seed``.
The local engine's figures are checked against their references elsewhere
(test_significance.py, test_time_col.py, test_reference_*.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from plan_support import assert_same

pytest.importorskip("distributed")

N = 1500
CUTS = [0, 250, 900, N]  # three files of uneven sizes


def _frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(16)
    y = rng.normal(3.0, 2.0, N)
    e = rng.normal(0.0, 1.0, N + 1)
    noise = e[1:] + 0.7 * e[:-1]  # serially correlated errors, for the HAC variance
    regression = pd.DataFrame(
        {
            "t": np.arange(N) * 60,
            "y_true": y,
            "a": y + noise,
            "b": y + 1.1 * noise + rng.normal(0.0, 0.4, N),
            "c": y + rng.standard_t(3, N),
            "w": rng.uniform(0.0, 2.0, N),
        }
    )
    half = np.abs(rng.normal(1.6, 0.5, N))
    centre = y + rng.normal(0.0, 1.0, N)
    intervals = pd.DataFrame({"y_true": y, "lo": centre - half, "hi": centre + half})
    quantiles = pd.DataFrame(
        {
            "y_true": y,
            "y_pred_q0.1": centre - 1.28 + rng.normal(0.0, 0.2, N),
            "y_pred_q0.5": centre,
            "y_pred_q0.9": centre + 1.28 + rng.normal(0.0, 0.2, N),
        }
    )
    p = rng.uniform(0.02, 0.98, N)
    label = (rng.uniform(0.0, 1.0, N) < p).astype(np.int64)
    binary = pd.DataFrame(
        {
            "y_true": label,
            "a": np.clip(p + rng.normal(0.0, 0.08, N), 0.01, 0.99),
            "b": np.clip(0.75 * p + 0.15, 0.01, 0.99),
            "c": rng.uniform(0.01, 0.99, N),
        }
    )
    logits = rng.normal(0.0, 1.5, (N, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    drawn = (rng.uniform(0.0, 1.0, N)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    multiclass = pd.DataFrame({"y_true": np.minimum(drawn, 2)})
    for k in range(3):
        multiclass[f"y_pred_{k}"] = probs[:, k]
    return {
        "regression": regression,
        "intervals": intervals,
        "quantiles": quantiles,
        "binary": binary,
        "multiclass": multiclass,
    }


def _write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, path, row_group_size=200)  # several batches per partition
    else:
        frame.to_csv(path, index=False)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each frame as a directory of three files (``NAME.EXT``), and regression by day too."""
    out = {}
    for name, frame in _frames().items():
        for ext in ("csv", "parquet"):
            folder = tmp_path_factory.mktemp(f"{name}_{ext}")
            for i, (a, b) in enumerate(zip(CUTS, CUTS[1:])):
                _write(frame.iloc[a:b], folder / f"part-{i}.{ext}")
            out[f"{name}.{ext}"] = str(folder)
    return out


def _same_on_both_engines(run: Any, client: Any, args: list[str]) -> dict[str, Any]:
    local = run(*args, "--format", "json")
    remote = run(
        *args, "--format", "json", "--engine", "dask", "--scheduler", client.scheduler.address
    )
    assert local.exit_code == 0, local.stderr
    assert remote.exit_code == 0, remote.stderr
    want = json.loads(local.stdout)
    assert_same(json.loads(remote.stdout), want)
    assert remote.stderr == local.stderr
    return dict(want)


def _tests_of(out: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(t["loss"], t["model_a"], t["model_b"], t["test"]) for t in out["tests"]]


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_significance_tests_dm_and_holm(run, dask_cluster, inputs, ext):
    args = ["compare", inputs[f"regression.{ext}"], "-l", "mse,mae,huber"]
    args += ["--pred-col", "a", "--pred-col", "b", "--pred-col", "c"]
    out = _same_on_both_engines(run, dask_cluster, args)
    pairs = [("a", "b"), ("a", "c"), ("b", "c")]
    assert _tests_of(out) == [
        (loss, x, y, "diebold_mariano") for loss in ("mse", "mae", "huber") for x, y in pairs
    ]
    # Holm over three pairs: the smallest p-value times 3 (the data make it well below 1/3).
    first = out["tests"][:3]
    smallest = min(first, key=lambda t: t["p_value"])
    assert smallest["p_adjusted"] == pytest.approx(3 * smallest["p_value"], rel=1e-12)


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_significance_tests_mcnemar_for_zero_one(run, dask_cluster, inputs, ext):
    args = ["compare", inputs[f"binary.{ext}"], "-l", "zero_one,accuracy,log_loss,brier"]
    args += ["--pred-col", "a", "--pred-col", "b", "--pred-col", "c"]
    out = _same_on_both_engines(run, dask_cluster, args)
    kinds = {(t["loss"], t["test"]) for t in out["tests"]}
    assert kinds == {
        ("zero_one", "mcnemar"),
        ("accuracy", "mcnemar"),
        ("bce", "diebold_mariano"),
        ("brier", "diebold_mariano"),
    }
    assert len(out["tests"]) == 12


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize(
    "extra",
    [[], ["--weight-col", "w"], ["--ci", "0.9", "--bootstrap", "40", "--seed", "7"]],
    ids=["plain", "weights", "ci"],
)
def test_time_col_hac_variance(run, dask_cluster, inputs, ext, extra):
    path = inputs[f"regression.{ext}"]
    base = ["compare", path, "-l", "mse,mae", "--pred-col", "a", "--pred-col", "b", *extra]
    out = _same_on_both_engines(run, dask_cluster, [*base, "--time-col", "t"])
    plain = _same_on_both_engines(run, dask_cluster, base)
    # The HAC variance is another figure than the exchangeable one (the errors are
    # serially correlated, so it is larger and the statistic smaller in size).
    for hac, iid in zip(out["tests"], plain["tests"]):
        assert abs(hac["statistic"]) < abs(iid["statistic"])
    if "--ci" in extra:
        assert any(r["diff_ci_high"] > r["diff_ci_low"] for r in out["results"])


@pytest.fixture(scope="module")
def series_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Files each sorted by time: in path order, interleaved, and in reversed path order."""
    frame = _frames()["regression"]
    out = {}
    layouts = {
        # a: times 0..99, b: 100..199: path order is time order
        "ordered": [frame.iloc[:100], frame.iloc[100:200]],
        # a: even rows, b: odd rows: each sorted, together interleaved
        "interleaved": [frame.iloc[0:200:2], frame.iloc[1:200:2]],
        # a: the later half, b: the earlier half
        "reversed": [frame.iloc[100:200], frame.iloc[:100]],
    }
    for ext in ("csv", "parquet"):
        for name, parts in layouts.items():
            folder = tmp_path_factory.mktemp(f"series_{name}_{ext}")
            for part, stem in zip(parts, ("a", "b")):
                _write(part, folder / f"{stem}.{ext}")
            out[f"{name}.{ext}"] = str(folder)
    return out


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize("layout, row", [("interleaved", 101), ("reversed", 101)])
def test_time_col_files_out_of_time_order_are_one_error(
    run, dask_cluster, series_files, ext, layout, row
):
    """Files each sorted but not in time order in path order: the same Error on both engines."""
    path = series_files[f"{layout}.{ext}"]
    args = ["compare", path, "-l", "mse", "--pred-col", "a", "--pred-col", "b", "--time-col", "t"]
    local = run(*args)
    remote = run(*args, "--engine", "dask", "--scheduler", dask_cluster.scheduler.address)
    for out in (local, remote):
        assert out.exit_code == 1 and out.stdout == ""
        assert "Traceback" not in out.stderr
    line = local.stderr.strip().splitlines()[-1]
    assert line == (
        f"Error: --time-col t: the rows are not in time order (row {row} comes before an "
        f"earlier time); the HAC variance reads them as a series in one pass, so sort the "
        f"file by t first (row {row} is row 1 of {Path(path) / ('b.' + ext)})"
    )
    assert remote.stderr == local.stderr
    ordered = series_files[f"ordered.{ext}"]
    _same_on_both_engines(run, dask_cluster, ["compare", ordered, *args[2:]])


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize(
    "extra",
    [
        ["--interval-level", "0.8"],
        ["--interval-level", "0.8", "--ci", "0.9", "--bootstrap", "40", "--seed", "3"],
    ],
    ids=["plain", "ci"],
)
def test_interval_family(run, dask_cluster, inputs, ext, extra):
    args = ["compute", inputs[f"intervals.{ext}"], "--interval-cols", "lo,hi", *extra]
    out = _same_on_both_engines(run, dask_cluster, args)
    losses = {r["loss"] for r in out["results"]}
    assert {"coverage", "mean_width", "interval_score"} <= losses
    if "--ci" in extra:
        assert all(r["ci_low"] is not None for r in out["results"])


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize(
    "args",
    [
        ["compute"],
        ["compute", "--ci", "0.9", "--bootstrap", "40", "--seed", "2"],
        ["compare", "--ci", "0.9", "--bootstrap", "40", "--seed", "2"],
    ],
    ids=["compute", "compute-ci", "compare-ci"],
)
def test_quantile_family(run, dask_cluster, inputs, ext, args):
    command, *rest = args
    out = _same_on_both_engines(run, dask_cluster, [command, inputs[f"quantiles.{ext}"], *rest])
    if command == "compute":
        losses = [(r["loss"], r["params"]) for r in out["results"]]
        levels = [p.get("alpha", p.get("level")) for name, p in losses if name == "pinball_q"]
        assert levels == [0.1, 0.5, 0.9] and ("crps_quantile", {}) in losses, losses


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_ece_and_mce(run, dask_cluster, inputs, ext, name):
    args = ["compute", inputs[f"{name}.{ext}"], "-l", "ece,mce"]
    if name == "binary":
        args += ["--pred-col", "a"]
    out = _same_on_both_engines(run, dask_cluster, args)
    _same_on_both_engines(run, dask_cluster, [*args, "--ci", "0.9", "--bootstrap", "40"])
    values = {r["loss"]: r["value"] for r in out["results"]}
    assert 0.0 < values["ece"] <= values["mce"] < 1.0


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize(
    "extra",
    [[], ["--weight-col", "w"], ["--pred-col", "b"]],
    ids=["compute", "weights", "two-models"],
)
def test_r2_and_explained_variance_with_ci(run, dask_cluster, inputs, ext, extra):
    args = ["compute", inputs[f"regression.{ext}"], "-l", "r2,explained_variance,mse"]
    args += ["--pred-col", "a", *extra, "--ci", "0.9", "--bootstrap", "60", "--seed", "9"]
    out = _same_on_both_engines(run, dask_cluster, args)
    scores = [r for r in out["results"] if r["loss"] in ("r2", "explained_variance")]
    assert scores and all(r["ci_low"] < r["value"] < r["ci_high"] for r in scores)
    if "--pred-col" in extra:
        compare = ["compare", *args[1:]]
        _same_on_both_engines(run, dask_cluster, compare)
