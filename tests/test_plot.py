"""``--plot PATH`` with a FILE on compute, compare and sensitivity: the report's data charts."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from losscli.analysis.report import chart_data
from losscli.core.registry import parse_loss_list, select_losses
from losscli.io import InputOptions, load_dataset

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"

pytest.importorskip("matplotlib")


def svg_text(path: Path) -> str:
    root = ET.fromstring(path.read_bytes())
    assert root.tag.endswith("svg")
    return "".join(root.itertext())


@pytest.mark.parametrize("command", ["compute", "compare", "sensitivity"])
def test_regression_residual_histograms(run, tmp_path, command):
    out = tmp_path / "charts.svg"
    data = SAMPLES / "regression_outliers.csv"
    result = run(command, data, "--pred-col", "y_pred", "--pred-col", "model_b", "--plot", out)
    assert result.exit_code == 0, result.stderr
    assert f"Chart saved to {out}" in result.stderr
    text = svg_text(out)
    assert "Residuals: y_pred" in text and "Residuals: model_b" in text
    assert "flagged" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["charts.svg"]  # no temporary left


def test_formats_by_extension_and_deterministic(run, tmp_path):
    data = SAMPLES / "binary_imbalanced.csv"
    png, pdf, svg = tmp_path / "c.png", tmp_path / "c.pdf", tmp_path / "c.svg"
    for out in (png, pdf, svg):
        assert run("compute", data, "--plot", out).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = svg_text(svg)
    assert "Reliability: y_pred" in text and "P(true class): y_pred" in text
    first = svg.read_bytes()
    assert b"<dc:date>" not in first
    run("compute", data, "--plot", svg)
    assert svg.read_bytes() == first


def test_group_values_with_intervals(run, tmp_path):
    out = tmp_path / "groups.svg"
    data = SAMPLES / "regression_clean.csv"
    result = run(
        "compute",
        data,
        "--group-by",
        "segment",
        "--ci",
        "0.9",
        "--bootstrap",
        "50",
        "-l",
        "mse,mae",
        "--plot",
        out,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["group_by"] == "segment"  # stdout stays the JSON
    text = svg_text(out)
    for name in ("mse per segment", "mae per segment", "north", "south"):
        assert name in text


def test_structured_family_draws_per_sample_losses(run, tmp_path):
    out = tmp_path / "boxes.svg"
    result = run("compute", SAMPLES / "detection_boxes.csv", "--plot", out)
    assert result.exit_code == 0, result.stderr
    assert "Per-sample loss: pred" in svg_text(out)


def test_raw_scores_draw_the_margins(run, tmp_path):
    out = tmp_path / "hinge.svg"
    result = run("sensitivity", SAMPLES / "hinge_labels.csv", "-l", "hinge", "--plot", out)
    assert result.exit_code == 0, result.stderr
    assert "Margin t x score: y_pred" in svg_text(out)
    assert "raw scores" in result.stderr


@pytest.mark.parametrize("command", ["compute", "compare", "sensitivity"])
def test_streamed_commands_plot_from_stdin_say_why_not(run, tmp_path, command):
    out = tmp_path / "stdin.png"
    text = (SAMPLES / "regression_clean.csv").read_text()
    result = run(command, "-", "--plot", out, input=text)
    assert result.exit_code == 2
    assert "stdin cannot give" in result.stderr
    assert result.stdout == "" and not out.exists()


# --------------------------------------------------------------------------- the aggregates


def test_residual_bins_are_the_sensitivity_histograms(run_json):
    data = SAMPLES / "regression_outliers.csv"
    dataset = load_dataset(str(data), InputOptions(pred_cols=("y_pred", "model_b")))
    charts, _ = chart_data(dataset, select_losses([], dataset.task, dataset.features))
    expected = run_json("sensitivity", data, "--pred-col", "y_pred", "--pred-col", "model_b")
    assert [h.as_dict() for h in charts.residuals] == expected["histograms"]


def test_reliability_and_p_true_against_numpy():
    data = SAMPLES / "multiclass_probs.csv"
    dataset = load_dataset(str(data), InputOptions())
    charts, _ = chart_data(dataset, select_losses([], dataset.task, dataset.features))
    q = np.column_stack([dataset.models["y_pred"]])
    labels = np.asarray(dataset.labels)
    top = np.argmax(q, axis=1)
    conf = q[np.arange(len(q)), top]
    correct = top == labels
    (diagram,) = charts.reliability
    for point in diagram.points:
        inside = (conf >= point["low"]) & (conf < point["high"])
        assert point["accuracy"] == pytest.approx(np.mean(correct[inside]), rel=1e-12)
        assert point["confidence"] == pytest.approx(np.mean(conf[inside]), rel=1e-12)
    gaps = sum(abs(p["accuracy"] - p["confidence"]) * p["share"] for p in diagram.points)
    assert diagram.ece == pytest.approx(gaps, rel=1e-12)
    (hist,) = charts.p_true
    p_true = q[np.arange(len(q)), labels]
    assert sum(hist.counts) == len(q)
    assert sum(hist.flagged) == int(np.sum(p_true < 0.01))
    assert hist.counts == np.histogram(p_true, np.linspace(0, 1, 21))[0].tolist()


@pytest.mark.parametrize("losses", ["cce,ece", "mce:n_bins=6,cce", "cce"])
def test_reliability_diagram_uses_the_bins_of_the_ece_selected(run_json, losses):
    data = SAMPLES / "multiclass_probs.csv"
    dataset = load_dataset(str(data), InputOptions())
    selections = parse_loss_list(losses)
    charts, _ = chart_data(dataset, selections)
    (diagram,) = charts.reliability
    n_bins = next((s.params["n_bins"] for s in selections if "n_bins" in s.params), 15)
    assert len(diagram.points) <= n_bins + 1
    assert all(p["high"] - p["low"] in (pytest.approx(1 / n_bins), 0.0) for p in diagram.points)
    out = run_json("compute", str(data), "-l", f"ece:n_bins={n_bins}")
    assert diagram.ece == pytest.approx(out["results"][0]["value"], rel=1e-12)


# --------------------------------------------------------------------------- bad paths


@pytest.mark.parametrize("command", ["compute", "compare", "sensitivity"])
def test_bad_extension_is_a_usage_error(run, tmp_path, command):
    result = run(command, SAMPLES / "regression_clean.csv", "--plot", tmp_path / "c.jpg")
    assert result.exit_code == 2
    assert ".png, .svg or .pdf" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["compute", "compare", "sensitivity"])
def test_missing_folder_fails_before_work(run, tmp_path, command):
    result = run(command, SAMPLES / "regression_clean.csv", "--plot", tmp_path / "no" / "c.png")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: cannot write") and "does not exist" in result.stderr


def test_plot_over_the_input_is_refused(run, tmp_path):
    data = tmp_path / "data.svg"  # an input named like an image
    data.write_bytes((SAMPLES / "regression_clean.csv").read_bytes())
    before = data.read_bytes()
    result = run("compute", data, "--plot", data)
    assert result.exit_code == 2
    assert "is the input file" in result.stderr
    assert data.read_bytes() == before


def test_without_matplotlib_names_the_extra(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = run("sensitivity", SAMPLES / "regression_clean.csv", "--plot", tmp_path / "c.png")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: --plot needs matplotlib, which is not installed; install it with: "
        "pip install 'losscli[plot]'\n"
    )


def test_log_axes_are_labelled_in_plain_text(run, tmp_path):
    """Histograms whose bins span decades get a log axis labelled 1, 10, 10², ... as text.

    (matplotlib's default labels are mathtext, whose parser alone took ~0.4 s of a report.)
    """
    from losscli.report.figures import power_of_ten

    assert [power_of_ten(v) for v in (1.0, 10.0, 100.0, 1e5, 0.01, 0.0, -5.0)] == [
        "1",
        "10",
        "10\u00b2",
        "10\u2075",
        "10\u207b\u00b2",
        "",
        "",
    ]
    rng = np.random.default_rng(3)
    y = rng.normal(size=5000)
    p = y + rng.standard_t(2, 5000) * 0.3  # heavy tails: bins of 1 next to bins of 1000s
    data = tmp_path / "heavy.csv"
    np.savetxt(data, np.c_[y, p], delimiter=",", header="y_true,y_pred", comments="", fmt="%.6f")
    out = tmp_path / "c.svg"
    assert run("sensitivity", data, "--plot", out).exit_code == 0
    text = svg_text(out)
    assert "10\u00b2" in text and "10\u00b3" in text
    assert "mathdefault" not in out.read_text() and "$" not in text


def test_minor_log_labels_are_written_as_the_powers_beside_them():
    from losscli.report.figures import _between_powers

    labels = [_between_powers(v) for v in (2.0, 5.0, 20.0, 500.0, 2000.0, 5e4, 3.0, 0.0)]
    assert labels == ["2", "5", "20", "500", "2\u00d710\u00b3", "5\u00d710\u2074", "", ""]


def test_plot_labels_show_controls_as_escapes_without_warnings(run, tmp_path):
    """A group value 'a<CR>b' printed matplotlib's 'Glyph 13 (^M) missing from font(s)'
    warning (with the raw byte) and drew nothing; the chart now shows it as a\\rb."""
    import warnings

    data = tmp_path / "cr.csv"
    cr = '"a\rb"'
    rows = ["y_true,y_pred,g"]
    rows += [f"{i % 5},{i % 5 + 0.5 * (i % 3)},{cr if i % 2 else 'c'}" for i in range(400)]
    data.write_bytes(("\n".join(rows) + "\n").encode())
    out = tmp_path / "cr.svg"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run("compute", data, "--group-by", "g", "--plot", out)
    assert result.exit_code == 0, result.stderr
    assert [str(w.message) for w in caught] == []
    text = svg_text(out)
    assert "a\\rb" in text and "\r" not in text


def test_a_histogram_draws_each_bin_at_its_count_with_the_flagged_rows_on_top():
    """The bins are drawn as two filled step outlines (one artist a series, not one a
    bin): the kept rows from 0, the flagged rows stacked on them, edges unchanged."""
    from types import SimpleNamespace

    from matplotlib.figure import Figure

    from losscli.report.figures import residual_panel

    h = SimpleNamespace(
        edges=[-3.0, -1.0, 0.0, 1.0, 4.0],
        counts=[5, 400, 380, 7],
        flagged=[5, 0, 0, 2],
        cutoffs=[-2.5, 2.0],
        quantity="Residuals y_true - y_pred",
        model="m",
    )
    ax = Figure().subplots()
    residual_panel(h).draw(ax)
    kept, top = (p.get_data() for p in ax.patches)
    np.testing.assert_array_equal(kept.values, [0, 400, 380, 5])
    np.testing.assert_array_equal(kept.edges, h.edges)
    assert kept.baseline == 0
    np.testing.assert_array_equal(top.values, h.counts)
    np.testing.assert_array_equal(top.baseline, [0, 400, 380, 5])
    assert ax.get_yscale() == "log"  # 400 against 5: the few rows stay visible
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["rows", "flagged"]
