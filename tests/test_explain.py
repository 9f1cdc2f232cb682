"""``loss explain``: the guide's convexity analysis (000), shown and not only said."""

from __future__ import annotations

import math

import numpy as np
import pytest

from losscli.analysis.convexity import analyse, second_derivative
from losscli.core.registry import parse_loss_list
from losscli.core.stable import sigmoid


def intervals(out: dict) -> dict[int, tuple[float, float]]:
    return {i["y_true"]: (i["from"], i["to"]) for i in out["nonconvex"]}


def test_mse_on_a_sigmoid_has_the_guides_boundaries(run_json):
    out = run_json("explain", "mse", "--link", "sigmoid")
    assert out["command"] == "explain"
    assert out["loss"] == "mse" and out["link"] == "sigmoid"
    assert out["convex"] is False
    found = intervals(out)
    # y = 0: H(p) <= 0 for p in [2/3, 1]; y = 1: for p in [0, 1/3] (the guide's figures 7, 8)
    assert found[0][0] == pytest.approx(2 / 3, abs=1e-3)
    assert found[0][1] == 1.0
    assert found[1][0] == 0.0
    assert found[1][1] == pytest.approx(1 / 3, abs=1e-3)
    # root finding, not the grid: far tighter than the grid spacing (5e-4)
    assert found[0][0] == pytest.approx(2 / 3, abs=1e-7)
    assert found[1][1] == pytest.approx(1 / 3, abs=1e-7)


def test_log_loss_on_a_sigmoid_is_convex(run_json):
    out = run_json("explain", "bce", "--link", "sigmoid")
    assert out["convex"] is True
    assert out["nonconvex"] == []


@pytest.mark.parametrize("name", ["cce", "kl_div"])
def test_cross_entropy_on_a_softmax_is_convex(run_json, name):
    assert run_json("explain", name, "--link", "softmax")["convex"] is True


def test_softmax_with_two_classes_equals_the_sigmoid(run_json):
    softmax = intervals(run_json("explain", "multiclass_brier", "--link", "softmax"))
    sig = intervals(run_json("explain", "brier", "--link", "sigmoid"))
    for y in (0, 1):
        assert softmax[y] == pytest.approx(sig[y], abs=1e-7)
    assert softmax[0][0] == pytest.approx(2 / 3, abs=1e-7)


def test_mse_is_convex_in_the_prediction_itself(run_json):
    out = run_json("explain", "mse", "--link", "identity")
    assert out["convex"] is True


def test_default_link_follows_the_task(run_json):
    assert run_json("explain", "mse")["link"] == "identity"
    assert run_json("explain", "bce")["link"] == "sigmoid"
    assert run_json("explain", "cce")["link"] == "softmax"


def test_boundary_of_msle_is_e_minus_1():
    # (log1p(p))^2 has d2 = 2 (1 - log1p(p)) / (1 + p)^2: negative beyond p = e - 1
    report = analyse(parse_loss_list("msle")[0], "identity")
    starts = [i.start for i in report.nonconvex if i.y_true == 0]
    assert starts[0] == pytest.approx(math.e - 1, abs=1e-7)


def test_huber_parameters_are_used():
    # huber with delta < 1 on a sigmoid: linear beyond delta, so the boundary moves
    default = analyse(parse_loss_list("huber")[0], "sigmoid")
    small = analyse(parse_loss_list("huber:delta=0.3")[0], "sigmoid")
    assert default.nonconvex[0].start == pytest.approx(2 / 3, abs=1e-7)
    assert small.nonconvex[0].start != pytest.approx(2 / 3, abs=1e-3)


def test_second_derivative_matches_the_closed_form_of_log_loss():
    z = np.linspace(-8, 8, 41)

    def log_loss(points):
        return np.logaddexp(0, points) - 1.0 * points

    d2, _ = second_derivative(log_loss, z)
    p = sigmoid(z)
    np.testing.assert_allclose(d2, p * (1 - p), rtol=1e-6, atol=1e-10)


def test_extreme_logits_stay_finite():
    report = analyse(parse_loss_list("bce")[0], "sigmoid")
    for curve in report.curves:
        assert np.all(np.isfinite(curve.second_derivative))
        assert np.all(curve.second_derivative > 0)


def test_table_shows_the_verdict_intervals_and_chart(run):
    result = run("explain", "mse", "--link", "sigmoid")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "mse with a sigmoid link is NOT convex" in out
    assert "0.666667" in out and "0.333333" in out
    assert "d2L/dz2" in out and "p = sigmoid(z)" in out
    assert "• y_true=0" in out and "+ y_true=1" in out  # the chart's legend


def test_csv_has_one_row_per_interval_and_a_row_when_convex(run):
    rows = run("explain", "mse", "--link", "sigmoid", "--format", "csv").stdout.splitlines()
    assert rows[0] == "loss,link,convex,y_true,from,to"
    assert len(rows) == 3
    rows = run("explain", "bce", "--link", "sigmoid", "--format", "csv").stdout.splitlines()
    assert rows[1].startswith("bce,sigmoid,True")


def test_structured_losses_are_a_usage_error(run):
    result = run("explain", "iou")
    assert result.exit_code == 2
    assert "detection loss" in result.stderr


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("coverage", "coverage is an interval loss"),
        ("interval_score", "interval_score is an interval loss"),
        ("pinball_q", "pinball_q is a quantile loss"),
        ("vae", "vae is a vae loss"),
    ],
)
def test_other_tasks_are_named_with_the_right_article(run, name, words):
    result = run("explain", name)
    assert result.exit_code == 2
    assert words in result.stderr
    assert " a interval" not in result.stderr


SET_FIGURES = ["r2", "explained_variance", "d2_absolute_error", "d2_pinball", "d2_tweedie"]


@pytest.mark.parametrize("name", [*SET_FIGURES, "ece", "mce", "d2_pinball:alpha=0.9"])
@pytest.mark.parametrize("link", [None, "identity", "sigmoid"])
def test_scores_and_calibration_figures_of_a_set_are_a_usage_error(run, name, link):
    """They were an internal error (shapes (2001,2) and (2001,) in a broadcast)."""
    args = ["explain", name] + (["--link", link] if link else [])
    result = run(*args)
    assert result.exit_code == 2, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {name.split(':')[0]} is a ")
    assert "over a whole set of predictions" in line
    assert "not a loss of one prediction" in line
    kind = "calibration figure" if name in ("ece", "mce") else "score"
    assert f"is a {kind} over" in line


def test_set_figures_are_a_usage_error_in_the_api_too():
    import losscli as lc

    with pytest.raises(lc.UsageError, match="not a loss of one prediction"):
        lc.explain("r2")


@pytest.mark.parametrize("name", ["zero_one", "accuracy"])
@pytest.mark.parametrize("link", ["sigmoid", "softmax", "identity"])
def test_a_step_function_is_said_to_be_one_not_a_tiny_interval(run, name, link):
    """zero_one once showed a non-convex 'interval' 0.5 to 0.500125: an artefact of
    finite differences across its jump. It is piecewise constant in p, jumping at 0.5
    (sklearn's zero_one_loss says the same of labels thresholded at p > 0.5)."""
    from sklearn.metrics import accuracy_score, zero_one_loss

    p = np.array([0.4, 0.5, 0.5000001, 0.9])
    labels = (p > 0.5).astype(int)
    score = zero_one_loss if name == "zero_one" else accuracy_score
    assert [score([1], [k]) for k in labels] == (
        [1, 1, 0, 0] if name == "zero_one" else [0, 0, 1, 1]
    )

    result = run("explain", name, "--link", link)
    assert result.exit_code == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    symbol = "prediction" if link == "identity" else "p"
    assert f"{name} is a step function" in line
    assert f"jumping at {symbol} = 0.5;" in line
    assert "derivative is 0 almost everywhere" in line and "not convex" in line
    assert "0.500125" not in line and "internal error" not in line


def test_a_kernel_that_overflows_is_not_called_a_step(run):
    # power -1e308: mu^(2 - p) is 0 below mu = 1 and inf - inf (NaN) above; the finite
    # part is flat, but that is overflow, not a step function
    result = run("explain", "tweedie:power=-1e308")
    assert result.exit_code == 0, result.stderr
    assert "step function" not in result.stdout + result.stderr


def test_unknown_loss_and_link(run):
    assert run("explain", "msee").exit_code == 2
    assert run("explain", "mse", "--link", "tanh").exit_code == 2


def test_identity_link_reads_an_identity_link(run):
    out = run("explain", "mse", "--link", "identity").stdout
    assert "mse with an identity link is convex" in out
    assert "with a identity" not in out
    assert "bce with a sigmoid link" in run("explain", "bce", "--link", "sigmoid").stdout


def test_wide_range_chart_uses_a_symlog_axis():
    """bce on an identity link: 1/p^2 reaches ~1e6; a linear axis shows nothing."""
    from losscli.analysis.convexity import chart_scale
    from losscli.report.explain import chart

    report = analyse(parse_loss_list("bce")[0], "identity")
    scale = chart_scale(report.curves)
    assert scale.symlog
    # the middle of the curve (d2 = 1/p^2 ~ 4 at p = 0.5) is drawn above the zero line,
    # not flattened against it
    d2 = np.concatenate([c.second_derivative for c in report.curves])
    top = float(np.max(scale.apply(d2)))
    assert float(scale.apply(np.array([4.0]))[0]) > 0.02 * top
    assert 4.0 < 1e-5 * float(np.max(d2))  # on a linear axis: indistinguishable from 0
    assert "1e6" in scale.labels and "0" in scale.labels
    text = chart(report, 80, color=False)
    assert "symlog y axis" in text
    assert "1e6┤" in text and "1e2┤" in text
    # a bounded curve keeps its linear axis
    assert not chart_scale(analyse(parse_loss_list("mse")[0], "sigmoid").curves).symlog
    assert "symlog" not in chart(analyse(parse_loss_list("mse")[0], "sigmoid"), 80, False)


# --------------------------------------------------------------------------- tweedie


def _tweedie_d2(mu: np.ndarray, y: float, power: float) -> np.ndarray:
    """d2/dmu2 of the unit tweedie deviance, by hand: 2 mu^(-p-1) (p y + (1 - p) mu)."""
    return 2.0 * mu ** (-power - 1.0) * (power * y + (1.0 - power) * mu)


@pytest.mark.parametrize("power", [1.5, 2.0, 3.0, 4.0])
def test_tweedie_curvature_matches_scikit_learn(power):
    """The hand formula against finite differences of scikit-learn's deviance."""
    from sklearn.metrics import mean_tweedie_deviance

    def deviance(mu: float) -> float:
        return float(mean_tweedie_deviance([1.0], [mu], power=power))

    for mu in (0.3, 1.0, 1.4, 2.5, 4.5):
        h = 1e-4 * mu
        numeric = (deviance(mu + h) - 2.0 * deviance(mu) + deviance(mu - h)) / h**2
        expected = float(_tweedie_d2(np.array(mu), 1.0, power))
        assert numeric == pytest.approx(expected, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("power", [1.5, 2.0, 3.0, 4.0])
def test_tweedie_is_not_convex_beyond_p_over_p_minus_1(run_json, power):
    """For y = 1 the deviance bends down for mu > p / (p - 1), up to the grid's end (5).

    A tolerance of 1e-12 of the curve's largest value (~1e13 near mu = 0 for
    power 4) once hid all of it: power 4 read convex, power 3 ended at 4.924.
    """
    name = f"tweedie:power={power:g}"
    out = run_json("explain", name)
    assert out["convex"] is False
    (found,) = [i for i in out["nonconvex"] if i["y_true"] == 1]
    assert found["from"] == pytest.approx(power / (power - 1.0), abs=1e-7)
    assert found["to"] == 5.0  # the grid's edge (y_true + 4): 'and beyond'
    # the report's own curve has the analytic sign wherever that is clear
    (curve,) = [c for c in out["curves"] if c["y_true"] == 1]
    mu = np.array(curve["output"])
    d2 = np.array(curve["second_derivative"])
    expected = _tweedie_d2(mu, 1.0, power)
    clear = np.abs(expected) > 1e-6 * np.maximum(1.0, np.abs(expected).min())
    assert np.array_equal(np.sign(d2[clear]), np.sign(expected[clear]))
    # and its value, away from mu -> 0 where a step of 1e-3 is no longer small
    away = mu > 0.1
    np.testing.assert_allclose(d2[away], expected[away], rtol=1e-5, atol=1e-7)


def test_tweedie_power_4_table_names_the_interval(run):
    out = run("explain", "tweedie:power=4").stdout
    assert "tweedie(power=4) with an identity link is NOT convex" in " ".join(out.split())
    assert "everywhere on the grid" not in out
    assert "1.33333" in out


def test_zero_curvature_rounding_is_no_interval():
    """Piecewise linear losses: rounding noise in d2 never makes an interval."""
    for name in ("hinge", "multiclass_hinge", "mbe", "mae", "pinball:alpha=0.9"):
        for link in ("identity",):
            assert analyse(parse_loss_list(name)[0], link).convex, (name, link)
    for name in ("hinge", "multiclass_hinge"):
        assert analyse(parse_loss_list(name)[0], "sigmoid").convex, name


# --------------------------------------------------------------------------- zero curvature


def _tick_labels(text: str) -> list[str]:
    return [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line]


@pytest.mark.parametrize(
    ("name", "link"),
    [
        ("hinge", "sigmoid"),
        ("hinge", "identity"),
        ("multiclass_hinge", "softmax"),
        ("multiclass_hinge", "identity"),
        ("mbe", "identity"),
        ("mae", "identity"),
    ],
)
def test_zero_curvature_is_reported_as_zero(run_json, name, link):
    """Piecewise linear losses: d2L/dz2 = 0 away from the kink, by hand. Rounding noise
    of +-2e-9 was reported as such beside "convex": true."""
    out = run_json("explain", name, "--link", link)
    assert out["convex"] is True
    for curve in out["curves"]:
        x = np.array(curve["output"])
        d2 = np.array(curve["second_derivative"])
        assert np.all(d2 >= 0), d2.min()
        # the kink: the margin t z = 1 (hinge), p = y (mae); mbe is linear everywhere
        y = curve["y_true"]
        z = np.log(x) - np.log1p(-x) if link != "identity" else x
        if name == "mbe":
            kink = np.inf
        elif name == "multiclass_hinge" and link == "identity":
            kink = y  # scores (1 - p, p): 2p (y = 0) or 2 - 2p (y = 1) hits 0 at p = y
        elif name in ("hinge", "multiclass_hinge"):
            kink = 2 * y - 1  # the margin (2y - 1) z = 1
        else:
            kink = y
        away = np.abs(z - kink) > 0.01
        assert np.all(d2[away] == 0.0)


@pytest.mark.parametrize("name", ["hinge", "mbe", "multiclass_hinge"])
def test_zero_curvature_chart_has_no_noise_axis(run, name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = run("explain", name).stdout
    assert "1e-15" not in out and "e-9" not in out
    for label in _tick_labels(out):
        float(label)  # '11e-9' was two labels printed over each other
    assert "every curve lies on the zero line" in out


# --------------------------------------------------------------------------- width


WIDE_LEGENDS = [
    ("gamma",),
    ("poisson",),
    ("hinge", "--link", "identity"),
    ("tweedie:power=3",),
    ("huber:delta=0.5",),
    ("bce", "--link", "identity"),
    ("mse", "--link", "sigmoid"),
    ("mbe",),
]


@pytest.mark.parametrize("columns", [80, 30, 20])
@pytest.mark.parametrize("args", WIDE_LEGENDS, ids=lambda a: " ".join(a))
def test_every_line_fits_the_terminal(run, monkeypatch, args, columns):
    """The symlog legend was 90-94 columns wide at COLUMNS=80, and the markers'
    legend ran past 20 and 30 columns."""
    monkeypatch.setenv("COLUMNS", str(columns))
    result = run("explain", *args)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if len(line) > columns] == []
    flat = " ".join(result.stdout.split())
    assert "y_true=" in flat and "- zero" in flat
    if "symlog" in flat:
        assert "logarithmic beyond (d2L/dz2 spans orders of magnitude)" in flat


@pytest.mark.parametrize("width", [20, 25, 80])
def test_the_chart_fits_its_width_whatever_the_environment(monkeypatch, width):
    """The chart is drawn at the width it is given, not at least 30 columns."""
    from losscli.report.explain import chart

    monkeypatch.delenv("COLUMNS", raising=False)
    for name, link in (("gamma", "identity"), ("mse", "sigmoid")):
        text = chart(analyse(parse_loss_list(name)[0], link), width, color=False)
        assert max(len(line) for line in text.splitlines()) <= width
