"""Binary targets written as text or as numbers other than 0/1: --pos-label (vs scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

import losscli as lc
import losscli.io.text as text_module

LABELS = ("benign", "malignant")


def _file(tmp_path, labels, n=60, seed=5, name="cells.csv"):
    rng = np.random.default_rng(seed)
    y = rng.choice(labels, n)
    p = rng.uniform(0.02, 0.98, n)
    lines = ["y_true,y_pred"] + [f"{a},{b!r}" for a, b in zip(y, p.tolist())]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path, y, p


def _values(payload):
    return {r["loss"]: r["value"] for r in payload["results"]}


@pytest.mark.parametrize("positive", LABELS)
def test_text_labels_with_pos_label_match_sklearn(run_json, tmp_path, positive):
    path, y, p = _file(tmp_path, LABELS)
    payload = run_json("compute", path, "--pos-label", positive, "-l", "bce,brier")
    assert payload["task"] == "binary"
    got = _values(payload)
    assert got["brier"] == pytest.approx(
        metrics.brier_score_loss(y, p, pos_label=positive), rel=1e-12
    )
    assert got["bce"] == pytest.approx(metrics.log_loss(y == positive, p), rel=1e-12)


def test_two_text_labels_without_pos_label_take_the_later_as_positive(run, tmp_path):
    path, y, p = _file(tmp_path, LABELS)
    result = run("compute", path, "-l", "bce,brier", "--format", "json")
    assert result.exit_code == 0, result.stderr
    import json

    got = _values(json.loads(result.stdout))
    # sklearn's log_loss reads y_pred as the probability of the later label (classes_[1]).
    assert got["bce"] == pytest.approx(metrics.log_loss(y, p), rel=1e-12)
    # (sklearn's brier_score_loss wants pos_label for text: the later label is its default.)
    assert got["brier"] == pytest.approx(
        metrics.brier_score_loss(y, p, pos_label="malignant"), rel=1e-12
    )
    assert (
        "Note: y_true holds the labels 'benign' and 'malignant': y_pred is read as the "
        "probability of 'malignant', the later in sorted order (scikit-learn's convention); "
        "pass --pos-label benign if it is the probability of 'benign'"
    ) in result.stderr


def test_the_table_footer_names_the_two_labels(run, tmp_path):
    path, _, _ = _file(tmp_path, ("no", "yes"))
    result = run("compute", path, "-l", "bce")
    assert result.exit_code == 0
    assert "task binary (y_true holds two labels, 'no' and 'yes')" in result.stdout


def test_numbers_other_than_0_1_with_pos_label(run_json, tmp_path):
    path, y, p = _file(tmp_path, ("1", "2"))
    payload = run_json("compute", path, "--pos-label", "2", "-l", "bce,brier")
    y_num = y.astype(int)
    got = _values(payload)
    assert got["brier"] == pytest.approx(metrics.brier_score_loss(y_num, p, pos_label=2), rel=1e-12)
    assert got["bce"] == pytest.approx(metrics.log_loss(y_num == 2, p), rel=1e-12)
    # 2.0 names the same class as 2
    again = run_json("compute", path, "--pos-label", "2.0", "-l", "bce,brier")
    assert _values(again) == got


def test_pos_label_in_the_api_and_in_memory(tmp_path):
    path, y, p = _file(tmp_path, LABELS)
    from_file = lc.compute(str(path), pos_label="benign", losses="brier")
    in_memory = lc.compute({"y_true": y, "y_pred": p}, pos_label="benign", losses="brier")
    want = metrics.brier_score_loss(y, p, pos_label="benign")
    assert from_file.value("brier") == pytest.approx(want, rel=1e-12)
    assert in_memory.value("brier") == pytest.approx(want, rel=1e-12)
    default = lc.compute({"y_true": y, "y_pred": p}, losses="bce")
    assert default.value("bce") == pytest.approx(metrics.log_loss(y, p), rel=1e-12)
    assert any("'malignant'" in n for n in default.notes)


def test_text_labels_streamed_in_chunks_decide_over_the_whole_file(run_json, tmp_path, monkeypatch):
    # The first chunk holds only "yes": the labels and the positive class come from the whole file.
    n = 400
    y = np.array(["yes"] * 200 + ["no", "yes"] * 100)
    p = np.linspace(0.05, 0.95, n)
    path = tmp_path / "long.csv"
    path.write_text("y_true,y_pred\n" + "".join(f"{a},{b!r}\n" for a, b in zip(y, p.tolist())))
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 2048)
    payload = run_json("compute", path, "-l", "bce,brier")
    got = _values(payload)
    assert got["bce"] == pytest.approx(metrics.log_loss(y, p), rel=1e-12)
    assert got["brier"] == pytest.approx(metrics.brier_score_loss(y, p, pos_label="yes"), rel=1e-12)
    flipped = run_json("compute", path, "-l", "brier", "--pos-label", "no")
    assert _values(flipped)["brier"] == pytest.approx(
        metrics.brier_score_loss(y, p, pos_label="no"), rel=1e-12
    )


def test_missing_labels_are_missing_values(run, tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("y_true,y_pred\nyes,0.9\n,0.2\nno,0.3\n")
    result = run("compute", path, "--pos-label", "yes", "-l", "brier")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: column y_true: 1 missing or non-numeric value (rows 2;")
    dropped = run("compute", path, "--pos-label", "yes", "-l", "brier", "--nan", "drop")
    assert dropped.exit_code == 0


@pytest.mark.parametrize(
    ("text", "args", "code", "message"),
    [
        (
            "y_true,y_pred\nyes,0.9\nno,0.2\n",
            ["--pos-label", "maybe"],
            1,
            "Error: --pos-label maybe is not a value of column y_true (its labels: no, yes); "
            "name the positive class as it is written there",
        ),
        (
            "y_true,y_pred\nyes,0.9\nno,0.2\nmaybe,0.5\n",
            ["--pos-label", "yes"],
            1,
            "Error: column y_true holds more than two labels (maybe, no, yes, ...); --pos-label "
            "is for binary targets: for several classes give one y_pred_<class> column per class",
        ),
        (
            "y_true,y_pred\n1,0.9\n2,0.2\n",
            ["--pos-label", "2", "--task", "regression"],
            2,
            "--pos-label names the positive class of binary targets; "
            "it does not apply to --task regression",
        ),
    ],
)
def test_bad_pos_label(run, tmp_path, text, args, code, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    result = run("compute", path, "-l", "brier", *args)
    assert result.exit_code == code
    assert result.stdout == ""
    assert message in result.stderr


def test_three_text_labels_without_pos_label_stay_an_error(run, tmp_path):
    path = tmp_path / "three.csv"
    path.write_text("y_true,y_pred\nyes,0.9\nno,0.2\nmaybe,0.5\n")
    result = run("compute", path)
    assert result.exit_code == 1
    assert "column y_true holds text, not numbers" in result.stderr


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (
            "multiclass_probs.csv",
            ["--pos-label", "a"],
            "--pos-label names the positive class of binary targets; these data are multiclass "
            "(one column per class), whose classes are named by the columns",
        ),
        (
            "gan_outputs.csv",
            ["--pos-label", "a"],
            "--pos-label applies to y_true and prediction columns, not to generative files "
            "(their own column family)",
        ),
        (
            "gan_outputs.csv",
            ["--id-col", "x", "--per-sample", "-"],
            "--id-col applies to y_true and prediction columns, not to generative files "
            "(their own column family)",
        ),
    ],
)
def test_pos_label_and_id_col_where_they_do_not_apply(run, name, args, message):
    result = run("compute", f"sample_data/{name}", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"Error: {message}" in result.stderr


def test_pos_label_with_interval_predictions_is_a_usage_error(run, tmp_path):
    path = tmp_path / "iv.csv"
    path.write_text("y_true,y_lower,y_upper\n1,0.5,1.5\n2,1,2.5\n")
    result = run("compute", path, "--pos-label", "1")
    assert result.exit_code == 2
    assert (
        "Error: --pos-label applies to y_true and prediction columns, not to interval "
        "predictions" in result.stderr
    )
