"""Console widths and group names that fought the tables (issue 12.13).

``COLUMNS=-1``, ``0`` or text fall back to the terminal or 80 columns (never an
empty report); below 20 columns the layout is 20 wide; at 20 columns no table
drops or cuts a model name. A real group named ``(all)`` is shown quoted, so the
total row ``(all)`` cannot be mistaken for it.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from losscli.cli import cli
from losscli.report.format import group_label

MODELS = ("model_alpha", "model_beta_long_name")
DATA = (
    "y_true,model_alpha,model_beta_long_name,g\n"
    "1,2,1,a\n3,4,3,b\n2,2,2,(all)\n5,1,4.5,a\n0,1,0.5,b\n"
)


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "models.csv"
    path.write_text(DATA, encoding="utf-8")
    return path


def _loss(*args, columns: str | None):
    env = {"COLUMNS": columns} if columns is not None else {}
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _models(path):
    return [a for m in MODELS for a in ("--pred-col", m)]


@pytest.mark.parametrize("columns", ["-1", "0", "abc", "", " 80 "])
def test_bad_or_empty_columns_fall_back_to_80(data, columns):
    args = ("compute", data, *_models(data), "--group-by", "g", "-l", "mae,mse")
    shown = _loss(*args, columns=columns)
    assert shown.strip()
    assert shown == _loss(*args, columns="80")


def test_a_width_below_20_is_laid_out_at_20(data):
    args = ("compute", data, *_models(data), "-l", "mae")
    assert _loss(*args, columns="5") == _loss(*args, columns="20")


def _whole_names(text: str) -> str:
    """The text with folded lines joined again (a name folded at the edge reads whole)."""
    return "".join(line.strip() for line in text.splitlines())


@pytest.mark.parametrize(
    "extra",
    [(), ("--group-by", "g"), ("--ci", "0.9", "--bootstrap", "20")],
    ids=["plain", "grouped", "ci"],
)
def test_compute_at_20_columns_keeps_every_model_and_loss(data, extra):
    shown = _loss("compute", data, *_models(data), "-l", "mae,huber:delta=2", *extra, columns="20")
    lines = shown.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 20
    joined = _whole_names(shown)
    blocks = 4 if "--group-by" in extra else 1  # (all), "(all)", a, b
    for model in MODELS:
        assert joined.count(model) == 2 * blocks, shown  # once per loss (and group)
    assert joined.count("huber") == joined.count("delta=2") == blocks
    assert "…" not in shown  # nothing cut short


def test_compute_single_model_at_20_columns_keeps_the_loss_names(data):
    shown = _loss("compute", data, "--pred-col", "model_alpha", columns="20")
    for loss in ("log_cosh", "median_ae", "max_error", "huber · delta=1"):
        assert loss in shown
    assert "model_alpha" in shown and "…" not in shown


def test_the_80_column_table_is_unchanged_by_the_narrow_layout(data):
    shown = _loss("compute", data, *_models(data), "-l", "mae", columns="80")
    assert " loss   params   model_alpha   model_beta_long_name " in shown


def test_sensitivity_verdicts_at_20_columns_name_every_model(data):
    shown = _loss("sensitivity", data, *_models(data), "-l", "mae,mse", columns="20")
    verdicts = _whole_names(shown.split("Verdicts", 1)[1])
    for loss in ("mae", "mse"):
        for model in MODELS:
            assert f"{loss}({model})" in verdicts.replace(" ", "")
    assert "…" not in shown.split("Verdicts", 1)[1]


# --------------------------------------------------------------------------- (all)


def test_group_label():
    assert group_label(None) == "(all)"
    assert group_label("(all)") == '"(all)"'
    assert group_label('"(all)"') == '"\\"(all)\\""'
    assert group_label('"x"') == '"\\"x\\""'
    assert group_label("a") == "a" and group_label("(all") == "(all" and group_label('"') == '"'


def test_a_group_named_all_is_told_from_the_total(data):
    table = _loss("compute", data, *_models(data), "--group-by", "g", "-l", "mae", columns="80")
    firsts = [line.split()[0] for line in table.splitlines() if " mae " in line]
    assert firsts[:4] == ["(all)", '"(all)"', "a", "b"]
    markdown = _loss(
        "compute", data, *_models(data), "--group-by", "g", "-l", "mae", "--format", "markdown",
        columns="80",
    )  # fmt: skip
    cells = [line.split("|")[1].strip() for line in markdown.splitlines()[2:]]
    assert cells == ["(all)", '"(all)"', "a", "b"]
    doc = json.loads(
        _loss("compute", data, *_models(data), "--group-by", "g", "-l", "mae", "--format", "json",
              columns="80")
    )  # fmt: skip
    groups = [r["group"] for r in doc["results"] if r["model"] == "model_alpha"]
    assert groups == [None, "(all)", "a", "b"]  # JSON keeps the data exact


@pytest.mark.parametrize(
    "value, digits, text",
    [
        (1.5241383936e-06, None, "1.5241e-06"),  # was 1.524e-06: one digit short
        (1.7043e150, None, "1.7043e+150"),
        (-2.5e-5, 3, "-2.50e-05"),
        (123456789.0, None, "1.2346e+08"),
        (0.00012345678, None, "0.00012346"),
    ],
)
def test_exponent_form_keeps_the_significant_digits(value, digits, text):
    from losscli.report.format import fmt_number

    assert fmt_number(value, digits=digits) == text
