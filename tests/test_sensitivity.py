"""`loss sensitivity`: flagged rows known exactly, every figure against direct NumPy, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from losscli.analysis.outliers import flag_outliers
from losscli.analysis.sensitivity import (
    change_pct,
    growth_of,
    outlier_share,
    sensitivity,
    true_class_probability,
)
from losscli.core.registry import select_losses
from losscli.io import InputOptions, load_dataset
from losscli.report.sensitivity import fmt_pct, histogram_lines

OUTLIERS = SAMPLES / "regression_outliers.csv"
BINARY = SAMPLES / "binary_imbalanced.csv"

# Residuals with median 0 and MAD 1: |0.6745 r| > 3.5 <=> |r| > 5.189 flags rows 10, 11.
# Quartiles (numpy linear): Q1 = -1, Q3 = 1.25, IQR = 2.25; with k = 1 the fences are
# -3.25 and 3.5, which also flag row 9 (r = 4.5); with k = 1.5 they are -4.375, 4.625.
RESIDUALS = [0, 1, -1, 2, -2, 1, -1, 0, 4.5, 50, -40, 0]


def write_regression(tmp_path, residuals, weights=None, name="reg.csv"):
    y_pred = np.linspace(10, 20, len(residuals))
    y_true = y_pred + np.asarray(residuals, dtype=float)
    lines = ["y_true,y_pred" + (",w" if weights is not None else "")]
    for i, (t, p) in enumerate(zip(y_true, y_pred)):
        extra = f",{float(weights[i])!r}" if weights is not None else ""
        lines.append(f"{float(t)!r},{float(p)!r}{extra}")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def report_for(path, losses=None, rule="mad", threshold=None, **options):
    dataset = load_dataset(str(path), InputOptions(**options))
    selections = select_losses(losses, dataset.task, dataset.features)
    return dataset, sensitivity(dataset, selections, rule=rule, threshold=threshold)


def result(report, loss, model="y_pred"):
    return next(r for r in report.results if r.loss == loss and r.model == model)


def injected(report, loss, k, model="y_pred"):
    return next(i for i in report.injection if i.loss == loss and i.k == k and i.model == model)


# --------------------------------------------------------------------------- flagging


def test_mad_rule_flags_exactly_the_known_rows(tmp_path):
    _, rep = report_for(write_regression(tmp_path, RESIDUALS), ["mse"])
    o = rep.outliers[0]
    assert o.rows == [10, 11]
    assert (o.rule, o.threshold, o.count) == ("mad", 3.5, 2)
    assert o.fraction == pytest.approx(2 / 12)
    assert o.center == pytest.approx(0.0, abs=1e-12)
    assert o.scale == pytest.approx(1.4826)
    assert not o.fallback
    assert o.upper == pytest.approx(3.5 / 0.6745, rel=1e-9)


@pytest.mark.parametrize(("threshold", "rows"), [(None, [10, 11]), (1.0, [9, 10, 11])])
def test_iqr_rule_flags_exactly_the_known_rows(tmp_path, threshold, rows):
    _, rep = report_for(write_regression(tmp_path, RESIDUALS), ["mse"], "iqr", threshold)
    o = rep.outliers[0]
    assert o.rows == rows
    k = 1.5 if threshold is None else threshold
    assert (o.rule, o.threshold) == ("iqr", k)
    assert o.lower == pytest.approx(-1 - k * 2.25, abs=1e-9)
    assert o.upper == pytest.approx(1.25 + k * 2.25, abs=1e-9)


def test_mad_zero_uses_the_documented_fallback(tmp_path):
    residuals = [0, 0, 0, 0, 0, 0, 1, -1, 10]
    flags = flag_outliers(np.array(residuals, dtype=float))
    mean_ad = 12 / 9
    assert flags.fallback
    assert flags.scale == pytest.approx(1.2533 * mean_ad)
    assert flags.mask.tolist() == [False] * 8 + [True]
    _, rep = report_for(write_regression(tmp_path, residuals), ["mse"])
    assert rep.outliers[0].rows == [9]
    assert rep.outliers[0].fallback
    assert any("MAD of the residuals is 0" in w for w in rep.warnings)
    assert injected(rep, "mse", 10).residual == pytest.approx(10 * 1.2533 * mean_ad)


def test_no_spread_flags_nothing_and_injects_with_scale_one(tmp_path):
    _, rep = report_for(write_regression(tmp_path, [0.0] * 6), ["mae"])
    assert rep.outliers[0].rows == []
    assert injected(rep, "mae", 5).residual == 5.0
    # mae 0 -> 5/7 with one extra row: change from a zero value is undefined (null).
    assert injected(rep, "mae", 5).change_pct is None
    assert result(rep, "mae").change_pct == 0.0


def write_binary(tmp_path, y, p, name="bin.csv"):
    lines = ["y_true,y_pred"] + [f"{a},{float(b)!r}" for a, b in zip(y, p)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_binary_confidently_wrong_rows(tmp_path):
    y = [1, 0, 1, 0, 1, 0]
    p = [0.9, 0.2, 0.005, 0.995, 0.6, 0.0099]
    path = write_binary(tmp_path, y, p)
    ds, rep = report_for(path, ["bce"])
    assert np.allclose(true_class_probability(ds, "y_pred"), [0.9, 0.8, 0.005, 0.005, 0.6, 0.9901])
    assert rep.outliers[0].rows == [3, 4]
    assert rep.outliers[0].rule == "p_true"
    _, rep = report_for(path, ["bce"], threshold=0.001)
    assert rep.outliers[0].rows == []
    _, rep = report_for(path, ["bce"], threshold=0.2)
    assert rep.outliers[0].rows == [3, 4]
    _, rep = report_for(path, ["bce"], threshold=0.7)
    assert rep.outliers[0].rows == [3, 4, 5]


def test_binary_from_logits_flags_the_same_rows(tmp_path):
    y = [1, 0, 1, 0, 1, 0]
    p = np.array([0.9, 0.2, 0.005, 0.995, 0.6, 0.3])
    z = np.log(p / (1 - p))
    _, rep = report_for(write_binary(tmp_path, y, list(z)), ["bce"], from_logits=True)
    assert rep.outliers[0].rows == [3, 4]


def test_multiclass_confidently_wrong_rows(tmp_path):
    rows = [
        ("cat", 0.8, 0.1, 0.1),
        ("dog", 0.995, 0.004, 0.001),  # P(dog) = 0.004: flagged
        ("bird", 0.3, 0.3, 0.4),
        ("bird", 0.5, 0.495, 0.005),  # P(bird) = 0.005: flagged
        ("cat", 0.01, 0.5, 0.49),  # exactly 0.01 is not below the threshold
    ]
    text = "y_true,y_pred_cat,y_pred_dog,y_pred_bird\n" + "".join(
        f"{a},{b},{c},{d}\n" for a, b, c, d in rows
    )
    path = tmp_path / "multi.csv"
    path.write_text(text)
    _, rep = report_for(path, ["cce"])
    assert rep.outliers[0].rows == [2, 4]
    # The synthetic row: class 0 with logit -k, the others 0.
    k = 10.0
    q0 = math.exp(-k) / (math.exp(-k) + 2)
    i = injected(rep, "cce", k)
    assert i.p_true == pytest.approx(q0)
    t = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [1, 0, 0]], dtype=float)
    q = np.array([r[1:] for r in rows])
    base = np.mean(-np.sum(t * np.log(q), axis=1))
    with_row = (np.sum(-np.sum(t * np.log(q), axis=1)) - math.log(q0)) / 6
    assert i.value == pytest.approx(with_row, rel=1e-12)
    assert i.change_pct == pytest.approx(100 * (with_row - base) / base, rel=1e-10)


def test_zero_weight_rows_are_never_flagged(tmp_path):
    residuals = RESIDUALS + [500.0]
    weights = [1.0] * len(RESIDUALS) + [0.0]
    _, rep = report_for(write_regression(tmp_path, residuals, weights), ["mse"], weight_col="w")
    assert rep.outliers[0].rows == [10, 11]
    assert rep.outliers[0].n_considered == 12
    _, plain = report_for(write_regression(tmp_path, RESIDUALS, name="b.csv"), ["mse"])
    assert result(rep, "mse").value == pytest.approx(result(plain, "mse").value, rel=1e-12)
    assert injected(rep, "mse", 50).value == pytest.approx(
        injected(plain, "mse", 50).value, rel=1e-12
    )


# --------------------------------------------------------------------------- figures


def direct(values, w, mask):
    total = np.sum(w * values)
    value = total / np.sum(w)
    without = np.sum(w[~mask] * values[~mask]) / np.sum(w[~mask])
    contrib = w * values
    k = int(np.ceil(0.01 * values.size))
    top1 = np.sum(np.sort(contrib)[-k:]) / total
    return value, without, np.sum(contrib[mask]) / total, top1


@pytest.mark.parametrize("weighted", [False, True])
def test_every_figure_equals_direct_numpy(weighted):
    options = {"pred_cols": ("y_pred", "model_b")}
    if weighted:
        options["weight_col"] = "weight"
    losses = ["mse,mae,rmse,huber:delta=5,max_error,mbe,median_ae"]
    ds, rep = report_for(OUTLIERS, losses, **options)
    w = ds.weights if weighted else np.ones(ds.n_rows)
    mean_w = float(np.mean(w))
    for model in ("y_pred", "model_b"):
        r = ds.y_true - ds.models[model]
        med = np.median(r)
        mad = np.median(np.abs(r - med))
        mask = np.abs(0.6745 * (r - med) / mad) > 3.5
        o = next(o for o in rep.outliers if o.model == model)
        assert o.mask.tolist() == mask.tolist()
        assert o.rows == (np.flatnonzero(mask) + 1).tolist()
        scale = 1.4826 * mad
        huber = np.where(np.abs(r) <= 5, 0.5 * r**2, 5 * (np.abs(r) - 2.5))
        for loss, terms in (("mse", r**2), ("mae", np.abs(r)), ("huber", huber)):
            value, without, share, top1 = direct(terms, w, mask)
            got = result(rep, loss, model)
            assert got.value == pytest.approx(value, rel=1e-12)
            assert got.value_without_outliers == pytest.approx(without, rel=1e-12)
            assert got.change_pct == pytest.approx(100 * (value - without) / without, rel=1e-10)
            assert got.outlier_share == pytest.approx(share, rel=1e-12)
            assert got.top1pct_share == pytest.approx(top1, rel=1e-12)
        # rmse: sqrt of the weighted mean; its share is that of the squared errors.
        value, without, share, _ = direct(r**2, w, mask)
        got = result(rep, "rmse", model)
        assert got.value == pytest.approx(math.sqrt(value), rel=1e-12)
        assert got.value_without_outliers == pytest.approx(math.sqrt(without), rel=1e-12)
        assert got.outlier_share == pytest.approx(share, rel=1e-12)
        # mbe: signed; its shares are those of abs(e), change_pct the SPEC formula as is.
        value, without, _, _ = direct(r, w, mask)
        _, _, share, top1 = direct(np.abs(r), w, mask)
        got = result(rep, "mbe", model)
        assert got.value == pytest.approx(value, rel=1e-12)
        assert got.change_pct == pytest.approx(100 * (value - without) / without, rel=1e-9)
        assert got.outlier_share == pytest.approx(share, rel=1e-12)
        assert got.top1pct_share == pytest.approx(top1, rel=1e-12)
        if not weighted:
            got = result(rep, "median_ae", model)
            assert got.value == pytest.approx(np.median(np.abs(r)), rel=1e-12)
            assert got.value_without_outliers == pytest.approx(np.median(np.abs(r[~mask])))
        got = result(rep, "max_error", model)
        assert got.value == pytest.approx(np.max(np.abs(r)))
        assert got.value_without_outliers == pytest.approx(np.max(np.abs(r[~mask])))
        # Injection: one row, residual k x 1.4826 MAD, the mean weight.
        for k in (5.0, 10.0, 50.0, 100.0):
            e = k * scale
            base = np.sum(w * r**2) / np.sum(w)
            with_row = (np.sum(w * r**2) + mean_w * e**2) / (np.sum(w) + mean_w)
            i = injected(rep, "mse", k, model)
            assert i.residual == pytest.approx(e, rel=1e-12)
            assert i.value == pytest.approx(with_row, rel=1e-12)
            assert i.change_pct == pytest.approx(100 * (with_row - base) / base, rel=1e-9)
            base = np.sum(w * np.abs(r)) / np.sum(w)
            with_row = (np.sum(w * np.abs(r)) + mean_w * e) / (np.sum(w) + mean_w)
            assert injected(rep, "mae", k, model).change_pct == pytest.approx(
                100 * (with_row - base) / base, rel=1e-9
            )
            top = max(np.max(np.abs(r)), e)
            assert injected(rep, "max_error", k, model).value == pytest.approx(top)


def test_binary_figures_and_injection_equal_direct_numpy():
    ds, rep = report_for(BINARY, ["bce,brier"])
    y, p = ds.y_true, ds.models["y_pred"]
    p_true = np.where(y == 1, p, 1 - p)
    mask = p_true < 0.01
    assert rep.outliers[0].rows == (np.flatnonzero(mask) + 1).tolist()
    eps = np.finfo(float).eps
    bce = -np.log(np.clip(p_true, eps, 1))
    value, without, share, top1 = direct(bce, np.ones_like(bce), mask)
    got = result(rep, "bce")
    assert got.value == pytest.approx(value, rel=1e-12)
    assert got.value_without_outliers == pytest.approx(without, rel=1e-12)
    assert got.outlier_share == pytest.approx(share, rel=1e-12)
    assert got.top1pct_share == pytest.approx(top1, rel=1e-12)
    brier = (1 - p_true) ** 2
    value_b, without_b, share_b, top1_b = direct(brier, np.ones_like(brier), mask)
    got = result(rep, "brier")
    assert (got.value, got.value_without_outliers) == pytest.approx((value_b, without_b))
    assert (got.outlier_share, got.top1pct_share) == pytest.approx((share_b, top1_b))
    for k in (5.0, 10.0, 50.0, 100.0):
        p_row = 1 / (1 + math.exp(k))
        expected_b = (np.sum(brier) + (1 - p_row) ** 2) / (brier.size + 1)
        assert injected(rep, "brier", k).value == pytest.approx(expected_b, rel=1e-12)
        row = -math.log(max(p_row, eps))
        expected = (np.sum(bce) + row) / (bce.size + 1)
        i = injected(rep, "bce", k)
        assert i.p_true == pytest.approx(p_row)
        assert i.change_pct == pytest.approx(100 * (expected - value) / value, rel=1e-9)
    # Clipping: beyond k = -ln(eps) ~ 36 the probability loss stops growing.
    assert injected(rep, "bce", 50.0).value == injected(rep, "bce", 100.0).value


def test_logit_injection_grows_linearly_without_clipping(tmp_path):
    path = SAMPLES / "binary_logits.csv"
    ds, rep = report_for(path, ["bce"], from_logits=True)
    z, y = ds.models["y_pred"], ds.y_true
    per_row = np.logaddexp(0, z) - y * z
    value = per_row.mean()
    for k in (10.0, 100.0):
        expected = (per_row.sum() + np.logaddexp(0, k)) / (per_row.size + 1)
        assert injected(rep, "bce", k).value == pytest.approx(expected, rel=1e-12)
    assert result(rep, "bce").growth == "linear"
    assert result(rep, "bce").value == pytest.approx(value, rel=1e-12)


# --------------------------------------------------------------------------- verdicts


def test_verdicts_on_the_sample_with_outliers():
    _, rep = report_for(OUTLIERS, None)
    verdicts = {r.loss: r.verdict for r in rep.results}
    assert verdicts["mse"] == verdicts["rmse"] == verdicts["max_error"] == "sensitive"
    assert verdicts["mae"] == verdicts["huber"] == verdicts["median_ae"] == "robust"
    growth = {r.loss: r.growth for r in rep.results}
    assert growth["mse"] == "quadratic" and growth["mae"] == "linear"
    assert growth["median_ae"] == "bounded" and growth["max_error"] == "jump"
    mse = result(rep, "mse")
    assert any("+1157%" in reason for reason in mse.reasons)


def test_max_error_is_always_sensitive_and_small_data_ignore_top1(tmp_path):
    _, rep = report_for(SAMPLES / "regression_clean.csv", ["max_error,mae"])
    assert result(rep, "max_error").growth == "linear"  # on clean data k=10 already exceeds
    assert result(rep, "max_error").verdict == "sensitive"
    assert "one row sets it" in result(rep, "max_error").reasons[0]
    assert result(rep, "mae").verdict == "robust"
    # 12 rows: "the worst 1%" is one row; it is not a verdict criterion below 100 rows.
    _, rep = report_for(write_regression(tmp_path, [0.1, -0.1] * 6), ["mae"])
    assert result(rep, "mae").top1pct_share == pytest.approx(1 / 12)
    _, rep = report_for(write_regression(tmp_path, [0.0] * 11 + [0.5], name="c.csv"), ["mae"])
    assert result(rep, "mae").top1pct_share == 1.0
    assert not any("worst 1%" in r for r in result(rep, "mae").reasons)


def test_growth_of_and_change_pct_edge_cases():
    assert growth_of({10.0: 1.0, 100.0: 100.0}) == ("quadratic", 100.0, pytest.approx(2.0))
    assert growth_of({10.0: 1.0, 100.0: 10.0}) == ("linear", 10.0, pytest.approx(1.0))
    assert growth_of({10.0: 1.0, 100.0: 1.0}) == ("bounded", 1.0, 0.0)
    assert growth_of({10.0: 0.0, 100.0: 5.0}) == ("jump", math.inf, None)
    assert growth_of({10.0: 0.0, 100.0: 0.0}) == ("bounded", None, None)
    assert growth_of({10.0: None, 100.0: 1.0}) == ("bounded", None, None)
    # The large-k probe decides the exponent: ~k^2 at small k, ~k once the row dominates.
    probe = {1e3: 10.0, 1e4: 100.0, 1e5: 1000.0}
    assert growth_of({10.0: 1.0, 100.0: 100.0}, probe) == ("linear", 100.0, pytest.approx(1.0))
    assert change_pct(3.0, 2.0) == 50.0
    assert change_pct(0.0, 0.0) == 0.0
    assert change_pct(1.0, 0.0) is None
    assert change_pct(1.0, math.nan) is None
    assert change_pct(-0.4, -0.2) == pytest.approx(100.0)  # signed: the SPEC formula as is
    assert fmt_pct(None) == "n/a" and fmt_pct(1157.3) == "+1157%" and fmt_pct(0.001) == "0%"


def test_histogram_counts_every_row_and_marks_the_flagged(tmp_path):
    _, rep = report_for(OUTLIERS, ["mse"])
    h = rep.histograms[0]
    assert sum(h.counts) == 500
    assert sum(h.flagged) == rep.outliers[0].count == 15
    assert len(h.edges) == len(h.counts) + 1 == 61
    lines = histogram_lines(h)
    assert all(len(line) <= 80 for line, _ in lines)
    assert any("▒" in line for line, _ in lines)
    assert "┴" in lines[-2][0]


# --------------------------------------------------------------------------- CLI


def test_cli_json_follows_the_spec(run_json):
    out = run_json("sensitivity", OUTLIERS, "--pred-col", "y_pred", "--pred-col", "model_b")
    assert out["command"] == "sensitivity"
    assert out["task"] == "regression" and out["n_rows"] == 500
    o = out["outliers"]
    assert {"rule", "threshold", "count", "fraction", "rows"} <= set(o)
    assert (o["rule"], o["threshold"], o["count"]) == ("mad", 3.5, 15)
    assert o["fraction"] == pytest.approx(0.03)
    assert o["model"] == "y_pred"
    assert set(out["outliers_by_model"]) == {"y_pred", "model_b"}
    assert out["outliers_by_model"]["y_pred"] == o
    keys = {
        "loss",
        "params",
        "model",
        "value",
        "value_without_outliers",
        "change_pct",
        "outlier_share",
        "top1pct_share",
    }
    assert len(out["results"]) == 16
    assert all(keys <= set(r) for r in out["results"])
    assert all(r["verdict"] in ("robust", "sensitive") for r in out["results"])
    assert len(out["injection"]) == 16 * 4
    first = out["injection"][0]
    assert {"loss", "params", "scale", "change_pct", "model"} <= set(first)
    assert [i["scale"] for i in out["injection"][:4]] == [5, 10, 50, 100]


def test_cli_rows_list_at_most_100(tmp_path, run_json):
    residuals = [0.0, 1.0, -1.0] * 100 + [100.0] * 150
    out = run_json("sensitivity", write_regression(tmp_path, residuals), "-l", "mse")
    assert out["outliers"]["count"] == 150
    assert out["outliers"]["rows"] == list(range(301, 401))


def test_cli_iqr_and_threshold(tmp_path, run_json):
    path = write_regression(tmp_path, RESIDUALS)
    out = run_json("sensitivity", path, "--rule", "iqr", "--threshold", "1", "-l", "mae")
    assert out["outliers"]["rows"] == [9, 10, 11]
    assert (out["outliers"]["rule"], out["outliers"]["threshold"]) == ("iqr", 1.0)


def test_cli_binary(run_json):
    out = run_json("sensitivity", BINARY)
    assert out["task"] == "binary"
    assert out["outliers"]["rule"] == "p_true" and out["outliers"]["threshold"] == 0.01
    assert out["outliers"]["rows"] == [304]
    assert [r["loss"] for r in out["results"]] == [
        "bce",
        "brier",
        "focal",
    ]  # no margin loss on probabilities


def test_cli_table_reads_at_80_columns(run, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    res = run("sensitivity", OUTLIERS)
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    text = res.stdout
    for expected in ("Outliers in y_pred: 15 of 500 rows", "▒", "Injection", "Verdicts"):
        assert expected in text
    assert "sensitive" in text and "robust" in text
    res = run("sensitivity", BINARY, "--pred-col", "y_pred", "--pred-col", "model_b")
    assert res.exit_code == 0
    assert max(len(line) for line in res.stdout.splitlines()) <= 80
    assert "Confidently wrong rows in y_pred: 1 of 1,000 (0.1%), P(true class) < 0.01" in res.stdout


def test_cli_csv_and_markdown(run):
    res = run("sensitivity", OUTLIERS, "-l", "mse,mae", "--format", "csv")
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0].startswith("loss,params,model,value,value_without_outliers,change_pct")
    assert len(lines) == 3 and lines[1].startswith("mse,,y_pred,")
    res = run("sensitivity", OUTLIERS, "-l", "mse,mae", "--format", "markdown")
    assert res.stdout.startswith("| loss | params | model | value |")
    assert len(res.stdout.splitlines()) == 4


def test_cli_missing_file(run, tmp_path):
    res = run("sensitivity", tmp_path / "nope.csv")
    assert res.exit_code == 1
    assert res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith("Error: ")


@pytest.mark.parametrize(
    "args",
    [
        ("--rule", "zscore"),
        ("--threshold", "0"),
        ("--threshold", "abc"),
        ("-l", "msee"),
    ],
)
def test_cli_usage_errors(run, args):
    res = run("sensitivity", OUTLIERS, *args)
    assert res.exit_code == 2
    assert res.stdout == ""


def test_cli_classification_threshold_must_be_a_probability(run):
    res = run("sensitivity", BINARY, "--threshold", "3.5")
    assert res.exit_code == 2
    assert "probability" in res.stderr


def test_cli_rule_on_classification_is_a_note(run):
    res = run("sensitivity", BINARY, "--rule", "iqr", "--format", "json")
    assert res.exit_code == 0
    assert "--rule applies to regression" in res.stderr
    assert json.loads(res.stdout)["outliers"]["rule"] == "p_true"


def test_cli_domain_error_is_exit_1(run, tmp_path):
    path = write_regression(tmp_path, [0.0, 1.0, -30.0])  # y_true = 10 - 30 < 0 in row 3
    res = run("sensitivity", path, "-l", "poisson")
    assert res.exit_code == 1
    assert res.stdout == ""
    assert res.stderr.startswith("Error: loss poisson")


def test_cli_scores_outside_0_1_need_from_logits(run):
    # A probability loss on raw scores: the probability rule cannot apply.
    res = run("sensitivity", SAMPLES / "hinge_labels.csv", "-l", "hinge,bce")
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: loss sensitivity reads the predictions of y_pred")
    assert "--from-logits" in res.stderr
    res = run("sensitivity", SAMPLES / "hinge_labels.csv", "-l", "hinge", "--from-logits")
    assert res.exit_code == 0


def test_margin_losses_on_raw_scores_flag_by_margin(tmp_path, run, run_json):
    """hinge alone on raw scores: flagged when t s < logit(0.01) = -4.595, not an error."""
    out = run_json("sensitivity", SAMPLES / "hinge_labels.csv", "-l", "hinge")
    o = out["outliers"]
    assert o["rule"] == "margin" and o["p_true_below"] == 0.01
    assert o["margin_below"] == pytest.approx(math.log(0.01 / 0.99), rel=1e-12)
    ds = load_dataset(str(SAMPLES / "hinge_labels.csv"), InputOptions())
    t = 2 * ds.y_true - 1
    margin = t * ds.models["y_pred"]
    assert o["rows"] == (np.flatnonzero(margin < math.log(0.01 / 0.99)) + 1).tolist()
    # Known rows: margins 2, -1, -5 (flagged), 4.6 (t=-1, s=-4.6 is right), -4.6 (flagged).
    path = tmp_path / "scores.csv"
    path.write_text("y_true,y_pred\n1,2\n1,-1\n1,-5\n-1,-4.6\n-1,4.6\n")
    out = run_json("sensitivity", path, "-l", "hinge,squared_hinge")
    assert out["outliers"]["rows"] == [3, 5]
    hinge = [i for i in out["injection"] if i["loss"] == "hinge"]
    per_row = np.maximum(0, 1 - np.array([2, -1, -5, 4.6, -4.6]))
    for i in hinge:  # the synthetic row's raw score is -k: hinge 1 + k
        expected = (per_row.sum() + 1 + i["scale"]) / 6
        assert i["value"] == pytest.approx(expected, rel=1e-12)
    verdicts = {r["loss"]: (r["growth"], r["verdict"]) for r in out["results"]}
    assert verdicts["hinge"][0] == "linear" and verdicts["squared_hinge"][0] == "quadratic"
    out = run_json("sensitivity", path, "-l", "hinge", "--threshold", "0.5")
    assert out["outliers"]["rows"] == [2, 3, 5]  # margin < logit(0.5) = 0
    res = run("sensitivity", path, "-l", "hinge")
    assert res.exit_code == 0
    assert "margin t x score < -4.595" in res.stdout
    assert "Margin t x score" in res.stdout


def test_multiclass_hinge_on_raw_scores_reads_them_as_logits(tmp_path, run_json):
    rows = [("a", 0.0, 6.0, 0.0), ("b", 0.0, 2.0, 1.0), ("c", 3.0, 0.0, -4.0)]
    text = "y_true,y_pred_a,y_pred_b,y_pred_c\n" + "".join(
        f"{r[0]},{r[1]},{r[2]},{r[3]}\n" for r in rows
    )
    path = tmp_path / "mc.csv"
    path.write_text(text)
    out = run_json("sensitivity", path, "-l", "multiclass_hinge")
    assert out["raw_scores"] is True and out["outliers"]["rule"] == "p_true"
    # softmax: P(a | 0, 6, 0) = 0.0025 and P(c | 3, 0, -4) = 0.0009 are below 0.01.
    assert out["outliers"]["rows"] == [1, 3]
    assert sum(out["histograms"][0]["flagged"]) == 2


# --------------------------------------------------------------------------- QA defects


def test_probability_loss_bounded_only_by_clipping_is_sensitive(run_json):
    """bce on probabilities stops at -ln(eps) from k ~ 36: 'clipped', not robust."""
    ds, rep = report_for(BINARY, ["bce,brier,focal"])
    bce = result(rep, "bce")
    assert injected(rep, "bce", 50.0).change_pct == injected(rep, "bce", 100.0).change_pct
    assert bce.growth == "clipped" and bce.verdict == "sensitive"
    eps = np.finfo(float).eps
    assert bce.clip_eps == eps
    assert "bounded only by clipping at eps=2.22e-16" in bce.reasons[0]
    assert "stops at 36.04" in bce.reasons[0]
    assert bce.unclipped_exponent == pytest.approx(1.0, abs=0.01)  # ~k through logits
    assert result(rep, "focal").growth == "clipped"
    assert result(rep, "brier").growth == "bounded" and result(rep, "brier").verdict == "robust"
    # The unclipped view: the same row through logits, -log sigmoid(-k) = softplus(k).
    y, p = ds.y_true, ds.models["y_pred"]
    per_row = -np.log(np.clip(np.where(y == 1, p, 1 - p), eps, 1))
    for k in (10.0, 100.0):
        i = injected(rep, "bce", k)
        expected = (per_row.sum() + np.logaddexp(0, k)) / (per_row.size + 1)
        assert i.value_unclipped == pytest.approx(expected, rel=1e-12)
    # A larger eps clips sooner: sigmoid(-50) < 1e-7 but sigmoid(-10) is not.
    _, rep = report_for(BINARY, ["bce:eps=1e-7"])
    assert result(rep, "bce").clip_eps == 1e-7 and result(rep, "bce").verdict == "sensitive"
    out = run_json("sensitivity", BINARY, "-l", "bce")
    assert out["results"][0]["growth"] == "clipped"
    assert out["results"][0]["clip_eps"] == eps
    assert "change_pct_unclipped" in out["injection"][0]
    # From logits nothing is clipped: bce grows ~k (the logit test above).


def test_growth_label_is_the_measured_exponent(run, monkeypatch):
    """rmse is sqrt of a mean: ~k once the row dominates, not ~k^2."""
    _, rep = report_for(OUTLIERS, ["mse,rmse,mae,median_ae"])
    assert result(rep, "rmse").growth == "linear"
    assert result(rep, "rmse").growth_exponent == pytest.approx(1.0, abs=0.02)
    assert result(rep, "mse").growth_exponent == pytest.approx(2.0, abs=0.02)
    assert result(rep, "mae").growth_exponent == pytest.approx(1.0, abs=0.02)
    assert result(rep, "median_ae").growth_exponent == pytest.approx(0.0, abs=0.02)
    monkeypatch.setenv("COLUMNS", "80")
    res = run("sensitivity", OUTLIERS, "-l", "mse,rmse")
    rmse_line = next(
        line for line in res.stdout.splitlines() if line.startswith("rmse ") and "b=" in line
    )
    assert rmse_line.rstrip().endswith("~k (b=1.00)")
    assert "~k^2" not in rmse_line


def test_growth_text_names_the_power_measured():
    """A class is a verdict criterion (b >= 1.5 quadratic); the text is the power measured."""
    from losscli.analysis.sensitivity import growth_text

    assert growth_text("quadratic", 2.0) == "~k^2 (b=2.00)"
    assert growth_text("quadratic", 1.9) == "~k^2 (b=1.90)"
    assert growth_text("quadratic", 3.0) == "~k^3 (b=3.00)"
    assert growth_text("quadratic", 1.6) == "~k^1.6 (b=1.60)"
    assert growth_text("linear", 1.0) == "~k (b=1.00)"
    assert growth_text("linear", 0.5) == "~k^0.5 (b=0.50)"
    assert growth_text("quadratic", 123.4) == "~k^123 (b=123.40)"
    assert growth_text("quadratic", None) == "~k^2"
    assert growth_text("bounded", 0.0) == "bounded"
    assert growth_text("jump", None) == "jump"


def test_a_custom_loss_of_another_power_reads_as_that_power(run, tmp_path, monkeypatch):
    """|e|^3 was labelled '~k^2 (b=3.00)' and |e|^0.5 '~k (b=0.50)'."""
    module = tmp_path / "powers.py"
    module.write_text(
        "import numpy as np\n"
        "def cubic(y_true, y_pred):\n"
        "    return np.abs(np.asarray(y_true) - np.asarray(y_pred)) ** 3\n"
        "def root(y_true, y_pred):\n"
        "    return np.abs(np.asarray(y_true) - np.asarray(y_pred)) ** 0.5\n"
    )
    monkeypatch.setenv("COLUMNS", "120")
    res = run(
        "sensitivity", OUTLIERS, "-l", "mse", "--custom", f"{module}:cubic",
        "--custom", f"{module}:root",
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    cubic = [x for x in lines if x.strip().startswith("cubic")]
    root = [x for x in lines if x.strip().startswith("root")]
    assert any(x.rstrip().endswith("~k^3 (b=3.00)") for x in cubic)  # the injection table
    assert any("moves it ~k^3 (growth exponent 3.00" in x for x in cubic)  # the verdict
    assert any(x.rstrip().endswith("~k^0.5 (b=0.50)") for x in root)
    assert any("moves it ~k^0.5 (growth exponent 0.50" in x for x in root)
    assert "~k^2 (b=3" not in res.stdout and "~k (b=0.5" not in res.stdout


def test_signed_loss_reads_as_a_bias_and_documents_its_share(run, run_json, monkeypatch):
    _, rep = report_for(OUTLIERS, ["mbe"])
    mbe = result(rep, "mbe")
    v, w = mbe.value, mbe.value_without_outliers
    assert mbe.change_pct == pytest.approx(100 * (v - w) / w)  # SPEC formula kept
    assert mbe.abs_change_pct == pytest.approx(100 * (abs(v) - abs(w)) / abs(w))
    assert any(f"move the bias from {w:.5g} to {v:.5g}" in r for r in mbe.reasons)
    out = run_json("sensitivity", OUTLIERS, "-l", "mbe,mae")
    by = {r["loss"]: r for r in out["results"]}
    assert by["mbe"]["share_of"] == "sum of |per-sample terms|"
    assert by["mae"]["share_of"] == "sum of per-sample terms"
    assert by["mbe"]["abs_change_pct"] == pytest.approx(mbe.abs_change_pct)
    monkeypatch.setenv("COLUMNS", "80")
    res = run("sensitivity", OUTLIERS, "-l", "mbe")
    flat = " ".join(res.stdout.split())  # the footnote wraps to the width
    assert "* mbe is signed: the flagged rows move the bias from" in flat
    assert "shares are of sum |e|" in flat
    # The injection cells are the bias with the row, not a % of a negative value.
    k5 = injected(rep, "mbe", 5.0).value
    line = next(x for x in res.stdout.splitlines() if x.startswith("mbe ") and "=" in x)
    assert f"={k5:+.4g}" in line
    assert "-33.6%" not in res.stdout


def test_table_and_verdict_share_one_precision(run, monkeypatch):
    """hinge: the table's 0% and the verdict's figure are the same text."""
    _, rep = report_for(BINARY, ["hinge"])
    hinge = result(rep, "hinge")
    assert 0 < abs(hinge.change_pct) < 0.005
    assert fmt_pct(hinge.change_pct) == "0%"
    assert hinge.reasons[-1] == "the flagged rows change it by only 0%"
    monkeypatch.setenv("COLUMNS", "80")
    res = run("sensitivity", BINARY, "-l", "hinge")
    assert "0.00187" not in res.stdout


def test_generative_data_are_refused_not_counted_as_rows(run):
    """GAN columns are two samples, not rows: sensitivity says it does not apply."""
    res = run("sensitivity", SAMPLES / "gan_outputs.csv")
    assert res.exit_code == 1
    assert "rows used" not in res.stdout
    assert res.stderr.startswith("Error: loss sensitivity needs regression, binary or multiclass")


@pytest.mark.parametrize(
    "command",
    [
        "loss sensitivity sample_data/regression_outliers.csv",
        "loss sensitivity sample_data/binary_imbalanced.csv -l bce,brier",
    ],
)
def test_readme_shows_the_real_output(run, monkeypatch, command):
    readme = (SAMPLES.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"$ {command}\n") + len(command) + 3
    shown = readme[start : readme.index("```", start)]
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(SAMPLES.parent)
    res = run(*command.split()[1:])
    assert res.exit_code == 0
    got = [line.rstrip() for line in res.stdout.splitlines()]
    assert [line.rstrip() for line in shown.splitlines()] == got


def test_flagged_rows_are_file_rows_after_nan_drop(tmp_path, run_json):
    path = tmp_path / "gaps.csv"
    path.write_text("y_true,y_pred\n1,1\n2,\n3,3\n4,4.1\n5,5\n6,6.1\n7,7\n8,80\n")
    out = run_json("sensitivity", path, "--nan", "drop", "-l", "mae")
    assert (out["n_rows"], out["n_dropped"]) == (7, 1)
    assert out["outliers"]["rows"] == [8]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=3, max_size=60),
    st.sampled_from(["mad", "iqr"]),
)
def test_flags_and_figures_match_numpy_on_random_residuals(residuals, rule):
    r = np.asarray(residuals)
    flags = flag_outliers(r, rule)
    med = np.median(r)
    mad = np.median(np.abs(r - med))
    if rule == "iqr":
        q1, q3 = np.percentile(r, [25, 75])
        expected = (r < q1 - 1.5 * (q3 - q1)) | (r > q3 + 1.5 * (q3 - q1))
    elif mad > 0:
        with np.errstate(over="ignore"):  # past float64: inf, flagged
            expected = np.abs(0.6745 * (r - med) / mad) > 3.5
    else:
        sigma = 1.2533 * np.mean(np.abs(r - med))
        expected = np.abs(r - med) / sigma > 3.5 if sigma > 0 else np.zeros(r.size, bool)
    assert flags.mask.tolist() == expected.tolist()
    share = outlier_share(r**2, None, flags.mask)
    total = np.sum(r**2)
    if total > 0:
        assert share == pytest.approx(np.sum(r[flags.mask] ** 2) / total, rel=1e-12, abs=1e-300)
        assert 0.0 <= share <= 1.0


# --------------------------------------------------------------------------- QA pass


def test_signed_change_column_shows_specs_change_pct(run, run_json, monkeypatch):
    """mbe flips sign: the change column is SPEC's change_pct in every format."""
    args = ("sensitivity", OUTLIERS, "-l", "mbe", "--weight-col", "weight")
    mbe = run_json(*args)["results"][0]
    assert mbe["change_pct"] == pytest.approx(-353.3, abs=0.05)
    assert mbe["abs_change_pct"] == pytest.approx(153.3, abs=0.05)
    monkeypatch.setenv("COLUMNS", "80")
    table = run(*args).stdout
    row = next(line for line in table.splitlines() if line.startswith("mbe*"))
    assert fmt_pct(mbe["change_pct"]) == "-353%"
    assert "-353%" in row and "+153%" not in row
    flat = " ".join(table.split())
    assert "(|bias| +153%)" in flat  # the |bias| reading: footnote and verdict only
    csv_out = run(*args, "--format", "csv").stdout.splitlines()
    header, values = csv_out[0].split(","), csv_out[1].split(",")
    cells = dict(zip(header, values))
    assert float(cells["change_pct"]) == pytest.approx(mbe["change_pct"])
    assert float(cells["abs_change_pct"]) == pytest.approx(mbe["abs_change_pct"])


NARROW = [
    ("multiclass_probs.csv",),
    ("regression_outliers.csv", "--pred-col", "y_pred", "--pred-col", "model_b"),
    ("binary_imbalanced.csv", "--pred-col", "y_pred", "--pred-col", "model_b"),
]


@pytest.mark.parametrize("width", [80, 70, 60])
@pytest.mark.parametrize("args", NARROW, ids=[a[0] for a in NARROW])
def test_no_number_is_cut_at_any_width(run, run_json, monkeypatch, width, args):
    from losscli.report.format import fmt_number

    file, *rest = args
    monkeypatch.setenv("COLUMNS", str(width))
    res = run("sensitivity", SAMPLES / file, *rest)
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    assert not any("…" in line for line in lines)
    # The histogram fits: every line with a bar is a chart line, none re-wrapped.
    for line in lines:
        if ("█" in line or "▒" in line) and not line.startswith("▒ ="):
            assert line.lstrip(" 0123456789")[:1] in ("┤", "│"), line
    # Every number of the JSON results is in the table, whole.
    flat = " ".join(res.stdout.split())
    out = run_json("sensitivity", SAMPLES / file, *rest)
    for r in out["results"]:
        assert fmt_number(r["value"]) in flat
        assert fmt_number(r["value_without_outliers"]) in flat
        assert fmt_pct(r["change_pct"]) in flat
    # The legend is prose wrapped to the width, not lines broken by hand.
    legend = next(i for i, line in enumerate(lines) if line.startswith("sensitive = a max"))
    assert len(lines[legend]) > width - 12
    assert "bounded only by clipping at eps" in flat


def test_histogram_fills_the_console_width(run, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    res = run("sensitivity", OUTLIERS, "-l", "mse")
    axis = next(line for line in res.stdout.splitlines() if "└" in line)
    assert 50 <= len(axis) <= 60
    assert "56 bins of" in res.stdout


SCALAR_LOSS = """
import numpy as np

def mean_only(y_true, y_pred):
    return float(np.mean((y_true - y_pred) ** 2))

def per_row(y_true, y_pred):
    return (y_true - y_pred) ** 2
"""


def test_scalar_custom_loss_has_no_shares_and_no_verdict(tmp_path, run, run_json, monkeypatch):
    """SPEC 3: a custom loss may return one number; it has no per-row breakdown."""
    code = tmp_path / "user_losses.py"
    code.write_text(SCALAR_LOSS)
    args = ("sensitivity", OUTLIERS, "-l", "mse", "--custom", f"{code}:mean_only")
    out = run_json(*args, "--custom", f"{code}:per_row")
    by = {r["loss"]: r for r in out["results"]}
    mse, scalar, per_row = by["mse"], by["mean_only"], by["per_row"]
    # Called again on the rows kept: the same numbers as mse, but no shares.
    assert scalar["value"] == pytest.approx(mse["value"], rel=1e-12)
    assert scalar["value_without_outliers"] == pytest.approx(
        mse["value_without_outliers"], rel=1e-12
    )
    assert scalar["change_pct"] == pytest.approx(mse["change_pct"], rel=1e-9)
    assert scalar["outlier_share"] is None and scalar["top1pct_share"] is None
    assert scalar["verdict"] == "no verdict"
    assert per_row["outlier_share"] == pytest.approx(mse["outlier_share"])
    assert per_row["verdict"] == mse["verdict"]
    # The injection calls it on the data plus the synthetic row.
    inj = {(i["loss"], i["scale"]): i["change_pct"] for i in out["injection"]}
    for k in (5, 10, 50, 100):
        assert inj[("mean_only", k)] == pytest.approx(inj[("mse", k)], rel=1e-9)
    monkeypatch.setenv("COLUMNS", "80")
    table = run(*args).stdout
    row = next(line for line in table.splitlines() if line.startswith("mean_only "))
    assert row.split()[-4:-2] == ["-", "-"]
    assert "no verdict (one number for all rows)" in " ".join(table.split())


def test_per_sample_marks_a_broadcast_scalar(tmp_path):
    from losscli.analysis.evaluate import per_sample_losses
    from losscli.custom import load_custom_losses

    code = tmp_path / "user_losses.py"
    code.write_text(SCALAR_LOSS)
    load_custom_losses([f"{code}:mean_only", f"{code}:per_row"])
    try:
        dataset = load_dataset(str(OUTLIERS), InputOptions())
        items = per_sample_losses(dataset, select_losses(["mean_only,per_row"], dataset.task))
        assert [i.scalar for i in items] == [True, False]
        assert items[0].values.flags.writeable  # a copy, like any other values
    finally:
        load_custom_losses([])


def test_help_lines_fit_80_columns(run):
    res = run("sensitivity", "--help")
    assert res.exit_code == 0
    assert max(len(line) for line in res.stdout.splitlines()) <= 80


def test_items_with_equal_terms_share_one_worst_rows_state_and_split_when_they_differ():
    """mse and rmse (mae, median_ae, max_error, mbe's |e|) have the same per-row terms:
    pass 2 keeps one worst-1% state for them, added to once a batch. When a later
    batch gives them different terms, the state is split before anything is added,
    so every item's state is the one its own terms alone would build."""
    from losscli.analysis.exact import Tracked, share_tracked
    from losscli.analysis.sensitivity_plan import TOP_FRACTION, ItemState

    rng = np.random.default_rng(11)
    a, b, c, d = (rng.lognormal(size=500) for _ in range(4))
    batches = [
        [a, a.copy(), b, None, a.copy()],  # items 0, 1 and 4 equal: one state
        [c, c.copy(), b, None, d],  # item 4 differs now: a state of its own
        [d, c, b, None, d],  # items 0 and 1 differ now
    ]
    states = [ItemState() for _ in range(5)]
    alone = [Tracked(top_fraction=TOP_FRACTION) for _ in range(5)]
    adds = 0
    for number, batch in enumerate(batches):
        contribs = list(batch)
        share_tracked(states, "top", contribs, lambda _: Tracked(top_fraction=TOP_FRACTION))
        if number == 0:
            assert states[0].top is states[1].top is states[4].top
            assert states[2].top is not states[0].top and states[3].top is None
        added: set[int] = set()
        for j, (state, contrib) in enumerate(zip(states, contribs)):
            if contrib is None:
                continue
            alone[j].add(contrib)
            if id(state.top) not in added:
                state.top.add(contrib)
                added.add(id(state.top))
                adds += 1
    assert adds == 2 + 3 + 4
    for j in (0, 1, 2, 4):
        got, want = vars(states[j].top.ranges), vars(alone[j].ranges)
        assert got.keys() == want.keys()
        for key, value in want.items():
            if isinstance(value, list):  # kept values (and weights), piece by piece
                value, got[key] = _joined(value), _joined(got[key])
            if isinstance(value, np.ndarray):
                assert np.array_equal(got[key], value), (j, key)
            else:
                assert got[key] == value, (j, key)


def test_equal_values_with_other_weights_or_questions_are_not_shared():
    from losscli.analysis.exact import Tracked, share_tracked
    from losscli.analysis.sensitivity_plan import ItemState

    rng = np.random.default_rng(5)
    x = rng.normal(size=300)
    w = rng.integers(1, 4, 300).astype(float)
    states = [ItemState() for _ in range(5)]
    arrays = [x, x.copy(), x.copy(), x.copy(), x.copy()]
    weights = [w, w.copy(), None, w, w]
    kinds = ["a", "a", "a", "b", "a"]
    share_tracked(states, "top", arrays, lambda j: Tracked(percentiles=(50.0,)), weights, kinds)
    tops = [s.top for s in states]
    assert tops[0] is tops[1] is tops[4]  # same values, same weights, same questions
    assert tops[2] is not tops[0]  # unweighted
    assert tops[3] is not tops[0]  # other questions
    assert arrays[1] is arrays[0] is arrays[4] and arrays[2] is not x and arrays[3] is not x


def test_one_array_asked_different_questions_is_not_shared():
    """Two items may be given the very same array object (a cached |e|) and still be
    asked different questions: identity alone must not make them share."""
    from losscli.analysis.exact import Tracked, share_tracked
    from losscli.analysis.sensitivity_plan import ItemState

    x = np.arange(10.0)
    states = [ItemState(), ItemState()]
    share_tracked(states, "top", [x, x], lambda j: Tracked(percentiles=(50.0,)), None, ["a", "b"])
    assert states[0].top is not states[1].top


def _joined(pieces: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(pieces) if pieces else np.zeros(0)


@pytest.mark.parametrize(
    "text, reads",
    [("y_true,y_pred\n1,2\n", "binary"), ("y_true,y_pred\n1.5,2\n", "regression")],
)
def test_one_row_is_one_row_not_1_rows(tmp_path, run, monkeypatch, text, reads):
    # The verdicts said "(in 1 rows; ...)" and "on these 1 rows".
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "one.csv"
    path.write_text(text)
    result = run("sensitivity", path)
    assert result.exit_code == 0, result.stderr
    shown = " ".join(result.stdout.split())
    assert f"task {reads}" in shown
    assert "1 rows" not in shown
    assert "(in 1 row" in shown and "on this 1 row " in shown
    if reads == "regression":
        assert "Outliers in y_pred: 0 of 1 row (0%)" in shown


def test_dropped_rows_are_a_warning_streamed_or_in_memory(tmp_path, run_json):
    """--nan drop: the rows skipped are the report's first warning (JSON, and a
    LossWarning from lc.sensitivity), as in compute; they were only n_dropped."""
    import losscli as lc

    rows = [f"{i},{i + i % 7 / 4}" for i in range(1, 61)] + [f"{i}," for i in range(61, 101)]
    path = tmp_path / "nan.csv"
    path.write_text("y_true,y_pred\n" + "\n".join(rows) + "\n")
    text = "40 rows with missing or non-numeric values were dropped (--nan drop); 60 rows used"
    code = tmp_path / "user_losses.py"
    code.write_text(SCALAR_LOSS)
    streamed = run_json("sensitivity", path, "--nan", "drop", "-l", "mse")
    in_memory = run_json("sensitivity", path, "--nan", "drop", "--custom", f"{code}:per_row")
    for out in (streamed, in_memory):
        assert (out["n_rows"], out["n_dropped"]) == (60, 40)
        assert out["warnings"][0] == text
    with pytest.warns(lc.LossWarning, match=r"^40 rows with missing"):
        result = lc.sensitivity(str(path), losses="mse", nan="drop")
    assert result.warnings[0] == text
