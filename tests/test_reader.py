"""The one reader on awkward and hostile input (issue 12, reader items).

Sizes are lowered with monkeypatch (blocks of a few hundred bytes, "whole"
inputs of a few bytes, records of a few kB) so that every case is small and
exercises the same code as a large file would.
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import losscli.io.source as source_module
import losscli.io.text as text_module
from losscli.errors import DataError, InputError
from losscli.io.columns import InputOptions, load_dataset
from losscli.io.source import open_source, source_from_table


def assert_error(result, code: int, *fragments: str) -> str:
    """One ``Error:`` line naming every fragment; nothing on stdout; no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 1)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 256)
    monkeypatch.setattr(text_module, "MAX_RECORD_BYTES", 8192)


def _rows(n: int, extra: str = "") -> str:
    rng = np.random.default_rng(7)
    y = np.round(rng.normal(10, 3, n), 3)
    p = np.round(y + rng.normal(0, 1, n), 3)
    header = "y_true,y_pred" + (",note" if extra else "")
    lines = [header] + [f"{a},{b}" + (f",{extra}" if extra else "") for a, b in zip(y, p)]
    return "\n".join(lines) + "\n"


def _chunks(path, opts=None) -> list:
    return list(open_source(str(path), opts or InputOptions()).batches())


# --------------------------------------------------------------------------- item 3: quotes


def test_stray_quote_in_a_streamed_file_fails_with_its_line(run, tmp_path, small_blocks):
    lines = _rows(3000, extra="ok").splitlines()
    lines[40] = lines[40].replace(",ok", ',o"k')  # line 41: an unused column
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    assert_error(run("compute", path), 1, "line 41, column", "is never closed")


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "one-block"])
def test_an_unclosed_quote_among_quoted_fields_is_found_where_it_opens(
    run, tmp_path, monkeypatch, streamed
):
    """Every row quotes its note; row 41 leaves its quote open. By counting alone every
    later quote would pair the other way round (the last quote of the file would be
    blamed); the first closing quote that does not end its field gives it away."""
    if streamed:
        monkeypatch.setattr(text_module, "WHOLE_BYTES", 1)
        monkeypatch.setattr(text_module, "CHUNK_BYTES", 256)
    lines = _rows(3000, extra='"s04"').splitlines()
    lines[40] = lines[40].replace('"s04"', '"s04')  # line 41
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    column = lines[40].index('"') + 1
    assert_error(run("compute", path), 1, f"line 41, column {column}:", "is never closed")


def test_a_stray_quote_after_a_field_over_two_lines_is_the_one_blamed(run, tmp_path):
    text = 'y_true,note,y_pred,memo\n1,"two\nlines",2,"oops\n3,x,4,y\n'
    path = tmp_path / "data.csv"
    path.write_text(text)
    column = 'lines",2,"oops'.index('"oops') + 1
    assert_error(run("compute", path), 1, f"line 3, column {column}:", "is never closed")


@pytest.mark.parametrize(
    ("text", "blamed"),
    [
        (b'1,"a"\n2,"b\n3,"c"\n', 8),  # "c read as a closing quote: b's quote is open
        (b'1,"a ""quoted"" word\n2,3\n', 2),  # doubled quotes are not closing ones
        (b'1,"a"  ,"b\n', 8),  # spaces may follow a closing quote
        (b'1,x"y\n2,3\n', 3),  # a quote inside a field opens one
    ],
)
def test_the_unclosed_quote_is_the_one_whose_pairing_breaks(text, blamed):
    assert text_module._unclosed_quote(text, b",") == blamed


@pytest.mark.parametrize("sep", [b"\t", b" ", b";"])
def test_a_tab_or_space_delimiter_ends_a_field_after_its_closing_quote(sep):
    text = b"1" + sep + b'"a"' + sep + b'"b\n'
    assert text_module._unclosed_quote(text, sep) == text.rindex(b'"')


def test_the_unclosed_quote_of_a_tsv_file_is_found(run, tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text('y_true\tnote\ty_pred\tmemo\n1\t"two\nlines"\t2\t"oops\n3\tx\t4\ty\n')
    column = 'lines"\t2\t"oops'.index('"oops') + 1
    assert_error(run("compute", path), 1, f"line 3, column {column}:", "is never closed")


def test_stray_quote_stops_at_the_record_bound_not_the_end(tmp_path, small_blocks, monkeypatch):
    """Reading stops once the open record passes MAX_RECORD_BYTES (bounded work)."""
    lines = _rows(20000, extra="ok").splitlines()
    lines[3] = lines[3].replace(",ok", ',"ok')
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    read = []
    real = text_module._pieces

    def counted(*args):
        for piece in real(*args):
            read.append(len(piece))
            yield piece

    real_filler = text_module._filler

    def counted_filler(*args):
        fill = real_filler(*args)

        def into(view):
            done = fill(view)
            read.append(done)
            return done

        return into

    monkeypatch.setattr(text_module, "_pieces", counted)
    monkeypatch.setattr(text_module, "_filler", counted_filler)
    with pytest.raises(InputError, match=r"line 4, column \d+: a double quote"):
        _chunks(path)
    assert sum(read) <= text_module.MAX_RECORD_BYTES + 2 * text_module.CHUNK_BYTES
    assert sum(read) < path.stat().st_size / 10


def test_quoted_fields_with_newlines_across_blocks(tmp_path, small_blocks):
    rows = ["y_true,y_pred,note"]
    for i in range(400):
        rows.append(f'{i},{i + 0.5},"two\nlines, ""quoted"""')
    path = tmp_path / "q.csv"
    path.write_text("\n".join(rows) + "\n")
    chunks = _chunks(path)
    assert len(chunks) > 5
    y = np.concatenate([c.y_true for c in chunks])
    np.testing.assert_array_equal(y, np.arange(400.0))
    np.testing.assert_array_equal(
        np.concatenate([c.row_numbers for c in chunks]), np.arange(1, 401)
    )


# --------------------------------------------------------------------------- item 4: bounds


def _compressed_bomb(tmp_path, name, compress):
    path = tmp_path / name
    path.write_bytes(compress(_rows(4000).encode()))
    return path


@pytest.mark.parametrize(
    ("name", "compress"), [("d.csv.gz", gzip.compress), ("d.csv.bz2", bz2.compress)]
)
def test_compressed_inputs_stream_by_what_they_inflate_to(tmp_path, monkeypatch, name, compress):
    """Small on disk, large inflated: read in blocks, not whole (st_size decides nothing)."""
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 4096)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 2048)
    path = _compressed_bomb(tmp_path, name, compress)
    assert path.stat().st_size < 4096 * 8
    chunks = _chunks(path)
    assert len(chunks) > 10
    assert max(c.n_rows for c in chunks) < 400
    whole = load_dataset(str(path), InputOptions())
    np.testing.assert_array_equal(np.concatenate([c.y_true for c in chunks]), whole.y_true)


def test_fifo_streams_and_is_spooled_for_a_second_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 4096)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 2048)
    data = _rows(3000).encode()
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as writer:
            writer.write(data)

    feeder = threading.Thread(target=feed)
    feeder.start()
    source = open_source(str(fifo), InputOptions())
    try:
        first = list(source.batches())
        feeder.join()
        second = list(source.batches())  # the FIFO is empty now: read from the spool
    finally:
        source.close()
    assert source.source == str(fifo)
    assert len(first) > 5 and len(second) == len(first)
    np.testing.assert_array_equal(
        np.concatenate([c.models["y_pred"] for c in first]),
        np.concatenate([c.models["y_pred"] for c in second]),
    )


def test_group_cap_applies_to_the_whole_input(run, tmp_path, monkeypatch):
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 1)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 4096)
    lines = ["y_true,y_pred,g"] + [f"{i % 7},{i % 5},group{i}" for i in range(1500)]
    path = tmp_path / "g.csv"
    path.write_text("\n".join(lines) + "\n")
    assert len(_chunks(path)) > 3  # each chunk alone is far below the cap
    assert_error(
        run("compute", path, "--group-by", "g"),
        1,
        "column g (--group-by) has more than 1,000 distinct values",
    )


def test_missing_values_are_counted_over_the_whole_input(run, tmp_path, small_blocks):
    lines = _rows(600).splitlines()
    for row in (5, 300, 590):
        lines[row] = lines[row].split(",")[0] + ","
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n")
    assert len(_chunks(path, InputOptions(nan="drop"))) > 5
    assert_error(
        run("compute", path),
        1,
        "column y_pred: 3 missing or non-numeric values (rows 5, 300, 590;",
    )
    out = json.loads(run("compute", path, "--nan", "drop", "--format", "json").stdout)
    assert out["n_rows"] == 597


# --------------------------------------------------------------------------- item 7: integers


def test_integers_beyond_2_53_in_csv_are_rounded_floats(run, tmp_path):
    big = 2**53 + 1  # not a float64: rounds to 2**53
    path = tmp_path / "big.csv"
    path.write_text(f"y_true,y_pred\n{big},{2**62 + 3}\n0,{2**63 - 1}\n")
    data = load_dataset(str(path), InputOptions())
    np.testing.assert_array_equal(data.y_true, np.array([big, 0], dtype=np.float64))
    np.testing.assert_array_equal(
        data.models["y_pred"], np.array([2**62 + 3, 2**63 - 1], dtype=np.float64)
    )
    out = json.loads(run("compute", path, "-l", "mae", "--format", "json").stdout)
    expected = np.mean(np.abs(np.array([big, 0.0]) - np.array([2**62 + 3, 2**63 - 1.0])))
    assert out["results"][0]["value"] == pytest.approx(expected, rel=1e-12)


def test_int64_and_uint64_parquet_beyond_2_53(run, tmp_path):
    path = tmp_path / "big.parquet"
    table = pa.table(
        {
            "y_true": pa.array([2**60 + 1, 2**53 + 1], pa.int64()),
            "y_pred": pa.array([2**64 - 1, 2**63 + 5], pa.uint64()),
        }
    )
    pq.write_table(table, path)
    data = load_dataset(str(path), InputOptions())
    np.testing.assert_array_equal(data.y_true, np.array([2**60 + 1, 2**53 + 1], dtype=np.float64))
    np.testing.assert_array_equal(
        data.models["y_pred"], np.array([2**64 - 1, 2**63 + 5], dtype=np.float64)
    )
    assert run("compute", path, "-l", "mse").exit_code == 0


# --------------------------------------------------------------------------- item 9: long records


def test_header_over_one_mib_is_read(run, tmp_path):
    names = [f"feature_{i:07d}_padding" for i in range(50_000)]  # 1.2 MB of header
    header = ",".join(["y_true", "y_pred", *names])
    zeros = ",".join(["0"] * len(names))
    path = tmp_path / "wide.csv"
    path.write_text(f"{header}\n1,1.5,{zeros}\n2,2,{zeros}\n")
    assert len(header) > 1 << 20
    out = json.loads(run("compute", path, "-l", "mse", "--format", "json").stdout)
    assert out["results"][0]["value"] == pytest.approx(0.125)


def test_row_over_one_mib_is_read(run, tmp_path, monkeypatch):
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 1)  # streamed: the record spans pieces
    long_note = "x" * (3 << 20)
    path = tmp_path / "long.csv"
    path.write_text(f"y_true,y_pred,note\n1,1.5,short\n2,2,{long_note}\n3,2,short\n")
    out = json.loads(run("compute", path, "-l", "mse", "--format", "json").stdout)
    assert out["results"][0]["value"] == pytest.approx((0.25 + 0 + 1) / 3)


def test_a_record_beyond_the_bound_is_a_clear_error(run, tmp_path, small_blocks):
    path = tmp_path / "huge.csv"
    path.write_text("y_true,y_pred,note\n1,2," + "x" * 20000 + "\n3,4,ok\n")
    assert_error(run("compute", path), 1, "line 2", "a row longer than", "MiB")


# --------------------------------------------------------------------------- item 11


def test_parquet_with_duplicate_column_names_is_one_line(run, tmp_path):
    path = tmp_path / "dup.parquet"
    table = pa.Table.from_arrays([pa.array([1.0, 2.0])] * 3, names=["y_true", "y_pred", "y_pred"])
    pq.write_table(table, path)
    assert_error(run("compute", path), 1, "duplicate column name 'y_pred'", "rename one")


def test_utf32_read_as_utf16_is_a_clear_error(run, tmp_path):
    path = tmp_path / "u32.csv"
    path.write_bytes("y_true,y_pred\n1,1.5\n2,2\n".encode("utf-32"))
    assert_error(run("compute", path, "--encoding", "utf-16"), 1, "UTF-32", "--encoding utf-32")
    out = run("compute", path, "--encoding", "utf-32", "-l", "mse", "--format", "json")
    assert json.loads(out.stdout)["results"][0]["value"] == pytest.approx(0.125)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_compressed_stdin_is_decompressed(run, compress):
    data = compress(b"y_true,y_pred\n1,1.5\n2,2\n3,2\n4,4.5\n")
    result = run("compute", "-", "-l", "mse", "--format", "json", input=data)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["value"] == pytest.approx(0.375)


def test_truncated_gzip_on_stdin_is_a_clear_error(run):
    data = gzip.compress(_rows(500).encode())[:-40]
    assert_error(run("compute", "-", input=data), 1, "stdin is truncated", "gz")


def test_non_utf8_encoding_streams_with_the_same_values(tmp_path, small_blocks):
    text = _rows(800, extra="café")
    path = tmp_path / "latin.csv"
    path.write_bytes(text.encode("latin-1"))
    chunks = _chunks(path, InputOptions(encoding="latin-1"))
    assert len(chunks) > 5
    utf8 = tmp_path / "utf8.csv"
    utf8.write_text(text)
    whole = load_dataset(str(utf8), InputOptions())
    np.testing.assert_array_equal(np.concatenate([c.y_true for c in chunks]), whole.y_true)


def test_gan_columns_of_different_lengths_stream_through_the_reader(tmp_path, small_blocks):
    lines = ["d_real,d_fake"] + [f"0.{i % 9 + 1},0.{(i + 3) % 9 + 1}" for i in range(300)]
    lines += [f"0.{i % 9 + 1}," for i in range(100)]  # d_real is longer
    path = tmp_path / "gan.csv"
    path.write_text("\n".join(lines) + "\n")
    chunks = _chunks(path)
    assert len(chunks) == 1  # validated as one table
    assert chunks[0].task.value == "generative"
    assert chunks[0].n_rows == 400 + 300


# --------------------------------------------------------------------------- item 12: numbers


@pytest.mark.parametrize("cell", ["0x10", "0X1F", "1_000", "١٢", "1,000", "0b1", "1e", "--1"])
def test_number_grammar_is_the_same_in_every_column_and_chunk(run, tmp_path, cell):
    # In an integer column (pyarrow would read 0x10 as 16) and next to decimals.
    for others in (["1", "2", "3"], ["1.5", "2.5", "3.5"]):
        path = tmp_path / "n.csv"
        quoted = f'"{cell}"' if "," in cell else cell
        path.write_text("y_true,y_pred\n" + "".join(f"{o},{o}\n" for o in others) + f"4,{quoted}\n")
        assert_error(run("compute", path), 1, "column y_pred: 1 missing or non-numeric", "row")


@pytest.mark.parametrize(
    ("cell", "value"),
    [(" 12 ", 12.0), ("+3.", 3.0), (".5", 0.5), ("-1E+2", -100.0), ("\t7\t", 7.0)],
)
def test_number_grammar_accepts_decimal_spellings(tmp_path, cell, value):
    for others in (["1", "2"], ["1.5", "2.5"], ["1", "text"]):
        path = tmp_path / "n.csv"
        path.write_text("y_true,y_pred\n" + "".join(f"{o},{o}\n" for o in others) + f"4,{cell}\n")
        data = load_dataset(str(path), InputOptions(nan="drop"))
        assert data.models["y_pred"][-1] == value


def test_in_memory_tables_take_the_same_route(tmp_path):
    table = pa.table({"y_true": [1.0, 2.0, 3.0], "y_pred": ["1.5", "0x10", "3"]})
    with pytest.raises(DataError, match=r"column y_pred: 1 missing or non-numeric value \(rows 2;"):
        list(source_from_table(table, InputOptions(), "<table>").batches())
    table = pa.table({"y_true": np.arange(1000.0), "y_pred": np.arange(1000.0) + 0.5})
    source_module_rows = source_module.TABLE_BATCH_ROWS
    try:
        source_module.TABLE_BATCH_ROWS = 128
        chunks = list(source_from_table(table, InputOptions(), "<table>").batches())
    finally:
        source_module.TABLE_BATCH_ROWS = source_module_rows
    assert len(chunks) == 8
    assert chunks[-1].row_numbers[-1] == 1000
