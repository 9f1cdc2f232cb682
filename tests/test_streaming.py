"""The streaming engine gives the numbers of the whole-array computation (issue 8).

Files are cut into many small chunks (a few kB) so that chunk boundaries,
weights, --nan drop, groups and the exact median's refinement passes are all
exercised; every value must match the in-memory path to 1e-12 relative.
"""

from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pytest
from stream_support import (
    assert_same_report,
    in_memory_report,
    small_chunks,
    streamed_report,
    write_regression,
)

import losscli.io.source as source_module
from losscli.analysis.compute import compute
from losscli.analysis.streaming import StreamingCompute, compute_chunks
from losscli.core.reduction import MedianAccumulator, weighted_percentile
from losscli.core.registry import select_losses
from losscli.errors import DataError, InputError
from losscli.io.columns import InputOptions, load_dataset
from losscli.io.source import open_source
from losscli.io.stream import ValueSpool


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"weights": True},
        {"holes": True},
        {"groups": True},
        {"weights": True, "groups": True, "holes": True},
    ],
)
def test_streaming_matchesin_memory_report(tmp_path, kwargs):
    path = write_regression(tmp_path / "data.csv", **kwargs)
    opts = InputOptions(
        pred_cols=("y_pred", "model_b"),
        weight_col="w" if kwargs.get("weights") else None,
        group_by="segment" if kwargs.get("groups") else None,
        nan="drop" if kwargs.get("holes") else "error",
    )
    whole = in_memory_report(path, opts)
    streamed = streamed_report(path, opts)
    assert_same_report(streamed, whole)
    if kwargs.get("holes"):
        assert whole.n_dropped > 0


@pytest.mark.parametrize("reread", [True, False])
def test_median_exact_when_first_chunk_is_unrepresentative(tmp_path, reread):
    # Rows sorted by |error|: the first chunk's band misses the median, so the
    # engine re-reads the file (or, without re-reading, uses its full spool).
    path = write_regression(tmp_path / "sorted.csv", n=3000, sort=True)
    opts = InputOptions()
    assert_same_report(streamed_report(path, opts, reread=reread), in_memory_report(path, opts))


def test_binary_and_multiclass_stream_likein_memory_report():
    from pathlib import Path

    samples = Path(__file__).resolve().parent.parent / "sample_data"
    for name in ("binary_imbalanced.csv", "multiclass_probs.csv", "multiclass_soft.csv"):
        path = samples / name
        opts = InputOptions()
        whole = in_memory_report(path, opts)
        streamed = streamed_report(path, opts, chunk_bytes=700)
        assert_same_report(streamed, whole)
        assert streamed.warnings[:1] == whole.warnings[:1]


def test_single_chunk_is_the_in_memory_report(tmp_path):
    path = write_regression(tmp_path / "data.csv", n=500, weights=True, groups=True)
    opts = InputOptions(weight_col="w", group_by="segment")
    dataset = load_dataset(str(path), opts)
    selections = select_losses([], dataset.task, dataset.features)
    engine = StreamingCompute(selections)
    engine.add(dataset)
    one = engine.finish()
    whole, _ = compute(dataset, selections)
    assert [r.value for r in one.results] == [r.value for r in whole.results]
    assert one.warnings == whole.warnings


def test_bad_cell_in_a_later_chunk_names_its_file_row(tmp_path):
    path = write_regression(tmp_path / "data.csv", n=3000)
    lines = path.read_text().splitlines()
    fields = lines[2500].split(",")
    fields[1] = "oops"
    lines[2500] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    opts = InputOptions()
    with pytest.raises(DataError) as whole:
        load_dataset(str(path), opts)
    with pytest.raises(DataError) as streamed:
        streamed_report(path, opts)
    assert "rows 2500;" in str(streamed.value)
    assert str(streamed.value) == str(whole.value)


def test_short_row_in_a_later_chunk_names_its_line(tmp_path):
    path = write_regression(tmp_path / "data.csv", n=3000)
    lines = path.read_text().splitlines()
    lines[2000] = "1.5"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r", line 2001: 1 field but the header has 3"):
        streamed_report(path, InputOptions())


def test_quoted_newlines_do_not_split_records(tmp_path):
    rows = ["y_true,y_pred,segment"]
    for i in range(400):
        label = f'"seg\n{i % 3}"' if i % 7 == 0 else f"s{i % 3}"
        rows.append(f"{i * 0.5},{i * 0.5 + (i % 5) - 2},{label}")
    path = tmp_path / "quoted.csv"
    path.write_text("\n".join(rows) + "\n")
    opts = InputOptions(group_by="segment")
    assert_same_report(streamed_report(path, opts, chunk_bytes=64), in_memory_report(path, opts))


def test_all_zero_weight_chunks_are_fine_but_all_zero_file_is_not(tmp_path):
    path = tmp_path / "w.csv"
    body = [f"{i},{i + 1},0" for i in range(300)] + [f"{i},{i + 2},1" for i in range(300)]
    path.write_text("y_true,y_pred,w\n" + "\n".join(body) + "\n")
    opts = InputOptions(weight_col="w")
    assert_same_report(streamed_report(path, opts, chunk_bytes=200), in_memory_report(path, opts))
    zero = tmp_path / "zero.csv"
    zero.write_text("y_true,y_pred,w\n" + "\n".join(f"{i},{i + 1},0" for i in range(300)) + "\n")
    with pytest.raises(DataError, match="all sample weights are zero"):
        streamed_report(zero, opts, chunk_bytes=200)


def test_cli_streams_files_stdin_and_gzip_with_the_same_numbers(tmp_path, run):
    path = write_regression(tmp_path / "data.csv", n=3000)
    expected = json.loads(run("compute", path, "--format", "json").stdout)
    gz = tmp_path / "data.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    for args, data in (([path], None), ([gz], None), (["-"], path.read_bytes())):
        with small_chunks(5000, whole_bytes=1000):
            result = run("compute", *args, "--format", "json", input=data)
        assert result.exit_code == 0, result.stderr
        got = json.loads(result.stdout)
        assert got["n_rows"] == expected["n_rows"] == 3000
        for a, b in zip(got["results"], expected["results"]):
            assert a["loss"] == b["loss"]
            assert math.isclose(a["value"], b["value"], rel_tol=1e-12, abs_tol=1e-15)


def test_cli_progress_bar_never_in_pipes(tmp_path, run):
    path = write_regression(tmp_path / "data.csv", n=2000)
    with small_chunks(5000, whole_bytes=1000):
        result = run("compute", path)
    assert result.exit_code == 0
    assert "reading" not in result.stderr


def test_median_accumulators_merge_across_processes():
    rng = np.random.default_rng(3)
    values = np.abs(rng.standard_cauchy(20_000))
    weights = rng.integers(0, 3, 20_000).astype(float)
    parts = [MedianAccumulator(cap=100), MedianAccumulator(cap=100)]
    parts[0].add(values[:7000], weights[:7000])
    parts[1].add(values[7000:], weights[7000:])
    merged = parts[0].merge(parts[1])
    while merged.needs_pass:
        merged.refine_plan()
        for lo in range(0, values.size, 3000):  # any chunking on the second pass
            merged.refine_add(values[lo : lo + 3000], weights[lo : lo + 3000])
        merged.refine_finish()
    assert merged.result() == weighted_percentile(values, weights, 50.0)


@pytest.mark.parametrize("seed", range(6))
def test_median_refinement_handles_ties_signs_and_scales(seed):
    rng = np.random.default_rng(seed)
    n = 5000
    values = [
        np.round(rng.normal(size=n), 1),  # heavy ties, negative values, -0.0
        rng.normal(size=n) * 10.0 ** rng.integers(-200, 200, n),
        np.full(n, 2.5),
    ][seed % 3]
    weights = None if seed < 3 else rng.integers(0, 5, n).astype(float)
    acc = MedianAccumulator(cap=50, bits=6)
    for lo in range(0, n, 700):
        acc.add(values[lo : lo + 700], None if weights is None else weights[lo : lo + 700])
    while acc.needs_pass:
        acc.refine_plan()
        acc.refine_add(values, weights)
        acc.refine_finish()
    assert acc.result() == weighted_percentile(values, weights, 50.0)


def test_parquet_streams_by_record_batches(tmp_path, monkeypatch):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    csv_path = write_regression(tmp_path / "data.csv", n=3000, weights=True, groups=True)
    path = tmp_path / "data.parquet"
    pq.write_table(pacsv.read_csv(csv_path), path, row_group_size=500)
    monkeypatch.setattr(source_module, "TABLE_BATCH_ROWS", 400)
    opts = InputOptions(weight_col="w", group_by="segment")
    source = open_source(str(path), opts)
    assert len(list(source.batches())) > 1
    spool = ValueSpool(memory_budget=1 << 12)
    streamed = compute_chunks(
        source.batches(),
        lambda d: select_losses([], d.task, d.features),
        spool,
        median_cap=64,
        reread=source.batches,
    )
    spool.close()
    assert_same_report(streamed, in_memory_report(path, opts))


@pytest.mark.parametrize("percentile", [0.1, 10.0, 50.0, 90.0, 99.9])
@pytest.mark.parametrize("n", [4999, 5000])
def test_refined_order_statistics_with_unit_weights_select_without_sorting(percentile, n):
    # Unit weights take the selection path (np.partition) in the last refinement step;
    # weights of 1.0 given explicitly take it too. Both equal the exact percentile.
    rng = np.random.default_rng(n)
    values = np.round(rng.standard_cauchy(n), 2)  # ties and both signs
    for weights in (None, np.ones(n)):
        acc = MedianAccumulator(cap=50, bits=6, percentile=percentile)
        for lo in range(0, n, 900):
            acc.add(values[lo : lo + 900], None if weights is None else weights[lo : lo + 900])
        while acc.needs_pass:
            acc.refine_plan()
            acc.refine_add(values, weights)
            acc.refine_finish()
        assert acc.result() == weighted_percentile(values, weights, percentile)
