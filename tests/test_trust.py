"""Judgement you can trust (issue 11): verdicts, warnings and recommendations
agree with the numbers shown beside them.

The data sets are scikit-learn's bundled ones with ordinary models, as a new
user would try the tool: shipped as small files in tests/data (regenerate with
``python tests/data/generate.py``), plus a few fitted here on the spot.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLES

from losscli.analysis.evaluate import per_sample_losses
from losscli.analysis.sensitivity import (
    BARELY_PCT,
    MIN_ROWS_TOP1,
    SENSITIVE_CHANGE_PCT,
    sensitivity,
)
from losscli.core.registry import (
    PLAIN_REDUCTIONS,
    LossSelection,
    Reduction,
    Task,
    losses_for_task,
)
from losscli.errors import LossCliError
from losscli.io import load_dataset
from losscli.io.columns import InputOptions

DATA = Path(__file__).resolve().parent / "data"


# --------------------------------------------------------------------------- data sets


def _fitted(tmp: Path, name: str) -> Path:
    """Larger data sets fitted here: all of digits (1,797 rows), all of diabetes (442)."""
    from sklearn.datasets import load_diabetes, load_digits
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    path = tmp / f"{name}.csv"
    if name == "digits_logistic":
        digits = load_digits()
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        proba = model.fit(digits.data, digits.target).predict_proba(digits.data)
        frame = pd.DataFrame({"y_true": digits.target.astype(str)})
        for j in range(10):
            frame[f"y_pred_{j}"] = proba[:, j]
    else:
        diabetes = load_diabetes()
        pred = LinearRegression().fit(diabetes.data, diabetes.target).predict(diabetes.data)
        frame = pd.DataFrame({"y_true": diabetes.target, "y_pred": pred})
    frame.to_csv(path, index=False)
    return path


# (path or fitted name, input options)
DATASETS = {
    "diabetes-133": (DATA / "diabetes.csv", {"pred_cols": ("linear", "random_forest")}),
    "linnerud-20": (DATA / "linnerud.csv", {"pred_cols": ("linear", "random_forest")}),
    "diabetes-442": ("diabetes_full", {}),
    "regression_outliers-500": (SAMPLES / "regression_outliers.csv", {}),
    "regression_clean-500": (SAMPLES / "regression_clean.csv", {}),
    "cancer-171": (DATA / "cancer_proba.csv", {}),
    "binary_imbalanced-1000": (SAMPLES / "binary_imbalanced.csv", {}),
    "binary_logits-500": (SAMPLES / "binary_logits.csv", {"from_logits": True}),
    "hinge_labels": (SAMPLES / "hinge_labels.csv", {}),
    "wine-45": (DATA / "wine_logistic.csv", {}),
    "digits_rf-540": (DATA / "digits_rf.csv", {}),
    "digits-1797": ("digits_logistic", {}),
    "multiclass_probs": (SAMPLES / "multiclass_probs.csv", {}),
    "multiclass_logits": (SAMPLES / "multiclass_logits.csv", {"from_logits": True}),
}


def _dataset(key: str, tmp: Path):
    path, options = DATASETS[key]
    if isinstance(path, str):
        path = _fitted(tmp, path)
    return load_dataset(str(path), InputOptions(**options))


def _every_loss_that_applies(dataset) -> list[LossSelection]:
    chosen = []
    for spec in losses_for_task(dataset.task):
        if spec.reduction not in PLAIN_REDUCTIONS:
            # Ratios of sums (r2, d2_*, ece): no per-row shares and no verdict
            # (test_figures.py checks what sensitivity says of them).
            continue
        selection = LossSelection(spec, spec.resolve_params({}))
        try:
            per_sample_losses(dataset, [selection])
        except LossCliError:
            continue  # outside the loss's domain (poisson on negative targets, ...)
        chosen.append(selection)
    return chosen


# --------------------------------------------------------------------------- item 3


@pytest.mark.parametrize("key", list(DATASETS))
def test_verdicts_agree_with_the_figures_and_the_property_table(key, tmp_path):
    """Over the whole registry: no verdict contradicts the table beside it, and a
    verdict that differs from `loss info`'s robust property says why."""
    dataset = _dataset(key, tmp_path)
    selections = _every_loss_that_applies(dataset)
    assert len(selections) >= 2
    report = sensitivity(dataset, selections)
    specs = {s.spec.name: s.spec for s in selections}
    verdict_of = {(r.loss, r.model): r.verdict for r in report.results}
    for r in report.results:
        spec = specs[r.loss]
        shown = [
            i.change_pct
            for i in report.injection
            if i.loss == r.loss and i.model == r.model and i.change_pct is not None
        ]
        who = f"{r.loss} ({r.model}) on {key}: {r.verdict}: {r.reasons}"
        big = [c for c in [r.change_pct, *shown] if c is not None and abs(c) >= 100]
        if big:
            assert r.verdict == "sensitive", who
        if r.verdict == "robust":
            assert r.growth not in ("quadratic", "jump", "clipped"), who
            assert spec.reduction is not Reduction.MAX, who
            assert all(abs(c) < SENSITIVE_CHANGE_PCT for c in shown), who
            if dataset.n_rows >= MIN_ROWS_TOP1:
                assert not r.top1pct_share >= 0.5, who
        text = " ".join(r.reasons)
        if "barely" in text:
            assert all(abs(c) < BARELY_PCT for c in shown), who
        if (r.verdict == "robust") != spec.properties.robust:
            assert f"loss info {r.loss}" in text, who
        root = {"rmse": "mse", "rmsle": "msle"}.get(r.loss)
        if root and (root, r.model) in verdict_of:
            assert r.verdict == verdict_of[root, r.model], who


def test_the_new_users_contradictions_are_gone(tmp_path):
    """The three cases of the issue, on the shipped files."""
    dataset = _dataset("diabetes-133", tmp_path)
    report = sensitivity(dataset, _every_loss_that_applies(dataset))
    by = {(r.loss, r.model): r for r in report.results}
    # rmse is a monotone function of mse: the same verdict, as `loss info rmse` says.
    assert by["rmse", "linear"].verdict == by["mse", "linear"].verdict == "sensitive"
    # mbe: one injected row moves -5.27 to +35.35, a sign flip.
    mbe = by["mbe", "linear"]
    assert mbe.value == pytest.approx(-5.2692, abs=1e-4)
    assert mbe.verdict == "sensitive"
    assert any("flips the sign of the bias" in reason for reason in mbe.reasons)
    # 45 rows of wine: one bad row more than doubles multiclass_brier.
    dataset = _dataset("wine-45", tmp_path)
    report = sensitivity(dataset, _every_loss_that_applies(dataset))
    brier = next(r for r in report.results if r.loss == "multiclass_brier")
    k5 = next(i for i in report.injection if i.loss == "multiclass_brier" and i.k == 5)
    assert k5.change_pct > 100
    assert brier.verdict == "sensitive"
    assert not any("barely" in reason for reason in brier.reasons)
    assert any("loss info multiclass_brier" in reason for reason in brier.reasons)
    assert math.isfinite(brier.value) and brier.value < 0.05
    assert Task.MULTICLASS.value == report.task
    assert np.isfinite(k5.change_pct)


# --------------------------------------------------------------------------- item 4


def test_margin_losses_leave_the_default_panel_on_probabilities(run):
    from losscli.core.registry import default_panel

    result = run("compute", DATA / "cancer_proba.csv", "--format", "json")
    assert result.exit_code == 0
    assert "hinge" not in {r["loss"] for r in __import__("json").loads(result.stdout)["results"]}
    note = [line for line in result.stderr.splitlines() if line.startswith("Note: hinge")]
    assert len(note) == 1 and "probabilities" in note[0] and "margin" in note[0]
    assert "P-HINGE-PROB" not in result.stderr
    result = run("compute", DATA / "wine_logistic.csv")
    assert "multiclass_hinge" not in result.stdout
    assert "Note: multiclass_hinge left out of the default panel" in result.stderr
    # raw scores keep them: logits, decision scores outside [0, 1]
    for path, extra in (
        (SAMPLES / "binary_logits.csv", ["--from-logits"]),
        (SAMPLES / "hinge_labels.csv", []),
        (SAMPLES / "multiclass_logits.csv", ["--from-logits"]),
    ):
        result = run("compute", path, *extra)
        assert "hinge" in result.stdout and "Note: hinge" not in result.stderr, path
        assert "Note: multiclass_hinge" not in result.stderr, path
    # asked for explicitly, it is computed and warned about
    result = run("compute", DATA / "cancer_proba.csv", "-l", "hinge")
    assert "hinge" in result.stdout and "Warning: P-HINGE-PROB" in result.stderr
    # a typical file (no data: `loss list`) still lists them
    assert "hinge" in {s.name for s in default_panel(Task.BINARY)}


# --------------------------------------------------------------------------- items 5, 9, 10


def _pitfalls(run, *args):
    import json

    result = run("recommend", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return {p["id"]: p for p in json.loads(result.stdout)["pitfalls"]}


def test_p_log0_counts_only_rows_whose_loss_the_clipping_sets(run):
    # A random forest's probabilities are often exactly 0 or 1, but none gives the
    # true class 0 here: clipping decides nothing, and compute warns of nothing.
    assert "P-LOG0" not in _pitfalls(run, DATA / "digits_rf.csv")
    assert "P-LOG0" not in run("compute", DATA / "digits_rf.csv").stderr
    # Hard labels: 4 mistakes, each a true-class probability of exactly 0.
    frame = pd.read_csv(DATA / "cancer_hard.csv")
    wrong = int(np.count_nonzero(frame["y_true"] != frame["y_pred"]))
    assert wrong == 4
    pitfall = _pitfalls(run, DATA / "cancer_hard.csv")["P-LOG0"]
    message = pitfall["message"]
    assert message.startswith(f"{wrong} rows give the true class probability exactly 0")
    assert "calibrate" in message and "--from-logits" not in message
    warning = run("compute", DATA / "cancer_hard.csv").stderr
    assert f"P-LOG0 y_pred: {wrong} rows predict probability exactly 0" in warning


def test_hard_labels_say_100_percent_and_are_named(run, tmp_path):
    result = run("compute", DATA / "cancer_hard.csv", "-l", "bce")
    assert "(100% of the total)" in result.stderr and "e+02" not in result.stderr
    assert "Warning: P-HARD y_pred" in result.stderr and "predict_proba()" in result.stderr
    # probabilities are not hard labels; nor are logits
    assert "P-HARD" not in run("compute", DATA / "cancer_proba.csv").stderr
    assert "P-HARD" not in run("compute", SAMPLES / "binary_logits.csv", "--from-logits").stderr
    # multiclass one-hot predictions, read in chunks too
    onehot = tmp_path / "onehot.csv"
    onehot.write_text("y_true,y_pred_a,y_pred_b\n" + "a,1,0\nb,0,1\na,0,1\n" * 50)
    assert "Warning: P-HARD y_pred" in run("compute", onehot).stderr
    from losscli.analysis.diagnostics import share_text

    assert [share_text(s) for s in (1.0, 0.82, 0.035, 0.0012)] == ["100%", "82%", "3.5%", "0.12%"]


def test_rowsum_warning_only_when_probability_losses_read_the_rows(run):
    logits = SAMPLES / "multiclass_logits.csv"
    result = run("compute", logits)  # the default panel keeps only multiclass_hinge
    assert "multiclass_hinge" in result.stdout
    assert "P-ROWSUM" not in result.stderr
    result = run("compute", logits, "-l", "multiclass_hinge", "--format", "json")
    assert "P-ROWSUM" not in result.stderr


# --------------------------------------------------------------------------- item 8


def test_explain_reports_an_analytic_kink_exactly(run_json):
    # huber delta=0.5 on a sigmoid: quadratic (convex) for p < 0.5, linear beyond,
    # where d2L/dz2 = delta p (1 - p) (1 - 2p) < 0: the boundary is the kink p = 0.5.
    out = run_json("explain", "huber:delta=0.5", "--link", "sigmoid")
    got = {(i["y_true"], i["from"], i["to"]) for i in out["nonconvex"]}
    assert got == {(0, 0.5, 1.0), (1, 0.0, 0.5)}
    # a boundary beside a kink is not moved onto it: delta=0.67 keeps mse-like 2/3
    out = run_json("explain", "huber:delta=0.67", "--link", "sigmoid")
    first = next(i for i in out["nonconvex"] if i["y_true"] == 0)
    assert first["from"] == pytest.approx(2 / 3, abs=1e-8) and first["from"] != 0.67
    out = run_json("explain", "mse", "--link", "sigmoid")
    assert next(i for i in out["nonconvex"] if i["y_true"] == 0)["from"] == pytest.approx(
        2 / 3, abs=1e-8
    )


# --------------------------------------------------------------------------- item 6


def _flat(stdout: str) -> str:
    return " ".join(stdout.split())


def _sentence(stdout: str) -> str:
    flat = " ".join(stdout.split())
    start = flat.index("The losses")
    return flat[start : flat.index("task regression", start)]


def test_compare_words_a_bias_as_a_bias_and_says_whether_it_could_be_noise(run, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    args = ("compare", DATA / "diabetes.csv", "--pred-col", "linear", "--pred-col", "random_forest")
    sentence = _sentence(run(*args).stdout)
    assert "random_forest has the smaller bias (mbe)" in sentence
    assert "prefers random_forest" not in sentence and "mbe prefers" not in sentence
    # Without --ci the paired tests (Diebold-Mariano, Holm) speak for the differences.
    assert "Paired tests (Holm-adjusted p < 0.05):" in sentence
    assert "--ci 0.95 adds paired-bootstrap intervals" in sentence
    # With --ci, the paired-bootstrap labels inform the sentence.
    result = run(*args, "--ci", "0.95", "--bootstrap", "300")
    sentence = _sentence(result.stdout)
    table = result.stdout
    assert "not separable" in table
    assert "At 95% the models are not separable on" in sentence
    assert "mbe" in sentence.split("not separable on", 1)[1]
    # A bias check is no disagreement: every loss prefers linear.
    assert sentence.startswith("The losses agree: linear is best on all 7 losses")
    assert "disagree" not in sentence
    # the sentence names exactly the losses where an interval is not all above 0
    import json

    data = json.loads(run(*args, "--ci", "0.95", "--bootstrap", "300", "--format", "json").stdout)
    unclear = {
        r["loss"]
        for r in data["results"]
        if r["rank"] != 1 and not (r["diff_ci_low"] is not None and r["diff_ci_low"] > 0)
    }
    named = sentence.split("not separable on", 1)[1].split("(a paired")[0]
    assert {
        w.strip(" ,") for w in named.replace(" and ", ",").split(",") if w.strip(" ,")
    } == unclear


def test_a_bias_check_neither_votes_nor_disagrees(run, tmp_path, monkeypatch):
    """mse and mae prefer a, mbe names b (the smaller bias): the losses agree on a."""
    import json

    monkeypatch.setenv("COLUMNS", "80")
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    path = tmp_path / "bias.csv"
    pd.DataFrame(
        {"y_true": y, "a": y + rng.normal(0, 0.3, 300) + 0.2, "b": y + rng.normal(0, 0.8, 300)}
    ).to_csv(path, index=False)
    args = ("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "mse,mae,mbe")
    data = json.loads(run(*args, "--format", "json").stdout)
    assert data["rankings"]["mse"][0] == data["rankings"]["mae"][0] == "a"
    assert data["rankings"]["mbe"][0] == "b"
    assert data["agreement"] == {
        "agree": True,
        "best_model": "a",
        "best_by_loss": {"mse": "a", "mae": "a", "mbe": "b"},
        "disagreeing": [],
    }
    sentence = _sentence(run(*args).stdout)
    assert sentence.startswith(
        "The losses agree: a is best on both losses (mse and mae); b has the smaller bias (mbe)."
    )
    # Only bias checks chosen: they rank the models between themselves.
    only = json.loads(run(*args[:-1], "mbe", "--format", "json").stdout)
    assert only["agreement"]["best_model"] == "b" and only["agreement"]["agree"]
    # A real disagreement still counts only the losses: 1 of 2, and the bias said apart.
    c = pd.read_csv(path)
    c["b"] = c["y_true"] + np.where(np.arange(300) < 3, 20.0, rng.normal(0, 0.01, 300))
    c.to_csv(path, index=False)
    data = json.loads(run(*args, "--format", "json").stdout)
    assert data["agreement"]["agree"] is False
    assert data["agreement"]["disagreeing"] == ["mae"]
    sentence = _sentence(run(*args).stdout)
    assert sentence.startswith("The losses disagree: a is best on 1 of 2 losses; mae prefers b")


# --------------------------------------------------------------------------- item 7


def test_recommend_scores_carry_the_strength_of_the_evidence(run):
    import json

    from losscli.analysis.rules import evidence_strength

    def scores(path):
        out = json.loads(run("recommend", path, "--pred-col", "linear", "--format", "json").stdout)
        return {r["loss"]: r["score"] for r in out["recommendations"]}, out["evidence"]

    small, small_evidence = scores(DATA / "linnerud.csv")  # 20 rows: "weak evidence"
    large, large_evidence = scores(DATA / "diabetes.csv")  # 133 rows
    assert small_evidence["evidence_strength"] == pytest.approx(20 / 70)
    assert large_evidence["evidence_strength"] == pytest.approx(133 / 183)
    assert small["mse"] < large["mse"]
    # both backed by the task (R-REG) and the measured residuals (R-REG-CLEAN):
    # the measured backing is scaled, the task's is not
    from losscli.analysis.rules import RULES

    weight = {r.id: dict(r.supports["regression"]) for r in RULES if "regression" in r.supports}
    task, clean = weight["R-REG"]["mse"], weight["R-REG-CLEAN"]["mse"]
    for got, n in ((small["mse"], 20), (large["mse"], 133)):
        expected = 1 - (1 - task) * (1 - clean * evidence_strength(n))
        assert got == pytest.approx(expected, abs=5e-4)
    # flags alone (no file): nothing to scale
    out = json.loads(run("recommend", "--outliers", "--format", "json").stdout)
    assert out["evidence"] == {}


# --------------------------------------------------------------------------- item 11


def test_markdown_uses_the_tables_precision_and_layout(run):
    args = ("compute", DATA / "diabetes.csv", "--pred-col", "linear", "--pred-col", "random_forest")
    lines = run(*args, "--format", "markdown").stdout.splitlines()
    assert lines[0] == "| loss | params | linear | random_forest |"
    assert lines[2] == "| mse |  | 3097.1 | 3523.6 |"  # not 3097.1191634246106
    lines = run(*args, "--format", "markdown", "--digits", "8").stdout.splitlines()
    assert lines[2] == "| mse |  | 3097.1192 | 3523.6218 |"
    compare = run(
        "compare", *args[1:], "-l", "mse", "--format", "markdown", "--digits", "3"
    ).stdout.splitlines()
    assert compare[0] == "| loss | model | value | median | p95 | max | top 1% | rank |"
    assert compare[2].startswith("| mse | linear | 3100 |")


def test_digits_applies_to_tables_of_every_data_command_and_never_to_json_or_csv(run):
    import json

    path = SAMPLES / "regression_outliers.csv"
    assert " 1828.7 " in run("compute", path, "-l", "mse").stdout
    assert " 1828.727 " in run("compute", path, "-l", "mse", "--digits", "7").stdout
    assert " 1830 " in run("compute", path, "-l", "mse", "--digits", "3").stdout
    assert "1828.7266" in run("compare", path, "-l", "mse", "--digits", "8").stdout
    assert "1828.7266" in run("sensitivity", path, "-l", "mse", "--digits", "8").stdout
    assert "13.0172" in run("recommend", path, "--digits", "6").stdout  # robust sigma
    full = json.loads(run("compute", path, "-l", "mse", "--format", "json").stdout)
    short = json.loads(
        run("compute", path, "-l", "mse", "--format", "json", "--digits", "2").stdout
    )
    assert full == short and full["results"][0]["value"] == 1828.7265828
    assert (
        run("compute", path, "-l", "mse", "--format", "csv", "--digits", "2").stdout
        == run("compute", path, "-l", "mse", "--format", "csv").stdout
    )
    bad = run("compute", path, "--digits", "0")
    assert bad.exit_code == 2 and "--digits" in bad.stderr


def test_group_rows_carry_their_row_counts_and_weights_are_said(run):
    import json

    path = SAMPLES / "regression_outliers.csv"
    out = json.loads(
        run("compute", path, "--group-by", "segment", "-l", "mse", "--format", "json").stdout
    )
    frame = pd.read_csv(path)
    counts = frame["segment"].value_counts().to_dict()
    for row in out["results"]:
        expected = len(frame) if row["group"] is None else counts[row["group"]]
        assert row["n_rows"] == expected
    csv_text = run("compute", path, "--group-by", "segment", "-l", "mse", "--format", "csv").stdout
    assert csv_text.splitlines()[0].endswith(",group,n_rows")
    markdown = run("compute", path, "--group-by", "segment", "-l", "mse", "--format", "markdown")
    assert f"| north | {counts['north']:,} | mse |" in markdown.stdout
    weighted = run("compute", path, "-l", "mse", "--weight-col", "weight").stdout
    assert "weighted by weight" in " ".join(weighted.split())
    assert "weighted by" not in run("compute", path, "-l", "mse").stdout


def test_tied_models_share_a_rank_and_a_tie_names_no_best_model(run, tmp_path, monkeypatch):
    """Two models with the same predictions are not first and second: they share rank 1
    (the next is 3rd), and a loss whose best value is tied does not vote for either."""
    import json

    monkeypatch.setenv("COLUMNS", "80")
    rng = np.random.default_rng(2)
    y = rng.normal(size=200)
    a = y + rng.normal(0, 0.3, 200)
    path = tmp_path / "tie.csv"
    pd.DataFrame({"y_true": y, "a": a, "b": a, "c": y + rng.normal(0, 0.9, 200)}).to_csv(
        path, index=False
    )
    args = ("compare", path, "--pred-col", "a", "--pred-col", "b", "--pred-col", "c")
    data = json.loads(run(*args, "-l", "mse,mae", "--format", "json").stdout)
    assert [(r["loss"], r["model"], r["rank"]) for r in data["results"]] == [
        ("mse", "a", 1),
        ("mse", "b", 1),
        ("mse", "c", 3),
        ("mae", "a", 1),
        ("mae", "b", 1),
        ("mae", "c", 3),
    ]
    assert data["agreement"] == {
        "agree": True,
        "best_model": None,
        "best_by_loss": {},
        "disagreeing": [],
    }
    assert (
        " mse and mae do not name one best model (tied best values, or none defined and "
        "finite). Paired tests"
    ) in _flat(run(*args, "-l", "mse,mae").stdout)
    # b alone beats c: with a left out, the verdict is b's on both losses.
    two = ("compare", path, "--pred-col", "b", "--pred-col", "c", "-l", "mse,mae")
    assert _sentence(run(*two).stdout).startswith("The losses agree: b is best on both losses.")


def test_undefined_and_infinite_values_name_no_best_model(run, tmp_path, monkeypatch):
    """Targets near 1e200: r2's sums overflow (no value: '-', no rank) and mse is inf for
    both models. Neither may say which model is best; mae, still finite, does."""
    import json

    monkeypatch.setenv("COLUMNS", "80")
    path = tmp_path / "huge.csv"
    path.write_text("y_true,a,b\n1e200,2e200,1e200\n3e200,2.5e200,2e200\n-1e200,0,0\n")
    args = ("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "r2,mse,mae")
    data = json.loads(run(*args, "--format", "json").stdout)
    ranks = {(r["loss"], r["model"]): r["rank"] for r in data["results"]}
    assert ranks == {
        ("r2", "a"): None,
        ("r2", "b"): None,
        ("mse", "a"): 1,
        ("mse", "b"): 1,
        ("mae", "a"): 2,
        ("mae", "b"): 1,
    }
    assert data["agreement"]["best_by_loss"] == {"mae": "b"}
    out = run(*args).stdout
    assert (
        " b is best on mae, the only loss that names one best model. r2 and mse do not "
        "name one best model (tied best values, or none defined and finite). "
    ) in _flat(out)
    r2_rows = [line.split() for line in out.splitlines() if line.split()[:1] == ["r2"]]
    assert r2_rows and r2_rows[0][-1] == "-"


def test_the_reports_rankings_show_ties_and_missing_values(tmp_path):
    from losscli.analysis.compare import CompareReport
    from losscli.report.html import ranking_lines

    class Row:
        def __init__(self, label, model, rank):
            self.label, self.model, self.rank = label, model, rank

    report = CompareReport.__new__(CompareReport)
    object.__setattr__(report, "rankings", {"mse": ["a", "b", "c"], "r2": ["a", "b", "c"]})
    rows = [Row("mse", "a", 1), Row("mse", "b", 1), Row("mse", "c", 3)]
    rows += [Row("r2", "a", 1), Row("r2", "b", None), Row("r2", "c", None)]
    object.__setattr__(report, "results", rows)
    assert ranking_lines(report) == {"mse": "a = b < c", "r2": "a; no value: b, c"}


@pytest.mark.parametrize("command", ["compute", "compare"])
def test_a_score_without_a_value_says_why(run, tmp_path, command):
    """r2 and friends shown as '-' come with a warning naming the cause: sums past
    float64 (targets near 1e200), or fewer than two rows (as scikit-learn's r2_score);
    a per-row overflow already warned of is not said twice."""
    huge = tmp_path / "huge.csv"
    huge.write_text("y_true,y_pred\n1e200,2e200\n3e200,2.5e200\n-1e200,0\n")
    figures = "r2,explained_variance,d2_absolute_error,d2_tweedie,mae"
    result = run(command, huge, "-l", figures)
    assert result.exit_code == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    tail = "no value (-): the sums behind it overflow float64 at this scale - rescale the targets"
    assert f"Warning: r2 (y_pred): {tail}" in warned
    assert f"Warning: explained_variance (y_pred): {tail}" in warned
    # d2_tweedie's deviances overflow row by row: one warning of it, not two.
    d2 = [w for w in warned if w.startswith("Warning: d2_tweedie (y_pred): ")]
    assert len(d2) == 1 and "overflow float64" in d2[0]
    assert not [w for w in warned if "d2_absolute_error" in w]  # it has a value: 0.375
    one = tmp_path / "one.csv"
    one.write_text("y_true,y_pred\n1.5,2\n")
    result = run(command, one, "-l", "r2,mae")
    assert result.exit_code == 0, result.stderr
    assert "Warning: r2 (y_pred): no value (-): a score needs at least two rows" in result.stderr


def test_the_api_warns_of_a_score_without_a_value(tmp_path):
    import warnings

    import losscli as lc

    huge = tmp_path / "huge.csv"
    huge.write_text("y_true,y_pred\n1e200,2e200\n3e200,2.5e200\n-1e200,0\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = lc.compute(str(huge), losses="r2")
    assert math.isnan(result.value("r2"))
    assert [str(w.message) for w in caught if issubclass(w.category, lc.LossWarning)] == [
        "r2 (y_pred): no value (-): the sums behind it overflow float64 at this scale - "
        "rescale the targets"
    ]


ROUNDING_TIE = """y_true,a,b
5.0,5.1,5.1
3.2,3.3000000000000003,3.5
4.0,4.1,4.7
4.3,4.6,4.6
2.5,3.2,2.6
1.9,2.1999999999999997,2.1999999999999997
4.7,5.0,4.8
"""


def test_values_equal_but_for_rounding_are_a_tie(run, tmp_path):
    """The same errors in another row order sum to mse values 2.8e-17 apart: shown as
    the same number, ranked the same, and no loss names a best model from them."""
    import json

    path = tmp_path / "perm.csv"
    path.write_text(ROUNDING_TIE)
    args = ("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "mse,mae,r2")
    data = json.loads(run(*args, "--format", "json").stdout)
    values = {(r["loss"], r["model"]): r["value"] for r in data["results"]}
    assert values[("mse", "a")] != values[("mse", "b")]  # the rounding is there
    assert math.isclose(values[("mse", "a")], values[("mse", "b")], rel_tol=1e-15)
    assert {r["rank"] for r in data["results"]} == {1}
    assert data["agreement"]["best_model"] is None and data["agreement"]["best_by_loss"] == {}
    assert "mse, mae and r2 do not name one best model" in _flat(run(*args).stdout)


def test_a_bias_check_does_not_pick_the_best_model_when_the_losses_tie(run, tmp_path):
    """mae and mse tie; mbe (a bias check) still names the model with the smaller bias,
    as a bias, not as the best model; tied losses are not called noise."""
    import json

    path = tmp_path / "bias_tie.csv"
    path.write_text("y_true,a,b\n0,1,1\n0,-1,1\n0,1,-1\n0,-1,1\n")
    args = ("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "mae,mse,mbe")
    data = json.loads(run(*args, "--format", "json").stdout)
    assert data["agreement"] == {
        "agree": True,
        "best_model": None,
        "best_by_loss": {"mbe": "a"},
        "disagreeing": [],
    }
    flat = _flat(run(*args).stdout)
    assert (
        "mae and mse do not name one best model (tied best values, or none defined and "
        "finite). a has the smaller bias (mbe)."
    ) in flat
    assert "noise" not in flat and "best on" not in flat


def test_no_value_no_interval_of_the_difference(run, tmp_path):
    """A model whose figure has no value ('-') has no paired interval either (it was
    [0, 0] in JSON and on the page)."""
    import json

    path = tmp_path / "big.csv"
    path.write_text("y_true,a,b\n1e200,2e200,1e200\n3e200,2.5e200,2e200\n-1e200,0,0\n")
    args = ("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "r2,mae")
    data = json.loads(run(*args, "--ci", "0.95", "--format", "json").stdout)
    r2 = [r for r in data["results"] if r["loss"] == "r2"]
    assert [(r["value"], r["rank"], r["diff_ci_low"], r["diff_ci_high"]) for r in r2] == [
        (None, None, None, None),
        (None, None, None, None),
    ]


def test_a_constant_target_predicted_exactly_is_not_an_overflow(run, tmp_path):
    """d2_tweedie of a constant y_true predicted exactly is 0/0 (scikit-learn divides by
    zero): its warning says that, not 'overflow'; r2 (force_finite) shows 1."""
    path = tmp_path / "const.csv"
    path.write_text("y_true,y_pred\n2,2\n2,2\n")
    result = run("compute", path, "-l", "r2,d2_tweedie,d2_tweedie:power=1")
    assert result.exit_code == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    tail = "no value (-): y_true is constant and predicted exactly (0/0, as scikit-learn's "
    assert warned == [
        f"Warning: d2_tweedie (y_pred): {tail}d2_tweedie_score gives it)",
        f"Warning: d2_tweedie(power=1) (y_pred): {tail}d2_tweedie_score gives it)",
    ]
    assert "overflow" not in result.stderr


def test_a_loss_of_zero_still_has_a_growth_and_a_verdict_that_agree(run, tmp_path):
    """Exact predictions: every loss is 0 and no injection has a % change (n/a). The
    growth is read from the injected values themselves (the exponent is scale-free),
    and one bad row that moves a loss off 0 at all (an unbounded relative change)
    makes it sensitive, as a change of 100% would: a perfect model is not more robust
    than a near-perfect one. mse was 'robust: one bad row barely moves it' beside a
    growth of n/a; median_ae, which one row does not move, stays robust."""
    import json

    path = tmp_path / "exact.csv"
    path.write_text("y_true,y_pred\n1,1\n2,2\n3,3\n4,4\n")
    data = json.loads(run("sensitivity", path, "--format", "json").stdout)
    by = {r["loss"]: r for r in data["results"]}
    assert by["mse"]["value"] == 0.0
    assert (by["mse"]["growth"], by["mse"]["verdict"]) == ("quadratic", "sensitive")
    assert math.isclose(by["mse"]["growth_exponent"], 2.0, abs_tol=0.01)
    assert (by["rmse"]["growth"], by["rmse"]["verdict"]) == ("linear", "sensitive")
    for name in ("mae", "huber", "log_cosh"):
        assert (by[name]["growth"], by[name]["verdict"]) == ("linear", "sensitive"), name
        assert math.isclose(by[name]["growth_exponent"], 1.0, abs_tol=0.01)
        assert by[name]["reasons"][0].startswith("one bad row moves it from 0 to ")
    assert by["mae"]["reasons"][0].startswith("one bad row moves it from 0 to 1 already at k=5")
    assert by["mbe"]["reasons"][0].startswith("one bad row moves the bias from 0 to 1 ")
    assert by["max_error"]["reasons"][0] == (
        "one row sets it, the largest error (from 0 to 100 at k=100)"
    )
    assert (by["median_ae"]["growth"], by["median_ae"]["verdict"]) == ("bounded", "robust")
    for r in data["results"]:
        assert r["growth"] != "n/a"


def test_a_perfect_model_is_not_more_robust_than_a_near_perfect_one(run, tmp_path):
    """brier of probabilities exactly 0/1 (value 0) against 1e-6 away (value 1e-12): one
    bad row makes both sensitive (it was 'robust: barely moves' for the perfect one)."""
    import json

    path = tmp_path / "probs.csv"
    rows = ["y_true,p,q"] + [f"{y},{y},{0.999999 if y else 0.000001}" for y in [0, 1] * 10]
    path.write_text("\n".join(rows) + "\n")
    args = ("sensitivity", path, "--pred-col", "p", "--pred-col", "q", "-l", "brier")
    data = json.loads(run(*args, "--format", "json").stdout)
    verdicts = {r["model"]: (r["value"] == 0.0, r["verdict"]) for r in data["results"]}
    assert verdicts == {"p": (True, "sensitive"), "q": (False, "sensitive")}


def test_a_bias_of_rounding_size_is_a_tie(run, tmp_path):
    """Models fitted with an intercept have a bias of ~1e-17, rounding of sums of
    errors near 1: the same errors in another row order must not make one model's
    bias 'the smaller' (a relative tolerance alone cannot see it: both are near 0)."""
    import json

    rng = np.random.default_rng(5)
    y = rng.normal(size=40)
    e = rng.normal(size=40)
    e -= e.mean()
    path = tmp_path / "centred.csv"
    pd.DataFrame({"y_true": y, "a": y + e, "b": y + e[rng.permutation(40)]}).to_csv(
        path, index=False, float_format="%.17g"
    )
    args = ("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "mbe")
    data = json.loads(run(*args, "--format", "json").stdout)
    values = [r["value"] for r in data["results"]]
    assert max(abs(v) for v in values) < 1e-14
    assert [r["rank"] for r in data["results"]] == [1, 1]
    assert data["agreement"]["best_model"] is None
    assert "mbe does not name one best model" in _flat(run(*args).stdout)


def test_a_constant_target_predicted_inexactly_says_why_d2_tweedie_is_minus_inf(run, tmp_path):
    """d2_tweedie's null deviance is 0 for a constant y_true: any error scores -inf (x/0;
    scikit-learn raises ZeroDivisionError). The -inf comes with its reason; r2
    (force_finite) is 0 as in scikit-learn, without a warning."""
    from sklearn.metrics import r2_score

    path = tmp_path / "const.csv"
    path.write_text("y_true,y_pred\n2,2.5\n2,1.5\n2,2\n")
    for command in ("compute", "compare"):
        result = run(command, path, "-l", "r2,d2_tweedie", "--format", "json")
        assert result.exit_code == 0, result.stderr
        warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
        assert warned == [
            "Warning: d2_tweedie (y_pred): -inf: y_true is constant, so predicting its mean "
            "has deviance 0 and any error scores -inf (x/0; scikit-learn's d2_tweedie_score "
            "divides by zero)"
        ]
    assert r2_score([2, 2, 2], [2.5, 1.5, 2]) == 0.0


def _constant_bias(path: Path, spread: float = 0.0) -> None:
    """y_pred = y_true + 0.1 written with 5 decimals (plus, optionally, a real spread)."""
    rng = np.random.default_rng(0)
    y = np.round(rng.normal(10, 3, 2000), 5)
    q = y + 0.1 + spread * rng.standard_t(2, y.size)
    pd.DataFrame({"y_true": y, "y_pred": q}).to_csv(path, index=False, float_format="%.5f")


@pytest.mark.parametrize("rule", ["mad", "iqr"])
def test_a_constant_bias_read_from_decimals_has_no_outliers(run, tmp_path, rule):
    """y - (y + 0.1) reads -0.1 only up to rounding (-0.09999999999999964,
    -0.10000000000000142 ...). That wobble is no spread: sensitivity flagged 336 of
    2,000 rows with cut-offs '< -0.1 or > -0.1', and recommend chose huber with
    delta 6.6e-16 ('outliers present'), for a model that is off by exactly 0.1."""
    import json

    from stream_support import small_chunks

    from losscli.analysis.outliers import flag_outliers, rounding_floor_of

    path = tmp_path / "bias.csv"
    _constant_bias(path)
    data = json.loads(run("sensitivity", path, "--rule", rule, "--format", "json").stdout)
    assert data["outliers"]["count"] == 0
    edges = data["histograms"][0]["edges"]
    assert edges[-1] - edges[0] == pytest.approx(1.0)  # drawn as one value, as equal ones are
    if rule == "mad":
        assert data["outliers"]["scale"] == 0.0
        assert any("no spread beyond rounding" in w for w in data["warnings"])
    with small_chunks(4096):  # many batches: the streamed figures are the same
        again = json.loads(run("sensitivity", path, "--rule", rule, "--format", "json").stdout)
    assert again["outliers"] == data["outliers"]
    # The in-memory reference agrees.
    frame = pd.read_csv(path)
    y, q = frame["y_true"].to_numpy(), frame["y_pred"].to_numpy()
    floor = rounding_floor_of(y, q)
    assert 0 < floor < 1e-12
    assert flag_outliers(y - q, rule, floor=floor).count == 0
    assert flag_outliers(y - q, rule).count > 0  # without the floor: rounding flagged
    rec = json.loads(run("recommend", path, "--format", "json").stdout)
    assert rec["evidence"]["outlier_count"] == 0
    assert "excess_kurtosis" not in rec["evidence"]  # no spread: no shape to measure
    assert rec["recommendations"][0]["loss"] == "mse"


def test_a_real_spread_far_below_the_values_is_still_a_spread(run, tmp_path):
    """The rounding floor is 8 epsilons of the typical max(|y|, |q|) (~3e-14 here): errors of 1e-5 with
    heavy tails are still measured and flagged, streamed and in memory alike."""
    import json

    from losscli.analysis.outliers import flag_outliers, rounding_floor_of

    path = tmp_path / "spread.csv"
    _constant_bias(path, spread=1e-5)
    data = json.loads(run("sensitivity", path, "--format", "json").stdout)
    frame = pd.read_csv(path)
    y, q = frame["y_true"].to_numpy(), frame["y_pred"].to_numpy()
    expected = flag_outliers(y - q, floor=rounding_floor_of(y, q))
    assert data["outliers"]["count"] == expected.count > 0
    assert data["outliers"]["scale"] == pytest.approx(expected.scale, rel=1e-12)
    assert data["outliers"]["scale"] > 1e-6


def test_the_rounding_floor_is_that_of_a_typical_row():
    """8 epsilons of the power of two above the median row's max(|y|, |q|): the same for
    any split of the rows, not moved by one huge row, 0 when the typical row is 0."""
    from losscli.analysis.outliers import magnitude_counts, rounding_floor, rounding_floor_of

    eps = float(np.finfo(np.float64).eps)
    y = np.array([1e308, 1.0, 3.0, 2.0, 5.0])
    q = np.array([-1e308, 2.0, 4.0, 2.0, 1.0])
    # max(|y|, |q|): 1e308, 2, 4, 2, 5 -> the median row's is 4 = 0.5 * 2**3
    assert rounding_floor_of(y, q) == 8 * eps * 8
    split = magnitude_counts(y[:2], q[:2]) + magnitude_counts(y[2:], q[2:])
    assert np.array_equal(split, magnitude_counts(y, q))
    assert rounding_floor(split) == rounding_floor_of(y, q)
    assert rounding_floor_of(np.zeros(3), np.array([0.0, 0.0, 7.0])) == 0.0
    assert rounding_floor_of(np.zeros(0), np.zeros(0)) == 0.0
    # Even counts: the lower middle row (1.5 here, in [1, 2)).
    assert rounding_floor_of(np.array([1.5, 100.0]), np.zeros(2)) == 8 * eps * 2


@pytest.mark.parametrize("rule", ["mad", "iqr"])
def test_one_row_off_by_more_than_rounding_is_still_a_spread(run, tmp_path, rule):
    """99 rows of 1.5, 1.5 and one of 1.5, 1.5000000000001 (~450 ulps): the fallback's mean
    deviation counts the deviations beyond rounding, so that row is flagged by either
    rule and no warning says 'no spread' (a diluted mean of 1e-15 was compared with the
    floor: 'no row is flagged' beside 'Outliers in y_pred: 1 of 100 rows')."""
    import json

    path = tmp_path / "one.csv"
    path.write_text("y_true,y_pred\n" + "1.5,1.5\n" * 99 + "1.5,1.5000000000001\n")
    data = json.loads(run("sensitivity", path, "--rule", rule, "--format", "json").stdout)
    assert data["outliers"]["count"] == 1 and data["outliers"]["rows"] == [100]
    assert data["outliers"]["scale"] > 0
    assert not any("no spread" in w for w in data["warnings"])


@pytest.mark.parametrize("command", ["sensitivity", "recommend"])
def test_the_rounding_floor_of_values_near_the_float64_limit(run, tmp_path, command):
    """A typical row in the top binade (1.5e308): the floor is finite (it overflowed)."""
    path = tmp_path / "big.csv"
    y = 1.5e308 * (1 + np.arange(20) * 1e-15)
    pd.DataFrame({"y_true": y, "y_pred": y + 1e293}).to_csv(path, index=False, float_format="%.17g")
    result = run(command, path)
    assert result.exit_code == 0, result.stderr
    assert "internal error" not in result.stderr


def test_compare_says_no_test_or_interval_where_none_could_be_computed(run, tmp_path):
    """A figure that overflows (model a: mse inf, mae's differences of 1e200, whose
    variance overflows) gets no paired test and mse no interval: the sentence says so
    instead of calling the difference noise or the interval one that includes 0."""
    path = tmp_path / "overflow.csv"
    path.write_text("y_true,a,b\n1,1e200,1.5\n2,2,2.5\n3,3,3.1\n")
    args = ("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "mse,mae")
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    sentence = _sentence(result.stdout)
    assert "no test on mse and mae" in sentence
    assert "; of a on" not in sentence  # a loss with no test at all is named once
    assert "noise" not in sentence
    result = run(*args, "--ci", "0.95", "--bootstrap", "200")
    assert result.exit_code == 0, result.stderr
    sentence = _sentence(result.stdout)
    # mae has an interval, and it includes 0; mse (inf) has none
    assert "not separable on mae (a paired interval is not all above 0)" in sentence
    assert "No paired interval for a on mse (a value that is not finite)" in sentence
    # and the same with mse alone: nothing is called clear or not separable
    flat = " ".join(run(*args[:-1], "mse", "--ci", "0.95", "--bootstrap", "200").stdout.split())
    sentence = flat[flat.index("b is best") : flat.index("task regression")]
    assert "No paired interval for a on mse" in sentence
    assert "separable" not in sentence and "clear" not in sentence


def _three_models(path: Path, seed: int, scale_c: float) -> None:
    """best; c as far off as best on mse but worse on mae; a with one row at 1e200."""
    rng = np.random.default_rng(seed)
    n = 400
    y = rng.normal(size=n) * 10
    e = rng.standard_t(3, size=n)
    e /= np.sqrt((e**2).mean())
    c = y + rng.choice([-1, 1], size=n) * scale_c
    a = y + rng.normal(size=n) * 5
    a[0] = 1e200
    rows = "".join(",".join(repr(float(v)) for v in r) + "\n" for r in zip(y, y + e, c, a))
    path.write_text("y_true,best,c,a\n" + rows)


def test_three_models_one_without_a_figure_the_others_still_judged(run, tmp_path):
    """Model a overflows (mse inf; its differences to the best have no interval and no
    test); c's difference on mse includes 0. The sentence judges c and names a: it
    never calls every difference clear, nor says there is no interval or no test on
    a loss where c has one."""
    import json

    path = tmp_path / "three.csv"
    _three_models(path, seed=2, scale_c=1.02)
    args = ("compare", path, "--pred-col", "best", "--pred-col", "c", "--pred-col", "a")
    args += ("-l", "mse,mae")
    ci = ("--ci", "0.95", "--bootstrap", "300")
    data = json.loads(run(*args, *ci, "--format", "json").stdout)
    rows = [r for r in data["results"] if r["rank"] != 1]
    unclear = sorted(
        {r["loss"] for r in rows if r["diff_ci_low"] is not None and r["diff_ci_low"] <= 0}
    )
    assert unclear == ["mse"]  # c on mse: the data are made so
    assert [(r["loss"], r["model"]) for r in rows if r["diff_ci_low"] is None] == [("mse", "a")]
    sentence = _sentence(run(*args, *ci).stdout)
    assert "not separable on mse (a paired interval is not all above 0)" in sentence
    assert "No paired interval for a on mse (a value that is not finite)" in sentence
    assert "clear" not in sentence.split("Paired tests")[0]
    # Without --ci: the tests that ran decide; the ones that gave no p-value are named.
    tests = {(t["loss"], t["model_b"]): t["p_adjusted"] for t in data["tests"]}
    assert tests[("mae", "c")] < 0.05 and tests[("mse", "c")] >= 0.05
    assert tests[("mse", "a")] is None and tests[("mae", "a")] is None
    sentence = _sentence(run(*args).stdout)
    assert "the best model differs clearly on mae" in sentence
    assert "not on mse (the difference may be noise)" in sentence
    assert "no test of a on mse and mae" in sentence
    assert "no test on" not in sentence


def test_compare_calls_a_disagreement_noise_only_if_the_best_models_difference_is(run, tmp_path):
    """mae prefers m2 over the overall best m1 by a clear interval; only m3's interval on
    mae includes 0. That is no reason to call the disagreement noise (it was)."""
    import json

    rng = np.random.default_rng(1)
    n = 2000
    y = rng.normal(size=n) * 10
    m1 = y + rng.normal(size=n)

    def spiky() -> np.ndarray:  # 10% of rows far off, the rest very close
        return np.where(rng.random(n) < 0.1, rng.normal(size=n) * 8, rng.normal(size=n) * 0.1)

    m3 = y + spiky()
    m2 = y + spiky()
    rows = "".join(",".join(repr(float(v)) for v in r) + "\n" for r in zip(y, m1, m2, m3))
    path = tmp_path / "spiky.csv"
    path.write_text("y_true,m1,m2,m3\n" + rows)
    args = ("compare", path, "--pred-col", "m1", "--pred-col", "m2", "--pred-col", "m3")
    args += ("-l", "mse,mae", "--ci", "0.95", "--bootstrap", "300")
    data = json.loads(run(*args, "--format", "json").stdout)
    assert data["agreement"]["best_model"] == "m1"
    assert data["agreement"]["disagreeing"] == ["mae"]
    mae = {r["model"]: r for r in data["results"] if r["loss"] == "mae"}
    assert mae["m2"]["rank"] == 1 and mae["m1"]["diff_ci_low"] > 0  # m1 clearly behind m2
    assert mae["m3"]["diff_ci_low"] <= 0  # m3 not separable from m2
    sentence = _sentence(run(*args).stdout)
    assert "not separable on mae" in sentence
    assert "noise" not in sentence


def test_compare_says_when_unweighted_tests_favour_another_model(run, tmp_path):
    """The tests count each row once; with weights the values can rank the other way. The
    sentence said "the best model differs clearly" beside tests favouring the other model."""
    import json

    rng = np.random.default_rng(6)
    n = 400
    y = rng.normal(size=n)
    heavy = np.arange(n) % 4 == 0  # weight 10: m1 close; elsewhere (0.1) m2 closer
    m1 = y + np.where(heavy, rng.normal(0, 0.3, n), rng.normal(0, 2, n))
    m2 = y + np.where(heavy, rng.normal(0, 2, n), rng.normal(0, 0.8, n))
    w = np.where(heavy, 10.0, 0.1)
    rows = "".join(",".join(repr(float(v)) for v in r) + "\n" for r in zip(y, m1, m2, w))
    path = tmp_path / "weighted.csv"
    path.write_text("y_true,m1,m2,w\n" + rows)
    args = ("compare", path, "--pred-col", "m1", "--pred-col", "m2", "-l", "mse,mae")
    args += ("--weight-col", "w")
    data = json.loads(run(*args, "--format", "json").stdout)
    assert data["rankings"] == {"mse": ["m1", "m2"], "mae": ["m1", "m2"]}
    for test in data["tests"]:  # m1 - m2 > 0 row by row: m2 favoured, clearly
        assert test["statistic"] > 0 and test["p_adjusted"] < 0.05
    sentence = _sentence(run(*args).stdout)
    assert "differs clearly" not in sentence
    assert "the tests favour m2 on mse and mae (a test counts each row once" in sentence


def test_compare_without_ci_measures_a_bias_gap_by_absolute_value(run, tmp_path):
    """mbe -0.966 against +0.984 is 1.9% apart in ranking terms, not 200%."""
    path = tmp_path / "bias.csv"
    y = np.linspace(0, 1, 50)
    rows = "".join(f"{a!r},{a + 0.966!r},{a - 0.984!r}\n" for a in y.tolist())
    path.write_text("y_true,m1,m2\n" + rows)
    flat = " ".join(
        run("compare", path, "--pred-col", "m1", "--pred-col", "m2", "-l", "mbe").stdout.split()
    )
    assert "1.9% apart" in flat and "2e+02%" not in flat


def test_no_interval_from_a_single_row(run, tmp_path, monkeypatch):
    """Every resample of one row is that row: intervals of width 0 were shown, and the
    sentence said "every difference is clear". Now no interval, and the sentence says why."""
    import json

    monkeypatch.setenv("COLUMNS", "80")
    path = tmp_path / "one.csv"
    path.write_text("y_true,a,b,c\n1.5,1.6,2.0,2.5\n")
    models = ("--pred-col", "a", "--pred-col", "b", "--pred-col", "c")
    ci = ("--ci", "0.95", "--bootstrap", "50")
    data = json.loads(run("compute", path, *models, "-l", "mse", *ci, "--format", "json").stdout)
    assert [(r["ci_low"], r["ci_high"]) for r in data["results"]] == [(None, None)] * 3
    result = run("compute", path, *models, "-l", "mse", *ci)
    assert "1 row used" in result.stdout and "[" not in result.stdout.split("task")[0]
    assert "no bootstrap CI from 1 row (needs 2)" in result.stdout
    assert "95% bootstrap CI" not in result.stdout
    args = ("compare", path, *models, "-l", "mse,mae", *ci)
    data = json.loads(run(*args, "--format", "json").stdout)
    assert all(r["diff_ci_low"] is None and r["diff_ci_high"] is None for r in data["results"])
    sentence = _sentence(run(*args).stdout)
    assert "clear" not in sentence
    assert "No paired interval for b and c on mse and for b and c on mae (fewer than 2 rows)" in (
        sentence
    )


def test_no_interval_for_a_group_of_one_row(run, tmp_path):
    import json

    path = tmp_path / "groups.csv"
    path.write_text("y_true,y_pred,g\n1.5,1.6,a\n2.5,2.0,a\n3.5,3.1,a\n4.5,4.0,b\n")
    args = ("compute", path, "-l", "mse", "--group-by", "g", "--ci", "0.9", "--bootstrap", "50")
    rows = {r["group"]: r for r in json.loads(run(*args, "--format", "json").stdout)["results"]}
    assert rows["b"]["n_rows"] == 1 and rows["b"]["ci_low"] is None and rows["b"]["ci_high"] is None
    assert rows["a"]["ci_low"] is not None and rows[None]["ci_low"] is not None
    footer = " ".join(run(*args).stdout.split())
    assert "90% bootstrap CI, 50 resamples (none for a group of 1 row)" in footer
