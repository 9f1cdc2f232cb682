"""``loss compute``, ``loss list`` and ``loss info`` end to end through CliRunner.

stdout and stderr are checked apart (Click >= 8.2): data on stdout, diagnostics
on stderr; every error is exactly one ``Error:`` line with the SPEC 7 exit code.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import math
import os
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics

from losscli.errors import ExitCode

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"

REQUIRED_KEYS = {"command", "source", "task", "n_rows", "n_dropped", "results"}
ROW_KEYS = {"loss", "params", "model", "value"}
SAMPLE_FLAGS = {
    "binary_logits.csv": ["--from-logits"],
    "multiclass_logits.csv": ["--from-logits"],
    "hinge_labels.csv": ["-l", "hinge,squared_hinge"],
}


# --------------------------------------------------------------------------- helpers


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


REG_TEXT = "y_true,y_pred,model_b,w,segment\n1.0,1.5,0.5,1,a\n2.0,1.0,2.5,2,a\n3.0,3.5,2.0,0,b\n4.0,6.0,4.5,1,b\n"
REG_Y = np.array([1.0, 2.0, 3.0, 4.0])
REG_P = np.array([1.5, 1.0, 3.5, 6.0])
REG_B = np.array([0.5, 2.5, 2.0, 4.5])
REG_W = np.array([1.0, 2.0, 0.0, 1.0])


@pytest.fixture
def reg_csv(tmp_path: Path) -> Path:
    return write(tmp_path / "reg.csv", REG_TEXT)


def values(payload: dict, loss: str | None = None, model: str = "y_pred", group=None) -> dict:
    """{loss: value} (or one value) of the rows of one model/group."""
    out = {
        r["loss"]: r["value"]
        for r in payload["results"]
        if r["model"] == model and r.get("group") == group
    }
    return out if loss is None else out[loss]


def assert_error(result, code: int, *fragments: str) -> str:
    """Exit code, nothing on stdout, exactly one 'Error:' line on stderr, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def assert_json_shape(payload: dict, ci: bool = False, group: bool = False) -> None:
    assert REQUIRED_KEYS <= set(payload)
    assert payload["command"] == "compute"
    assert isinstance(payload["n_rows"], int) and isinstance(payload["n_dropped"], int)
    assert payload["results"]
    for row in payload["results"]:
        expected = set(ROW_KEYS)
        if ci:
            expected |= {"ci_low", "ci_high"}
        if group:
            expected.add("group")
        assert set(row) >= expected
        assert ("ci_low" in row) == ci and ("ci_high" in row) == ci
        assert ("group" in row) == group
        assert isinstance(row["params"], dict)


# --------------------------------------------------------------------------- sample_data


SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.csv"))


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_every_sample_file_prints_a_table_and_json(run, name):
    flags = SAMPLE_FLAGS.get(name, [])
    table = run("compute", SAMPLES / name, *flags)
    assert table.exit_code == 0, table.stderr
    assert "Error" not in table.stderr
    assert f"Losses: {SAMPLES / name}" in table.stdout.replace("\n", "")
    footer = " ".join(table.stdout.split())
    assert "rows used" in footer and "task " in footer
    widest = max(len(line) for line in table.stdout.splitlines())
    assert widest <= 80  # CliRunner's terminal is 80 columns: readable at a glance

    result = run("compute", SAMPLES / name, *flags, "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert_json_shape(payload)
    assert payload["source"] == str(SAMPLES / name)
    assert all(r["value"] is not None and math.isfinite(r["value"]) for r in payload["results"])
    # the table shows the same losses as the JSON
    for row in payload["results"]:
        assert row["loss"] in table.stdout


def test_sample_regression_matches_sklearn(run_json):
    payload = run_json("compute", SAMPLES / "regression_clean.csv", "-l", "mse,mae,median_ae")
    with open(SAMPLES / "regression_clean.csv") as handle:
        rows = list(csv.DictReader(handle))
    y = np.array([float(r["y_true"]) for r in rows])
    p = np.array([float(r["y_pred"]) for r in rows])
    got = values(payload)
    assert got["mse"] == pytest.approx(metrics.mean_squared_error(y, p), rel=1e-12)
    assert got["mae"] == pytest.approx(metrics.mean_absolute_error(y, p), rel=1e-12)
    assert got["median_ae"] == pytest.approx(metrics.median_absolute_error(y, p), rel=1e-12)
    assert payload["n_rows"] == len(rows) and payload["n_dropped"] == 0


# --------------------------------------------------------------------------- columns


def test_default_columns_and_panel(run_json, reg_csv):
    payload = run_json("compute", reg_csv)
    assert payload["task"] == "regression"
    assert [r["loss"] for r in payload["results"]] == [
        "mse",
        "rmse",
        "mae",
        "mbe",
        "huber",
        "log_cosh",
        "median_ae",
        "max_error",
    ]
    assert {r["model"] for r in payload["results"]} == {"y_pred"}
    assert values(payload, "mse") == pytest.approx(metrics.mean_squared_error(REG_Y, REG_P))
    assert values(payload, "mbe") == pytest.approx(np.mean(REG_Y - REG_P))
    huber = next(r for r in payload["results"] if r["loss"] == "huber")
    assert huber["params"] == {"delta": 1.0}


def test_true_col_and_repeated_pred_col(run_json, tmp_path):
    path = write(tmp_path / "named.csv", "target,a,b\n1,1.5,0\n2,2,4\n")
    payload = run_json(
        "compute", path, "--true-col", "target", "--pred-col", "a", "--pred-col", "b", "-l", "mae"
    )
    assert values(payload, "mae", model="a") == pytest.approx(0.25)
    assert values(payload, "mae", model="b") == pytest.approx(1.5)
    assert [r["model"] for r in payload["results"]] == ["a", "b"]


def test_pred_cols_side_by_side_in_the_table(run, reg_csv):
    result = run("compute", reg_csv, "--pred-col", "y_pred", "--pred-col", "model_b", "-l", "mse")
    assert result.exit_code == 0
    header = next(line for line in result.stdout.splitlines() if "loss" in line)
    assert "y_pred" in header and "model_b" in header


def test_weight_col(run_json, reg_csv):
    payload = run_json("compute", reg_csv, "--weight-col", "w", "-l", "mse,mae,median_ae,max_error")
    got = values(payload)
    assert got["mse"] == pytest.approx(
        metrics.mean_squared_error(REG_Y, REG_P, sample_weight=REG_W), rel=1e-12
    )
    assert got["median_ae"] == pytest.approx(
        metrics.median_absolute_error(REG_Y, REG_P, sample_weight=REG_W), rel=1e-12
    )
    assert got["max_error"] == 2.0  # the zero-weight row (|e| = 0.5) is out anyway
    assert payload["n_rows"] == 4


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("y_true,y_pred,w\n1,2,-1\n2,2,1\n", "sample weights must be >= 0"),
        ("y_true,y_pred,w\n1,2,0\n2,2,0\n", "all sample weights are zero"),
    ],
)
def test_bad_weights_are_data_errors(run, tmp_path, text, fragment):
    path = write(tmp_path / "w.csv", text)
    assert_error(run("compute", path, "--weight-col", "w"), 1, "column w", fragment)


MULTI_TEXT = (
    "label,p_cat,p_dog,p_bird\n"
    "dog,0.2,0.7,0.1\n"
    "bird,0.1,0.2,0.7\n"
    "cat,0.6,0.3,0.1\n"
    "dog,0.5,0.4,0.1\n"
)


def test_multiclass_named_classes_with_pred_prefix(run_json, tmp_path):
    path = write(tmp_path / "mc.csv", MULTI_TEXT)
    payload = run_json(
        "compute",
        path,
        "--true-col",
        "label",
        "--pred-prefix",
        "p_",
        "-l",
        "cce,multiclass_brier,multiclass_hinge",
    )
    assert payload["task"] == "multiclass"
    names = ["dog", "bird", "cat", "dog"]
    probs = np.array([[0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    order = ["cat", "dog", "bird"]
    alpha = np.argsort(order)  # sklearn wants the columns in sorted class order
    got = values(payload, model="p")
    assert got["cce"] == pytest.approx(
        metrics.log_loss(names, probs[:, alpha], labels=sorted(order)), rel=1e-12
    )
    assert got["multiclass_brier"] == pytest.approx(
        metrics.brier_score_loss(names, probs[:, alpha], labels=sorted(order), scale_by_half=False),
        rel=1e-12,
    )
    assert got["multiclass_hinge"] == pytest.approx(
        metrics.hinge_loss(names, probs[:, alpha], labels=sorted(order)), rel=1e-12
    )


def test_multiclass_soft_targets_with_true_prefix(run_json, tmp_path):
    path = write(
        tmp_path / "soft.csv",
        "t_a,t_b,y_pred_a,y_pred_b\n0.8,0.2,0.6,0.4\n0.1,0.9,0.3,0.7\n",
    )
    payload = run_json("compute", path, "--true-prefix", "t_")
    assert payload["task"] == "multiclass"
    got = values(payload)
    assert set(got) == {"cce", "multiclass_brier", "categorical_focal", "kl_div"}
    t = np.array([[0.8, 0.2], [0.1, 0.9]])
    q = np.array([[0.6, 0.4], [0.3, 0.7]])
    assert got["kl_div"] == pytest.approx(np.mean(np.sum(t * np.log(t / q), axis=1)), rel=1e-12)
    assert got["cce"] == pytest.approx(np.mean(-np.sum(t * np.log(q), axis=1)), rel=1e-12)


def test_multiclass_one_hot_target_columns_keep_the_hinge(run_json, tmp_path):
    path = write(
        tmp_path / "onehot.csv",
        "y_true_a,y_true_b,y_pred_a,y_pred_b\n1,0,0.6,0.4\n0,1,0.3,0.7\n",
    )
    # On probabilities the margin loss leaves the default panel (a note says why);
    # one-hot target columns still count as class labels for it.
    payload = run_json("compute", path)
    assert list(values(payload)) == ["cce", "multiclass_brier", "categorical_focal", "kl_div"]
    payload = run_json("compute", path, "-l", "cce,multiclass_hinge,kl_div")
    got = values(payload)
    assert got["kl_div"] == pytest.approx(got["cce"], rel=1e-12)
    assert got["multiclass_hinge"] == pytest.approx((0.8 + 0.6) / 2, rel=1e-12)
    logits = write(
        tmp_path / "onehot_logits.csv",
        "y_true_a,y_true_b,y_pred_a,y_pred_b\n1,0,2.0,-1.0\n0,1,0.5,0.7\n",
    )
    assert "multiclass_hinge" in values(run_json("compute", logits, "--from-logits"))


def test_multiclass_rows_not_summing_to_one_are_not_renormalised(run, tmp_path):
    path = write(tmp_path / "rows.csv", "y_true,y_pred_a,y_pred_b\na,0.5,0.3\nb,0.2,0.6\n")
    result = run("compute", path, "-l", "cce", "--format", "json")
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert values(payload, "cce") == pytest.approx(-(np.log(0.5) + np.log(0.6)) / 2, rel=1e-12)
    assert "Warning: P-ROWSUM" in result.stderr
    assert any("P-ROWSUM" in w for w in payload.get("warnings", ["P-ROWSUM"]))


def test_exact_zero_probability_is_clipped_with_a_warning(run, tmp_path):
    path = write(tmp_path / "clip.csv", "y_true,y_pred\n1,0\n0,0.5\n")
    result = run("compute", path, "-l", "bce", "--format", "json")
    assert result.exit_code == 0
    expected = (-np.log(np.finfo(float).eps) - np.log(0.5)) / 2
    assert values(json.loads(result.stdout), "bce") == pytest.approx(expected, rel=1e-12)
    assert "Warning: P-LOG0" in result.stderr


def test_multiclass_unknown_class_is_a_data_error(run, tmp_path):
    path = write(tmp_path / "mc.csv", "y_true,y_pred_a,y_pred_b\na,0.5,0.5\nfish,0.5,0.5\n")
    assert_error(run("compute", path), 1, "fish", "row 2")


def test_multiclass_missing_label_names_the_target_column(run, run_json, tmp_path):
    path = write(tmp_path / "mc.csv", "y_true,y_pred_a,y_pred_b\na,0.5,0.5\n,0.2,0.8\nb,0.1,0.9\n")
    assert_error(run("compute", path, "-l", "cce"), 1, "column y_true:", "rows 2")
    payload = run_json("compute", path, "--nan", "drop", "-l", "cce")
    assert payload["n_rows"] == 2 and payload["n_dropped"] == 1
    assert values(payload, "cce") == pytest.approx(-(np.log(0.5) + np.log(0.9)) / 2, rel=1e-12)


def test_wrong_task_loss_is_a_data_error(run, reg_csv):
    assert_error(run("compute", reg_csv, "-l", "cce"), 1, "cce", "multiclass", "regression")


# --------------------------------------------------------------------------- task


@pytest.mark.parametrize(
    ("text", "task", "reason"),
    [
        (REG_TEXT, "regression", "y_true holds continuous values"),
        ("y_true,y_pred\n0,0.2\n1,0.7\n1,0.9\n", "binary", "y_true holds only the values {0, 1}"),
        ("y_true,y_pred\n-1,0.2\n1,1.7\n1,-0.9\n", "binary", "{-1, 1}"),
        (
            MULTI_TEXT.replace("label", "y_true").replace("p_", "y_pred_"),
            "multiclass",
            "3 columns named y_pred_<class>",
        ),
    ],
)
def test_task_auto_detection_and_reason(run, tmp_path, text, task, reason):
    path = write(tmp_path / "data.csv", text)
    flags = ["-l", "hinge"] if "-1" in text else []
    result = run("compute", path, *flags)
    assert result.exit_code == 0, result.stderr
    footer = " ".join(result.stdout.split())
    assert f"task {task}" in footer and reason in footer
    payload = json.loads(run("compute", path, *flags, "--format", "json").stdout)
    assert payload["task"] == task
    assert reason in payload.get("task_reason", reason)


def test_explicit_task_overrides_detection(run_json, tmp_path):
    path = write(tmp_path / "b.csv", "y_true,y_pred\n0,0.2\n1,0.7\n1,0.9\n")
    payload = run_json("compute", path, "--task", "regression", "-l", "mse")
    assert payload["task"] == "regression"
    payload = run_json("compute", path, "--task", "binary")
    assert payload["task"] == "binary"
    assert [r["loss"] for r in payload["results"]] == ["bce", "brier", "focal"]
    # regression losses also score 0/1 targets (the Brier score is the mse of probabilities)
    payload = run_json("compute", path, "-l", "mse,brier")
    assert values(payload, "mse") == pytest.approx(values(payload, "brier"), rel=1e-15)


def test_explicit_task_multiclass_and_case_insensitive_choice(run, run_json, tmp_path):
    text = MULTI_TEXT.replace("label", "y_true").replace("p_", "y_pred_")
    path = write(tmp_path / "mc.csv", text)
    payload = run_json("compute", path, "--task", "MultiClass", "-l", "cce")
    assert payload["task"] == "multiclass"
    assert "--task multiclass" in payload.get("task_reason", "--task multiclass")
    assert_error(run("compute", write(tmp_path / "r.csv", REG_TEXT), "--task", "multiclass"), 1)


def test_task_binary_on_continuous_target_is_a_data_error(run, reg_csv):
    assert_error(run("compute", reg_csv, "--task", "binary"), 1, "binary labels must be 0/1")


def test_hinge_labels_minus_one_are_mapped_with_a_note(run):
    result = run("compute", SAMPLES / "hinge_labels.csv", "-l", "hinge", "--format", "json")
    assert result.exit_code == 0
    assert "labels -1/1 were mapped to 0/1" in result.stderr
    with open(SAMPLES / "hinge_labels.csv") as handle:
        rows = list(csv.DictReader(handle))
    y = np.array([float(r["y_true"]) for r in rows])
    s = np.array([float(r["y_pred"]) for r in rows])
    assert values(json.loads(result.stdout), "hinge") == pytest.approx(
        metrics.hinge_loss(y, s), rel=1e-12
    )


def test_from_logits(run_json, tmp_path):
    path = write(tmp_path / "logits.csv", "y_true,y_pred\n0,-2.5\n1,1.0\n1,-0.5\n0,30\n")
    payload = run_json("compute", path, "--from-logits", "-l", "bce,brier")
    z = np.array([-2.5, 1.0, -0.5, 30.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    p = 1 / (1 + np.exp(-z))
    expected = np.mean(np.logaddexp(0, z) - y * z)
    assert values(payload, "bce") == pytest.approx(expected, rel=1e-12)
    assert values(payload, "brier") == pytest.approx(np.mean((p - y) ** 2), rel=1e-12)


def test_from_logits_shown_in_footer(run, tmp_path):
    path = write(tmp_path / "logits.csv", "y_true,y_pred\n0,-2.5\n1,1.0\n")
    result = run("compute", path, "--from-logits")
    assert "predictions read as logits" in " ".join(result.stdout.split())


def test_probabilities_outside_unit_interval_name_loss_column_value_row(run, tmp_path):
    path = write(tmp_path / "p.csv", "y_true,y_pred\n0,0.2\n1,0.7\n1,1.7\n")
    line = assert_error(run("compute", path, "-l", "bce"), 1, "bce", "y_pred", "1.7", "row 3")
    assert "--from-logits" in line


# --------------------------------------------------------------------------- missing values


NAN_TEXT = "y_true,y_pred\n1,1.5\n2,\n3,abc\n4,inf\n5,5.5\n6,nan\n"


def test_nan_error_names_column_count_and_rows(run, tmp_path):
    path = write(tmp_path / "nan.csv", NAN_TEXT)
    assert_error(
        run("compute", path), 1, "column y_pred", "4 missing or non-numeric", "rows 2, 3, 4, 6"
    )
    assert_error(run("compute", path, "--nan", "error"), 1, "--nan drop")


def test_nan_drop_reports_dropped_rows(run, tmp_path):
    path = write(tmp_path / "nan.csv", NAN_TEXT)
    result = run("compute", path, "--nan", "drop", "-l", "mae", "--format", "json")
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["n_rows"] == 2 and payload["n_dropped"] == 4
    assert values(payload, "mae") == pytest.approx(0.5)
    assert "dropped" in result.stderr and "Warning:" in result.stderr
    table = run("compute", path, "--nan", "drop", "-l", "mae")
    assert "2 rows used, 4 dropped" in " ".join(table.stdout.split())


@pytest.mark.parametrize("command", ["compute", "compare", "sensitivity", "recommend", "report"])
def test_every_data_command_warns_of_the_dropped_rows(run, tmp_path, command):
    """SPEC 2/7: --nan drop reports the rows it skipped, a warning on stderr. loss
    sensitivity printed none (only its table's footer and JSON n_dropped said it)."""
    rows = [f"{i},{i + i % 7 / 4}" for i in range(1, 61)] + [f"{i}," for i in range(61, 101)]
    path = write(tmp_path / "nan.csv", "y_true,y_pred\n" + "\n".join(rows) + "\n")
    args = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    result = run(command, path, "--nan", "drop", *args)
    assert result.exit_code == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert (
        warned.count(
            "Warning: 40 rows with missing or non-numeric values were dropped (--nan drop); "
            "60 rows used"
        )
        == 1
    ), result.stderr


def test_nan_drop_with_nothing_left_is_an_error(run, tmp_path):
    path = write(tmp_path / "nan.csv", "y_true,y_pred\n1,\n2,x\n")
    assert_error(run("compute", path, "--nan", "drop"), 1, "nothing is left")


# --------------------------------------------------------------------------- file formats


def test_delimiter_and_tsv(run_json, tmp_path):
    semi = write(tmp_path / "semi.csv", "y_true;y_pred\n1;2\n3;5\n")
    assert values(run_json("compute", semi, "--delimiter", ";", "-l", "mae"), "mae") == 1.5
    tsv = write(tmp_path / "data.tsv", "y_true\ty_pred\n1\t2\n3\t5\n")
    assert values(run_json("compute", tsv, "-l", "mae"), "mae") == 1.5
    tab = write(tmp_path / "data.txt", "y_true\ty_pred\n1\t2\n3\t5\n")
    assert values(run_json("compute", tab, "--delimiter", "tab", "-l", "mae"), "mae") == 1.5


def test_encoding_and_bom(run_json, run, tmp_path):
    latin = write(tmp_path / "latin.csv", "y_true,y_pred,région\n1,2,é\n3,5,è\n", "latin-1")
    payload = run_json(
        "compute", latin, "--encoding", "latin-1", "-l", "mae", "--group-by", "région"
    )
    assert {r["group"] for r in payload["results"]} == {None, "é", "è"}
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfy_true,y_pred\n1,2\n3,5\n")
    assert values(run_json("compute", bom, "-l", "mae"), "mae") == 1.5
    assert_error(run("compute", latin, "-l", "mae"), 1, "--encoding")


@pytest.mark.parametrize(
    ("suffix", "opener"), [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)]
)
def test_compressed_files(run_json, tmp_path, suffix, opener):
    path = tmp_path / f"data.csv{suffix}"
    with opener(path, "wb") as handle:
        handle.write(REG_TEXT.encode())
    payload = run_json("compute", path, "-l", "mse")
    assert values(payload, "mse") == pytest.approx(metrics.mean_squared_error(REG_Y, REG_P))
    tsv = tmp_path / f"data.tsv{suffix}"
    with opener(tsv, "wb") as handle:
        handle.write(REG_TEXT.replace(",", "\t").encode())
    assert values(run_json("compute", tsv, "-l", "mse"), "mse") == values(payload, "mse")


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_content_not_matching_compression_is_an_error(run, tmp_path, suffix):
    path = write(tmp_path / f"data.csv{suffix}", REG_TEXT)
    assert_error(run("compute", path), 1, f"not a valid {suffix[1:]} file")


def test_parquet(run_json, run, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "data.parquet"
    table = pa.table({"y_true": REG_Y, "y_pred": REG_P, "segment": ["a", "a", "b", "b"]})
    pq.write_table(table, path)
    payload = run_json("compute", path, "-l", "mse", "--group-by", "segment")
    assert values(payload, "mse") == pytest.approx(metrics.mean_squared_error(REG_Y, REG_P))
    assert values(payload, "mse", group="b") == pytest.approx(
        metrics.mean_squared_error(REG_Y[2:], REG_P[2:])
    )
    broken = write(tmp_path / "broken.parquet", REG_TEXT)
    assert_error(run("compute", broken), 1, "not a valid Parquet file")


def test_stdin(run):
    result = run("compute", "-", "-l", "mse", "--format", "json", input=REG_TEXT)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["source"] == "-"
    assert values(payload, "mse") == pytest.approx(metrics.mean_squared_error(REG_Y, REG_P))
    assert_error(run("compute", "-", input=""), 1, "stdin is empty")


def test_nothing_is_written_next_to_the_input(run, tmp_path, reg_csv):
    before = set(tmp_path.iterdir())
    run("compute", reg_csv, "--ci", "0.9", "--bootstrap", "20", "--format", "json")
    assert set(tmp_path.iterdir()) == before


# --------------------------------------------------------------------------- losses


def test_losses_syntax_and_repeated_l(run_json, reg_csv):
    payload = run_json(
        "compute", reg_csv, "--losses", "mse,HUBER:delta=2", "-l", "pinball:alpha=0.9", "-l", "L1"
    )
    assert [(r["loss"], r["params"]) for r in payload["results"]] == [
        ("mse", {}),
        ("huber", {"delta": 2.0}),
        ("pinball", {"alpha": 0.9}),
        ("mae", {}),
    ]
    assert values(payload, "pinball") == pytest.approx(
        metrics.mean_pinball_loss(REG_Y, REG_P, alpha=0.9), rel=1e-12
    )


def test_same_loss_with_two_parameter_sets(run, reg_csv):
    result = run("compute", reg_csv, "-l", "huber,huber:delta=2")
    assert result.exit_code == 0
    assert "delta=1" in result.stdout and "delta=2" in result.stdout


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("hubr", ("unknown loss 'hubr'", "did you mean huber")),
        ("huber:delt=2", ("unknown parameter 'delt'",)),
        ("huber:delta=0", ("delta", "> 0")),
        ("huber:delta=abc", ("delta", "finite number")),
        ("focal:gamma=-1", ("gamma",)),
    ],
)
def test_loss_usage_errors_exit_2(run, reg_csv, spec, fragments):
    assert_error(run("compute", reg_csv, "-l", spec), 2, *fragments)


def test_loss_usage_error_comes_before_reading_the_file(run):
    assert_error(run("compute", "does-not-exist.csv", "-l", "hubr"), 2, "hubr")


@pytest.mark.parametrize(
    "args",
    [("--no-such-option",), ("--format", "yaml"), ("--nan", "keep"), ("--ci", "1.5")],
)
def test_click_usage_errors_exit_2(run, reg_csv, args):
    result = run("compute", reg_csv, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith("Error:")
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- formats


def test_format_csv(run, reg_csv):
    result = run(
        "compute",
        reg_csv,
        "-l",
        "mse,huber",
        "--pred-col",
        "y_pred",
        "--pred-col",
        "model_b",
        "--format",
        "csv",
    )
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["loss", "params", "model", "value"]
    assert [(r["loss"], r["model"]) for r in rows] == [
        ("mse", "y_pred"),
        ("mse", "model_b"),
        ("huber", "y_pred"),
        ("huber", "model_b"),
    ]
    assert float(rows[0]["value"]) == metrics.mean_squared_error(REG_Y, REG_P)
    assert rows[2]["params"] == "delta=1"


def test_format_markdown(run, reg_csv):
    result = run("compute", reg_csv, "-l", "mse,mape", "--format", "markdown")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    # the table's layout (models across) and precision (5 significant digits)
    assert lines[0] == "| loss | params | y_pred |"
    assert lines[1] == "|---|---|---:|"
    mse = metrics.mean_squared_error(REG_Y, REG_P)
    assert lines[2] == f"| mse |  | {mse:.5g} |" and len(lines) == 4
    assert lines[3].startswith("| mape % |") and lines[3].endswith("% |")


def test_format_table_mape_as_percent_and_json_as_fraction(run, run_json, reg_csv):
    payload = run_json("compute", reg_csv, "-l", "mape")
    expected = metrics.mean_absolute_percentage_error(REG_Y, REG_P)
    assert values(payload, "mape") == pytest.approx(expected, rel=1e-12)
    table = run("compute", reg_csv, "-l", "mape")
    assert f"{100 * expected:.5g}%" in table.stdout


def test_mbe_sign_explained_in_the_table(run, reg_csv):
    result = run("compute", reg_csv, "-l", "mbe")
    text = " ".join(result.stdout.split())
    assert "over" in text  # mean(y - p) < 0 here: over-prediction
    assert "mbe = mean(y_true - y_pred)" in text


def test_json_is_one_object_and_finite(run_json, reg_csv):
    payload = run_json("compute", reg_csv, "--pred-col", "y_pred", "--pred-col", "model_b")
    assert_json_shape(payload)
    assert payload["source"] == str(reg_csv)
    assert payload["n_rows"] == 4 and payload["n_dropped"] == 0
    assert {r["model"] for r in payload["results"]} == {"y_pred", "model_b"}


def test_markup_in_column_names_prints_as_text(run, tmp_path):
    path = write(tmp_path / "m.csv", "y_true,[red]pred[/red]\n1,2\n3,5\n")
    result = run("compute", path, "--pred-col", "[red]pred[/red]", "-l", "mae")
    assert result.exit_code == 0
    assert "[red]pred[/red]" in result.stdout


# --------------------------------------------------------------------------- group-by


def test_group_by(run_json, run, reg_csv):
    payload = run_json("compute", reg_csv, "-l", "mse,mae", "--group-by", "segment")
    assert_json_shape(payload, group=True)
    assert {r["group"] for r in payload["results"]} == {None, "a", "b"}
    assert values(payload, "mse", group="a") == pytest.approx(
        metrics.mean_squared_error(REG_Y[:2], REG_P[:2])
    )
    assert values(payload, "mae", group="b") == pytest.approx(
        metrics.mean_absolute_error(REG_Y[2:], REG_P[2:])
    )
    assert values(payload, "mse") == pytest.approx(metrics.mean_squared_error(REG_Y, REG_P))
    table = run("compute", reg_csv, "-l", "mse", "--group-by", "segment")
    assert "(all)" in table.stdout and "segment" in table.stdout
    # weights within groups
    weighted = run_json(
        "compute", reg_csv, "-l", "mse", "--group-by", "segment", "--weight-col", "w"
    )
    assert values(weighted, "mse", group="b") == pytest.approx((6.0 - 4.0) ** 2)
    missing = run("compute", reg_csv, "--group-by", "region")
    assert_error(missing, 1, "'region' not found", "--group-by")


# --------------------------------------------------------------------------- per-sample


def test_per_sample_file(run, reg_csv, tmp_path):
    out = tmp_path / "rows.csv"
    out.write_text("old content that must be replaced whole\n")
    result = run(
        "compute",
        reg_csv,
        "-l",
        "mse,mae,rmse",
        "--pred-col",
        "y_pred",
        "--pred-col",
        "model_b",
        "--per-sample",
        out,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    json.loads(result.stdout)  # the report still goes to stdout
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["row", "model", "mse", "mae", "rmse"]
    assert len(rows) == 8
    first = [r for r in rows if r["model"] == "y_pred"]
    assert [int(r["row"]) for r in first] == [1, 2, 3, 4]
    np.testing.assert_allclose([float(r["mse"]) for r in first], (REG_Y - REG_P) ** 2)
    np.testing.assert_allclose([float(r["mae"]) for r in first], np.abs(REG_Y - REG_P))
    second = [r for r in rows if r["model"] == "model_b"]
    np.testing.assert_allclose([float(r["mae"]) for r in second], np.abs(REG_Y - REG_B))
    # atomic: no temporary file is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg.csv", "rows.csv"]


def test_per_sample_keeps_file_row_numbers_after_drop_and_groups(run, tmp_path):
    path = write(tmp_path / "d.csv", "y_true,y_pred,g\n1,2,a\n2,,a\n3,5,b\n")
    out = tmp_path / "rows.csv"
    result = run(
        "compute", path, "--nan", "drop", "-l", "mae", "--group-by", "g", "--per-sample", out
    )
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    # numbers in their shortest round-trip form (Arrow's CSV writer): 1 for 1.0
    assert [(r["row"], r["group"], r["mae"]) for r in rows] == [("1", "a", "1"), ("3", "b", "2")]


def test_per_sample_write_is_atomic_when_writing_fails(run, reg_csv, tmp_path, monkeypatch):
    from losscli.report.per_sample import PerSampleWriter

    def half_then_fail(self, chunk, items):
        self.sink.write(b"row,model,mse\n1,y_pred,")
        raise OSError("disk full")

    monkeypatch.setattr(PerSampleWriter, "add", half_then_fail)
    out = tmp_path / "rows.csv"
    out.write_text("previous\n")
    result = run("compute", reg_csv, "-l", "mse", "--per-sample", out, "--format", "json")
    assert result.exit_code == 1
    assert f"Error: cannot write {out}: disk full" in result.stderr
    assert "Traceback" not in result.stderr
    assert out.read_text() == "previous\n"  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg.csv", "rows.csv"]


def test_per_sample_to_stdout(run, reg_csv):
    result = run("compute", reg_csv, "-l", "mae", "--per-sample", "-")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [float(r["mae"]) for r in rows] == list(np.abs(REG_Y - REG_P))
    assert "Losses:" in result.stderr  # the table moves to stderr


def test_per_sample_errors(run, reg_csv, tmp_path):
    assert_error(
        run("compute", reg_csv, "--per-sample", tmp_path / "no" / "dir" / "x.csv"),
        1,
        "does not exist",
    )
    assert_error(run("compute", reg_csv, "--per-sample", reg_csv), 2, "overwrite the input")
    assert reg_csv.read_text() == REG_TEXT


# --------------------------------------------------------------------------- bootstrap CI


def test_ci_bootstrap_seed(run_json, run):
    args = ("compute", SAMPLES / "regression_clean.csv", "-l", "mse,mae,median_ae,max_error")
    a = run_json(*args, "--ci", "0.9", "--bootstrap", "200", "--seed", "7")
    b = run_json(*args, "--ci", "0.9", "--bootstrap", "200", "--seed", "7")
    c = run_json(*args, "--ci", "0.9", "--bootstrap", "200", "--seed", "8")
    assert_json_shape(a, ci=True)
    assert a["results"] == b["results"]
    assert a["results"] != c["results"]
    for row in a["results"]:
        assert row["ci_low"] <= row["value"] <= row["ci_high"], row
        assert row["ci_low"] < row["ci_high"] or row["loss"] == "max_error"
    wider = run_json(*args, "--ci", "0.99", "--bootstrap", "200", "--seed", "7")
    for narrow, wide in zip(a["results"], wider["results"]):
        assert wide["ci_low"] <= narrow["ci_low"] and narrow["ci_high"] <= wide["ci_high"]
    table = run(*args, "--ci", "0.9", "--bootstrap", "50")
    assert "90% bootstrap CI, 50 resamples" in " ".join(table.stdout.split())


def test_ci_with_group_by(run_json):
    payload = run_json(
        "compute",
        SAMPLES / "regression_clean.csv",
        "-l",
        "mae",
        "--ci",
        "0.95",
        "--bootstrap",
        "50",
        "--group-by",
        "segment",
    )
    assert_json_shape(payload, ci=True, group=True)
    groups = {r["group"] for r in payload["results"]}
    assert None in groups and len(groups) >= 3
    assert len(payload["results"]) == len(groups)  # one loss, one model: a row per group


# --------------------------------------------------------------------------- quality gate


def test_fail_above_gate(run):
    path = SAMPLES / "regression_clean.csv"
    passed = run("compute", path, "-l", "mae", "--fail-above", "mae=1000")
    assert passed.exit_code == 0
    failed = run(
        "compute",
        path,
        "-l",
        "mae,mse",
        "--fail-above",
        "mae=1",
        "--fail-above",
        "mse=1e9",
        "--format",
        "json",
    )
    assert failed.exit_code == ExitCode.GATE_FAILED == 3
    payload = json.loads(failed.stdout)  # the report is still printed
    assert {r["loss"] for r in payload["results"]} == {"mae", "mse"}
    error = [line for line in failed.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "mae" in error[0] and "mse" not in error[0]
    assert "Traceback" not in failed.stderr


def test_fail_above_adds_the_gated_loss_and_accepts_aliases(run):
    result = run(
        "compute",
        SAMPLES / "regression_clean.csv",
        "-l",
        "mse",
        "--fail-above",
        "L1=0.001",
        "--format",
        "json",
    )
    assert result.exit_code == 3
    assert "mae" in [r["loss"] for r in json.loads(result.stdout)["results"]]
    assert "mae" in result.stderr


@pytest.mark.parametrize("gate", ["mae", "mae=abc", "nosuchloss=1"])
def test_fail_above_usage_errors(run, reg_csv, gate):
    assert_error(run("compute", reg_csv, "--fail-above", gate), 2)


# --------------------------------------------------------------------------- SPEC 7 errors


def test_missing_file(run, tmp_path):
    assert_error(run("compute", tmp_path / "nope.csv"), 1, "file not found", "nope.csv")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files regardless of mode"
)
def test_unreadable_file(run, tmp_path):
    path = write(tmp_path / "secret.csv", REG_TEXT)
    path.chmod(0)
    try:
        line = assert_error(run("compute", path), 1, "secret.csv")
        assert "permission" in line.lower()
    finally:
        path.chmod(0o644)


def test_directory(run, tmp_path):
    assert_error(run("compute", tmp_path), 1, "is a directory")


def test_empty_file(run, tmp_path):
    assert_error(run("compute", write(tmp_path / "e.csv", "")), 1, "is empty")
    assert_error(run("compute", write(tmp_path / "blank.csv", "\n\n")), 1, "is empty")


def test_header_only(run, tmp_path):
    assert_error(run("compute", write(tmp_path / "h.csv", "y_true,y_pred\n")), 1, "no data rows")


def test_duplicate_columns(run, tmp_path):
    path = write(tmp_path / "d.csv", "y_true,y_pred,y_pred\n1,2,3\n")
    assert_error(run("compute", path), 1, "duplicate column name 'y_pred'")


@pytest.mark.parametrize(("bad_row", "fields"), [("3\n", "1 field"), ("3,4,5\n", "3 fields")])
def test_ragged_rows(run, tmp_path, bad_row, fields):
    path = write(tmp_path / "r.csv", "y_true,y_pred\n1,2\n" + bad_row + "5,6\n")
    assert_error(run("compute", path), 1, f"line 3: {fields} but the header has 2")


def test_missing_column_lists_columns_and_suggests(run, tmp_path):
    path = write(tmp_path / "m.csv", "y_true,y_prd,other\n1,2,3\n")
    line = assert_error(run("compute", path), 1, "'y_pred' not found")
    found = line.split("the file has", 1)[1]
    assert all(name in found for name in ("y_true", "y_prd", "other"))
    assert "did you mean 'y_prd'" in line
    line = assert_error(run("compute", path, "--true-col", "ytrue", "--pred-col", "y_prd"), 1)
    assert "'ytrue' not found" in line and "--true-col" in line


def test_non_numeric_target(run, tmp_path):
    path = write(tmp_path / "n.csv", "y_true,y_pred\n1.5,2\nabc,3\n2.5,3\n")
    assert_error(run("compute", path), 1, "column y_true", "row", "'abc'")


def test_decimal_comma_is_explained(run, tmp_path):
    path = write(tmp_path / "c.csv", 'y_true,y_pred\n1.5,"2,5"\n')
    assert_error(run("compute", path), 1, "decimal comma")


@pytest.mark.parametrize(
    ("loss", "text", "fragments"),
    [
        ("msle", "y_true,y_pred\n1,2\n3,-2\n", ("msle", "y_pred", "-2", "row 2", "> -1")),
        ("rmsle", "y_true,y_pred\n-3,2\n3,2\n", ("rmsle", "y_true", "-3", "row 1")),
        ("poisson", "y_true,y_pred\n1,2\n3,-0.5\n", ("poisson", "y_pred", "-0.5", "row 2", "> 0")),
        ("poisson", "y_true,y_pred\n-1,2\n3,1\n", ("poisson", "y_true", "-1", "row 1", ">= 0")),
        ("gamma", "y_true,y_pred\n0,2\n3,1\n", ("gamma", "y_true", "0", "row 1")),
        ("tweedie:power=1.5", "y_true,y_pred\n1,0\n3,1\n", ("tweedie", "y_pred", "row 1")),
        ("bce", "y_true,y_pred\n0,0.3\n1,1.2\n", ("bce", "y_pred", "1.2", "row 2", "[0, 1]")),
        ("focal", "y_true,y_pred\n0,-0.1\n1,0.2\n", ("focal", "y_pred", "-0.1", "row 1")),
    ],
)
def test_domain_violations(run, tmp_path, loss, text, fragments):
    path = write(tmp_path / "d.csv", text)
    assert_error(run("compute", path, "-l", loss), 1, *fragments)


def test_multiclass_probability_domain_names_the_class_column(run, tmp_path):
    path = write(tmp_path / "mc.csv", "y_true,y_pred_a,y_pred_b\na,0.5,0.5\nb,1.3,-0.3\n")
    assert_error(run("compute", path, "-l", "cce"), 1, "cce", "y_pred_a", "1.3", "row 2")


def test_traceback_flag_shows_the_traceback(run, tmp_path):
    result = run("--traceback", "compute", tmp_path / "nope.csv")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "Error: file not found" in result.stderr


# --------------------------------------------------------------------------- list / info


def test_list_json(run_json):
    from losscli.core.registry import all_losses

    payload = run_json("list")
    assert payload["command"] == "list"
    rows = payload["losses"]
    assert [r["name"] for r in rows] == [s.name for s in all_losses()]
    for row in rows:
        assert {"name", "aliases", "task", "params", "summary"} <= set(row)
        assert isinstance(row["aliases"], list) and isinstance(row["params"], dict)
        assert row["summary"]
    huber = next(r for r in rows if r["name"] == "huber")
    assert huber["params"] == {"delta": 1.0} and huber["task"] == "regression"


def test_list_table_and_task_filter(run, run_json):
    result = run("list")
    assert result.exit_code == 0
    for name in ("mse", "bce", "cce", "kl_div"):
        assert name in result.stdout
    payload = run_json("list", "--task", "binary")
    assert {r["task"] for r in payload["losses"]} == {"binary"}
    assert_error(run("list", "--task", "astrology"), 2, "unknown task")


@pytest.mark.parametrize("name", ["huber", "HUBER", "Huber"])
def test_info_case_insensitive(run, name):
    result = run("info", name)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "huber" in text and "delta" in text and "torch" in text.lower()


@pytest.mark.parametrize(("alias", "name"), [("L2", "mse"), ("log_loss", "bce"), ("KLD", "kl_div")])
def test_info_by_alias(run, alias, name):
    result = run("info", alias, "--format", "json")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert info["name"] == name
    assert alias.lower() in info["aliases"]
    for key in ("formula", "domain", "params", "properties", "advice", "reference", "conventions"):
        assert key in info
    assert set(info["properties"]) >= {
        "convex",
        "smooth",
        "robust",
        "probabilistic",
        "margin_based",
    }


def test_info_unknown_loss_suggests(run):
    assert_error(run("info", "hubr"), 2, "did you mean huber")


def test_info_shows_the_library_conventions(run):
    mape = " ".join(run("info", "mape").stdout.split())
    assert "keras" in mape.lower() and "100" in mape
    focal = " ".join(run("info", "focal").stdout.split())
    assert "alpha" in focal and "keras" in focal.lower()


# --------------------------------------------------------------------------- interrupts, pipes


def test_ctrl_c_exits_130_without_traceback(run, reg_csv, monkeypatch):
    import losscli.report.compute

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(losscli.report.compute, "render", interrupted)
    result = run("compute", reg_csv)
    assert result.exit_code == ExitCode.INTERRUPTED == 130
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_closed_stdout_ends_quietly(tmp_path):
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    y = rng.normal(size=20_000)
    path = tmp_path / "big.csv"
    path.write_text("y_true,y_pred\n" + "".join(f"{a},{a + 0.5}\n" for a in y))
    proc = subprocess.Popen(
        [sys.executable, "-m", "losscli", "compute", str(path), "-l", "mae", "--per-sample", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    code = proc.wait(timeout=60)
    assert first.startswith(b"row,")
    assert code == 0, stderr
    assert "Traceback" not in stderr and "Error" not in stderr


def test_info_renders_every_loss(run):
    from losscli.core.registry import all_losses

    for spec in all_losses():
        result = run("info", spec.name)
        assert result.exit_code == 0, (spec.name, result.stderr)
        text = " ".join(result.stdout.split())
        assert spec.name in text and spec.summary.split()[0] in text
        info = json.loads(run("info", spec.name, "--format", "json").stdout)
        assert info["reference"] == spec.reference and info["formula"] == spec.formula


def test_raw_scores_default_panel_keeps_margin_losses_with_a_note(run):
    from conftest import SAMPLES

    result = run("compute", SAMPLES / "hinge_labels.csv", "--format", "json")
    assert result.exit_code == 0, result.stderr
    import json

    assert [r["loss"] for r in json.loads(result.stdout)["results"]] == ["hinge"]
    assert "Note: bce, brier, focal left out of the default panel" in result.stderr
    assert "--from-logits" in result.stderr


def test_empty_group_cell_is_a_missing_value(run, tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("y_true,y_pred,g\n1,2,a\n2,2,\n3,3,b\n")
    result = run("compute", path, "-l", "mae", "--group-by", "g")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        "Error: column g (--group-by): 1 empty cell (rows 2); "
        "fill them or pass --nan drop to skip those rows"
    )
    dropped = run(
        "compute", path, "-l", "mae", "--group-by", "g", "--nan", "drop", "--format", "json"
    )
    import json

    out = json.loads(dropped.stdout)
    assert out["n_dropped"] == 1
    assert [r["group"] for r in out["results"]] == [None, "a", "b"]


def test_continuous_group_column_is_refused(run, tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("y_true,y_pred\n" + "".join(f"{i},{i + 1}\n" for i in range(1500)))
    result = run("compute", path, "--group-by", "y_pred")
    assert result.exit_code == 1 and result.stdout == ""
    assert "1,500 distinct values" in result.stderr and "categorical" in result.stderr


def test_text_prediction_column_is_named_as_text(run):
    from conftest import SAMPLES

    result = run("compute", SAMPLES / "regression_clean.csv", "--pred-col", "segment")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: column segment holds text, not numbers")


def test_bootstrap_without_ci_is_reported_as_ignored(run):
    from conftest import SAMPLES

    result = run("compute", SAMPLES / "regression_clean.csv", "-l", "mse", "--bootstrap", "50")
    assert result.exit_code == 0
    assert "Warning: --bootstrap only applies with --ci LEVEL; ignored" in result.stderr


def test_hinge_on_probabilities_warns_only_when_chosen(run):
    from conftest import SAMPLES

    chosen = run("compute", SAMPLES / "binary_balanced.csv", "-l", "bce,hinge")
    assert "Warning: P-HINGE-PROB hinge" in chosen.stderr
    default = run("compute", SAMPLES / "binary_balanced.csv")
    assert "P-HINGE-PROB" not in default.stderr


def test_from_logits_on_regression_is_reported(run):
    from conftest import SAMPLES

    result = run("compute", SAMPLES / "regression_clean.csv", "-l", "mse", "--from-logits")
    assert result.exit_code == 0
    assert "--from-logits has no effect on regression data" in result.stderr


def test_regression_losses_on_minus_one_labels_use_the_file_values(run_json):
    # -1 -> 0 is for the binary losses; mse/mae score the file's own numbers (sklearn).
    import pandas as pd
    from conftest import SAMPLES
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    frame = pd.read_csv(SAMPLES / "hinge_labels.csv")
    out = run_json("compute", SAMPLES / "hinge_labels.csv", "-l", "mse,mae,hinge")
    values = {r["loss"]: r["value"] for r in out["results"]}
    assert values["mse"] == pytest.approx(mean_squared_error(frame.y_true, frame.y_pred), rel=1e-12)
    assert values["mae"] == pytest.approx(
        mean_absolute_error(frame.y_true, frame.y_pred), rel=1e-12
    )
    t = 2 * (frame.y_true > 0) - 1
    hinge = (1 - t * frame.y_pred).clip(lower=0).mean()
    assert values["hinge"] == pytest.approx(hinge, rel=1e-12)


def test_negative_seed_is_a_usage_error(run):
    from conftest import SAMPLES

    result = run("compute", SAMPLES / "regression_clean.csv", "--ci", "0.9", "--seed", "-1")
    assert result.exit_code == 2 and result.stdout == ""
    assert "--seed" in result.stderr


def test_info_with_parameters_says_to_drop_them(run):
    result = run("info", "huber:delta=2")
    assert result.exit_code == 2 and result.stdout == ""
    assert "loss info takes a loss name without parameters" in result.stderr
    assert "loss info huber" in result.stderr


def test_info_properties_say_yes_and_no(run):
    result = run("info", "mape")
    assert "yes: convex; no: smooth, robust" in " ".join(result.stdout.split())
