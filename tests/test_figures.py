"""SPEC 12: directions in rankings, agreement, gates and recommend; reliability bins."""

from __future__ import annotations

import json

import numpy as np
import pytest

from losscli.analysis.compare import rank_models, ranking_key
from losscli.analysis.gates import gate_failures, parse_gates
from losscli.analysis.results import LossResult
from losscli.core.calibration import ReliabilityBins, bin_index, top_label
from losscli.core.registry import Direction, all_losses, get_loss
from losscli.errors import UsageError

# --------------------------------------------------------------------------- direction


def test_every_figure_declares_a_direction():
    for spec in all_losses():
        assert isinstance(spec.direction, Direction), spec.name
        # a score is never a training loss
        if spec.higher_is_better:
            assert spec.evaluation_only, spec.name
    assert get_loss("accuracy").direction is Direction.HIGHER
    assert get_loss("zero_one").direction is Direction.LOWER
    assert get_loss("mse").direction is Direction.LOWER


def test_scores_rank_from_the_highest():
    assert rank_models({"a": 0.5, "b": 0.9, "c": float("nan")}, False, True) == ["b", "a", "c"]
    assert ranking_key(0.9, False, True) < ranking_key(0.5, False, True)


def _write(tmp_path, text: str):
    path = tmp_path / "preds.csv"
    path.write_text(text, encoding="utf-8")
    return path


BINARY = "y_true,a,b\n1,0.9,0.4\n0,0.2,0.6\n1,0.7,0.8\n0,0.4,0.3\n"


def test_compare_ranks_accuracy_highest_first_and_agreement_follows(run, tmp_path):
    path = _write(tmp_path, BINARY)
    out = run(
        "compare", path, "--pred-col", "b", "--pred-col", "a", "-l", "accuracy,zero_one,bce",
        "--format", "json",
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["rankings"]["accuracy"] == ["a", "b"]
    assert data["rankings"]["zero_one"] == ["a", "b"]
    assert data["agreement"]["agree"] is True
    assert data["agreement"]["best_model"] == "a"
    acc = {r["model"]: r for r in data["results"] if r["loss"] == "accuracy"}
    assert acc["a"]["value"] == 1.0 and acc["b"]["value"] == 0.5
    # behind the best, in ranking terms: 1.0 - 0.5
    assert acc["b"]["diff_to_best"] == 0.5 and acc["a"]["diff_to_best"] == 0.0
    # a score has no per-row distribution
    assert acc["b"]["median"] is None and acc["b"]["top1pct_share"] is None


def test_compare_table_shows_how_far_a_score_is_behind_the_best_as_the_json_does(run, tmp_path):
    rows = BINARY.split("\n", 1)[1]
    path = _write(tmp_path, BINARY + rows * 4)
    out = run(
        "compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "accuracy", "--ci", "0.9",
        "--bootstrap", "200",
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.strip().startswith("accuracy") and "[" in x)
    # behind best: 1.0 - 0.5, positive as for a loss, the JSON's diff_to_best
    assert "0.5" in line and "-0.5" not in line and "clearly worse" in line
    low, high = (float(v) for v in line.split("[")[1].split("]")[0].split(","))
    assert 0 < low <= 0.5 <= high
    data = json.loads(
        run(
            "compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "accuracy", "--ci",
            "0.9", "--bootstrap", "200", "--format", "json",
        ).stdout
    )  # fmt: skip
    (b,) = [r for r in data["results"] if r["model"] == "b"]
    assert b["diff_to_best"] == 0.5
    assert (low, high) == (float(f"{b['diff_ci_low']:.5g}"), float(f"{b['diff_ci_high']:.5g}"))
    assert "scores (higher is better) rank from the highest" in " ".join(out.stdout.split())


# --------------------------------------------------------------------------- gates


def _result(loss: str, value: float, model: str = "m") -> LossResult:
    return LossResult(loss=loss, label=loss, params={}, model=model, value=value)


def test_fail_below_fails_when_a_score_is_under_its_bound():
    gates = parse_gates(["accuracy=0.8"], below=True)
    assert gate_failures([_result("accuracy", 0.79)], gates) == ["accuracy = 0.79 < 0.8 (model m)"]
    assert not gate_failures([_result("accuracy", 0.8)], gates)
    (msg,) = gate_failures([_result("accuracy", float("nan"))], gates)
    assert "not a number" in msg


def test_gates_must_point_the_way_the_figure_improves():
    with pytest.raises(UsageError, match=r"accuracy is a score \(higher is better\); use "):
        parse_gates(["accuracy=0.8"])
    with pytest.raises(UsageError, match=r"mse is a loss \(lower is better\); use --fail-above"):
        parse_gates(["mse=0.8"], below=True)
    with pytest.raises(UsageError, match="--fail-below expects NAME=VALUE, e.g. r2=0.8"):
        parse_gates(["accuracy"], below=True)


def test_cli_fail_below_exits_3_with_the_report_printed(run, tmp_path):
    path = _write(tmp_path, BINARY)
    out = run(
        "compute", path, "--pred-col", "a", "--pred-col", "b", "-l", "bce",
        "--fail-below", "accuracy=0.9",
    )  # fmt: skip
    assert out.exit_code == 3
    assert "accuracy" in out.stdout
    assert out.stderr.strip().splitlines()[-1] == (
        "Error: quality gate failed: accuracy = 0.5 < 0.9 (model b)"
    )
    ok = run("compute", path, "--pred-col", "a", "-l", "bce", "--fail-below", "accuracy=0.9")
    assert ok.exit_code == 0, ok.stderr


def test_cli_gate_the_wrong_way_is_a_usage_error(run, tmp_path):
    path = _write(tmp_path, BINARY)
    out = run("compute", path, "--pred-col", "a", "--fail-above", "accuracy=0.9")
    assert out.exit_code == 2
    assert out.stdout == ""
    assert "use --fail-below accuracy=0.9" in out.stderr


# --------------------------------------------------------------------------- recommend


def test_recommend_never_recommends_a_figure_to_report(run):
    names = [s.name for s in all_losses() if s.evaluation_only]
    assert "accuracy" in names and "zero_one" in names
    for task in ("binary", "multiclass"):
        out = run("recommend", "--task", task, "-l", ",".join(names), "--format", "json")
        assert out.exit_code == 0, out.stderr
        data = json.loads(out.stdout)
        assert not {r["loss"] for r in data["recommendations"]} & set(names)
        ids = {p["id"] for p in data["pitfalls"]}
        assert "P-SCORE" in ids
        verdicts = {p["loss"]: p["verdict"] for p in data["planned"]}
        assert all(verdicts[n] == "avoid" for n in names if n in verdicts)


# --------------------------------------------------------------------------- reliability bins


def torchmetrics_calibration(confidence, correct, n_bins, norm):
    """A direct NumPy transcription of torchmetrics' binning (``_binning_bucketize``).

    Boundaries linspace(0, 1, n_bins + 1); index = bucketize(c, boundaries,
    right=True) - 1 over n_bins + 1 slots (a confidence of exactly 1 has its own);
    per slot the mean confidence and accuracy (0 when empty) and the share of rows.
    """
    boundaries = np.linspace(0, 1, n_bins + 1)
    index = np.searchsorted(boundaries, confidence, side="right") - 1
    slots = n_bins + 1
    count = np.zeros(slots)
    conf = np.zeros(slots)
    acc = np.zeros(slots)
    np.add.at(count, index, 1.0)
    np.add.at(conf, index, confidence)
    np.add.at(acc, index, correct)
    with np.errstate(invalid="ignore"):
        conf = np.nan_to_num(conf / count)
        acc = np.nan_to_num(acc / count)
    prop = count / count.sum()
    if norm == "l1":
        return float(np.sum(np.abs(acc - conf) * prop))
    return float(np.max(np.abs(acc - conf)))


def _bins(confidence, correct, n_bins, weights=None):
    bins = ReliabilityBins(n_bins)
    bins.add(confidence, correct, weights)
    return bins


def test_torchmetrics_documented_multiclass_example():
    # torchmetrics MulticlassCalibrationError docstring example (torchmetrics 1.x,
    # src/torchmetrics/classification/calibration_error.py): n_bins=3 gives
    # norm='l1' tensor(0.2000) and norm='max' tensor(0.2333).
    preds = np.array(
        [[0.25, 0.20, 0.55], [0.55, 0.05, 0.40], [0.10, 0.30, 0.60], [0.90, 0.05, 0.05]]
    )
    target = np.array([0, 1, 2, 0])
    confidence, correct = top_label(target, preds)
    bins = _bins(confidence, correct, 3)
    assert round(bins.ece(), 4) == 0.2000
    assert round(bins.mce(), 4) == 0.2333
    assert bins.ece() == pytest.approx(0.2, rel=1e-12)
    assert bins.mce() == pytest.approx(0.7 / 3, rel=1e-12)


def test_torchmetrics_documented_binary_example_and_where_it_differs():
    # torchmetrics BinaryCalibrationError docstring example: preds [0.25, 0.25, 0.55,
    # 0.75, 0.75], target [0, 0, 1, 1, 1], n_bins=2 gives norm='l1' tensor(0.2900),
    # norm='max' tensor(0.3167). torchmetrics bins p itself against the target;
    # losscli bins the top-label confidence max(p, 1 - p) against correctness.
    p = np.array([0.25, 0.25, 0.55, 0.75, 0.75])
    y = np.array([0, 0, 1, 1, 1])
    assert round(torchmetrics_calibration(p, y.astype(float), 2, "l1"), 4) == 0.2900
    assert round(torchmetrics_calibration(p, y.astype(float), 2, "max"), 4) == 0.3167
    confidence, correct = top_label(y, p)
    bins = _bins(confidence, correct, 2)
    assert round(bins.ece(), 4) == 0.2900  # the same here: every prediction is right
    assert bins.mce() == pytest.approx(0.29, rel=1e-12)  # one bin: 1 - mean(0.75, ..., 0.55)


@pytest.mark.parametrize("n_bins", [1, 2, 10, 15])
def test_bins_match_the_torchmetrics_transcription(n_bins):
    rng = np.random.default_rng(n_bins)
    logits = rng.normal(0, 2, (500, 5))
    q = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    q[:3] = [1.0, 0, 0, 0, 0]  # confidence exactly 1: a slot of its own
    q[3] = [1 / 3, 1 / 3, 1 / 3, 0, 0]  # on a boundary for n_bins = 3k
    y = rng.integers(0, 5, 500)
    confidence, correct = top_label(y, q)
    bins = _bins(confidence, correct, n_bins)
    assert bins.ece() == pytest.approx(
        torchmetrics_calibration(confidence, correct, n_bins, "l1"), rel=1e-12, abs=1e-15
    )
    assert bins.mce() == pytest.approx(
        torchmetrics_calibration(confidence, correct, n_bins, "max"), rel=1e-12
    )


def test_bins_merge_exactly_and_weights_are_repeated_rows():
    rng = np.random.default_rng(7)
    p = rng.uniform(0, 1, 300)
    y = rng.integers(0, 2, 300)
    confidence, correct = top_label(y, p)
    whole = _bins(confidence, correct, 15)
    parts = _bins(confidence[:100], correct[:100], 15).merge(
        _bins(confidence[100:], correct[100:], 15)
    )
    assert parts.ece() == pytest.approx(whole.ece(), rel=1e-12)
    assert parts.mce() == pytest.approx(whole.mce(), rel=1e-12)
    counts = rng.integers(0, 4, 300)
    weighted = _bins(confidence, correct, 15, counts.astype(float))
    repeated = _bins(np.repeat(confidence, counts), np.repeat(correct, counts), 15)
    assert weighted.ece() == pytest.approx(repeated.ece(), rel=1e-12)
    assert weighted.mce() == pytest.approx(repeated.mce(), rel=1e-12)
    points = weighted.diagram()
    assert sum(pt["share"] for pt in points) == pytest.approx(1.0)
    assert all(pt["low"] <= pt["confidence"] <= pt["high"] for pt in points)


def test_bin_edges():
    assert bin_index(np.array([0.0, 0.5, 0.9999, 1.0]), 2).tolist() == [0, 1, 1, 2]
    assert np.isnan(ReliabilityBins().ece()) and np.isnan(ReliabilityBins().mce())
    with pytest.raises(ValueError):
        ReliabilityBins(2).merge(ReliabilityBins(3))


def test_sensitivity_reports_a_score_without_a_verdict(run):
    from conftest import SAMPLES

    out = run(
        "sensitivity", SAMPLES / "regression_outliers.csv", "-l", "r2,mse", "--format", "json"
    )
    assert out.exit_code == 0, out.stderr
    r2 = next(r for r in json.loads(out.stdout)["results"] if r["loss"] == "r2")
    assert r2["verdict"] == "no verdict"
    assert r2["value_without_outliers"] > r2["value"]  # the outliers cost r2
    assert r2["outlier_share"] is None and r2["top1pct_share"] is None
