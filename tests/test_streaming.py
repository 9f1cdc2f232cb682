"""The streaming engine gives the numbers of the whole-array computation (issue 8).

Files are cut into many small chunks (a few kB) so that chunk boundaries,
weights, --nan drop, groups and the exact median's refinement passes are all
exercised; every value must match the in-memory path to 1e-12 relative.
"""

from __future__ import annotations

import gzip
import json
import math
from unittest import mock

import numpy as np
import pytest

import losscli.io.source as source_module
import losscli.io.text as text_module
from losscli.analysis.compute import compute
from losscli.analysis.streaming import StreamingCompute, compute_chunks
from losscli.core.reduction import MedianAccumulator, weighted_percentile
from losscli.core.registry import select_losses
from losscli.errors import DataError, InputError
from losscli.io.columns import InputOptions, load_dataset
from losscli.io.source import open_source
from losscli.io.stream import ValueSpool


def _write_regression(path, n=4000, seed=0, weights=False, groups=False, holes=False, sort=False):
    rng = np.random.default_rng(seed)
    y = np.round(rng.normal(100, 25, n), 4)
    noise = rng.normal(0, 1.5, n)
    noise[rng.random(n) < 0.02] *= 20
    p = np.round(y + noise, 4)
    p2 = np.round(y + rng.normal(0.5, 2.0, n), 4)
    if sort:
        order = np.argsort(np.abs(y - p))
        y, p, p2 = y[order], p[order], p2[order]
    header = ["y_true", "y_pred", "model_b"]
    if weights:
        header.append("w")
    if groups:
        header.append("segment")
    lines = [",".join(header)]
    for i in range(n):
        cells = [repr(float(y[i])), repr(float(p[i])), repr(float(p2[i]))]
        if weights:
            cells.append(str(int(rng.integers(0, 4))))
        if groups:
            cells.append(["north", "south", "east"][int(rng.integers(0, 3))])
        if holes and i % 97 == 5:
            cells[1] = ""
        if holes and i % 211 == 7:
            cells[0] = "n/a"
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def _in_memory(path, opts):
    dataset = load_dataset(str(path), opts)
    selections = select_losses([], dataset.task, dataset.features)
    report, _ = compute(dataset, selections)
    return report


def _streamed(path, opts, chunk_bytes=3000, median_cap=64, reread=True, spool_budget=1 << 12):
    source = open_source(str(path), opts)
    seen = []

    def counted(chunks):
        for chunk in chunks:
            seen.append(chunk.n_rows)
            yield chunk

    spool = ValueSpool(memory_budget=spool_budget)
    try:
        with (
            mock.patch.object(text_module, "WHOLE_BYTES", 0),
            mock.patch.object(text_module, "CHUNK_BYTES", chunk_bytes),
        ):
            report = compute_chunks(
                counted(source.batches()),
                lambda d: select_losses([], d.task, d.features),
                spool,
                median_cap=median_cap,
                reread=source.batches if reread else None,
            )
        assert len(seen) > 1  # several chunks
        return report
    finally:
        spool.close()


def _assert_same(streamed, whole):
    assert streamed.n_rows == whole.n_rows
    assert streamed.n_dropped == whole.n_dropped
    assert streamed.task == whole.task
    assert len(streamed.results) == len(whole.results)
    scale = {}
    for r in whole.results:
        if r.loss == "mae":
            scale[(r.model, r.group)] = abs(r.value)
    for a, b in zip(streamed.results, whole.results):
        assert (a.loss, a.model, a.group, a.n_rows) == (b.loss, b.model, b.group, b.n_rows)
        # Signed losses (mbe) may sit near 0: compare them relative to the mean |error|.
        atol = 1e-12 * scale.get((b.model, b.group), 0.0) if b.signed else 0.0
        assert a.value == pytest.approx(b.value, rel=1e-12, abs=atol), (a.loss, a.group)
        if a.loss == "median_ae" or a.loss == "max_error":
            assert a.value == b.value  # order statistics: exactly the same row value


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
def test_streaming_matches_in_memory(tmp_path, kwargs):
    path = _write_regression(tmp_path / "data.csv", **kwargs)
    opts = InputOptions(
        pred_cols=("y_pred", "model_b"),
        weight_col="w" if kwargs.get("weights") else None,
        group_by="segment" if kwargs.get("groups") else None,
        nan="drop" if kwargs.get("holes") else "error",
    )
    whole = _in_memory(path, opts)
    streamed = _streamed(path, opts)
    _assert_same(streamed, whole)
    if kwargs.get("holes"):
        assert whole.n_dropped > 0


@pytest.mark.parametrize("reread", [True, False])
def test_median_exact_when_first_chunk_is_unrepresentative(tmp_path, reread):
    # Rows sorted by |error|: the first chunk's band misses the median, so the
    # engine re-reads the file (or, without re-reading, uses its full spool).
    path = _write_regression(tmp_path / "sorted.csv", n=3000, sort=True)
    opts = InputOptions()
    _assert_same(_streamed(path, opts, reread=reread), _in_memory(path, opts))


def test_binary_and_multiclass_stream_like_in_memory():
    from pathlib import Path

    samples = Path(__file__).resolve().parent.parent / "sample_data"
    for name in ("binary_imbalanced.csv", "multiclass_probs.csv", "multiclass_soft.csv"):
        path = samples / name
        opts = InputOptions()
        whole = _in_memory(path, opts)
        streamed = _streamed(path, opts, chunk_bytes=700)
        _assert_same(streamed, whole)
        assert streamed.warnings[:1] == whole.warnings[:1]


def test_single_chunk_is_the_in_memory_report(tmp_path):
    path = _write_regression(tmp_path / "data.csv", n=500, weights=True, groups=True)
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
    path = _write_regression(tmp_path / "data.csv", n=3000)
    lines = path.read_text().splitlines()
    fields = lines[2500].split(",")
    fields[1] = "oops"
    lines[2500] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    opts = InputOptions()
    with pytest.raises(DataError) as whole:
        load_dataset(str(path), opts)
    with pytest.raises(DataError) as streamed:
        _streamed(path, opts)
    assert "rows 2500;" in str(streamed.value)
    assert str(streamed.value) == str(whole.value)


def test_short_row_in_a_later_chunk_names_its_line(tmp_path):
    path = _write_regression(tmp_path / "data.csv", n=3000)
    lines = path.read_text().splitlines()
    lines[2000] = "1.5"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r", line 2001: 1 field\(s\) but the header has 3"):
        _streamed(path, InputOptions())


def test_quoted_newlines_do_not_split_records(tmp_path):
    rows = ["y_true,y_pred,segment"]
    for i in range(400):
        label = f'"seg\n{i % 3}"' if i % 7 == 0 else f"s{i % 3}"
        rows.append(f"{i * 0.5},{i * 0.5 + (i % 5) - 2},{label}")
    path = tmp_path / "quoted.csv"
    path.write_text("\n".join(rows) + "\n")
    opts = InputOptions(group_by="segment")
    _assert_same(_streamed(path, opts, chunk_bytes=64), _in_memory(path, opts))


def test_all_zero_weight_chunks_are_fine_but_all_zero_file_is_not(tmp_path):
    path = tmp_path / "w.csv"
    body = [f"{i},{i + 1},0" for i in range(300)] + [f"{i},{i + 2},1" for i in range(300)]
    path.write_text("y_true,y_pred,w\n" + "\n".join(body) + "\n")
    opts = InputOptions(weight_col="w")
    _assert_same(_streamed(path, opts, chunk_bytes=200), _in_memory(path, opts))
    zero = tmp_path / "zero.csv"
    zero.write_text("y_true,y_pred,w\n" + "\n".join(f"{i},{i + 1},0" for i in range(300)) + "\n")
    with pytest.raises(DataError, match="all sample weights are zero"):
        _streamed(zero, opts, chunk_bytes=200)


def test_cli_streams_files_stdin_and_gzip_with_the_same_numbers(tmp_path, monkeypatch, run):
    path = _write_regression(tmp_path / "data.csv", n=3000)
    expected = json.loads(run("compute", path, "--format", "json").stdout)
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 1000)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 5000)
    gz = tmp_path / "data.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    for args, data in (([path], None), ([gz], None), (["-"], path.read_bytes())):
        result = run("compute", *args, "--format", "json", input=data)
        assert result.exit_code == 0, result.stderr
        got = json.loads(result.stdout)
        assert got["n_rows"] == expected["n_rows"] == 3000
        for a, b in zip(got["results"], expected["results"]):
            assert a["loss"] == b["loss"]
            assert math.isclose(a["value"], b["value"], rel_tol=1e-12, abs_tol=1e-15)


def test_cli_progress_bar_never_in_pipes(tmp_path, monkeypatch, run):
    path = _write_regression(tmp_path / "data.csv", n=2000)
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 1000)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 5000)
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

    csv_path = _write_regression(tmp_path / "data.csv", n=3000, weights=True, groups=True)
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
    _assert_same(streamed, _in_memory(path, opts))


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
