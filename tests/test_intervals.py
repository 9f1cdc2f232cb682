"""Interval and quantile files end to end: detection, options, streaming, API, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import losscli as lc


def _interval_frame(n=400, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 2, n)
    mid = y + rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "y_true": y.round(4),
            "y_lower": (mid - 1.6).round(4),
            "y_upper": (mid + 1.6).round(4),
            "w": rng.integers(0, 4, n),
            "seg": rng.choice(["north", "south"], n),
        }
    )


def _quantile_frame(n=400, seed=2):
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 2, n)
    mid = y + rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "y_true": y.round(4),
            "y_pred_q0.9": (mid + 1.28).round(4),  # column order need not be level order
            "y_pred_q0.1": (mid - 1.28).round(4),
            "y_pred_q0.5": mid.round(4),
            "w": rng.integers(0, 4, n),
        }
    )


def _write(frame, tmp_path, name="data.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_interval_file_is_detected_and_scored(run_json, tmp_path):
    frame = _interval_frame()
    out = run_json("compute", _write(frame, tmp_path))
    assert out["task"] == "interval"
    got = {r["loss"]: r["value"] for r in out["results"]}
    y, lo, hi = frame["y_true"], frame["y_lower"], frame["y_upper"]
    assert got["coverage"] == pytest.approx(np.mean((lo <= y) & (y <= hi)), rel=1e-12)
    assert got["mean_width"] == pytest.approx(np.mean(hi - lo), rel=1e-12)
    score = (hi - lo) + 20 * np.maximum(lo - y, 0) + 20 * np.maximum(y - hi, 0)
    assert got["interval_score"] == pytest.approx(np.mean(score), rel=1e-12)


def test_interval_cols_and_level_options(run_json, tmp_path):
    frame = _interval_frame().rename(columns={"y_lower": "p05", "y_upper": "p95"})
    path = _write(frame, tmp_path)
    out = run_json(
        "compute", path, "--interval-cols", "p05,p95", "--interval-level", "0.5",
        "-l", "interval_score",
    )  # fmt: skip
    y, lo, hi = frame["y_true"], frame["p05"], frame["p95"]
    score = (hi - lo) + 4 * np.maximum(lo - y, 0) + 4 * np.maximum(y - hi, 0)
    assert out["results"][0]["value"] == pytest.approx(np.mean(score), rel=1e-12)


def test_quantile_file_gives_a_pinball_per_level_and_crps(run_json, tmp_path):
    frame = _quantile_frame()
    out = run_json("compute", _write(frame, tmp_path))
    assert out["task"] == "quantile"
    rows = [(r["loss"], r["params"].get("level")) for r in out["results"]]
    assert rows == [
        ("pinball_q", 0.1),
        ("pinball_q", 0.5),
        ("pinball_q", 0.9),
        ("crps_quantile", None),
    ]
    from sklearn.metrics import mean_pinball_loss

    y = frame["y_true"]
    pinballs = [mean_pinball_loss(y, frame[f"y_pred_q{tau}"], alpha=tau) for tau in (0.1, 0.5, 0.9)]
    values = [r["value"] for r in out["results"]]
    assert values[:3] == pytest.approx(pinballs, rel=1e-12)
    assert values[3] == pytest.approx(2 * np.mean(pinballs), rel=1e-12)


@pytest.mark.parametrize("maker", [_interval_frame, _quantile_frame])
def test_streamed_equals_in_memory_with_weights_and_groups(run_json, tmp_path, maker):
    frame = maker(n=30_000)
    if "seg" not in frame:
        frame["seg"] = np.where(np.arange(len(frame)) % 3, "a", "b")
    path = _write(frame, tmp_path)
    streamed = run_json("compute", path, "--weight-col", "w", "--group-by", "seg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LossWarning)
        direct = lc.compute(frame, weights="w", group_by="seg").to_dict()
    assert len(streamed["results"]) == len(direct["results"]) > 3
    for a, b in zip(streamed["results"], direct["results"]):
        assert (a["loss"], a["group"]) == (b["loss"], b["group"])
        assert a["value"] == pytest.approx(b["value"], rel=1e-12)


@pytest.mark.parametrize("maker", [_interval_frame, _quantile_frame])
def test_api_equals_cli_and_formats_agree(run, run_json, tmp_path, maker):
    frame = maker()
    path = _write(frame, tmp_path)
    want = run_json("compute", path, "--weight-col", "w")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LossWarning)
        got = lc.compute(frame, weights="w").to_dict()
    got.pop("source"), want.pop("source")
    assert got == want
    csv = run("compute", path, "--weight-col", "w", "--format", "csv").stdout.splitlines()
    assert len(csv) == len(want["results"]) + 1
    for line, row in zip(csv[1:], want["results"]):
        assert float(line.rsplit(",", 1)[1]) == row["value"]
    table = run("compute", path, "--weight-col", "w").stdout
    assert ("interval_score" in table) or ("crps_quantile" in table)


def test_api_loss_functions():
    y = np.array([1.0, 5.0, 10.0])
    bounds = np.array([[0.0, 2.0], [6.0, 7.0], [8.0, 9.0]])
    assert lc.losses.interval_score(y, bounds, interval_level=0.8) == pytest.approx(8.0)
    assert lc.losses.coverage(y, bounds) == pytest.approx(1 / 3)
    q = np.array([[0.0, 2.0], [3.0, 2.5]])
    assert lc.losses.crps_quantile([1.0, 2.0], q, levels=[0.1, 0.9]) == pytest.approx(0.575)
    assert lc.losses.pinball_q([1.0, 2.0], q, levels=[0.1, 0.9], level=0.9) == pytest.approx(0.075)


def test_coverage_gates_both_ways(run, tmp_path):
    path = _write(_interval_frame(), tmp_path)
    low = run("compute", path, "--fail-below", "coverage=0.95")
    assert low.exit_code == 3 and "coverage" in low.stderr
    high = run("compute", path, "--fail-above", "coverage=0.5")
    assert high.exit_code == 3
    fine = run("compute", path, "--fail-below", "coverage=0.5", "--fail-above", "coverage=0.99")
    assert fine.exit_code == 0, fine.stderr


def test_compare_reports_coverage_but_never_ranks_it(run_json, tmp_path):
    """Coverage is best at its nominal level: compare shows it, with no rank (null),
    no difference to a best model, and no place in the rankings or the agreement."""
    out = run_json("compare", _write(_interval_frame(), tmp_path))
    rows = {r["loss"]: r for r in out["results"]}
    assert rows["coverage"]["rank"] is None
    assert rows["coverage"]["diff_to_best"] is None
    assert rows["interval_score"]["rank"] == 1
    assert set(out["rankings"]) == {"mean_width", "interval_score"}
    assert set(out["agreement"]["best_by_loss"]) == {"mean_width", "interval_score"}


def test_loss_info_says_what_the_figures_are(run):
    out = run("info", "coverage")
    assert "closer to the nominal level is better" in out.stdout
    out = run("info", "crps_quantile")
    assert "twice the pinball" in out.stdout and "approximation" in out.stdout
    out = run("info", "interval_score")
    assert "Gneiting & Raftery (2007), eq. 43" in " ".join(out.stdout.split())


def test_the_figures_declared_properties():
    """What the registration table gives each figure (its defaults are shared ones)."""
    from losscli.core.registry import Direction, Task, get_loss

    want = {  # name: (task, unit, convex, smooth, probabilistic, zero at perfect, direction)
        "coverage": (Task.INTERVAL, "", False, False, True, False, Direction.NOMINAL),
        "mean_width": (Task.INTERVAL, "target", False, True, False, False, Direction.LOWER),
        "interval_score": (Task.INTERVAL, "target", True, False, True, False, Direction.LOWER),
        "pinball_q": (Task.QUANTILE, "target", True, False, True, True, Direction.LOWER),
        "crps_quantile": (Task.QUANTILE, "target", True, False, True, True, Direction.LOWER),
    }
    for name, (task, unit, convex, smooth, probabilistic, zero, direction) in want.items():
        spec = get_loss(name)
        p = spec.properties
        assert (spec.task, spec.unit, spec.default, spec.direction) == (task, unit, True, direction)
        assert (p.convex, p.smooth, p.probabilistic, p.zero_at_perfect) == (
            convex, smooth, probabilistic, zero
        )  # fmt: skip
        assert p.robust and not p.margin_based and not p.sparse and p.nonnegative


# --------------------------------------------------------------------------- bad input


def _error(out, code):
    assert out.exit_code == code, (out.exit_code, out.stderr)
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("Error:") and "Traceback" not in out.stderr
    return lines[-1]


def test_lower_above_upper_names_the_row(run, tmp_path):
    frame = _interval_frame(n=50)
    frame.loc[7, ["y_lower", "y_upper"]] = [12.0, 11.0]
    line = _error(run("compute", _write(frame, tmp_path)), 1)
    assert "column y_lower: 12 at row 8 is above y_upper = 11" in line


@pytest.mark.parametrize(
    "args, message",
    [
        (["--interval-level", "1.5"], "--interval-level"),
        (["--interval-level", "0"], "--interval-level"),
        (["--interval-cols", "y_lower"], "--interval-cols needs two different column names"),
        (["--interval-cols", "y_lower,y_lower"], "--interval-cols needs two different"),
    ],
)
def test_bad_interval_options_are_usage_errors(run, tmp_path, args, message):
    path = _write(_interval_frame(n=20), tmp_path)
    out = run("compute", path, *args)
    assert out.exit_code == 2 and out.stdout == "" and message in out.stderr


def test_missing_interval_column(run, tmp_path):
    path = _write(_interval_frame(n=20), tmp_path)
    line = _error(run("compute", path, "--interval-cols", "lo,hi"), 1)
    assert "lo" in line and "--interval-cols" in line


@pytest.mark.parametrize(
    "column, message",
    [
        ("y_pred_q1.5", "quantile level 1.5 is outside (0, 1)"),
        ("y_pred_q0", "quantile level 0 is outside (0, 1)"),
        ("y_pred_qx", "quantile columns are named y_pred_q<level>"),
        ("y_pred_q0.50", "give the same quantile level 0.5"),
    ],
)
def test_malformed_quantile_columns(run, tmp_path, column, message):
    frame = _quantile_frame(n=20)
    frame[column] = frame["y_pred_q0.5"]
    line = _error(run("compute", _write(frame, tmp_path)), 1)
    assert message in line


def test_a_level_the_file_lacks_is_a_usage_error(run, tmp_path):
    path = _write(_quantile_frame(n=20), tmp_path)
    out = run("compute", path, "-l", "pinball_q0.3")
    line = _error(out, 2)
    assert "no quantile column of level 0.3 (levels: 0.1, 0.5, 0.9)" in line


def test_missing_values_follow_nan_policy(run, run_json, tmp_path):
    frame = _interval_frame(n=30)
    frame.loc[4, "y_upper"] = np.nan
    path = _write(frame, tmp_path)
    line = _error(run("compute", path), 1)
    assert "y_upper" in line and "row" in line
    out = run_json("compute", path, "--nan", "drop")
    assert out["n_rows"] == 29 and out["n_dropped"] == 1


def test_id_col_copies_columns_into_per_sample(run, tmp_path):
    path = tmp_path / "iv.csv"
    path.write_text("key,y_true,y_lower,y_upper\nr1,1,0.5,1.5\nr2,2,2.5,3\nr3,3,,4\n")
    out = tmp_path / "rows.csv"
    result = run("compute", path, "-l", "interval_score", "--interval-level", "0.5",
                 "--id-col", "key", "--nan", "drop", "--per-sample", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = pd.read_csv(out)
    assert list(rows.columns) == ["row", "key", "model", "interval_score"]
    assert rows["key"].tolist() == ["r1", "r2"]
    assert rows["interval_score"].tolist() == [1.0, 0.5 + 4 * 0.5]
