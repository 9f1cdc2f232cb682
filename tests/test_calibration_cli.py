"""ece and mce end to end: CLI == API, streamed == in memory, bad input, the table."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SAMPLES

import losscli as lc
from losscli.cli import cli


def cli_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


CASES = [
    ("binary_imbalanced.csv", {}, []),
    ("binary_logits.csv", {"from_logits": True}, ["--from-logits"]),
    ("multiclass_probs.csv", {}, []),
    ("multiclass_logits.csv", {"from_logits": True}, ["--from-logits"]),
    ("multiclass_soft.csv", {}, []),
]


@pytest.mark.parametrize("name, kwargs, args", CASES, ids=[c[0] for c in CASES])
def test_api_equals_cli_with_weights_and_groups(name, kwargs, args, tmp_path):
    df = pd.read_csv(SAMPLES / name)
    df["w"] = [1.0 + (i % 3) for i in range(len(df))]
    df["seg"] = ["a" if i % 4 else "b" for i in range(len(df))]
    path = tmp_path / name
    df.to_csv(path, index=False)
    losses = "ece,mce,ece:n_bins=5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LossWarning)
        got = lc.compute(df, losses=losses, weights="w", group_by="seg", **kwargs).to_dict()
    want = cli_json(
        "compute", str(path), "-l", losses, "--weight-col", "w", "--group-by", "seg", *args
    )
    got.pop("source"), want.pop("source")
    assert got == want
    values = [r["value"] for r in want["results"]]
    assert all(0 <= v <= 1 for v in values) and len(values) == 9  # 3 figures x (all, a, b)


def test_api_losses_function_equals_the_cli(tmp_path):
    df = pd.read_csv(SAMPLES / "binary_balanced.csv")
    want = cli_json("compute", str(SAMPLES / "binary_balanced.csv"), "-l", "ece,mce:n_bins=4")
    values = {r["loss"]: r["value"] for r in want["results"]}
    y, p = df["y_true"].to_numpy(), df["y_pred"].to_numpy()
    assert lc.losses.ece(y, p) == pytest.approx(values["ece"], rel=1e-12)
    assert lc.losses.mce(y, p, n_bins=4) == pytest.approx(values["mce"], rel=1e-12)


def test_streamed_compute_equals_in_memory(run, tmp_path):
    rng = np.random.default_rng(5)
    n = 30_000
    p = rng.uniform(0, 1, n)
    y = (rng.uniform(size=n) < p**1.3).astype(int)
    w = rng.integers(0, 4, n)
    frame = pd.DataFrame({"y_true": y, "y_pred": p.round(6), "w": w})
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    args = ["compute", str(path), "-l", "ece,mce", "--weight-col", "w", "--format", "json"]
    streamed = json.loads(run(*args).stdout)
    direct = lc.compute(frame, losses="ece,mce", weights="w").to_dict()
    for a, b in zip(streamed["results"], direct["results"]):
        assert a["value"] == pytest.approx(b["value"], rel=1e-12)


def test_table_and_compare(run, tmp_path):
    out = run("compute", SAMPLES / "multiclass_probs.csv", "-l", "ece,mce:n_bins=10")
    assert out.exit_code == 0, out.stderr
    assert "ece" in out.stdout and "n_bins=10" in out.stdout
    out = run(
        "compare", SAMPLES / "binary_balanced.csv", "--pred-col", "y_pred",
        "--pred-col", "model_b", "-l", "ece,bce", "--format", "json",
    )  # fmt: skip
    data = json.loads(out.stdout)
    values = {(r["loss"], r["model"]): r["value"] for r in data["results"]}
    best = min(("y_pred", "model_b"), key=lambda m: values[("ece", m)])
    assert data["rankings"]["ece"][0] == best  # lower is better


@pytest.mark.parametrize(
    "args, message",
    [
        (["-l", "ece:n_bins=0"], "invalid value '0' for parameter n_bins of loss ece"),
        (["-l", "mce:bins=3"], "unknown parameter 'bins' for loss mce"),
    ],
)
def test_bad_parameters_are_usage_errors(run, args, message):
    out = run("compute", SAMPLES / "binary_balanced.csv", *args)
    assert out.exit_code == 2 and out.stdout == ""
    assert message in out.stderr and "Traceback" not in out.stderr


def test_probabilities_outside_0_1_are_an_input_error(run, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("y_true,y_pred\n1,0.9\n0,1.7\n")
    out = run("compute", path, "-l", "ece")
    assert out.exit_code == 1 and out.stdout == ""
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("Error:") and "ece" in line and "1.7" in line


def test_api_functions_and_accumulator_read_the_figure_parameters():
    # The reduction of a figure reads its parameters (n_bins, alpha): not the defaults.
    from sklearn import metrics

    rng = np.random.default_rng(2)
    y = rng.gamma(2.0, 2.0, 400)
    p = y * rng.lognormal(0, 0.3, 400)
    want = metrics.d2_pinball_score(y, p, alpha=0.9)
    assert lc.losses.d2_pinball(y, p, alpha=0.9) == pytest.approx(want, rel=1e-12)
    acc = lc.Accumulator(losses="d2_pinball:alpha=0.9", task="regression")
    acc.update(y[:150], p[:150])
    acc.update(y[150:], p[150:])
    assert acc.result().value("d2_pinball") == pytest.approx(want, rel=1e-12)
    labels = rng.integers(0, 2, 400)
    q = rng.uniform(0, 1, 400)
    want_mce = cli_free_mce(labels, q, 4)
    assert lc.losses.mce(labels, q, n_bins=4) == pytest.approx(want_mce, rel=1e-12)
    acc = lc.Accumulator(losses="mce:n_bins=4", task="binary")
    acc.update(labels, q)
    assert acc.result().value("mce") == pytest.approx(want_mce, rel=1e-12)


def cli_free_mce(labels, p, n_bins):
    """The largest top-label gap over [k/n, (k+1)/n) bins (confidence < 1 here)."""
    confidence = np.maximum(p, 1 - p)
    correct = (p > 0.5).astype(int) == labels
    index = np.floor(confidence * n_bins).astype(int)
    gaps = [
        abs(correct[index == b].mean() - confidence[index == b].mean()) for b in np.unique(index)
    ]
    return max(gaps)
