"""``loss recommend`` end to end on sample_data/ and flags alone: exit codes, JSON, table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT, SAMPLES

from losscli.cli import cli

SPEC_KEYS = {
    "command",
    "task",
    "evidence",
    "recommendations",
    "avoid",
    "pitfalls",
    "contradictions",
}


def sample(name: str) -> str:
    return str(SAMPLES / name)


def rec_json(run_json, *args):
    out = run_json("recommend", *args)
    assert SPEC_KEYS <= set(out)
    assert out["command"] == "recommend"
    for r in out["recommendations"]:
        assert {"loss", "params", "score", "reasons"} <= set(r)
        assert all({"rule", "text"} <= set(reason) for reason in r["reasons"])
    for a in out["avoid"]:
        assert {"loss", "reasons"} <= set(a)
    for p in out["pitfalls"]:
        assert {"id", "message"} <= set(p)
    for c in out["contradictions"]:
        assert {"flag", "evidence", "text"} <= set(c)
    scores = [r["score"] for r in out["recommendations"]]
    assert scores == sorted(scores, reverse=True)
    return out


def losses(out) -> list[str]:
    return [r["loss"] for r in out["recommendations"]]


def pitfall_ids(out) -> set[str]:
    return {p["id"] for p in out["pitfalls"]}


# --------------------------------------------------------------------------- flags alone


def test_outliers_flag_alone(run_json):
    out = rec_json(run_json, "--outliers")
    assert out["task"] == "regression"
    assert losses(out)[:2] == ["huber", "mae"]
    assert {"mse", "rmse"} <= {a["loss"] for a in out["avoid"]}
    assert out["evidence"] == {} and out["contradictions"] == []
    top = out["recommendations"][0]
    assert "R-REG-OUTLIERS" in [r["rule"] for r in top["reasons"]]
    assert "delta" in top["params_note"]


@pytest.mark.parametrize(
    "args, task, top",
    [
        (["--no-outliers"], "regression", "mse"),
        (["--interpretable"], "regression", "mae"),
        (["--imbalanced"], "binary", "focal"),
        (["--max-margin"], "binary", "hinge"),
        (["--need-probabilities"], "binary", "bce"),
        (["--task", "multiclass", "--imbalanced"], "multiclass", "categorical_focal"),
        (["--task", "detection"], "detection", "giou"),
        (["--task", "similarity"], "similarity", "contrastive"),
        (["--task", "generative"], "generative", "gan_discriminator"),
        (["--task", "distribution"], "distribution", "kl_div"),
    ],
)
def test_flags_alone(run_json, args, task, top):
    out = rec_json(run_json, *args)
    assert out["task"] == task
    assert losses(out)[0] == top


# A flag's objection outweighs another flag's backing: the user's own flags never
# make a loss one of them rules against the top choice (see analysis/rules.py).
FLAG_COMBINATIONS = [
    (["--smooth", "--interpretable"], "rmse", "mae"),
    (["--interpretable", "--smooth"], "rmse", "mae"),
    (["--outliers", "--smooth"], "huber", "mae"),
    (["--heavy-tails", "--smooth"], "huber", "mae"),
    (["--outliers", "--interpretable"], "mae", "mse"),
    (["--outliers", "--interpretable", "--smooth"], "huber", "mae"),
    (["--heavy-tails", "--interpretable", "--smooth"], "huber", "mae"),
    (["--no-outliers", "--interpretable"], "mae", "mse"),
    (["--no-outliers", "--interpretable", "--smooth"], "rmse", "mae"),
    (["--max-margin", "--smooth"], "squared_hinge", "hinge"),
    (["--need-probabilities", "--smooth"], "bce", "hinge"),
    (["--imbalanced", "--smooth"], "focal", None),
    (["--task", "multiclass", "--smooth"], "cce", None),
]


@pytest.mark.parametrize(
    "args, top, ruled_out", FLAG_COMBINATIONS, ids=[" ".join(c[0]) for c in FLAG_COMBINATIONS]
)
def test_flag_combinations(run_json, args, top, ruled_out):
    out = rec_json(run_json, *args)
    assert losses(out)[0] == top, losses(out)
    against = [r["rule"] for r in out["recommendations"][0]["reasons"] if r["effect"] == "against"]
    assert against == [], against
    if ruled_out is None:
        return
    # the loss a flag rules against is ranked lower or listed under avoid, with the reason
    ranked = {r["loss"]: r for r in out["recommendations"]}
    avoided = {a["loss"]: a for a in out["avoid"]}
    assert ruled_out in ranked or ruled_out in avoided
    item = ranked.get(ruled_out) or avoided[ruled_out]
    assert any(r["effect"] == "against" for r in item["reasons"])


# --------------------------------------------------------------------------- sample files


def test_regression_outliers_file(run_json):
    out = rec_json(run_json, sample("regression_outliers.csv"))
    ev = out["evidence"]
    assert out["task"] == "regression"
    assert ev["outlier_fraction"] == pytest.approx(0.03)
    assert ev["excess_kurtosis"] > 1
    top = out["recommendations"][0]
    assert top["loss"] == "huber"
    assert top["params"]["delta"] == pytest.approx(1.345 * ev["residual_scale"], rel=1e-2)
    text = next(r["text"] for r in top["reasons"] if r["rule"] == "R-REG-OUTLIERS")
    assert "3.0% of rows (15 of 500)" in text and "3.5" in text
    assert "mse" in {a["loss"] for a in out["avoid"]}
    assert "P-SCALE" in pitfall_ids(out)


def test_contradicted_flag_evidence_wins(run_json):
    out = rec_json(run_json, sample("regression_outliers.csv"), "--no-outliers")
    (c,) = out["contradictions"]
    assert c["flag"] == "--no-outliers" and c["winner"] == "evidence"
    assert "3.0%" in c["evidence"] and "1%" in c["text"]
    assert losses(out)[0] == "huber"
    assert "mse" in {a["loss"] for a in out["avoid"]}


def test_heavy_tails_flag_agreeing_with_the_file_is_no_contradiction(run_json):
    # The residuals' excess kurtosis is 29.7 > 1: the file agrees with --heavy-tails.
    # It was listed under contradictions as "not heavy-tailed (29.7 <= 1)".
    out = rec_json(run_json, sample("regression_outliers.csv"), "--heavy-tails")
    assert out["evidence"]["excess_kurtosis"] > 1
    assert out["contradictions"] == []
    # A file whose tails are light still disagrees with the flag (the flag wins).
    out = rec_json(run_json, sample("regression_clean.csv"), "--heavy-tails")
    (c,) = out["contradictions"]
    assert c["flag"] == "--heavy-tails" and c["winner"] == "flag"
    assert out["evidence"]["excess_kurtosis"] <= 1


def test_regression_clean_file(run_json):
    out = rec_json(run_json, sample("regression_clean.csv"))
    assert losses(out)[0] == "mse"
    assert "R-REG-CLEAN" in out["rules_fired"]
    assert out["contradictions"] == []


def test_too_few_rows_for_the_tails_is_said_so(run_json, tmp_path):
    # 2 rows: the residuals have a spread (robust sigma 0.37) but no kurtosis can be
    # measured. R-REG-CLEAN said "the residuals have no spread to measure".
    path = tmp_path / "two.csv"
    path.write_text("y_true,y_pred\n1,2\n3,3.5\n")
    out = rec_json(run_json, str(path))
    assert out["evidence"]["residual_scale"] > 0
    assert "excess_kurtosis" not in out["evidence"]
    clean = next(
        r["text"] for r in out["recommendations"][0]["reasons"] if r["rule"] == "R-REG-CLEAN"
    )
    assert "no spread" not in clean
    assert "too few rows (2 < 4) to measure the residuals' tails" in clean


def test_residuals_without_spread_are_said_so(run_json, tmp_path):
    path = tmp_path / "flat.csv"
    path.write_text("y_true,y_pred\n" + "".join(f"{i},{i + 1}\n" for i in range(20)))
    out = rec_json(run_json, str(path))
    clean = next(
        r["text"] for r in out["recommendations"][0]["reasons"] if r["rule"] == "R-REG-CLEAN"
    )
    assert "the residuals have no spread to measure" in clean


def _gross_errors(tmp_path, n: int):
    """n rows of small errors, 5 of them off by +50 (about 10% outliers)."""
    rng = np.random.default_rng(0)
    y = rng.normal(10, 5, n)
    pred = y + rng.normal(0, 1, n)
    pred[:5] += 50
    path = tmp_path / f"gross{n}.csv"
    path.write_text("y_true,y_pred\n" + "".join(f"{a:.6f},{b:.6f}\n" for a, b in zip(y, pred)))
    return str(path)


def test_few_rows_disagreeing_with_a_flag_are_noted(run, run_json, tmp_path):
    # 49 rows, 10% of them gross errors, --no-outliers: the flag wins (fewer than 50
    # rows) but it won silently, with no contradiction and no note.
    result = run("recommend", _gross_errors(tmp_path, 49), "--no-outliers", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["contradictions"] == []
    assert "R-REG-OUTLIERS" not in out["rules_fired"]  # the flag still wins
    (note,) = out["notes"]
    assert note.startswith("--no-outliers: the data suggest outliers (10.2% of rows (5 of 49)")
    assert note.endswith("but too few rows to overrule the flag (49 < 50)")
    assert f"Note: {note}" in result.stderr
    # From 50 rows the evidence wins, as a contradiction (and no note).
    out = rec_json(run_json, _gross_errors(tmp_path, 50), "--no-outliers")
    assert [c["winner"] for c in out["contradictions"]] == ["evidence"]
    assert out["notes"] == []


def test_few_rows_agreeing_with_a_flag_are_not_noted(run_json, tmp_path):
    out = rec_json(run_json, _gross_errors(tmp_path, 49), "--outliers")
    assert out["contradictions"] == [] and out["notes"] == []


def test_one_outlier_row_is_one_row_not_1_rows(tmp_path, run_json):
    # The Evidence said "20.0% (1 rows with |robust z| > 3.5)".
    path = tmp_path / "consty.csv"
    path.write_text("y_true,y_pred\n5,1\n5,2\n5,3\n5,4\n5,9\n")
    result = CliRunner(env={"COLUMNS": "100", "NO_COLOR": "1"}).invoke(
        cli, ["recommend", str(path)]
    )
    assert result.exit_code == 0, result.stderr
    assert "20.0% (1 row with |robust z| > 3.5)" in result.stdout
    assert "1 rows" not in result.stdout
    path.write_text("y_true,y_pred\n1.5,2\n")
    (clean,) = [
        r["text"]
        for r in rec_json(run_json, str(path))["recommendations"][0]["reasons"]
        if r["rule"] == "R-REG-CLEAN"
    ]
    assert "only 1 row, weak evidence" in clean and "1 rows" not in clean


def test_outliers_flag_kept_on_clean_file(run_json):
    out = rec_json(run_json, sample("regression_clean.csv"), "--outliers")
    (c,) = out["contradictions"]
    assert c["flag"] == "--outliers" and c["winner"] == "flag"
    assert losses(out)[0] == "huber"


def test_binary_balanced(run_json):
    out = rec_json(run_json, sample("binary_balanced.csv"))
    assert out["task"] == "binary" and losses(out)[0] == "bce"
    # sample_data/generate.py writes sigmoid(z) where the calibrated probability is
    # sigmoid(1.66 z) (class means +-1.4, sd 1.3): underconfident, and P-CALIB says so.
    assert pitfall_ids(out) == {"P-CALIB"}
    figures = out["evidence"]["calibration"]["y_pred"]
    assert figures["ece"] > max(0.05, 2 * figures["ece_noise"])


def test_binary_imbalanced(run_json):
    out = rec_json(run_json, sample("binary_imbalanced.csv"))
    top = out["recommendations"][0]
    assert top["loss"] == "focal" and top["params"]["alpha"] == pytest.approx(0.94)
    assert "P-IMB" in pitfall_ids(out)
    assert out["evidence"]["minority_fraction"] == pytest.approx(0.057)


def test_imbalanced_flag_on_balanced_file(run_json):
    out = rec_json(run_json, sample("binary_balanced.csv"), "--imbalanced")
    assert [c["flag"] for c in out["contradictions"]] == ["--imbalanced"]
    assert losses(out)[0] == "focal"


def test_binary_logits_without_and_with_from_logits(run_json):
    out = rec_json(run_json, sample("binary_logits.csv"))
    assert "P-NOTPROB" in pitfall_ids(out)
    out = rec_json(run_json, sample("binary_logits.csv"), "--from-logits")
    assert "P-NOTPROB" not in pitfall_ids(out)
    assert out["evidence"]["predictions"] == "logits"


def test_hinge_labels_max_margin(run_json):
    out = rec_json(run_json, sample("hinge_labels.csv"), "--max-margin", "--from-logits")
    assert losses(out)[0] == "hinge"
    # raw scores are what hinge wants: no "use --from-logits" pitfall with --max-margin
    out = rec_json(run_json, sample("hinge_labels.csv"), "--max-margin")
    assert losses(out)[0] == "hinge" and pitfall_ids(out) == set()
    out = rec_json(run_json, sample("binary_balanced.csv"), "--max-margin")
    assert "P-HINGE-PROB" in pitfall_ids(out)


def test_multiclass_files(run_json):
    out = rec_json(run_json, sample("multiclass_probs.csv"))
    assert out["task"] == "multiclass" and losses(out)[0] == "cce"
    assert pitfall_ids(out) == {"P-CALIB"}  # softmax(z) where softmax(2 z) is calibrated
    out = rec_json(run_json, sample("multiclass_logits.csv"))
    assert "P-NOTPROB" in pitfall_ids(out)
    out = rec_json(run_json, sample("multiclass_soft.csv"))
    assert "kl_div" in losses(out)
    out = rec_json(run_json, sample("multiclass_soft.csv"), "--task", "distribution")
    assert out["task"] == "distribution" and losses(out)[0] == "kl_div"


@pytest.mark.parametrize(
    "name, task, top",
    [
        ("detection_boxes.csv", "detection", "giou"),
        ("gan_outputs.csv", "generative", "gan_discriminator"),
        ("similarity_pairs.csv", "similarity", "contrastive"),
        ("similarity_triplets.csv", "similarity", "triplet"),
        ("vae_latents.csv", "vae", "vae"),
    ],
)
def test_structured_files(run_json, name, task, top):
    if not (SAMPLES / name).exists():
        pytest.skip(f"{name} not in sample_data yet")
    out = rec_json(run_json, sample(name))
    assert out["task"] == task
    assert losses(out)[0] == top


def test_structured_file_with_imbalanced_flag(run_json):
    if not (SAMPLES / "detection_boxes.csv").exists():
        pytest.skip("detection_boxes.csv not in sample_data yet")
    out = rec_json(run_json, sample("detection_boxes.csv"), "--task", "detection", "--imbalanced")
    assert losses(out)[:3] == ["focal", "giou", "iou"]


def test_planned_losses_rated_and_pitfalls(run_json):
    out = rec_json(run_json, sample("regression_outliers.csv"), "-l", "mse,mbe,huber:delta=5")
    verdicts = {p["loss"]: p["verdict"] for p in out["planned"]}
    assert verdicts == {"mse": "avoid", "mbe": "avoid", "huber": "recommended"}
    assert "P-MBE" in pitfall_ids(out)
    assert next(p for p in out["planned"] if p["loss"] == "huber")["params"]["delta"] == 5.0


def test_p_act_from_planned_mse_on_probabilities(run_json):
    out = rec_json(run_json, sample("binary_balanced.csv"), "--losses", "mse")
    assert "P-ACT" in pitfall_ids(out)
    assert "mse" in {a["loss"] for a in out["avoid"]}


def test_p_mape0_with_zero_targets(run_json, tmp_path):
    path = tmp_path / "zeros.csv"
    rows = ["y_true,y_pred"] + [f"{i % 7},{i % 7 + 0.5}" for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    out = rec_json(run_json, str(path), "-l", "mape")
    assert "P-MAPE0" in pitfall_ids(out)
    assert out["evidence"]["n_zero_targets"] > 0


def test_p_rowsum_and_p_log0(run_json, tmp_path):
    path = tmp_path / "rows.csv"
    rows = ["y_true,y_pred_a,y_pred_b"] + ["a,0.7,0.1", "b,0.2,0.8", "b,1.0,0.0"] * 20
    path.write_text("\n".join(rows) + "\n")
    out = rec_json(run_json, str(path))
    assert {"P-ROWSUM", "P-LOG0"} <= pitfall_ids(out)
    assert out["evidence"]["n_rows_not_summing_to_1"] == 20


def _with_missing(tmp_path):
    """60 complete rows and 40 whose y_pred is empty."""
    path = tmp_path / "nan.csv"
    rows = [f"{i},{i + 1}" for i in range(1, 61)] + [f"{i}," for i in range(61, 101)]
    path.write_text("y_true,y_pred\n" + "\n".join(rows) + "\n")
    return path


def test_nan_drop_reports_the_dropped_rows(run, tmp_path):
    # --nan drop said nothing about the 40 rows it skipped (SPEC 2: "reports how
    # many were dropped"); compute and sensitivity say "60 rows used, 40 dropped".
    path = _with_missing(tmp_path)
    result = run("recommend", path, "--nan", "drop", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["evidence"]["n_rows"] == 60 and out["evidence"]["n_dropped"] == 40
    assert "40 rows with missing or non-numeric values were dropped" in result.stderr
    table = CliRunner(env={"COLUMNS": "100", "NO_COLOR": "1"}).invoke(
        cli, ["recommend", str(path), "--nan", "drop"]
    )
    assert table.exit_code == 0, table.stderr
    assert "60 rows used, 40 dropped" in table.stdout
    assert "40 rows" in table.stderr


def test_no_dropped_rows_is_zero(run_json):
    out = rec_json(run_json, sample("regression_clean.csv"))
    assert out["evidence"]["n_dropped"] == 0
    assert rec_json(run_json, "--outliers")["evidence"] == {}


def test_several_models_note_on_stderr(run):
    result = run(
        "recommend", sample("regression_clean.csv"), "--pred-col", "y_pred", "--pred-col", "model_b"
    )
    assert result.exit_code == 0
    assert "Note: 2 models" in result.stderr and "y_pred" in result.stderr


# --------------------------------------------------------------------------- output formats


def test_table_at_80_columns_shows_the_top_choice_and_why(monkeypatch):
    # A relative path, so the panel's first lines do not depend on where the checkout is.
    monkeypatch.chdir(SAMPLES.parent)
    runner = CliRunner(env={"COLUMNS": "80", "NO_COLOR": "1"})
    result = runner.invoke(cli, ["recommend", "sample_data/regression_outliers.csv"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "use huber (delta=17.5)" in lines[1]
    assert "R-REG-OUTLIERS" in result.stdout and "Outliers present → MAE or Huber" in result.stdout
    assert "Avoid" in result.stdout and "P-SCALE" in result.stdout
    assert max(len(line) for line in lines) <= 80


def test_panel_and_table_show_the_same_score():
    runner = CliRunner(env={"COLUMNS": "80", "NO_COLOR": "1"})
    result = runner.invoke(cli, ["recommend", "--outliers"])
    assert result.exit_code == 0
    assert "score 0.835" in result.stdout  # the panel title
    assert " 0.835 " in result.stdout  # the table row
    assert "score 0.83 " not in result.stdout


def test_title_names_flags_only_when_there_are_some(run):
    result = run("recommend", "--task", "detection")
    assert result.exit_code == 0
    first = result.stdout.splitlines()[0]
    assert first == "Recommendation for detection", first
    assert "(flags )" not in result.stdout
    result = run("recommend", "--task", "detection", "--imbalanced")
    assert result.stdout.splitlines()[0] == "Recommendation for detection (flags --imbalanced)"


@pytest.mark.parametrize(
    "name, flag, winner",
    [
        ("regression_outliers.csv", "--no-outliers", "the evidence wins"),
        ("regression_clean.csv", "--outliers", "the flag wins"),
        ("binary_balanced.csv", "--imbalanced", "the flag wins"),
    ],
)
def test_contradiction_says_who_wins_once(name, flag, winner):
    runner = CliRunner(env={"COLUMNS": "80", "NO_COLOR": "1"})
    result = runner.invoke(cli, ["recommend", sample(name), flag])
    assert result.exit_code == 0, result.stderr
    section = result.stdout.split("Contradictions\n", 1)[1].split("\nEvidence", 1)[0]
    flat = " ".join(section.split())
    assert flat.count("wins") == 1, section
    assert winner in flat, section
    lines = [line.strip() for line in section.splitlines()]
    assert "the evidence wins" not in lines and "the flag wins" not in lines


def test_table_flags_alone(run):
    result = run("recommend", "--outliers")
    assert result.exit_code == 0
    assert "use huber" in result.stdout and "you said --outliers" in result.stdout


@pytest.mark.parametrize("fmt, head", [("csv", "kind,rank,loss"), ("markdown", "| kind | rank")])
def test_csv_and_markdown(run, fmt, head):
    result = run("recommend", "--outliers", "--format", fmt)
    assert result.exit_code == 0
    assert result.stdout.startswith(head)
    assert "recommend" in result.stdout and "avoid" in result.stdout


def test_help_documents_thresholds(run):
    result = run("recommend", "--help")
    assert result.exit_code == 0
    for text in ("3.5", "1%", "kurtosis", "1.345", "--max-margin with --need-probabilities"):
        assert text in result.stdout, text


def test_top_level_help_does_not_import_the_rules():
    # `loss --help` lists recommend's short help; its epilog (the thresholds) is built
    # only when `loss recommend --help` prints it.
    import subprocess
    import sys

    from conftest import ROOT

    code = (
        "import sys\n"
        "from losscli.cli import cli\n"
        "try:\n"
        "    cli.main(['--help'], prog_name='loss')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('LOADED:' + ' '.join(sorted(m for m in sys.modules if m.startswith(('losscli.analysis', 'numpy')))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert "recommend" in done.stdout
    loaded = done.stdout.rsplit("LOADED:", 1)[1].split()
    assert loaded == [], loaded


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--max-margin", "--need-probabilities"],
        ["--outliers", "--imbalanced"],
        ["--task", "regression", "--imbalanced"],
        ["--task", "binary", "--heavy-tails"],
        ["--outliers", "-l", "nosuch"],
        ["--task", "nosuch"],
        [sample("regression_clean.csv"), "--imbalanced"],
        [sample("regression_clean.csv"), "--task", "distribution"],
        [sample("regression_clean.csv"), "--max-margin", "--need-probabilities"],
        ["--outliers", "--no-outliers"],
    ],
)
def test_usage_errors_exit_2(run, args):
    result = run("recommend", *args)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert "Error:" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--outliers", "--no-outliers"],
        ["--no-outliers", "--outliers"],
        ["--task", "regression", "--no-outliers", "--smooth", "--outliers"],
        [sample("regression_clean.csv"), "--no-outliers", "--outliers"],
    ],
)
def test_outliers_and_no_outliers_together_exit_2(run, args):
    # Not "the last one wins": saying both is a contradiction (SPEC 5), one clear error.
    result = run("recommend", *args)
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "--outliers and --no-outliers contradict each other" in error


def test_custom_is_refused_not_ignored(run, tmp_path):
    # --custom was loaded (its file imported) and then silently ignored.
    code = tmp_path / "cust.py"
    marker = tmp_path / "imported"
    code.write_text(
        "import pathlib, numpy as np\n"
        f"pathlib.Path({str(marker)!r}).write_text('x')\n"
        "def boom(y_true, y_pred):\n"
        "    return np.abs(y_true - y_pred)\n"
    )
    for args in (
        [sample("regression_clean.csv"), "--custom", f"{code}:boom"],
        ["--outliers", "--custom", f"{code}:boom"],
        [sample("regression_clean.csv"), "-l", "mae", "--custom", f"{code}:boom"],
    ):
        result = run("recommend", *args)
        assert result.exit_code == 2, result.stdout
        assert result.stdout == ""
        (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert "--custom does not apply to recommend" in error
        assert "compute" in error and "sensitivity" in error
    assert not marker.exists()  # refused before the user's code runs
    shown = run("recommend", "--help").stdout
    assert "PATH.py:FUNC[" not in shown  # not offered as an option...
    assert "--custom (the" in shown  # ...but named among the usage errors


def test_outliers_flags_still_work_alone(run_json):
    assert run_json("recommend", "--outliers")["flags"] == ["--outliers"]
    assert run_json("recommend", "--no-outliers")["flags"] == ["--no-outliers"]


def test_missing_file_exit_1(run, tmp_path):
    result = run("recommend", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:")


def test_task_whose_columns_are_missing_exit_1(run):
    result = run("recommend", sample("binary_balanced.csv"), "--task", "detection")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error:") and "true_x1" in result.stderr


def test_json_is_one_object(run):
    result = run("recommend", "--task", "similarity", "--format", "json")
    assert result.exit_code == 0
    assert isinstance(json.loads(result.stdout), dict)


# --------------------------------------------------------------------------- README


@pytest.mark.parametrize(
    "args", [["--outliers"], ["sample_data/regression_outliers.csv"]], ids=["flags", "file"]
)
def test_readme_examples_are_real_output(args, monkeypatch):
    from conftest import ROOT

    monkeypatch.chdir(ROOT)
    runner = CliRunner(env={"COLUMNS": "80", "NO_COLOR": "1"})
    result = runner.invoke(cli, ["recommend", *args])
    assert result.exit_code == 0
    shown = "\n".join(line.rstrip() for line in result.stdout.splitlines())
    block = f"$ loss recommend {' '.join(args)}\n{shown}\n```"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert block in readme, "update the README's `loss recommend` examples (COLUMNS=80)"


def test_readme_documents_the_thresholds():
    from conftest import ROOT

    from losscli.analysis import rules as R

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### loss recommend") :]
    for text in (
        f"> {R.OUTLIER_Z:g}",
        f">= {R.OUTLIERS_PRESENT_FRACTION:.0%} of rows / <= {R.OUTLIERS_ABSENT_FRACTION:.1%}",
        f">= {R.MIN_ROWS_FOR_STRONG_EVIDENCE} rows",
        f"excess kurtosis of the residuals > {R.HEAVY_TAILS_KURTOSIS:g}",
        f"< {R.IMBALANCE_RATIO:g} / >= {R.BALANCED_RATIO:g}",
        f"std(y_true) > {R.TARGET_STD_LARGE:g}",
        f"> {R.ROWSUM_TOLERANCE:g}",
        f"{R.HUBER_DELTA_FACTOR:g} x 1.4826 MAD",
    ):
        assert text in section, text


# --------------------------------------------------------------------------- P-CALIB


def _calibration_file(tmp_path, n=3000):
    """Three models of one binary target: calibrated, underconfident, a constant."""
    import pandas as pd

    rng = np.random.default_rng(11)
    z = rng.normal(0.0, 2.0, n)
    p = 1.0 / (1.0 + np.exp(-z))
    y = (rng.uniform(size=n) < p).astype(int)
    frame = pd.DataFrame(
        {
            "y_true": y,
            "calibrated": p,
            "underconfident": 1.0 / (1.0 + np.exp(-z / 2.5)),
            "base_rate": np.full(n, y.mean()),
        }
    )
    path = tmp_path / "calibration.csv"
    frame.to_csv(path, index=False)
    return path


def test_p_calib_fires_for_a_leading_model_that_is_miscalibrated(run_json, tmp_path):
    path = _calibration_file(tmp_path)
    models = ("--pred-col", "underconfident", "--pred-col", "base_rate")
    out = rec_json(run_json, path, *models)
    assert "P-CALIB" in pitfall_ids(out)
    (message,) = [p["message"] for p in out["pitfalls"] if p["id"] == "P-CALIB"]
    assert message.startswith("underconfident ranks best or within 2% of the best on log loss")
    assert "base_rate" not in message  # calibrated (one bin, its own base rate)
    figures = out["evidence"]["calibration"]
    assert figures["underconfident"]["ece"] > 0.1
    assert figures["base_rate"]["ece"] == pytest.approx(0.0, abs=1e-12)


def test_p_calib_is_quiet_when_the_leader_is_calibrated(run_json, tmp_path):
    path = _calibration_file(tmp_path)
    models = ("--pred-col", "calibrated", "--pred-col", "underconfident")
    out = rec_json(run_json, path, *models)
    assert "P-CALIB" not in pitfall_ids(out)
    figures = out["evidence"]["calibration"]
    assert figures["underconfident"]["ece"] > 0.1  # miscalibrated, but it does not lead
    assert figures["calibrated"]["log_loss"] < figures["underconfident"]["log_loss"]
    out = rec_json(run_json, path, "--pred-col", "calibrated")
    assert "P-CALIB" not in pitfall_ids(out)


def test_p_calib_figures_are_computes_values(run_json, run, tmp_path):
    path = _calibration_file(tmp_path)
    out = rec_json(run_json, path, "--pred-col", "underconfident")
    figures = out["evidence"]["calibration"]["underconfident"]
    computed = run(
        "compute", path, "--pred-col", "underconfident", "-l", "bce,brier,ece", "--format", "json"
    )
    values = {r["loss"]: r["value"] for r in json.loads(computed.stdout)["results"]}
    assert figures["log_loss"] == pytest.approx(values["bce"], rel=1e-12)
    assert figures["brier"] == pytest.approx(values["brier"], rel=1e-12)
    assert figures["ece"] == pytest.approx(values["ece"], rel=1e-12)


def test_p_calib_threshold_is_documented():
    from losscli.analysis.rules import CALIBRATION_ECE, THRESHOLDS_HELP

    assert "P-CALIB" in THRESHOLDS_HELP and f"ece > {CALIBRATION_ECE:g}" in THRESHOLDS_HELP
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "P-CALIB" in readme and f"ece > {CALIBRATION_ECE:g}" in readme


def _shown(args: list[str], columns: int) -> str:
    result = CliRunner().invoke(cli, ["recommend", *args], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("columns", [20, 33, 59])
@pytest.mark.parametrize(
    "args",
    [
        ["--outliers"],
        ["--imbalanced", "--task", "binary", "-l", "bce,mse"],
        [str(SAMPLES / "regression_outliers.csv"), "--outliers"],
        [str(SAMPLES / "binary_imbalanced.csv")],
    ],
    ids=["flags", "planned", "file", "binary-file"],
)
def test_narrow_terminals_wrap_at_spaces(args, columns):
    """Below 60 columns every row is stacked: words are never cut, nothing is lost.

    Each word of the narrow output is a whole word of the 120-column output
    (a word folded at the edge would leave pieces that are not), and every word
    of the wide output's text is there.
    """
    if not all(ROOT.joinpath(a).exists() for a in args if a.endswith(".csv")):
        pytest.skip("sample file missing")
    narrow = _shown(args, columns)
    assert max(len(line) for line in narrow.splitlines()) <= columns

    def words(text: str) -> set[str]:
        return {w.strip(",;()") for w in text.split()} - {""}

    wide = words(_shown(args, 120))
    long_words = [w for w in wide if len(w) > columns - 2]  # these may fold: nothing else
    pieces = words(narrow) - wide - {"Ranking"}
    assert all(any(p in w for w in long_words) for p in pieces), pieces
    frame = set("─│╭╮╰╯#") | {"loss", "params", "score", "rules"}  # the wide layout's
    lost = {w for w in wide - words(narrow) if not set(w) <= frame and w not in frame}
    lost -= set(long_words)
    assert not lost, lost
