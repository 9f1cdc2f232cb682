"""Several multiclass models in one file (repeated --pred-prefix); options given twice."""

from __future__ import annotations

import click
import numpy as np
import pytest
from sklearn import metrics

import losscli as lc
from losscli.cli import COMMANDS, cli

CLASSES = ["cat", "dog", "bird"]


def _two_models(tmp_path, n=40, seed=3):
    rng = np.random.default_rng(seed)
    labels = rng.choice(CLASSES, n)
    probs = {m: rng.dirichlet([1.0, 1.0, 1.0], n) for m in ("logreg", "rf")}
    lines = ["y_true," + ",".join(f"{m}_{c}" for m in probs for c in CLASSES)]
    for i in range(n):
        cells = [labels[i]] + [repr(float(probs[m][i, j])) for m in probs for j in range(3)]
        lines.append(",".join(cells))
    path = tmp_path / "wine.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, labels, probs


def _values(payload, model):
    return {r["loss"]: r["value"] for r in payload["results"] if r["model"] == model}


def _sklearn(labels, probs):
    order = np.argsort(CLASSES)  # sklearn wants the columns in sorted class order
    return {
        "cce": metrics.log_loss(labels, probs[:, order], labels=sorted(CLASSES)),
        "multiclass_brier": metrics.brier_score_loss(
            labels, probs[:, order], labels=sorted(CLASSES), scale_by_half=False
        ),
    }


def test_repeated_pred_prefix_gives_one_model_per_prefix(run_json, tmp_path):
    path, labels, probs = _two_models(tmp_path)
    payload = run_json(
        "compute", path, "--pred-prefix", "logreg_", "--pred-prefix", "rf_",
        "-l", "cce,multiclass_brier",
    )  # fmt: skip
    assert payload["task"] == "multiclass"
    assert sorted({r["model"] for r in payload["results"]}) == ["logreg", "rf"]
    for model in ("logreg", "rf"):
        want = _sklearn(labels, probs[model])
        got = _values(payload, model)
        for name in want:
            assert got[name] == pytest.approx(want[name], rel=1e-12)


def test_repeated_pred_prefix_in_compare_ranks_both(run_json, tmp_path):
    path, labels, probs = _two_models(tmp_path)
    payload = run_json(
        "compare", path, "--pred-prefix", "logreg_", "--pred-prefix", "rf_", "-l", "cce"
    )
    want = {m: _sklearn(labels, probs[m])["cce"] for m in probs}
    assert payload["rankings"]["cce"] == sorted(want, key=want.get)
    for model in probs:
        assert _values(payload, model)["cce"] == pytest.approx(want[model], rel=1e-12)


def test_api_takes_a_list_of_prefixes(tmp_path):
    path, labels, probs = _two_models(tmp_path)
    result = lc.compute(str(path), pred_prefix=["logreg_", "rf_"], losses="cce")
    assert result.models == ["logreg", "rf"]
    assert result.value("cce", model="rf") == pytest.approx(
        _sklearn(labels, probs["rf"])["cce"], rel=1e-12
    )


def test_class_columns_in_another_order_are_matched_by_name(run_json, tmp_path):
    path = tmp_path / "mc.csv"
    path.write_text("y_true,a_cat,a_dog,b_dog,b_cat\ncat,0.9,0.1,0.3,0.7\ndog,0.2,0.8,0.6,0.4\n")
    payload = run_json("compute", path, "--pred-prefix", "a_", "--pred-prefix", "b_", "-l", "cce")
    got = _values(payload, "b")["cce"]
    assert got == pytest.approx(
        metrics.log_loss(["cat", "dog"], [[0.7, 0.3], [0.4, 0.6]], labels=["cat", "dog"]),
        rel=1e-12,
    )


def test_longer_prefix_columns_are_not_the_shorter_prefixes_classes(run_json, tmp_path):
    path = tmp_path / "mc.csv"
    path.write_text(
        "y_true,p_cat,p_dog,p_v2_cat,p_v2_dog\ncat,0.9,0.1,0.6,0.4\ndog,0.2,0.8,0.3,0.7\n"
    )
    payload = run_json(
        "compute", path, "--pred-prefix", "p_", "--pred-prefix", "p_v2_", "-l", "cce"
    )
    assert sorted({r["model"] for r in payload["results"]}) == ["p", "p_v2"]
    want = metrics.log_loss(["cat", "dog"], [[0.6, 0.4], [0.3, 0.7]], labels=["cat", "dog"])
    assert _values(payload, "p_v2")["cce"] == pytest.approx(want, rel=1e-12)


def test_prefixes_with_different_classes_are_an_error(run, tmp_path):
    path = tmp_path / "mc.csv"
    path.write_text("y_true,a_cat,a_dog,b_cat,b_cow\ncat,0.9,0.1,0.3,0.7\n")
    result = run("compute", path, "--pred-prefix", "a_", "--pred-prefix", "b_")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "Error: --pred-prefix b_: its classes differ from those of a_ (cat, dog): "
        "missing b_dog; extra b_cow; every model needs one column per class"
    )


def test_prefixes_naming_the_same_model_are_a_usage_error(run, tmp_path):
    path = tmp_path / "mc.csv"
    path.write_text("y_true,a_cat,a_dog,a__cat,a__dog\ncat,0.9,0.1,0.3,0.7\n")
    result = run("compute", path, "--pred-prefix", "a_", "--pred-prefix", "a__")
    assert result.exit_code == 2
    assert "both name the model 'a'" in result.stderr


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["compute", "{f}", "--group-by", "a", "--group-by", "b"], "--group-by"),
        (["compute", "{f}", "--true-col", "y_true", "--true-col=t"], "--true-col"),
        (["compare", "{f}", "--format", "json", "--format", "csv"], "--format"),
        (["sensitivity", "{f}", "--rule", "mad", "--rule", "iqr"], "--rule"),
        (["recommend", "{f}", "--weight-col", "w", "--weight-col", "w"], "--weight-col"),
        (["compute", "{f}", "--ci", "0.9", "--ci", "0.95"], "--ci"),
        (["list", "--task", "binary", "--task", "regression"], "--task"),
    ],
)
def test_an_option_of_one_value_given_twice_is_a_usage_error(run, args, flag):
    path = "sample_data/regression_clean.csv"
    result = run(*[a.format(f=path) for a in args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert (
        f"Error: {flag} was given more than once; it takes one value (give it once; "
        f"only options marked 'repeatable' in --help take several)"
    ) in result.stderr


def test_repeatable_options_may_be_given_twice(run_json):
    payload = run_json(
        "compute", "sample_data/regression_clean.csv", "-l", "mse", "-l", "mae",
        "--from-logits", "--from-logits",
    )  # fmt: skip
    assert [r["loss"] for r in payload["results"]] == ["mse", "mae"]


def test_every_option_taking_several_values_says_so_in_help():
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        for param in command.params:
            if isinstance(param, click.Option) and param.multiple:
                assert "(repeatable" in (param.help or ""), (name, param.opts)
