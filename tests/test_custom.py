"""User-defined losses with --custom PATH.py:FUNC[:k=v...] (SPEC section 3), end to end."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLES

from losscli.core.registry import set_custom_losses
from losscli.custom import parse_custom, parse_value

REGRESSION = SAMPLES / "regression_clean.csv"

USER_CODE = '''
import numpy as np


def huber_guide(y_true, y_pred):
    """The guide's TensorFlow Huber (no 0.5 factor), elementwise."""
    error = y_true - y_pred
    small = np.abs(error) <= 1.0
    return np.where(small, np.square(error), 1.0 * (np.abs(error) - 0.5))


def custom_loss_with_threshold(threshold=1):
    def custom_loss(y_true, y_pred):
        return np.minimum(np.abs(y_true - y_pred), threshold)
    return custom_loss


def scaled(factor, mode="abs", squared=False):
    def loss(y_true, y_pred):
        e = np.abs(y_true - y_pred) if mode == "abs" else y_true - y_pred
        return factor * (e ** 2 if squared else e)
    return loss


def mean_only(y_true, y_pred):
    return float(np.mean((y_true - y_pred) ** 2))


def _scale(v):
    return 1.0 / int(v[0] * 0)


def broken(y_true, y_pred):
    return _scale(y_true)


def wrong_shape(y_true, y_pred):
    return np.zeros(3)


def not_numbers(y_true, y_pred):
    return None
'''


@pytest.fixture(autouse=True)
def _no_custom_losses_afterwards():
    """Custom losses live in the registry until the next command: leave none behind."""
    yield
    set_custom_losses([])


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "my_losses.py"
    path.write_text(textwrap.dedent(USER_CODE), encoding="utf-8")
    return path


def results(out: dict) -> dict[str, float]:
    return {r["loss"]: r["value"] for r in out["results"]}


def frame() -> pd.DataFrame:
    return pd.read_csv(REGRESSION)


def assert_user_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert sum(line.startswith("Error:") for line in result.stderr.splitlines()) == 1
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "value"),
    [("2", 2), ("2.5", 2.5), ("1e-3", 1e-3), ("true", True), ("False", False), ("abs", "abs")],
)
def test_values_are_int_float_bool_or_string(text, value):
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_parse_custom_spec():
    spec = parse_custom("dir/my_losses.py:scaled:factor=2:mode=signed:squared=true")
    assert spec.path == "dir/my_losses.py"
    assert spec.function == "scaled"
    assert spec.kwargs == {"factor": 2, "mode": "signed", "squared": True}


@pytest.mark.parametrize("text", ["my_losses.py", "my_losses:f", "my_losses.py:f:oops", "x.py:1f"])
def test_malformed_custom_is_a_usage_error(run, text):
    result = run("compute", REGRESSION, "--custom", text)
    assert result.exit_code == 2
    assert "--custom" in result.stderr


# --------------------------------------------------------------------------- compute


def test_function_joins_the_default_panel(run_json, user_file):
    out = run_json("compute", REGRESSION, "--custom", f"{user_file}:huber_guide")
    names = [r["loss"] for r in out["results"]]
    assert names[:-1] == [
        "mse",
        "rmse",
        "mae",
        "mbe",
        "huber",
        "log_cosh",
        "median_ae",
        "max_error",
    ]
    assert names[-1] == "huber_guide"
    data = frame()
    e = np.abs(data["y_true"] - data["y_pred"]).to_numpy()
    want = np.mean(np.where(e <= 1, e**2, e - 0.5))
    assert results(out)["huber_guide"] == pytest.approx(want, rel=1e-12)


def test_factory_with_a_parameter(run_json, user_file):
    out = run_json(
        "compute",
        REGRESSION,
        "-l",
        "mae",
        "--custom",
        f"{user_file}:custom_loss_with_threshold:threshold=2",
    )
    assert [r["loss"] for r in out["results"]] == ["mae", "custom_loss_with_threshold"]
    row = out["results"][1]
    assert row["params"] == {"threshold": 2}
    data = frame()
    want = np.mean(np.minimum(np.abs(data["y_true"] - data["y_pred"]), 2))
    assert row["value"] == pytest.approx(want, rel=1e-12)


def test_factory_without_parameters_uses_its_defaults(run_json, user_file):
    out = run_json(
        "compute", REGRESSION, "-l", "mae", "--custom", f"{user_file}:custom_loss_with_threshold"
    )
    data = frame()
    want = np.mean(np.minimum(np.abs(data["y_true"] - data["y_pred"]), 1))
    assert results(out)["custom_loss_with_threshold"] == pytest.approx(want, rel=1e-12)


def test_factory_with_typed_parameters(run_json, user_file):
    custom = f"{user_file}:scaled:factor=0.5:mode=signed:squared=true"
    out = run_json("compute", REGRESSION, "-l", "mse", "--custom", custom)
    assert results(out)["scaled"] == pytest.approx(0.5 * results(out)["mse"], rel=1e-12)


def test_scalar_return_is_used_for_every_row(run_json, user_file):
    out = run_json("compute", REGRESSION, "-l", "mse", "--custom", f"{user_file}:mean_only")
    assert results(out)["mean_only"] == pytest.approx(results(out)["mse"], rel=1e-12)


def test_several_custom_losses_and_a_gate(run, user_file):
    result = run(
        "compute",
        REGRESSION,
        "-l",
        "mae",
        "--custom",
        f"{user_file}:huber_guide",
        "--custom",
        f"{user_file}:mean_only",
        "--fail-above",
        "mean_only=1",
        "--format",
        "json",
    )
    assert result.exit_code == 3
    assert "mean_only" in result.stderr
    assert [r["loss"] for r in json.loads(result.stdout)["results"]] == [
        "mae",
        "huber_guide",
        "mean_only",
    ]


def test_custom_loss_adopts_the_data_task(run_json, user_file):
    out = run_json(
        "compute",
        SAMPLES / "binary_balanced.csv",
        "-l",
        "brier",
        "--custom",
        f"{user_file}:mean_only",
    )
    assert out["task"] == "binary"
    assert results(out)["mean_only"] == pytest.approx(results(out)["brier"], rel=1e-12)


def test_custom_loss_in_compare_and_sensitivity(run_json, user_file):
    custom = f"{user_file}:huber_guide"
    out = run_json("compare", REGRESSION, "-l", "mse", "--custom", custom)
    assert {r["loss"] for r in out["results"]} == {"mse", "huber_guide"}
    out = run_json(
        "sensitivity", SAMPLES / "regression_outliers.csv", "-l", "mse", "--custom", custom
    )
    assert {r["loss"] for r in out["results"]} == {"mse", "huber_guide"}


def test_custom_losses_do_not_leak_into_the_next_command(run_json, user_file):
    run_json("compute", REGRESSION, "--custom", f"{user_file}:huber_guide")
    out = run_json("compute", REGRESSION, "-l", "mse")
    assert [r["loss"] for r in out["results"]] == ["mse"]


# --------------------------------------------------------------------------- errors


def test_exception_in_user_code_shows_the_users_frames(run, user_file):
    result = run("compute", REGRESSION, "--custom", f"{user_file}:broken")
    assert_user_error(
        result,
        "custom loss broken raised ZeroDivisionError:",
        f'File "{user_file}", line',
        "in broken",
        "in _scale",
        "return 1.0 / int(v[0] * 0)",
    )
    # none of losscli's own frames
    assert "losscli" not in result.stderr.replace(str(user_file), "")


def test_exception_while_loading_the_file(run, tmp_path):
    path = tmp_path / "bad_import.py"
    path.write_text("x = 1\nraise RuntimeError('config missing')\n", encoding="utf-8")
    result = run("compute", REGRESSION, "--custom", f"{path}:anything")
    assert_user_error(result, "RuntimeError: config missing", f'File "{path}", line 2')


def test_syntax_error_in_the_file(run, tmp_path):
    path = tmp_path / "typo.py"
    path.write_text("def f(y_true, y_pred)\n    return 0\n", encoding="utf-8")
    result = run("compute", REGRESSION, "--custom", f"{path}:f")
    assert_user_error(result, "SyntaxError", f'File "{path}", line 1')


def test_missing_file(run, tmp_path):
    result = run("compute", REGRESSION, "--custom", f"{tmp_path}/nope.py:f")
    assert_user_error(result, "file not found", "nope.py")


def test_missing_function_lists_the_functions(run, user_file):
    result = run("compute", REGRESSION, "--custom", f"{user_file}:hubber")
    assert_user_error(result, "'hubber' not found", "huber_guide", "custom_loss_with_threshold")


def test_unknown_factory_parameter(run, user_file):
    result = run(
        "compute", REGRESSION, "--custom", f"{user_file}:custom_loss_with_threshold:delta=2"
    )
    assert result.exit_code == 2
    assert "delta" in result.stderr


@pytest.mark.parametrize(
    ("func", "fragment"), [("wrong_shape", "shape (3,)"), ("not_numbers", "NoneType")]
)
def test_bad_return_values(run, user_file, func, fragment):
    assert_user_error(run("compute", REGRESSION, "--custom", f"{user_file}:{func}"), fragment)


def test_name_of_a_builtin_loss(run, tmp_path):
    path = tmp_path / "clash.py"
    path.write_text("def mse(y_true, y_pred):\n    return 0.0\n", encoding="utf-8")
    result = run("compute", REGRESSION, "--custom", f"{path}:mse")
    assert result.exit_code == 2
    assert "built-in" in result.stderr


# --------------------------------------------------------------------------- NaN / inf results

NON_FINITE_CODE = """
import numpy as np


def nanret(y_true, y_pred):
    out = (y_true - y_pred) ** 2
    out[[3, 7]] = np.nan
    return out


def infret(y_true, y_pred):
    out = np.abs(y_true - y_pred)
    out[[2, 9]] = np.inf
    return out
"""


@pytest.fixture
def non_finite_file(tmp_path):
    path = tmp_path / "myl.py"
    path.write_text(textwrap.dedent(NON_FINITE_CODE), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "command", [("compute",), ("compute", "--ci", "0.9", "--bootstrap", "20"), ("compare",)]
)
def test_nan_from_a_custom_loss_is_an_error_naming_it_and_the_rows(run, non_finite_file, command):
    result = run(*command, REGRESSION, "-l", "mse", "--custom", f"{non_finite_file}:nanret")
    assert_user_error(result, "custom loss nanret returned NaN", "2 of ", "rows 4, 8")
    assert "overflow" not in result.stderr


def test_nan_rows_are_file_rows_after_nan_drop(run, non_finite_file, tmp_path):
    data = frame()
    data.loc[0, "y_pred"] = np.nan  # row 1 is dropped: the loss's 4th row is file row 5
    path = tmp_path / "data.csv"
    data.to_csv(path, index=False)
    result = run(
        "compute", path, "--nan", "drop", "-l", "mse", "--custom", f"{non_finite_file}:nanret"
    )
    assert_user_error(result, "rows 5, 9")


def test_inf_from_a_custom_loss_is_a_warning_naming_the_rows(run, non_finite_file):
    for command in (("compute",), ("compare",)):
        result = run(
            *command,
            REGRESSION,
            "-l",
            "mse",
            "--custom",
            f"{non_finite_file}:infret",
            "--format",
            "json",
        )
        assert result.exit_code == 0, result.stderr
        assert "custom loss infret returned +-inf on 2 rows (rows 3, 10)" in result.stderr
        assert "overflow" not in result.stderr
