"""``loss compare``: curves against closed forms, the property table, rankings and charts."""

from __future__ import annotations

import json
import math
import os
import re
import sys

import numpy as np
import pytest
from conftest import SAMPLES

from losscli.analysis.bootstrap import bootstrap_replicates, percentile_interval
from losscli.analysis.compare import agreement_of, rank_models
from losscli.analysis.curves import (
    MARGIN,
    PROBABILITY,
    curve_variable,
    loss_curve,
    parse_grid,
)
from losscli.core.registry import LossSelection, Reduction, Task, all_losses, get_loss
from losscli.errors import UsageError
from losscli.report.catalogue import PROPERTY_NAMES, property_row

CURVE_TASKS = (Task.REGRESSION, Task.BINARY, Task.MULTICLASS)


@pytest.fixture
def run():
    """conftest's ``run``, plus ``env`` (e.g. COLUMNS=80 for fixed-width rendering)."""
    from click.testing import CliRunner

    from losscli.cli import cli

    def invoke(*args, input=None, env=None):
        runner = CliRunner()
        return runner.invoke(
            cli, [str(a) for a in args], input=input, env=env, catch_exceptions=False
        )

    return invoke


def _h(e, delta=1.0):
    a = np.abs(e)
    return np.where(a <= delta, 0.5 * e**2, delta * (a - 0.5 * delta))


def _focal(p, gamma=2.0, alpha=0.25):
    return -alpha * (1 - p) ** gamma * np.log(p)


def _focal_grad(p, gamma=2.0, alpha=0.25):
    return alpha * (gamma * (1 - p) ** (gamma - 1) * np.log(p) - (1 - p) ** gamma / p)


def _smape(e, y):
    p = y - e
    return 2 * np.abs(e) / (np.abs(y) + np.abs(p))


def _smape_grad(e, y):
    p = y - e
    # For p < 0 (e > y) smape is flat at 2; at p = 0 the slope is the mean of both sides.
    inside = np.sign(e) * 4 * y / (2 * y - e) ** 2
    return np.where(p < 0, 0.0, np.where(p == 0, 0.5 * inside, inside))


def _msle(e, y):
    return (np.log1p(y) - np.log1p(y - e)) ** 2


def _msle_grad(e, y):
    return 2 * (np.log1p(y) - np.log1p(y - e)) / (1 + y - e)


def _hinge_grad(m):
    return np.where(m < 1, -1.0, np.where(m > 1, 0.0, -0.5))


# name -> (value(x, y0), gradient(x, y0)); x is the curve's grid variable:
# the error e = y_true - y_pred for regression (y_true = y0), the probability p
# of the true class, or the margin m for hinge-type losses. At a kink the
# expected slope is the mean of the one-sided slopes (sign(0) = 0).
CLOSED_FORMS = {
    "mse": (lambda e, y: e**2, lambda e, y: 2 * e),
    "rmse": (lambda e, y: np.abs(e), lambda e, y: np.sign(e)),
    "mae": (lambda e, y: np.abs(e), lambda e, y: np.sign(e)),
    "mbe": (lambda e, y: e, lambda e, y: np.ones_like(e)),
    "huber": (lambda e, y: _h(e), lambda e, y: np.clip(e, -1, 1)),
    "log_cosh": (lambda e, y: np.log(np.cosh(e)), lambda e, y: np.tanh(e)),
    "mape": (lambda e, y: np.abs(e) / abs(y), lambda e, y: np.sign(e) / abs(y)),
    "smape": (_smape, _smape_grad),
    "msle": (_msle, _msle_grad),
    "rmsle": (
        lambda e, y: np.abs(np.log1p(y) - np.log1p(y - e)),
        lambda e, y: np.sign(e) / (1 + y - e),
    ),
    "median_ae": (lambda e, y: np.abs(e), lambda e, y: np.sign(e)),
    "max_error": (lambda e, y: np.abs(e), lambda e, y: np.sign(e)),
    "pinball": (lambda e, y: 0.5 * np.abs(e), lambda e, y: 0.5 * np.sign(e)),
    "poisson": (
        lambda e, y: 2 * (y * np.log(y / (y - e)) - y + (y - e)),
        lambda e, y: 2 * (y / (y - e) - 1),
    ),
    "gamma": (
        lambda e, y: 2 * (np.log((y - e) / y) + y / (y - e) - 1),
        lambda e, y: -2 * (1 / (y - e) - y / (y - e) ** 2),
    ),
    "tweedie": (lambda e, y: e**2, lambda e, y: 2 * e),
    "bce": (lambda p, _: -np.log(p), lambda p, _: -1 / p),
    "brier": (lambda p, _: (p - 1) ** 2, lambda p, _: 2 * (p - 1)),
    "hinge": (lambda m, _: np.maximum(0, 1 - m), lambda m, _: _hinge_grad(m)),
    "squared_hinge": (
        lambda m, _: np.maximum(0, 1 - m) ** 2,
        lambda m, _: -2 * np.maximum(0, 1 - m),
    ),
    "focal": (lambda p, _: _focal(p), lambda p, _: _focal_grad(p)),
    "cce": (lambda p, _: -np.log(p), lambda p, _: -1 / p),
    "multiclass_brier": (lambda p, _: 2 * (1 - p) ** 2, lambda p, _: -4 * (1 - p)),
    "multiclass_hinge": (lambda m, _: np.maximum(0, 1 - m), lambda m, _: _hinge_grad(m)),
    "categorical_focal": (lambda p, _: _focal(p), lambda p, _: _focal_grad(p)),
    "kl_div": (lambda p, _: -np.log(p), lambda p, _: -1 / p),
}

CURVE_LOSSES = [s.name for s in all_losses() if s.task in CURVE_TASKS and not s.evaluation_only]
REPORT_FIGURES = [s.name for s in all_losses() if s.evaluation_only and s.task in CURVE_TASKS]


@pytest.mark.parametrize("name", REPORT_FIGURES)
def test_figures_to_report_have_no_curve(run, name):
    out = run("compare", "-l", name)
    assert out.exit_code == 2
    assert out.stdout == ""
    assert f"{name} is a figure to report, not a loss of one row" in out.stderr


def _default(name: str) -> LossSelection:
    spec = get_loss(name)
    return LossSelection(spec, spec.resolve_params({}))


def test_every_curve_loss_has_a_closed_form_here():
    missing = sorted(set(CURVE_LOSSES) - set(CLOSED_FORMS))
    assert not missing, f"add closed forms for {missing} to CLOSED_FORMS"


@pytest.mark.parametrize("name", CURVE_LOSSES)
@pytest.mark.parametrize("grid", ["-3:3:13", "-2.5:4:27"])
def test_curve_values_and_gradients_match_closed_forms(name, grid):
    curve = loss_curve(_default(name), parse_grid(grid))
    value, gradient = CLOSED_FORMS[name]
    y0 = curve.reference.get("y_true", 0.0)
    x = curve.grid
    with np.errstate(all="ignore"):
        expected_values = value(x, y0)
        expected_gradients = gradient(x, y0)
    np.testing.assert_allclose(curve.values, expected_values, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(curve.gradients, expected_gradients, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "text, value, gradient",
    [
        ("huber:delta=2", lambda e: _h(e, 2.0), lambda e: np.clip(e, -2, 2)),
        (
            "pinball:alpha=0.9",
            lambda e: np.where(e > 0, 0.9 * e, -0.1 * e),
            lambda e: np.where(e > 0, 0.9, np.where(e < 0, -0.1, 0.4)),
        ),
        ("tweedie:power=0", lambda e: e**2, lambda e: 2 * e),
        (
            "focal:gamma=0.5:alpha=0.75",
            lambda p: _focal(p, 0.5, 0.75),
            lambda p: _focal_grad(p, 0.5, 0.75),
        ),
    ],
)
def test_curve_parameters_are_used(text, value, gradient):
    from losscli.core.registry import parse_loss_list

    (selection,) = parse_loss_list(text)
    curve = loss_curve(selection, parse_grid("-3:3:13"))
    np.testing.assert_allclose(curve.values, value(curve.grid), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(curve.gradients, gradient(curve.grid), rtol=1e-6, atol=1e-8)


def test_grids_per_variable():
    errors = parse_grid("-3:3:13")
    assert curve_variable(get_loss("bce")) == PROBABILITY
    assert curve_variable(get_loss("hinge")) == MARGIN
    assert curve_variable(get_loss("multiclass_hinge")) == MARGIN
    bce = loss_curve(_default("bce"), errors)
    assert bce.grid[0] == pytest.approx(0.01) and bce.grid[-1] == pytest.approx(0.99)
    assert len(bce.grid) == 13
    hinge = loss_curve(_default("hinge"), parse_grid("-1:1:7"))
    assert hinge.grid[0] == -3 and hinge.grid[-1] == 3 and len(hinge.grid) == 7


def test_level_dependent_losses_get_a_reference_target_inside_their_domain():
    errors = parse_grid("-3:3:13")
    for name in ("poisson", "gamma", "msle"):
        curve = loss_curve(_default(name), errors)
        y0 = curve.reference["y_true"]
        assert y0 - 3 > 0 if name != "msle" else y0 - 3 > -1
        assert np.all(np.isfinite(curve.values)) and np.all(np.isfinite(curve.gradients))
    assert loss_curve(_default("mse"), errors).reference == {"y_true": 0.0}


def test_structured_losses_have_no_curve():
    structured = [s for s in all_losses() if s.task not in CURVE_TASKS]
    if not structured:
        pytest.skip("no structured losses registered")
    with pytest.raises(UsageError, match="no curve"):
        curve_variable(structured[0])


def test_margin_based_structured_losses_have_no_curve_either():
    # contrastive and triplet are margin-based similarity losses: the task check
    # comes first, so they never reach a kernel that needs their column families.
    for name in ("contrastive", "triplet"):
        with pytest.raises(UsageError, match="compare it on a FILE"):
            curve_variable(get_loss(name))


@pytest.mark.parametrize("name", sorted(s.name for s in all_losses() if s.task not in CURVE_TASKS))
def test_every_structured_loss_without_a_file_is_a_usage_error(run, name):
    result = run("compare", "-l", name)
    assert result.exit_code == 2, (name, result.stderr)
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: loss {name} ({get_loss(name).task.value}) has no curve over an error grid: "
        f"it reads fixed column families; compare it on a FILE instead "
        f"(loss compare FILE -l {name})\n"
    )


# --------------------------------------------------------------------------- CLI, no FILE


def test_curves_json_matches_spec(run_json):
    data = run_json("compare", "--losses", "mse,mae,huber,bce,hinge")
    assert data["command"] == "compare"
    assert data["grid"] == pytest.approx(list(np.linspace(-3, 3, 13)))
    assert [c["loss"] for c in data["curves"]] == ["mse", "mae", "huber", "bce", "hinge"]
    for curve in data["curves"]:
        assert {"loss", "params", "grid", "values", "gradients"} <= set(curve)
        assert len(curve["grid"]) == len(curve["values"]) == len(curve["gradients"]) == 13
    mse = data["curves"][0]
    assert mse["values"] == pytest.approx([e * e for e in np.linspace(-3, 3, 13)])
    assert mse["gradients"] == pytest.approx([2 * e for e in np.linspace(-3, 3, 13)])
    assert data["curves"][2]["params"] == {"delta": 1.0}
    assert data["curves"][3]["grid"][0] == pytest.approx(0.01)
    assert data["curves"][4]["grid"][-1] == pytest.approx(3.0)


def test_errors_option_sets_the_grid(run_json):
    data = run_json("compare", "-l", "mse", "--errors", "-1:1:5")
    assert data["grid"] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert data["curves"][0]["values"] == pytest.approx([1, 0.25, 0, 0.25, 1])


def test_default_curve_losses_are_the_guides_figure(run_json):
    data = run_json("compare")
    assert [c["loss"] for c in data["curves"]] == ["mse", "mae", "huber"]


def test_property_table_is_the_registry(run_json):
    names = ",".join(CURVE_LOSSES)
    data = run_json("compare", "--losses", names)
    rows = {row["loss"]: row for row in data["properties"]}
    assert list(rows) == CURVE_LOSSES
    for name in CURVE_LOSSES:
        spec = get_loss(name)
        assert rows[name] == property_row(spec)
        for prop in PROPERTY_NAMES:
            assert rows[name][prop] is bool(getattr(spec.properties, prop)), (name, prop)


def test_property_table_in_the_terminal(run):
    result = run("compare", "-l", "bce,hinge", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "convex" in line and "sparse" in line)
    bce = next(line for line in lines if line.strip().startswith("bce ") and "✓" in line)
    hinge = next(line for line in lines if line.strip().startswith("hinge ") and "✓" in line)
    # The guide's table: cross-entropy probabilistic, smooth; hinge margin-based, sparse.
    assert "probabilistic" in header and "margin-based" in header
    assert bce.split()[1:] == ["✓", "✓", "✗", "✓", "✗", "✗"]
    assert hinge.split()[1:] == ["✓", "✗", "✓", "✗", "✓", "✓"]


NARROW_LOSSES = ("mse", "mae", "huber", "log_cosh", "bce", "hinge", "squared_hinge")


def _property_section(out: str) -> str:
    return out[out.index("Properties (the guide's table") :]


@pytest.mark.parametrize("width", [80, 70, 60, 50])
def test_property_table_fits_narrow_consoles(run, width):
    result = run("compare", "-l", ",".join(NARROW_LOSSES), env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert max(len(line) for line in out.splitlines()) <= width
    assert "…" not in out
    section = _property_section(out)
    # Every loss name whole at the start of its own line, with all its properties.
    names = [line.split()[0].rstrip(":") for line in section.splitlines() if line.strip()]
    for name in NARROW_LOSSES:
        assert name in names, (width, name)
    # Headers whole (full or explained short ones) or the list form.
    words = set(re.findall(r"[\w.-]+", section))
    assert {"convex", "smooth", "robust", "sparse"} <= words
    assert "probabilistic" in words and "margin-based" in words


def test_narrow_property_layouts_say_the_same_as_the_wide_table(run):
    losses = ",".join(NARROW_LOSSES)
    expected = {
        name: [
            prop.replace("_", "-")
            for prop in PROPERTY_NAMES
            if getattr(get_loss(name).properties, prop)
        ]
        for name in NARROW_LOSSES
    }
    # 60 columns: short headers, explained under the table.
    section = _property_section(run("compare", "-l", losses, env={"COLUMNS": "60"}).stdout)
    assert "prob. = probabilistic" in section and "margin = margin-based" in section
    header = next(line for line in section.splitlines() if "convex" in line)
    shown = [h for h in header.split()[1:]]
    assert shown == ["convex", "smooth", "robust", "prob.", "margin", "sparse"]
    for line in section.splitlines():
        cells = line.split()
        if cells and cells[0] in expected:
            has = [h for h, cell in zip(PROPERTY_NAMES, cells[1:]) if cell == "✓"]
            assert [h.replace("_", "-") for h in has] == expected[cells[0]]
    # 50 columns: one line per loss naming the properties it has.
    section = _property_section(run("compare", "-l", losses, env={"COLUMNS": "50"}).stdout)
    # A long line continues indented under the properties, so the name column stays clear.
    listed: dict[str, str] = {}
    name = None
    for line in section.splitlines():
        head, _, rest = line.partition(": ")
        if head in expected:
            name = head
            listed[name] = rest
        elif name is not None and line.startswith(" " * (len(name) + 2)) and line.strip():
            listed[name] += " " + line.strip()
        else:
            name = None
    assert {k: v.split(", ") for k, v in listed.items()} == expected


def test_curves_csv_and_markdown(run):
    result = run("compare", "-l", "mse,mae", "--errors", "-1:1:3", "--format", "csv")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "loss,params,variable,x,value,gradient"
    assert lines[1] == "mse,,error,-1.0,1.0,-2.0"
    assert len(lines) == 1 + 6
    md = run("compare", "-l", "mse", "--errors", "-1:1:3", "--format", "markdown")
    assert md.stdout.startswith("| loss | params | variable | x | value | gradient |")


# --------------------------------------------------------------------------- terminal chart


def test_terminal_chart_renders_at_80_columns(run):
    result = run("compare", "--losses", "mse,mae,huber", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "\x1b" not in out  # no colour when not a terminal
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "Loss vs error" in out
    assert "error e = y_true - y_pred" in out
    for marker, name in (("•", "mse"), ("+", "mae"), ("x", "huber")):
        assert f"{marker} {name}" in out  # the legend names each curve's marker
    chart = out.split("Values and slopes")[0]
    plot_rows = [line for line in chart.splitlines() if "│" in line]
    assert len(plot_rows) >= 15
    # mse reaches the top corners at e = -3 and e = 3; the minimum sits in the middle.
    top = next(line for line in plot_rows if line.lstrip().startswith("9"))
    assert top.split("┤", 1)[1].startswith("•") and top.rstrip().endswith("•│")
    assert run("compare", "--losses", "mse,mae,huber", env={"COLUMNS": "80"}).stdout == out


def test_terminal_chart_function_width():
    from losscli.report.chart import Panel, Series, terminal_chart

    xs = [x / 10 for x in range(-30, 31)]
    panel = Panel("Loss vs error", "error", [Series("mse", xs, [x * x for x in xs])])
    text = terminal_chart(panel, width=80, height=20)
    lines = text.splitlines()
    assert len(lines) <= 20 and max(len(line) for line in lines) <= 80
    assert "mse" in text and "\x1b" not in text
    assert "\x1b" in terminal_chart(panel, width=80, height=20, color=True)


def test_classification_and_margin_charts(run):
    result = run("compare", "-l", "bce,focal,hinge", env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "Loss vs predicted probability of the true class" in result.stdout
    assert "Loss vs margin" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


# --------------------------------------------------------------------------- --plot


def test_plot_png(run, tmp_path):
    target = tmp_path / "curves.png"
    result = run("compare", "-l", "mse,mae,huber,bce", "--plot", target)
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]  # no temp file left
    assert f"Chart saved to {target}" in result.stderr
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_plot_svg(run, tmp_path):
    import xml.etree.ElementTree as ET

    target = tmp_path / "curves.svg"
    result = run("compare", "-l", "mse,mae,huber", "--plot", target, "--format", "json")
    assert result.exit_code == 0, result.stderr
    root = ET.fromstring(target.read_bytes())
    assert root.tag.endswith("svg")
    assert json.loads(result.stdout)["command"] == "compare"
    first = target.read_bytes()
    run("compare", "-l", "mse,mae,huber", "--plot", target, "--format", "json")
    assert target.read_bytes() == first  # deterministic


def test_plot_unknown_extension_is_a_usage_error(run, tmp_path):
    result = run("compare", "--plot", tmp_path / "curves.jpg")
    assert result.exit_code == 2
    assert ".png, .svg or .pdf" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_plot_without_matplotlib_names_the_extra(run, tmp_path, monkeypatch):
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)
    result = run("compare", "--plot", tmp_path / "curves.png")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "pip install 'losscli[plot]'" in lines[0]


def test_plot_into_missing_folder(run, tmp_path):
    result = run("compare", "--plot", tmp_path / "nope" / "c.png")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "does not exist" in result.stderr


# --------------------------------------------------------------------------- with a FILE


def _write(tmp_path, columns: dict[str, np.ndarray], name="data.csv"):
    names = list(columns)
    n = len(columns[names[0]])
    lines = [",".join(names)]
    for i in range(n):
        lines.append(",".join(repr(float(columns[c][i])) for c in names))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def constructed(tmp_path):
    """Models with known rankings.

    a: error 0.1 on every row but one, which is off by 50 -> best by mae/median_ae,
       worst by mse/max_error. b: error 1 everywhere.
    c: mbe = +0.2; d: mbe = -0.5 (d is smaller, but c is better by absolute bias).
    """
    n = 100
    y = np.arange(n, dtype=float)
    a = y + 0.1
    a[0] = y[0] + 50
    return _write(
        tmp_path,
        {"y_true": y, "a": a, "b": y + 1.0, "c": y - 0.2, "d": y + 0.5},
    )


def test_rankings_and_agreement_known_answer(run_json, constructed):
    data = run_json(
        "compare", constructed, "--pred-col", "a", "--pred-col", "b",
        "-l", "mse,mae,median_ae,max_error",
    )  # fmt: skip
    assert data["rankings"] == {
        "mse": ["b", "a"],
        "mae": ["a", "b"],
        "median_ae": ["a", "b"],
        "max_error": ["b", "a"],
    }
    agreement = data["agreement"]
    assert agreement["agree"] is False
    # Two votes each: the tie goes to the first loss's choice.
    assert agreement["best_model"] == "b"
    assert agreement["disagreeing"] == ["mae", "median_ae"]
    assert agreement["best_by_loss"]["mae"] == "a"
    rows = {(r["loss"], r["model"]): r for r in data["results"]}
    assert rows[("mse", "a")]["value"] == pytest.approx((99 * 0.01 + 2500) / 100)
    assert rows[("mse", "a")]["rank"] == 2
    assert rows[("mse", "a")]["diff_to_best"] == pytest.approx((99 * 0.01 + 2500) / 100 - 1)
    assert rows[("mae", "a")]["median"] == pytest.approx(0.1)
    assert rows[("mae", "a")]["max"] == pytest.approx(50)
    # The worst 1% (one row) carries 50 of the 59.9 total absolute error.
    assert rows[("mae", "a")]["top1pct_share"] == pytest.approx(50 / 59.9)


def test_agreement_when_losses_agree(run_json, constructed):
    data = run_json("compare", constructed, "--pred-col", "b", "--pred-col", "d", "-l", "mse,mae")
    assert data["agreement"] == {
        "agree": True,
        "best_model": "d",
        "best_by_loss": {"mse": "d", "mae": "d"},
        "disagreeing": [],
    }


def test_signed_losses_rank_by_absolute_value(run_json, constructed):
    data = run_json("compare", constructed, "--pred-col", "d", "--pred-col", "c", "-l", "mbe")
    values = {r["model"]: r["value"] for r in data["results"]}
    assert values == {"d": pytest.approx(-0.5), "c": pytest.approx(0.2)}
    assert data["rankings"]["mbe"] == ["c", "d"]
    d_row = next(r for r in data["results"] if r["model"] == "d")
    assert d_row["diff_to_best"] == pytest.approx(0.3)
    assert d_row["top1pct_share"] is None


def test_rank_helpers():
    assert rank_models({"a": 2.0, "b": 1.0, "c": float("nan")}, False) == ["b", "a", "c"]
    assert rank_models({"a": -2.0, "b": 1.0}, True) == ["b", "a"]
    assert rank_models({"a": 1.0, "b": 1.0}, False) == ["a", "b"]  # ties keep input order
    agreement = agreement_of({"x": ["m1", "m2"], "y": ["m2", "m1"], "z": ["m2", "m1"]})
    assert agreement.best_model == "m2" and agreement.disagreeing == ["x"]


def test_rmse_distribution_is_in_target_units(run_json, constructed):
    data = run_json("compare", constructed, "--pred-col", "a", "-l", "rmse")
    row = data["results"][0]
    assert row["median"] == pytest.approx(0.1)  # per-row |e|, not e^2
    assert row["max"] == pytest.approx(50)
    assert data["rankings"] == {"rmse": ["a"]}


@pytest.fixture
def paired(tmp_path):
    """b's absolute error is a's plus exactly 0.5 on every row; c equals a."""
    rng = np.random.default_rng(7)
    n = 200
    y = rng.normal(10, 3, n)
    shift = rng.uniform(0.5, 1.5, n) * np.where(rng.random(n) < 0.5, -1, 1)
    a = y + shift
    b = y + shift + 0.5 * np.sign(shift)
    return _write(tmp_path, {"y_true": y, "a": a, "b": b, "c": a.copy()}, "paired.csv")


def test_paired_bootstrap_known_answer(run_json, paired):
    args = ("compare", paired, "--pred-col", "a", "--pred-col", "b", "--pred-col", "c")
    data = run_json(*args, "-l", "mae", "--ci", "0.95", "--bootstrap", "200", "--seed", "3")
    rows = {r["model"]: r for r in data["results"]}
    assert data["rankings"]["mae"][0] in ("a", "c")
    # Every resample draws the same rows for all models, so the difference is
    # exactly 0.5 in every replicate (an unpaired bootstrap would scatter it).
    assert rows["b"]["diff_to_best"] == pytest.approx(0.5)
    assert rows["b"]["diff_ci_low"] == pytest.approx(0.5, abs=1e-12)
    assert rows["b"]["diff_ci_high"] == pytest.approx(0.5, abs=1e-12)
    tied = rows["c"] if data["rankings"]["mae"][0] == "a" else rows["a"]
    assert tied["diff_ci_low"] == 0 and tied["diff_ci_high"] == 0
    assert data["ci_level"] == 0.95 and data["bootstrap"] == 200


def test_paired_bootstrap_is_seeded_and_matches_the_core(run_json, constructed):
    args = ("compare", constructed, "--pred-col", "a", "--pred-col", "b", "-l", "mae")
    first = run_json(*args, "--ci", "0.9", "--bootstrap", "300", "--seed", "11")
    again = run_json(*args, "--ci", "0.9", "--bootstrap", "300", "--seed", "11")
    other = run_json(*args, "--ci", "0.9", "--bootstrap", "300", "--seed", "12")
    assert first == again
    b_row = next(r for r in first["results"] if r["model"] == "b")
    assert b_row != next(r for r in other["results"] if r["model"] == "b")
    # The same numbers from the core's bootstrap with the same seed, paired.
    y = np.arange(100, dtype=float)
    err_a = np.full(100, 0.1)
    err_a[0] = 50
    err_b = np.ones(100)
    reps = bootstrap_replicates([(err_a, Reduction.MEAN), (err_b, Reduction.MEAN)], None, 300, 11)
    low, high = percentile_interval(reps[:, 1] - reps[:, 0], 0.9)
    assert b_row["diff_ci_low"] == pytest.approx(low, rel=1e-9)
    assert b_row["diff_ci_high"] == pytest.approx(high, rel=1e-9)
    assert y.size == 100


def test_models_table_reads_well(run):
    path = SAMPLES / "regression_outliers.csv"
    result = run(
        "compare", path, "--pred-col", "y_pred", "--pred-col", "model_b", env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    for header in ("loss", "model", "value", "median", "p95", "max", "top 1%", "rank"):
        assert header in out
    assert "The losses agree: y_pred is best on all 8 losses." in out


def test_models_table_with_ci(run):
    path = SAMPLES / "binary_imbalanced.csv"
    result = run(
        "compare", path, "--pred-col", "y_pred", "--pred-col", "model_b",
        "--ci", "0.95", "--bootstrap", "100", env={"COLUMNS": "80"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "Difference to the best model (95% paired-bootstrap interval)" in result.stdout
    assert "bootstrap 100 resamples, seed 0" in result.stdout
    assert "clearly worse" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_compare_json_keys_for_a_file(run_json):
    data = run_json(
        "compare", SAMPLES / "regression_clean.csv", "--pred-col", "y_pred", "--pred-col",
        "model_b", "-l", "mse,mae",
    )  # fmt: skip
    assert data["command"] == "compare"
    assert {"results", "rankings", "agreement", "n_rows", "task"} <= set(data)
    for row in data["results"]:
        for key in ("loss", "params", "model", "value", "median", "p95", "max", "top1pct_share"):
            assert key in row
    assert set(data["rankings"]) == {"mse", "mae"}


def test_compare_csv_prints_results_rows(run):
    result = run(
        "compare", SAMPLES / "regression_clean.csv", "--pred-col", "y_pred", "--pred-col",
        "model_b", "-l", "mse", "--format", "csv",
    )  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[0].startswith("loss,params,model,value,median,p95,max,top1pct_share,rank")
    assert len(lines) == 3 and lines[1].startswith("mse,,y_pred,")


def test_compare_weights_are_used(run_json, tmp_path):
    path = _write(
        tmp_path,
        {"y_true": np.zeros(4), "a": np.array([1.0, 1, 1, 9]), "w": np.array([1.0, 1, 1, 0])},
    )
    data = run_json("compare", path, "--pred-col", "a", "--weight-col", "w", "-l", "mae")
    row = data["results"][0]
    assert row["value"] == 1 and row["max"] == 1 and row["median"] == 1


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("grid", ["1:2", "a:b:3", "3:1:5", "0:1:1", "0:1:x", "nan:1:3"])
def test_bad_errors_syntax_is_a_usage_error(run, grid):
    result = run("compare", "--errors", grid)
    assert result.exit_code == 2
    assert "--errors" in result.stderr
    assert result.stdout == ""


def test_parse_grid():
    g = parse_grid("-3:3:13")
    assert (g.start, g.stop, g.n) == (-3.0, 3.0, 13)
    with pytest.raises(UsageError):
        parse_grid("-3:3")


def test_missing_file_is_one_error_line(run, tmp_path):
    result = run("compare", tmp_path / "missing.csv")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")


def test_unknown_loss_is_a_usage_error(run):
    result = run("compare", "-l", "mse,hubber")
    assert result.exit_code == 2
    assert "huber" in result.stderr


def test_options_that_need_a_file_or_no_file(run):
    assert run("compare", "--ci", "0.9").exit_code == 2
    result = run("compare", "--pred-col", "model_b")
    assert result.exit_code == 2 and "--pred-col applies to models in a FILE" in result.stderr
    path = SAMPLES / "regression_clean.csv"
    result = run("compare", path, "--errors", "-1:1:3")
    assert result.exit_code == 2 and "without a FILE" in result.stderr


def test_loss_of_the_wrong_task_on_a_file(run):
    result = run("compare", SAMPLES / "regression_clean.csv", "-l", "bce")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stdout == ""


def test_nan_safe_curves():
    # Values outside a loss's domain would be NaN (null in JSON), never an exception.
    curve = loss_curve(_default("gamma"), parse_grid("-3:3:13"))
    assert all(math.isfinite(v) for v in curve.values)


@pytest.mark.parametrize(
    "args",
    [
        ("--losses", "mse,mae,huber"),
        (
            "sample_data/regression_outliers.csv",
            "--pred-col",
            "y_pred",
            "--pred-col",
            "model_b",
        ),
    ],
)
def test_readme_shows_the_real_output(run, args, monkeypatch):
    from conftest import ROOT

    monkeypatch.chdir(ROOT)
    result = run("compare", *args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    shown = "\n".join(line.rstrip() for line in result.stdout.rstrip("\n").splitlines())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "$ loss compare " + " ".join(args)
    assert f"{command}\n{shown}\n```" in readme, "paste the current output into the README"


def test_large_error_grids_keep_gradients_accurate():
    # The reference target follows the grid (poisson needs y_pred > 0), and the
    # finite-difference step follows the target's magnitude.
    curve = loss_curve(_default("poisson"), parse_grid("-1e5:1e5:5"))
    y0 = curve.reference["y_true"]
    assert y0 > 1e5
    value, gradient = CLOSED_FORMS["poisson"]
    np.testing.assert_allclose(curve.values, value(curve.grid, y0), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(curve.gradients, gradient(curve.grid, y0), rtol=1e-6, atol=1e-8)
    mse = loss_curve(_default("mse"), parse_grid("-1e8:1e8:5"))
    np.testing.assert_allclose(mse.gradients, 2 * mse.grid, rtol=1e-9)


# --------------------------------------------------------------------------- QA fixes


def test_exact_slopes_print_exactly():
    # Values the closed forms give exactly come out exactly, not as -99.99999998.
    bce = loss_curve(_default("bce"), parse_grid("-3:3:13"))
    assert bce.gradients[0] == -100.0
    for name in ("msle", "poisson", "gamma"):
        curve = loss_curve(_default(name), parse_grid("-3:3:13"))
        assert curve.gradients[6] == 0.0, name  # e = 0
    poisson = loss_curve(_default("poisson"), parse_grid("-3:3:13"))
    assert poisson.gradients[0] == -0.75 and poisson.gradients[-1] == 3.0
    huber = loss_curve(_default("huber"), parse_grid("-3:3:13"))
    assert list(huber.gradients) == [-1, -1, -1, -1, -1, -0.5, 0, 0.5, 1, 1, 1, 1, 1]


@pytest.mark.parametrize("name", CURVE_LOSSES)
def test_extrapolated_slopes_are_accurate(name):
    curve = loss_curve(_default(name), parse_grid("-2.5:4:27"))
    y0 = curve.reference.get("y_true", 0.0)
    with np.errstate(all="ignore"):
        expected = CLOSED_FORMS[name][1](curve.grid, y0)
    scale = np.nanmax(np.abs(expected))
    np.testing.assert_allclose(curve.gradients, expected, rtol=1e-8, atol=1e-9 * scale)


def test_clean_slope_keeps_only_supported_digits():
    from losscli.analysis.curves import clean_slope

    assert clean_slope(-99.99999999998, 1e-10) == -100.0
    assert clean_slope(3e-12, 1e-11) == 0.0
    assert clean_slope(0.2222222222219, 1e-12) == pytest.approx(2 / 9, rel=1e-11)
    assert clean_slope(float("inf"), 1.0) == float("inf")


def _header_words(out: str) -> list[str]:
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if "───" in line)
    return lines[rule - 1].split()


def test_short_model_names_keep_whole_headers(run, tmp_path):
    y = np.linspace(1, 100, 50)
    path = _write(tmp_path, {"y_true": y, "a": y + 1, "b": y * 1.1})
    losses = "mse,huber:delta=2.5,pinball:alpha=0.9,mape,smape,mbe"
    result = run(
        "compare", path, "--pred-col", "a", "--pred-col", "b", "-l", losses,
        env={"COLUMNS": "80"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert _header_words(out) == [
        "loss", "model", "value", "median", "p95", "max", "top", "1%", "rank",
    ]  # fmt: skip
    assert "…" not in out


LONG_NAMES = ("gradient_boosting_v2_final", "random_forest_baseline_model")


def _long_names_file(tmp_path):
    y = np.linspace(1, 100, 50)
    return _write(tmp_path, {"y_true": y, LONG_NAMES[0]: y + 1, LONG_NAMES[1]: y * 1.1})


def test_long_model_names_wrap_only_at_separators(run, tmp_path):
    path = _long_names_file(tmp_path)
    args = ["compare", path, "--pred-col", LONG_NAMES[0], "--pred-col", LONG_NAMES[1]]
    for extra in ((), ("--ci", "0.9", "--bootstrap", "50")):
        result = run(*args, "-l", "mse,mbe", *extra, env={"COLUMNS": "72"})
        assert result.exit_code == 0, result.stderr
        out = result.stdout
        assert max(len(line) for line in out.splitlines()) <= 72
        assert "…" not in out
        # Every piece of a name printed is a run of its whole "_"-separated parts.
        allowed = set()
        for name in LONG_NAMES:
            parts = re.findall(r"[^_]*_|[^_]+$", name)
            for i in range(len(parts)):
                for j in range(i + 1, len(parts) + 1):
                    allowed.add("".join(parts[i:j]))
        table = out.split("The losses")[0]
        words = {
            w
            for w in table.split()
            if any(k in w for k in ("gradient", "boost", "final", "random", "forest", "baseline"))
        }
        assert words and words <= allowed, words - allowed
        assert not set(LONG_NAMES) & words  # wrapped, not folded, not cropped
        assert "Model 1 of 2" not in out


def test_names_that_cannot_wrap_get_one_block_per_model(run, tmp_path):
    names = ("gradientboostingversiontwofinal", "randomforestbaselinemodel")
    y = np.linspace(1, 100, 50)
    path = _write(tmp_path, {"y_true": y, names[0]: y + 1, names[1]: y * 1.1})
    args = ["compare", path, "--pred-col", names[0], "--pred-col", names[1]]
    result = run(*args, "-l", "mse,huber:delta=2.5,mape,mbe", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert f"Model 1 of 2: {names[0]}" in out
    assert f"Model 2 of 2: {names[1]}" in out
    assert _header_words(out) == ["loss", "value", "median", "p95", "max", "top", "1%", "rank"]
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out


@pytest.mark.parametrize("extra", [(), ("--ci", "0.9", "--bootstrap", "50")])
def test_names_never_wrap_into_a_short_fragment(run, extra, monkeypatch):
    from conftest import ROOT

    monkeypatch.chdir(ROOT)
    args = ["compare", "sample_data/regression_outliers.csv", "--pred-col", "y_pred"]
    args += ["--pred-col", "model_b", *extra]
    for width in (60, 72):
        out = run(*args, env={"COLUMNS": str(width)}).stdout
        assert max(len(line) for line in out.splitlines()) <= width
        assert "…" not in out
        words = out.split()
        # "model_" + "b" would be a legal split after "_", but "b" is unreadable.
        assert "model_" not in words and "b" not in words, width
        assert "model_b" in words
    # 72 columns: whole names with a narrower gap; 60: one block per model.
    assert "Model 2 of 2" not in run(*args, env={"COLUMNS": "72"}).stdout
    assert "Model 2 of 2: model_b" in run(*args, env={"COLUMNS": "60"}).stdout


def test_model_lines_refuse_short_fragments():
    from losscli.report.compare import _model_lines

    # Room for "model_" but not "model_b": only a split into "model_" + "b" would fit.
    assert _model_lines(["model_b"], [10], 10 + 6 + 3 + 2, 3, True) is None
    lines = _model_lines(["model_big"], [10], 10 + 6 + 3 + 2, 3, True)
    assert lines == {"model_big": ["model_", "big"]}


def test_wrap_name():
    from losscli.report.compare import wrap_name

    assert wrap_name("gradient_boosting_v2_final", 40) == ["gradient_boosting_v2_final"]
    assert wrap_name("gradient_boosting_v2_final", 18) == ["gradient_boosting_", "v2_final"]
    assert wrap_name("a-b_c", 2) == ["a-", "b_", "c"]
    assert wrap_name("averyverylongname", 8) is None


def _agreement(best_by_loss):
    from types import SimpleNamespace

    from losscli.report.compare import agreement_sentence

    rankings = {label: [best, "other"] for label, best in best_by_loss.items()}
    return agreement_sentence(SimpleNamespace(**vars(agreement_of(rankings))))


def test_agreement_sentences_read_right_for_1_2_and_n():
    assert _agreement({"mse": "a"}) == "a is best on the only loss, mse."
    assert _agreement({"mse": "a", "mae": "a"}) == "The losses agree: a is best on both losses."
    assert _agreement({"mse": "a", "mae": "a", "mbe": "a"}) == (
        "The losses agree: a is best on all 3 losses."
    )
    assert _agreement({"mse": "a", "mae": "a", "mbe": "b"}) == (
        "The losses disagree: a is best on 2 of 3 losses; mbe prefers b."
    )
    assert _agreement({"mse": "a", "mae": "a", "mbe": "b", "max_error": "b", "rmse": "a"}) == (
        "The losses disagree: a is best on 3 of 5 losses; mbe and max_error prefer b."
    )
    assert _agreement({"x": "a", "y": "b", "z": "c", "w": "c"}) == (
        "The losses disagree: c is best on 2 of 4 losses; x prefers a; y prefers b."
    )


def test_p95_is_the_tools_weighted_percentile(run_json, run):
    from losscli.core.reduction import weighted_percentile

    path = SAMPLES / "regression_outliers.csv"
    data = run_json("compare", path, "-l", "mse")
    import csv

    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    errors = np.array([(float(r["y_true"]) - float(r["y_pred"])) ** 2 for r in rows])
    assert data["results"][0]["p95"] == weighted_percentile(errors, None, 95.0)
    help_text = " ".join(run("compare", "--help").stdout.split())
    assert "averaged inverted CDF" in help_text
    assert "mean of the two rows either side" in help_text
    assert "inverted CDF, not interpolated" not in help_text
    table = " ".join(run("compare", path, "-l", "mse").stdout.split())
    assert "weighted averaged inverted-CDF percentiles" in table
    assert "the two middle rows of an even count" in table
    assert "not interpolated" not in table


def test_median_footnote_is_true_at_an_exact_tie(run_json, tmp_path):
    # Four rows, errors 1, 2, 3, 4: the median is the mean of the two middle rows
    # (2.5), as the footnote says, not a row's value (2) as a plain inverted CDF gives.
    path = _write(tmp_path, {"y_true": np.zeros(4), "y_pred": np.array([1.0, 2.0, 3.0, 4.0])})
    data = run_json("compare", path, "-l", "mae")
    assert data["results"][0]["median"] == 2.5


def test_one_row_one_loss_sentences(run, tmp_path):
    path = _write(tmp_path, {"y_true": np.array([10.0]), "a": np.array([11.0]), "b": [13.0]})
    result = run("compare", path, "--pred-col", "a", "--pred-col", "b", "-l", "mse")
    assert result.exit_code == 0, result.stderr
    assert "a is best on the only loss, mse." in result.stdout
    assert "1 row used, 0 dropped" in result.stdout
    curves = run("compare", "-l", "mse,poisson", env={"COLUMNS": "80"}).stdout
    assert "level-dependent loss drawn poisson at y_true=" in curves


def test_negative_seed_is_a_usage_error(run):
    result = run("compare", SAMPLES / "regression_clean.csv", "--ci", "0.9", "--seed", "-1")
    assert result.exit_code == 2
    assert "Invalid value for '--seed'" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


SCALAR_LOSS = """
import numpy as np


def mean_sq(y_true, y_pred):
    return float(np.mean((y_true - y_pred) ** 2))
"""


def test_scalar_custom_loss_has_no_per_row_statistics(run, run_json, tmp_path):
    user = tmp_path / "user_losses.py"
    user.write_text(SCALAR_LOSS, encoding="utf-8")
    path = SAMPLES / "regression_outliers.csv"
    args = ["compare", path, "--pred-col", "y_pred", "--pred-col", "model_b"]
    args += ["--custom", f"{user}:mean_sq", "-l", "mse,mean_sq"]
    data = run_json(*args)
    rows = {(r["loss"], r["model"]): r for r in data["results"]}
    for model in ("y_pred", "model_b"):
        scalar, mse = rows[("mean_sq", model)], rows[("mse", model)]
        assert scalar["value"] == pytest.approx(mse["value"], rel=1e-12)
        assert scalar["rank"] == mse["rank"]
        for key in ("median", "p95", "max", "top1pct_share"):
            assert scalar[key] is None, key
            assert mse[key] is not None, key
    result = run(*args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.split()[:1] == ["mean_sq"])
    for line, model in zip(lines[first : first + 2], ("y_pred", "model_b")):
        cells = line.split()
        assert model in cells
        assert cells[-5:] == ["-", "-", "-", "-", str(rows[("mean_sq", model)]["rank"])]
    flat = " ".join(result.stdout.split())
    assert "mean_sq returns one number for all rows, so no per-row statistics (-)" in flat
    # A per-row custom loss keeps its statistics.
    user.write_text(
        SCALAR_LOSS.replace("float(np.mean((y_true - y_pred) ** 2))", "(y_true - y_pred) ** 2"),
        encoding="utf-8",
    )
    data = run_json(*args)
    assert all(r["median"] is not None for r in data["results"])
