"""``compare --ci`` streams: paired Poisson-bootstrap intervals from a plan, any batching.

The streamed intervals equal the in-memory ones (one batch) to 1e-12 however
the input is cut or partitioned: the draws are keyed by the file's row
numbers. The mean-type series equal the in-memory Poisson bootstrap exactly;
the median series (median_ae), resolved in a band of bins around the median,
agree with the exact per-replicate weighted medians within a small part of
the interval's width.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from plan_support import assert_same, run_partitioned, split_rows, with_weights
from stream_support import small_chunks

from losscli.analysis.bootstrap import (
    BAND_BINS,
    MedianBands,
    band_levels,
    block_of_rows,
    bootstrap_replicates,
    percentile_interval,
    replicate_medians,
)
from losscli.analysis.compare import compare_models
from losscli.analysis.compare_plan import BandPositions, compare_plan
from losscli.analysis.plan import ListSource
from losscli.cli.common import choose_losses
from losscli.core import quantiles
from losscli.core.dataset import Dataset
from losscli.core.registry import Reduction, Task, select_losses
from losscli.engines.local import run_plan

LOSSES = ("mse", "rmse", "mae", "median_ae", "max_error", "huber")


def _two_models(n: int = 3000, seed: int = 0, weights: bool = False) -> Dataset:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, n)
    dataset = Dataset(
        source="memory",
        task=Task.REGRESSION,
        task_reason="test",
        y_true=y,
        models={"a": y + rng.standard_t(3, n), "b": y + rng.normal(0.2, 1.0, n)},
        row_numbers=np.arange(1, n + 1, dtype=np.int64),
    )
    return with_weights(dataset, seed) if weights else dataset


def _plan(losses=LOSSES, level=0.95, n_boot=200, seed=3):
    return compare_plan(
        lambda head: select_losses(list(losses), head.task),
        ci_level=level,
        n_boot=n_boot,
        seed=seed,
    )


def _in_memory(dataset, losses=LOSSES, n_boot=200, seed=3):
    selections = select_losses(list(losses), dataset.task)
    return compare_models(dataset, selections, ci_level=0.95, n_boot=n_boot, seed=seed)


@pytest.fixture(
    params=[(1 << 16, True), (64, True), (64, False)], ids=["kept", "tiny-cap", "refined"]
)
def cap(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """The default cap; a tiny one (the stretch around the median kept whole grows it);
    and a tiny one without that stretch, which forces refinement passes for the band's ends."""
    size, spans = request.param
    monkeypatch.setattr(quantiles, "KEPT_CAP", size)
    if not spans:
        monkeypatch.setattr(BandPositions, "span", lambda self, ranges: [])
    return int(size)


@pytest.mark.parametrize("weights", [False, True], ids=["unweighted", "weights"])
def test_streamed_and_partitioned_intervals_equal_in_memory(weights, cap):
    dataset = _two_models(weights=weights)
    want = _in_memory(dataset).as_dict()
    assert want["results"][1]["diff_ci_low"] is not None
    batches = split_rows(dataset, [1, 700, 701, 1999, 2500])
    got = run_plan(_plan(), ListSource(batches)).as_dict()
    assert_same(got, want)
    assert_same(run_partitioned(_plan(), batches, later_first=True).as_dict(), want)


def test_dropped_rows_keep_their_row_numbers_as_keys(cap):
    """--nan drop leaves gaps in the row numbers: the draws follow the numbers, not positions."""
    dataset = _two_models(n=2000)
    keep = np.ones(dataset.n_rows, dtype=bool)
    keep[[3, 4, 500, 1500, 1999]] = False
    dropped = dataclasses.replace(
        dataset,
        y_true=dataset.y_true[keep],
        models={k: v[keep] for k, v in dataset.models.items()},
        row_numbers=dataset.row_numbers[keep],
        n_dropped=5,
    )
    want = _in_memory(dropped).as_dict()
    got = run_plan(_plan(), ListSource(split_rows(dropped, [10, 1000, 1001]))).as_dict()
    assert_same(got, want)


def test_mean_series_equal_the_in_memory_poisson_bootstrap():
    """Rows numbered 1..n: the draws of every mean-type series are those of bootstrap_replicates."""
    dataset = _two_models()
    report = _in_memory(dataset, losses=("mse", "mae"), n_boot=300, seed=11)
    e_a = dataset.y_true - dataset.models["a"]
    e_b = dataset.y_true - dataset.models["b"]
    reps = bootstrap_replicates([(e_a**2, Reduction.MEAN), (e_b**2, Reduction.MEAN)], None, 300, 11)
    worse = next(r for r in report.results if r.loss == "mse" and r.rank == 2)
    column = 0 if worse.model == "a" else 1
    low, high = percentile_interval(reps[:, column] - reps[:, 1 - column], 0.95)
    assert worse.diff_ci_low == pytest.approx(low, rel=1e-12)
    assert worse.diff_ci_high == pytest.approx(high, rel=1e-12)


@pytest.mark.parametrize("weights", [False, True], ids=["unweighted", "weights"])
def test_median_replicates_agree_with_the_exact_replicate_medians(weights):
    """Each banded replicate median is within a few hundredths of a standard error of the exact one."""
    rng = np.random.default_rng(5)
    n = 20_000
    values = np.abs(rng.standard_t(4, n))
    w = rng.integers(1, 4, n).astype(float) if weights else None
    exact = replicate_medians(values, w, 200, 7)
    n_eff = n if w is None else w.sum() ** 2 / (w**2).sum()
    low, high = band_levels(n_eff)
    from losscli.core.reduction import weighted_percentile

    lo, hi = weighted_percentile(values, w, low), weighted_percentile(values, w, high)
    bands = MedianBands([(lo, hi)], seed=7)
    rows = np.arange(n, dtype=np.uint64)
    for part in np.array_split(np.arange(n), 4):
        bands.update([values[part]], None if w is None else w[part], rows[part])
    got = bands.replicates(200)[:, 0]
    assert np.all((got >= lo) & (got <= hi))
    bin_width = (hi - lo) / BAND_BINS
    assert np.max(np.abs(got - exact)) < bin_width
    se = np.std(exact)
    assert np.max(np.abs(got - exact)) < 0.1 * se


def test_median_band_edge_cases():
    """Ties (a band of zero width) give the tied value; no weight gives NaN."""
    bands = MedianBands([(2.0, 2.0), (0.0, 1.0)], seed=0)
    values = np.array([1.0, 2.0, 2.0, 2.0, 3.0])
    bands.update(
        [values, values], np.array([1.0, 1.0, 1.0, 1.0, 0.0]), np.arange(5, dtype=np.uint64)
    )
    reps = bands.replicates(50)
    finite = np.isfinite(reps[:, 0])
    assert np.all(reps[finite, 0] == 2.0)
    # The second band lies below most values: its replicate medians end at its top.
    assert np.all(reps[finite, 1] <= 1.0)
    empty = MedianBands([(0.0, 1.0)], seed=0)
    assert np.all(np.isnan(empty.replicates(5)))


def test_gan_strata_stream_like_one_batch():
    from losscli.io import InputOptions, load_dataset

    dataset = load_dataset("sample_data/gan_outputs.csv", InputOptions())
    selections = choose_losses((), dataset)
    want = compare_models(dataset, selections, ci_level=0.9, n_boot=100, seed=2).as_dict()
    got = run_plan(
        compare_plan(lambda head: selections, ci_level=0.9, n_boot=100, seed=2),
        ListSource([dataset]),
    ).as_dict()
    assert_same(got, want)
    assert all(r["diff_ci_low"] is not None for r in want["results"])


def test_cli_compare_ci_small_chunks_equals_whole_file(tmp_path, run):
    """Many chunks (a file and stdin) print the in-memory intervals, weights and --nan drop."""
    from losscli.custom import load_custom_losses
    from losscli.io import InputOptions, load_dataset
    from losscli.report.format import to_json

    load_custom_losses(())  # as the command line does without --custom
    rng = np.random.default_rng(1)
    n = 3000
    y = rng.normal(10, 3, n)
    a = y + rng.standard_t(3, n)
    b = y + rng.normal(0.2, 1.0, n)
    lines = ["y_true,a,b,w"]
    for i in range(n):
        cell_a = "" if i % 397 == 5 else f"{a[i]:.6f}"
        lines.append(f"{y[i]:.6f},{cell_a},{b[i]:.6f},{1 + i % 3}")
    path = tmp_path / "models.csv"
    path.write_text("\n".join(lines) + "\n")
    opts = InputOptions(pred_cols=("a", "b"), weight_col="w", nan="drop")
    dataset = load_dataset(str(path), opts)
    selections = select_losses(["mse", "mae", "median_ae", "max_error"], dataset.task)
    want = compare_models(dataset, selections, ci_level=0.9, n_boot=100, seed=4).as_dict()
    args = ["--pred-col", "a", "--pred-col", "b", "--weight-col", "w", "--nan", "drop"]
    args += [
        "-l",
        "mse,mae,median_ae,max_error",
        "--ci",
        "0.9",
        "--bootstrap",
        "100",
        "--seed",
        "4",
        "--format",
        "json",
    ]
    for source, data in ((str(path), None), ("-", path.read_bytes())):
        with small_chunks(7000, whole_bytes=1000):
            result = run("compare", source, *args, input=data)
        assert result.exit_code == 0, result.stderr
        want["source"] = source
        assert_same(json.loads(result.stdout), json.loads(to_json(want)))


def test_median_bands_add_the_sums_of_a_full_bincount():
    """A batch's band rows are summed per (block, bin) they fill and added in place: the
    state is bit for bit that of adding a full blocks x bins bincount, with weights."""
    from losscli.analysis.bootstrap import MedianBands

    rng = np.random.default_rng(0)
    bands = [(0.4, 0.6), (0.45, 0.5), (1.0, 1.0)]
    for trial in range(12):
        state = MedianBands(bands, seed=trial)
        want = np.zeros_like(state.counts)
        start = 0
        for _ in range(4):
            n = int(rng.integers(0, 3000))
            values = [
                rng.uniform(0, 1, n),
                rng.uniform(0, 1, n),
                np.where(rng.uniform(size=n) < 0.3, 1.0, 2.0),
            ]
            w = None if trial % 2 else rng.uniform(0, 2, n) * (rng.uniform(size=n) > 0.1)
            rows = np.arange(start, start + n, dtype=np.uint64)
            start += n
            state.update(values, w, rows)
            block = block_of_rows(rows, state.seed, state.blocks)
            keep = np.ones(n, dtype=bool) if w is None else w > 0
            for s, ((lo, hi), v) in enumerate(zip(bands, values)):
                inside = keep & (v >= lo) & (v <= hi)
                if hi > lo:
                    index = np.floor((v[inside] - lo) / (hi - lo) * state.bins).astype(np.intp)
                    index = np.clip(index, 0, state.bins - 1)
                else:
                    index = np.zeros(int(inside.sum()), dtype=np.intp)
                flat = block[inside] * state.bins + index
                weights = None if w is None else w[inside]
                want[s] += np.bincount(
                    flat, weights=weights, minlength=state.blocks * state.bins
                ).reshape(state.blocks, state.bins)
        assert np.array_equal(state.counts, want)


@pytest.mark.parametrize("weights", [False, True], ids=["unweighted", "weights"])
def test_the_band_ends_need_no_refinement_pass(weights, monkeypatch):
    """compare --ci keeps, in pass 1, the stretch around the median where its bootstrap
    band's ends will be, so pass 1 answers them however the batches come. Windows around
    the band's ends alone, as before, lost them once the input was large next to the kept
    ranges' cap (three refinement passes more from ~30M rows at the real cap)."""
    from losscli.analysis.compare_plan import PERCENTILES

    monkeypatch.setattr(quantiles, "KEPT_CAP", 2048)
    dataset = _two_models(n=60_000, seed=5, weights=weights)
    batches = split_rows(dataset, list(range(300, 60_000, 300)))
    want = _in_memory(dataset, losses=("median_ae",), n_boot=50).as_dict()
    answered_by = quantiles.KeptRanges.percentile

    def band_ends_refined() -> bool:
        missed: list[float] = []

        def percentile(self, p):
            got = answered_by(self, p)
            if got is None:
                missed.append(p)
            return got

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(quantiles.KeptRanges, "percentile", percentile)
            got = run_plan(_plan(losses=("median_ae",), n_boot=50), ListSource(batches))
        assert_same(got.as_dict(), want)  # exact either way
        return any(p not in PERCENTILES for p in missed)

    assert not band_ends_refined()
    monkeypatch.setattr(BandPositions, "span", lambda self, ranges: [])
    assert band_ends_refined()  # what the kept stretch saves
