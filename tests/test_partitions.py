"""Source.partitions(): independently readable pieces whose rows, in order, are the input's.

Every kind of Source is checked: a CSV file read in many chunks, a Parquet
file, in-memory tables, the structured families, and inputs that can be read
only once (stdin), which refuse to be split with a clear error. Partitions
are pickled and read again, as a Dask worker would.
"""

from __future__ import annotations

import io
import os
import pickle
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import losscli.io.source as source_module
import losscli.io.text as text_module
from losscli.errors import DataError, InputError
from losscli.io.columns import InputOptions
from losscli.io.frames import FrameSource
from losscli.io.source import Partition, open_source, source_from_table
from tests.conftest import SAMPLES


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 2048)
    monkeypatch.setattr(source_module, "TABLE_BATCH_ROWS", 100)


def _arrays(chunks) -> dict[str, np.ndarray]:
    """Every array of a pass, concatenated (models, weights, groups, row numbers)."""
    chunks = list(chunks)
    assert chunks
    out: dict[str, np.ndarray] = {
        "y_true": np.concatenate([c.y_true for c in chunks]),
        "rows": np.concatenate([c.row_numbers for c in chunks]),
    }
    for name in chunks[0].models:
        out[name] = np.concatenate([c.models[name] for c in chunks])
    if chunks[0].weights is not None:
        out["weights"] = np.concatenate([c.weights for c in chunks])
    if chunks[0].groups is not None:
        out["groups"] = np.concatenate([c.groups for c in chunks])
    out["task"] = np.array(sorted({(c.task.value, c.task_reason) for c in chunks}))
    out["dropped"] = np.array([sum(c.n_dropped for c in chunks)])
    return out


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def _through_partitions(source) -> dict[str, np.ndarray]:
    parts = source.partitions()
    assert parts and all(isinstance(p, Partition) for p in parts)
    # As a worker gets them: pickled, then opened again from what they carry.
    parts = [pickle.loads(pickle.dumps(p)) for p in parts]
    return _arrays(chunk for p in parts for chunk in p.batches())


def _regression_csv(path, n: int, *, missing: bool = False) -> None:
    rng = np.random.default_rng(7)
    lines = ["y_true,y_pred,model_b,w,segment"]
    for i in range(n):
        pred = "" if missing and i % 97 == 5 else f"{rng.normal():.6f}"
        lines.append(
            f"{rng.normal():.6f},{pred},{rng.normal():.6f},{rng.uniform(0, 2):.4f},s{i % 3}"
        )
    path.write_text("\n".join(lines) + "\n")


def test_csv_in_many_chunks_is_one_partition_with_the_same_rows(tmp_path, small_chunks):
    path = tmp_path / "d.csv"
    _regression_csv(path, 900, missing=True)
    opts = InputOptions(
        pred_cols=("y_pred", "model_b"), weight_col="w", group_by="segment", nan="drop"
    )
    source = open_source(str(path), opts)
    parts = source.partitions()
    assert len(parts) == 1
    assert parts[0].path == str(path) and parts[0].row_offset == 0 and parts[0].hive == ()
    assert parts[0].opts.task == "regression"
    direct = _arrays(source.batches())
    assert len(list(source.batches())) > 3  # really several chunks
    got = _through_partitions(source)
    _same(direct, got)
    assert got["dropped"][0] > 0


def test_parquet_file(tmp_path, small_chunks):
    rng = np.random.default_rng(1)
    table = pa.table({"y_true": rng.normal(size=450), "y_pred": rng.normal(size=450)})
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    source = open_source(str(path), InputOptions())
    assert len(list(source.batches())) == 5
    _same(_arrays(source.batches()), _through_partitions(source))


def test_task_is_decided_for_the_whole_input_before_splitting(tmp_path, small_chunks):
    # 0/1 targets in the first chunk, a continuous value far beyond it: regression for
    # the whole input, and every partition is told so (not re-detected on its own rows).
    rows = ["y_true,y_pred"] + [f"{i % 2},{0.25 + (i % 3) / 10}" for i in range(800)]
    rows.append("2.5,0.3")
    path = tmp_path / "late.csv"
    path.write_text("\n".join(rows) + "\n")
    source = open_source(str(path), InputOptions())
    decided = source.decided_options()
    assert decided.task == "regression"
    assert "beyond its first rows" in (decided.task_reason or "")
    direct = _arrays(source.batches())
    assert direct["task"][0][0] == "regression"
    _same(direct, _through_partitions(source))


def test_binary_and_multiclass_files(small_chunks):
    for name in ("binary_balanced.csv", "multiclass_probs.csv", "hinge_labels.csv"):
        source = open_source(str(SAMPLES / name), InputOptions())
        _same(_arrays(source.batches()), _through_partitions(source))


def test_structured_family_is_one_partition(small_chunks):
    for name in ("detection_boxes.csv", "gan_outputs.csv", "similarity_pairs.csv"):
        source = open_source(str(SAMPLES / name), InputOptions())
        parts = source.partitions()
        assert len(parts) == 1
        direct = list(source.batches())
        got = [d for p in parts for d in p.batches()]
        assert len(direct) == len(got) == 1
        np.testing.assert_array_equal(direct[0].row_numbers, got[0].row_numbers)
        assert direct[0].task == got[0].task
        for key in direct[0].models:
            np.testing.assert_array_equal(direct[0].models[key], got[0].models[key])


def test_in_memory_tables_carry_their_data(small_chunks):
    rng = np.random.default_rng(2)
    data = {"y_true": rng.integers(0, 2, 300), "y_pred": rng.uniform(size=300)}
    table = pa.table(data)
    source = source_from_table(table, InputOptions(), "<table>")
    _same(_arrays(source.batches()), _through_partitions(source))
    frame = FrameSource(data, InputOptions())
    parts = frame.partitions()
    assert len(parts) == 1 and parts[0].opts.task == "binary"
    _same(_arrays(frame.batches()), _through_partitions(frame))


def test_stdin_cannot_be_split(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"y_true,y_pred\n1,2\n")))
    source = open_source("-", InputOptions())
    with pytest.raises(InputError, match=r"stdin \(-\) cannot be split .*save it to a file"):
        source.partitions()


def test_fifo_cannot_be_split(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    source = open_source(str(fifo), InputOptions())
    with pytest.raises(InputError, match="a pipe or device, readable once"):
        source.partitions()
    source.close()


def test_partition_reports_errors_in_its_rows_and_leaves_whole_checks_to_the_engine(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("y_true,y_pred\n1,2\n3,x\n5,6\n")
    part = Partition(str(path), InputOptions(task="regression"), row_offset=10)
    with pytest.raises(DataError, match=r"column y_pred: 1 missing .*rows 12;"):
        list(part.batches())
    # Rows numbered from row_offset; no "nothing left" check for a partition on its own.
    empty = tmp_path / "empty_after_drop.csv"
    empty.write_text("y_true,y_pred\n1,\n")
    part = Partition(str(empty), InputOptions(task="regression", nan="drop"), row_offset=4)
    chunks = list(part.batches())
    assert sum(c.n_rows for c in chunks) == 0 and chunks[0].n_dropped == 1
    with pytest.raises(DataError, match="nothing is left"):
        list(open_source(str(empty), InputOptions(task="regression", nan="drop")).batches())


def test_partition_repr_hides_storage_options():
    part = Partition("s3://b/k.csv", InputOptions(), storage_options={"secret": "hunter2"})
    assert "hunter2" not in repr(part)
    assert pickle.loads(pickle.dumps(part)).storage_options == {"secret": "hunter2"}


def _read_elsewhere(part: Partition) -> tuple[list[float], list[int]]:
    """In another process: open the partition from what it carries alone."""
    chunks = list(part.batches())
    return (
        [float(v) for c in chunks for v in c.y_true],
        [int(r) for c in chunks for r in c.row_numbers],
    )


def test_partitions_open_in_another_process(tmp_path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    root = tmp_path / "d"
    for i, day in enumerate(("day=1", "day=2")):
        (root / day).mkdir(parents=True)
        table = pa.table({"y_true": np.arange(5.0) + 10 * i, "y_pred": np.ones(5)})
        pq.write_table(table, root / day / "p.parquet")
    source = open_source(str(root), InputOptions(group_by="day"))
    parts = source.partitions()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        got = list(pool.map(_read_elsewhere, parts))
    direct = _arrays(source.batches())
    np.testing.assert_array_equal(np.concatenate([g[0] for g in got]), direct["y_true"])
    np.testing.assert_array_equal(np.concatenate([g[1] for g in got]), direct["rows"])
