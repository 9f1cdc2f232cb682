"""compute --ci streams: the same intervals from chunks as from the whole file in memory."""

from __future__ import annotations

import numpy as np
import pytest
from stream_support import in_memory_report, small_chunks, streamed_report, write_regression

import losscli.analysis.streaming as streaming_module
from losscli.errors import DataError
from losscli.io.columns import InputOptions


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"weights": True}, {"groups": True}, {"weights": True, "groups": True, "holes": True}],
)
def test_streamed_intervals_equal_the_in_memory_ones(tmp_path, kwargs):
    path = write_regression(tmp_path / "data.csv", n=6000, **kwargs)
    opts = InputOptions(
        pred_cols=("y_pred", "model_b"),
        weight_col="w" if kwargs.get("weights") else None,
        group_by="segment" if kwargs.get("groups") else None,
        nan="drop" if kwargs.get("holes") else "error",
    )
    ci = {"ci_level": 0.9, "n_boot": 60, "seed": 4}
    whole = in_memory_report(path, opts, **ci)
    for chunk_bytes in (3000, 20000):
        streamed = streamed_report(path, opts, chunk_bytes, **ci)
        assert streamed.ci_level == whole.ci_level == 0.9 and streamed.n_boot == 60
        assert len(streamed.results) == len(whole.results)
        for a, b in zip(streamed.results, whole.results):
            assert (a.loss, a.model, a.group) == (b.loss, b.model, b.group)
            assert a.value == pytest.approx(b.value, rel=1e-12, abs=1e-12)
            if a.loss in ("median_ae", "max_error"):
                # order statistics: the very same row values
                assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
            else:
                assert a.ci_low == pytest.approx(b.ci_low, rel=1e-12, abs=1e-12)
                assert a.ci_high == pytest.approx(b.ci_high, rel=1e-12, abs=1e-12)
            assert a.ci_low <= a.value <= a.ci_high, a.loss


def test_compute_ci_json_every_interval_brackets_its_value(run_json):
    from conftest import SAMPLES

    for name, extra in (
        ("regression_outliers.csv", ("--group-by", "segment")),
        ("binary_imbalanced.csv", ()),
        ("multiclass_probs.csv", ()),
        ("gan_outputs.csv", ()),
    ):
        data = run_json("compute", SAMPLES / name, *extra, "--ci", "0.95", "--bootstrap", "100")
        assert data["ci_level"] == 0.95 and data["bootstrap"] == 100
        for row in data["results"]:
            assert row["ci_low"] <= row["value"] <= row["ci_high"], (name, row)


def test_median_interval_is_the_order_statistic_one(run_json, tmp_path):
    from losscli.analysis.bootstrap import median_rank

    rng = np.random.default_rng(3)
    n = 801
    y = rng.normal(size=n)
    p = y + rng.standard_t(3, n)
    path = tmp_path / "m.csv"
    path.write_text(
        "y_true,y_pred\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(y, p))
    )
    data = run_json("compute", path, "-l", "median_ae", "--ci", "0.95", "--seed", "9")
    row = data["results"][0]
    ordered = np.sort(np.abs(y - p))
    j = median_rank(n, 0.95)
    assert (row["ci_low"], row["ci_high"]) == (ordered[j - 1], ordered[n - j])
    # it does not depend on the seed
    again = run_json("compute", path, "-l", "median_ae", "--ci", "0.95", "--seed", "1")
    assert again["results"][0]["ci_low"] == row["ci_low"]


def test_ci_state_bound_with_many_groups_is_a_clear_error(tmp_path, monkeypatch, run):
    path = write_regression(tmp_path / "g.csv", n=300, groups=True)
    monkeypatch.setattr(streaming_module, "CI_STATE_BYTES", 1 << 19)
    result = run("compute", path, "--group-by", "segment", "--ci", "0.9", "--bootstrap", "20")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: --ci with --group-by segment: 3 groups x 8 ")
    assert "need 0.8 MiB of bootstrap state, over the 0.5 MiB bound" in result.stderr
    assert "leave out --ci" in result.stderr
    with pytest.raises(DataError):
        opts = InputOptions(group_by="segment")
        in_memory_report(path, opts, ci_level=0.9, n_boot=20)


def test_group_bound_holds_over_the_whole_input(run, tmp_path):
    """1,001 distinct groups spread over chunks of few groups each: still an error."""
    lines = ["y_true,y_pred,seg"] + [f"{i},{i + 1},g{i // 3}" for i in range(3003)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    with small_chunks(2048):
        result = run("compute", path, "-l", "mae", "--group-by", "seg")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error: column seg (--group-by) has more than 1,000 distinct values; --group-by "
        "expects a categorical column such as a segment or a split (at most 1,000 groups"
    )
    ok = run("compute", path, "-l", "mae", "--group-by", "seg", "--nan", "drop", "--format", "json")
    assert ok.exit_code == 1  # whole file in one chunk: the reader's own check
