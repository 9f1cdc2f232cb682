"""The reader converts only the columns the options use (io/columns.py needed_columns).

A CSV's other columns are still split into fields (so field counts and row
numbers are checked as before) but never parsed into values. The figures, the
messages and the exit codes must not change: each test compares the projected
read with the same read of every column.
"""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pytest
from click.testing import CliRunner

import losscli.io.text as text_module
from losscli.cli import cli
from losscli.io.columns import InputOptions, needed_columns


@pytest.fixture
def small_chunks():
    with (
        mock.patch.object(text_module, "CHUNK_BYTES", 3000),
        mock.patch.object(text_module, "WHOLE_BYTES", 1000),
    ):
        yield


@pytest.fixture
def parsed_columns():
    """The ``columns`` every parsed block was converted with."""
    seen: list[list[str] | None] = []
    real = text_module._parse_block

    def spy(block, names, fmt, columns, text=()):
        seen.append(columns)
        return real(block, names, fmt, columns, text)

    with mock.patch.object(text_module, "_parse_block", spy):
        yield seen


def _no_projection():
    return mock.patch("losscli.io.columns.needed_columns", lambda names, opts: None)


def _write(path, n=3000, seed=1):
    rng = np.random.default_rng(seed)
    y = [float(v) for v in np.round(rng.normal(10, 3, n), 4)]
    lines = ["note,y_true,y_pred,w,other,segment,y_pred_b"]
    for i in range(n):
        pred = "" if i % 113 == 7 else repr(round(y[i] + float(rng.normal(0, 1)), 4))
        lines.append(
            f'"free, text {i}",{y[i]!r},{pred},{int(rng.integers(0, 3))},'
            f"{'oops' if i % 5 else '1e999'},{'ab'[i % 2]},{y[i] + 0.5!r}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(args):
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.stdout, result.stderr


def test_needed_columns_plain_inputs():
    names = ["id", "y_true", "y_pred", "w", "junk"]
    assert needed_columns(names, InputOptions()) == ["y_true", "y_pred"]
    opts = InputOptions(weight_col="w", id_cols=("id",))
    assert needed_columns(names, opts) == ["id", "y_true", "y_pred", "w"]
    # nothing to leave out, or a named column missing (its error lists every column)
    assert needed_columns(["y_true", "y_pred"], InputOptions()) is None
    assert needed_columns(names, InputOptions(group_by="nope")) is None
    assert needed_columns(names, InputOptions(pred_cols=("nope",))) is None


def test_needed_columns_leaves_families_whole():
    # multiclass (class columns), interval and quantile families are told by their names
    assert needed_columns(["y_true", "y_pred_a", "y_pred_b", "x"], InputOptions()) is None
    assert needed_columns(["y_true", "y_lower", "y_upper", "x"], InputOptions()) is None
    assert needed_columns(["y_true", "y_pred_q0.1", "y_pred_q0.9", "x"], InputOptions()) is None
    assert needed_columns(["y_true", "y_pred", "x"], InputOptions(task="multiclass")) is None


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--weight-col", "w"],
        ["--group-by", "segment"],
        ["--pred-col", "y_pred_b", "--weight-col", "w"],
    ],
)
def test_projected_read_gives_the_same_report(tmp_path, small_chunks, parsed_columns, extra):
    path = _write(tmp_path / "p.csv")
    args = ["compute", str(path), "--format", "json", "--nan", "drop", *extra]
    code, out, err = _run(args)
    assert code in (0, 3), err
    assert len(parsed_columns) > 3  # many blocks, each converted with the projection
    used = {c for cols in parsed_columns for c in (cols or [])}
    assert "note" not in used and "other" not in used
    parsed_columns.clear()
    with _no_projection():
        code_all, out_all, err_all = _run(args)
    assert all(cols is None for cols in parsed_columns)
    assert (code, err) == (code_all, err_all)
    assert json.loads(out) == json.loads(out_all)


def test_field_count_errors_are_unchanged(tmp_path, small_chunks):
    path = _write(tmp_path / "p.csv")
    lines = path.read_text().splitlines()
    lines[2000] += ",extra"
    lines[2500] = lines[2500].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    args = ["compute", str(path), "--nan", "drop"]
    projected = _run(args)
    with _no_projection():
        whole = _run(args)
    assert projected == whole
    assert projected[0] == 1 and projected[1] == ""
    assert "line 2001: 8 fields but the header has 7 (2 such rows in all)" in projected[2]


def test_bad_values_in_used_columns_are_reported_the_same(tmp_path, small_chunks):
    path = _write(tmp_path / "p.csv")
    lines = path.read_text().splitlines()
    cells = lines[1800].split(",")
    cells[3] = "x1"  # y_true of data row 1799 (the note holds one comma)
    lines[1800] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    args = ["compute", str(path)]  # --nan error: every missing value of the file is counted
    projected = _run(args)
    with _no_projection():
        whole = _run(args)
    assert projected == whole
    assert projected[0] == 1 and projected[1] == ""
    assert "28 missing or non-numeric values" in projected[2]


def test_parquet_reads_only_the_used_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    n = 5000
    y = rng.normal(0, 1, n)
    table = pa.table(
        {
            "blob": [f"row {i}" for i in range(n)],
            "y_true": y,
            "y_pred": y + rng.normal(0, 0.3, n),
            "w": rng.integers(1, 4, n).astype(float),
        }
    )
    path = tmp_path / "p.parquet"
    pq.write_table(table, path, row_group_size=700)
    args = ["compute", str(path), "--weight-col", "w", "--format", "json"]
    read: list[object] = []
    real = pq.ParquetFile.iter_batches

    def spy(self, *a, **k):
        read.append(k.get("columns"))
        return real(self, *a, **k)

    with mock.patch.object(pq.ParquetFile, "iter_batches", spy):
        projected = _run(args)
    assert read == [["y_true", "y_pred", "w"]]
    with _no_projection():
        whole = _run(args)
    assert projected[0] == whole[0] == 0
    assert json.loads(projected[1]) == json.loads(whole[1])


def test_rows_counted_after_the_first_bad_row_may_hold_bad_utf8(tmp_path, small_chunks):
    # After the first row with a wrong field count, later blocks are only counted;
    # a block there that is not UTF-8 must not make pyarrow raise inside our handler.
    import sys

    lines = ["y_true,y_pred"] + [f"{i}.5,{i}" for i in range(2000)]
    lines[10] += ",9"
    lines[1500] = "1,2,\xe9t\xe9"  # a bad row, written as latin-1 below
    path = tmp_path / "p.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    seen: list[object] = []
    before = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        code, out, err = _run(["compute", str(path)])
    finally:
        sys.unraisablehook = before
    assert seen == []
    assert code == 1 and out == ""
    assert "line 11: 3 fields but the header has 2 (2 such rows in all)" in err
