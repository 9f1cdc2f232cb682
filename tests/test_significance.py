"""Paired tests in ``compare FILE`` (SPEC 12): DM with the HLN correction, McNemar, Holm.

References: statsmodels' ``mcnemar(exact=True)`` and ``multipletests(method="holm")``;
SciPy's Student t and binomial tails; exact integer binomial sums (Fractions);
the Diebold-Mariano statistic against a direct NumPy implementation of the formula
and, for one-step forecasts (h = 1, where DM* is the paired t statistic), against
the published paired-t worked example of Student's (1908) sleep data as R prints it
(``t.test(extra ~ group, data = sleep, paired = TRUE)``: t = -4.0621, df = 9,
p-value = 0.002833).

The p-values agree with the references to 1e-12 relative; values below 1e-300
(where doubles underflow) are compared in absolute terms (abs=1e-300).
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

import losscli as lc
from losscli.analysis import significance as sig

# Student (1908), the sleep data: extra hours of sleep with two drugs, ten patients.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def dm_direct(d: np.ndarray, lags: int = 0, h: int = 1) -> tuple[float, float]:
    """DM* written out: Bartlett-weighted autocovariances (divisor n), HLN factor, t(n-1)."""
    n = d.size
    c = d - d.mean()
    gamma = [np.sum(c[k:] * c[: n - k]) / n for k in range(lags + 1)]
    v = gamma[0] + 2 * sum((1 - k / (lags + 1)) * gamma[k] for k in range(1, lags + 1))
    dm = d.mean() / math.sqrt(v / n)
    dm *= math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return dm, 2 * stats.t.sf(abs(dm), n - 1)


def moments(d: np.ndarray) -> sig.DifferenceMoments:
    acc = sig.DifferenceMoments()
    acc.add(np.asarray(d, dtype=float))
    return acc


def test_published_sleep_example():
    acc = moments(np.subtract(SLEEP_1, SLEEP_2))
    statistic, p = sig.diebold_mariano(acc.n, acc.mean, acc.m2 / acc.n)
    assert round(statistic, 4) == -4.0621
    assert round(p, 6) == 0.002833
    want = stats.ttest_rel(SLEEP_1, SLEEP_2)
    assert statistic == pytest.approx(want.statistic, rel=1e-12)
    assert p == pytest.approx(want.pvalue, rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lags", [0, 1, 3, 7])
def test_dm_against_the_direct_formula(seed, lags):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(12, 400))
    e = rng.normal(0, 1, n + 1)
    d = e[1:] + 0.6 * e[:-1] + 0.15  # an MA(1) loss differential
    acc = moments(d)
    c = d - acc.mean
    autocov = tuple(float(np.dot(c[k:], c[:-k])) / n for k in range(1, lags + 1))
    got = sig.diebold_mariano(acc.n, acc.mean, acc.m2 / acc.n, autocov)
    want = dm_direct(d, lags)
    assert got[0] == pytest.approx(want[0], rel=1e-12)
    assert got[1] == pytest.approx(want[1], rel=1e-12, abs=1e-300)


def test_student_t_and_binomial_tails_against_scipy():
    for df in (1, 2, 9, 30, 1000, 10**6, 10**8):
        for t in (0.0, 0.3, 1.96, 4.2, 12.0):
            want = 2 * stats.t.sf(t, df)
            assert sig.student_t_two_sided(t, df) == pytest.approx(want, rel=1e-12, abs=1e-300)
    for n, k in ((10, 3), (2000, 950), (2001, 960), (50_000, 24_700), (10**6, 499_000)):
        want = stats.binom.cdf(k, n, 0.5)
        assert sig.binomial_half_cdf(k, n) == pytest.approx(want, rel=1e-12)


def test_student_t_closed_forms_where_floats_cancel():
    """df = 1 (Cauchy: p = 1 - 2 atan(t) / pi) and df = 2 (p = 1 - t / sqrt(2 + t^2)).

    Small t with one degree of freedom, and many degrees of freedom near t = 2,
    are where a float continued fraction loses digits.
    """
    for t in (1e-8, 1e-3, 0.5, 3.0, 1e3, 1e200):
        cauchy = 2.0 * math.atan2(1.0, t) / math.pi
        assert sig.student_t_two_sided(t, 1) == pytest.approx(cauchy, rel=1e-14)
    for t in (1e-8, 0.1, 0.5, 2.0):
        assert sig.student_t_two_sided(t, 2) == pytest.approx(
            1 - t / math.sqrt(2 + t * t), rel=1e-14
        )
    # the normal limit: df = 1e12 is within 1e-11 of the normal tail at t = 2.5
    normal = math.erfc(2.5 / math.sqrt(2.0))
    assert sig.student_t_two_sided(2.5, 1e12) == pytest.approx(normal, rel=1e-10)


@settings(max_examples=300, deadline=None)
@given(df=st.integers(1, 10**6), t=st.floats(0.0, 40.0))
def test_student_t_tail_property_against_scipy(df, t):
    """Two-sided Student t p-values over df in [1, 1e6] and t in [0, 40].

    With one degree of freedom the reference is the Cauchy closed form: SciPy's
    tail loses digits there for t below ~1e-4 (2e-10 relative at t = 2e-7).
    """
    want = 2 * math.atan2(1.0, t) / math.pi if df == 1 else 2 * stats.t.sf(t, df)
    assert sig.student_t_two_sided(t, df) == pytest.approx(want, rel=1e-12, abs=1e-300)
    assert sig.student_t_two_sided(-t, df) == sig.student_t_two_sided(t, df)


def _exact_binomial_half_cdf(k: int, n: int) -> float:
    """sum_{i <= k} C(n, i) / 2^n in integers, rounded once."""
    term, count = 1, 1
    for i in range(k):
        term = term * (n - i) // (i + 1)
        count += term
    return float(Fraction(count, 1 << n))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(1, 12_000))
def test_binomial_tail_property_against_exact_sums(data, n):
    """The float path (past EXACT_BINOMIAL_MAX trials) against exact integer sums."""
    k = data.draw(st.integers(0, n))
    want = _exact_binomial_half_cdf(k, n)
    assert sig.binomial_half_cdf(k, n) == pytest.approx(want, rel=1e-12, abs=1e-300)


def test_mcnemar_without_discordant_rows_is_no_test():
    """Identical models (no row where exactly one is wrong) give no statistic, as the
    README says and as DM does; it gave statistic 0 and p 1."""
    statistic, p = sig.mcnemar_exact(0, 0)
    assert math.isnan(statistic) and math.isnan(p)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n=st.integers(1, 10**6))
def test_mcnemar_property_against_statsmodels(data, n):
    """McNemar's exact p over discordant totals up to 1e6, against statsmodels."""
    b = data.draw(st.integers(0, n))
    statistic, p = sig.mcnemar_exact(b, n - b)
    want = mcnemar([[0, b], [n - b, 0]], exact=True)
    assert statistic == want.statistic
    # SciPy's binomial tail is good to ~1e-11 far out (p ~ 1e-89 at n = 1e6) and
    # underflows to 0 from ~1e-279: 1e-12 relative above 1e-50, absolute below
    # 1e-250; ours against exact sums in the far tail is the test above
    rel = 1e-12 if want.pvalue > 1e-50 else 1e-10
    assert p == pytest.approx(want.pvalue, rel=rel, abs=1e-250)


@pytest.mark.parametrize(
    "p",
    [[0.01, 0.04, 0.03], [0.5, 0.001], [0.2], [0.04, 0.04, 0.04, 0.9], [1e-9, 0.3, 0.02, 0.6]],
)
def test_holm_matches_statsmodels(p):
    want = multipletests(p, method="holm")[1]
    assert sig.holm(p) == pytest.approx(list(want), rel=1e-12)
    assert math.isnan(sig.holm([math.nan, 0.1])[0]) and sig.holm([math.nan, 0.1])[1] == 0.1


def test_moments_and_discordance_merge_exactly():
    rng = np.random.default_rng(1)
    d = rng.normal(0.1, 1, 1000)
    whole = moments(d)
    parts = moments(d[:123]).merged(moments(d[123:700])).merged(moments(d[700:]))
    assert parts.n == whole.n
    assert parts.mean == pytest.approx(whole.mean, rel=1e-12)
    assert parts.m2 == pytest.approx(whole.m2, rel=1e-12)
    a, b = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    x, y = sig.Discordance(), sig.Discordance()
    x.add(a[:200], b[:200])
    y.add(a[200:], b[200:])
    full = sig.Discordance()
    full.add(a, b)
    assert x.merged(y) == full


# --------------------------------------------------------------------------- end to end


def _two_models(tmp_path, n=600):
    rng = np.random.default_rng(7)
    y = rng.normal(0, 2, n)
    frame = pd.DataFrame(
        {
            "y_true": y,
            "a": y + rng.normal(0, 1.0, n),
            "b": y + rng.normal(0, 1.2, n),
            "c": y + rng.normal(0.3, 1.0, n),
            "w": rng.integers(0, 3, n),
        }
    )
    path = tmp_path / "models.csv"
    frame.to_csv(path, index=False)
    return frame, path


MODELS = ("--pred-col", "a", "--pred-col", "b", "--pred-col", "c")


def test_compare_json_tests_are_dm_and_holm(run_json, tmp_path):
    frame, path = _two_models(tmp_path)
    out = run_json("compare", path, *MODELS, "-l", "mse,mae,rmse,median_ae,mbe,r2")
    tests = out["tests"]
    assert {t["loss"] for t in tests} == {"mse", "mae", "rmse"}  # means of per-row losses
    assert all(
        set(t) == {"loss", "model_a", "model_b", "test", "statistic", "p_value", "p_adjusted"}
        for t in tests
    )
    mse = [t for t in tests if t["loss"] == "mse"]
    assert [(t["model_a"], t["model_b"]) for t in mse] == [("a", "b"), ("a", "c"), ("b", "c")]
    y = frame["y_true"].to_numpy()
    for t in mse:
        d = (y - frame[t["model_a"]]) ** 2 - (y - frame[t["model_b"]]) ** 2
        want = dm_direct(d.to_numpy())
        assert t["test"] == "diebold_mariano"
        assert t["statistic"] == pytest.approx(want[0], rel=1e-12)
        assert t["p_value"] == pytest.approx(want[1], rel=1e-12)
    want_holm = multipletests([t["p_value"] for t in mse], method="holm")[1]
    assert [t["p_adjusted"] for t in mse] == pytest.approx(list(want_holm), rel=1e-12)
    rmse = [t for t in tests if t["loss"] == "rmse"]
    assert [t["statistic"] for t in rmse] == [t["statistic"] for t in mse]  # e^2 rows


def test_compare_mcnemar_for_zero_one_and_accuracy(run_json):
    from conftest import SAMPLES

    path = SAMPLES / "binary_balanced.csv"
    out = run_json(
        "compare", path, "--pred-col", "y_pred", "--pred-col", "model_b", "-l",
        "zero_one,accuracy,bce",
    )  # fmt: skip
    frame = pd.read_csv(path)
    wrong_a = (frame["y_pred"] > 0.5).astype(int) != frame["y_true"]
    wrong_b = (frame["model_b"] > 0.5).astype(int) != frame["y_true"]
    table = [
        [int(np.sum(wrong_a & wrong_b)), int(np.sum(wrong_a & ~wrong_b))],
        [int(np.sum(~wrong_a & wrong_b)), int(np.sum(~wrong_a & ~wrong_b))],
    ]
    want = mcnemar(table, exact=True)
    by_loss = {t["loss"]: t for t in out["tests"]}
    for name in ("zero_one", "accuracy"):
        assert by_loss[name]["test"] == "mcnemar"
        assert by_loss[name]["statistic"] == want.statistic
        assert by_loss[name]["p_value"] == pytest.approx(want.pvalue, rel=1e-12)
    assert by_loss["bce"]["test"] == "diebold_mariano"


def test_streamed_equals_in_memory_and_api_equals_cli(run_json, tmp_path):
    rng = np.random.default_rng(3)
    n = 40_000
    y = rng.normal(0, 1, n)
    frame = pd.DataFrame(
        {"y_true": y, "a": y + rng.normal(0, 1, n), "b": y + rng.normal(0, 1.01, n)}
    )
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    args = ("--pred-col", "a", "--pred-col", "b", "-l", "mse,mae,huber")
    streamed = run_json("compare", path, *args)["tests"]
    api = lc.compare(frame, y_pred=["a", "b"], losses="mse,mae,huber").to_dict()["tests"]
    assert len(streamed) == len(api) == 3
    for s, a in zip(streamed, api):
        assert (s["loss"], s["model_a"], s["model_b"]) == (a["loss"], a["model_a"], a["model_b"])
        for key in ("statistic", "p_value", "p_adjusted"):
            assert s[key] == pytest.approx(a[key], rel=1e-9)


def test_one_model_has_no_tests_and_table_shows_them(run, run_json, tmp_path):
    _, path = _two_models(tmp_path)
    out = run_json("compare", path, "--pred-col", "a", "-l", "mse")
    assert "tests" not in out
    shown = run("compare", path, *MODELS, "-l", "mse")
    assert shown.exit_code == 0, shown.stderr
    assert "Paired tests of equal expected loss" in shown.stdout
    assert "mse: a vs b · DM (HLN)" in shown.stdout and "· Holm " in shown.stdout
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
    csv_out = run("compare", path, *MODELS, "-l", "mse", "--format", "json")
    assert json.loads(csv_out.stdout)["tests"]


def test_identical_models_give_no_statistic(run_json, tmp_path):
    frame, _ = _two_models(tmp_path)
    frame["same"] = frame["a"]
    path = tmp_path / "same.csv"
    frame.to_csv(path, index=False)
    out = run_json("compare", path, "--pred-col", "a", "--pred-col", "same", "-l", "mse")
    (test,) = out["tests"]
    assert test["statistic"] is None or math.isnan(test["statistic"])
