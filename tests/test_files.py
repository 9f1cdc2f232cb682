"""One dataset over many files: a directory, a quoted glob, a file:// URL (issue 16, SPEC 9).

The reference is always the same rows written as one file: every command's
JSON on the directory equals its JSON on that file to 1e-12 (the source name
aside), hive folders give the --group-by column, and every bad layout gives
one clear Error naming the file.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import losscli as lc
import losscli.io.source as source_module
import losscli.io.text as text_module
from losscli.errors import UsageError
from losscli.io.columns import InputOptions
from losscli.io.files import is_data_file, parse_storage_options, storage_option_value
from losscli.io.source import open_source
from tests.test_errors import assert_error

REL = 1e-12
DAYS = ("day=2026-11-01", "day=2026-11-02", "day=2026-11-03")


def _frame(seed: int, n: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, n)
    return pa.table(
        {
            "y_true": y,
            "y_pred": y + rng.standard_t(3, n),
            "model_b": y + rng.normal(0, 1.5, n),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )


def make_dataset(root: Path, *, csv_days: tuple[str, ...] = (), n: int = 120) -> pa.Table:
    """Hive folders, two files each (Parquet, or CSV for ``csv_days``), plus junk to skip.

    Returns the rows in sorted path order with the ``day`` column, as one table.
    """
    pieces = []
    seed = 0
    for day in DAYS:
        folder = root / day
        folder.mkdir(parents=True)
        for part in range(2):
            seed += 1
            table = _frame(seed, n + 7 * seed)
            if day in csv_days:
                pacsv.write_csv(table, folder / f"part-{part}.csv")
            else:
                pq.write_table(table, folder / f"part-{part}.parquet")
            pieces.append(table.append_column("day", pa.array([day[4:]] * table.num_rows)))
    # What writers leave next to data files: none of it is data.
    (root / "_SUCCESS").write_bytes(b"")
    (root / ".part-0.parquet.crc").write_bytes(b"\x00junk")
    (root / "README.md").write_text("not data\n")
    (root / "_temporary").mkdir()
    (root / "_temporary" / "part-9.csv").write_text("y_true,y_pred\nbroken\n")
    (root / DAYS[0] / ".hidden.csv").write_text("junk")
    return pa.concat_tables(pieces)


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "preds"
    whole = make_dataset(root, csv_days=(DAYS[1],))
    single = tmp_path / "whole.csv"
    pacsv.write_csv(whole, single)
    return root, single, whole


def _numbers(value, path=""):
    """(path, float) leaves of a JSON value; text leaves are compared exactly."""
    if isinstance(value, dict):
        for key in sorted(value):
            if key != "source":
                yield from _numbers(value[key], f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}[{i}]")
    else:
        yield path, value


def assert_same_json(a: dict, b: dict) -> None:
    left, right = list(_numbers(a)), list(_numbers(b))
    assert [p for p, _ in left] == [p for p, _ in right]
    for (path, x), (_, y) in zip(left, right):
        if isinstance(x, float) and isinstance(y, float):
            if math.isnan(x) or math.isnan(y):
                assert math.isnan(x) and math.isnan(y), path
            else:
                assert x == pytest.approx(y, rel=REL, abs=1e-300), path
        else:
            assert x == y, path


@pytest.mark.parametrize(
    "args",
    [
        ["compute", "--weight-col", "w", "--group-by", "day"],
        ["compute", "--pred-col", "y_pred", "--pred-col", "model_b", "--losses", "mse,mae,huber"],
        ["compare", "--pred-col", "y_pred", "--pred-col", "model_b"],
        ["sensitivity"],
        ["recommend"],
    ],
)
def test_commands_on_a_directory_equal_one_file(run, dataset, args):
    root, single, _ = dataset
    command, rest = args[0], args[1:]
    got = run(command, root, *rest, "--format", "json")
    assert got.exit_code == 0, got.stderr
    want = run(command, single, *rest, "--format", "json")
    assert want.exit_code == 0, want.stderr
    mine, theirs = json.loads(got.stdout), json.loads(want.stdout)
    assert mine["source"] == str(root)
    assert_same_json(mine, theirs)


def test_group_by_hive_folders(run_json, dataset):
    root, _, whole = dataset
    payload = run_json("compute", root, "--group-by", "day", "--losses", "mse")
    assert payload["group_by"] == "day"
    groups = {r["group"]: r for r in payload["results"]}
    y, p = whole.column("y_true").to_numpy(), whole.column("y_pred").to_numpy()
    day = np.array(whole.column("day").to_pylist())
    for value in ("2026-11-01", "2026-11-02", "2026-11-03"):
        mask = day == value
        mse = float(np.mean((y[mask] - p[mask]) ** 2))
        assert groups[value]["value"] == pytest.approx(mse, rel=REL)
        assert groups[value]["n_rows"] == int(mask.sum())


def test_report_on_a_directory(run, dataset, tmp_path):
    root, _, _ = dataset
    out = tmp_path / "r.html"
    result = run("report", root, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert "<html" in out.read_text()[:500].lower()
    assert not list(root.glob("*.html"))  # nothing written into the input folder


def test_rows_in_sorted_path_order_with_row_numbers_over_the_dataset(dataset, monkeypatch):
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 1024)
    monkeypatch.setattr(source_module, "TABLE_BATCH_ROWS", 50)
    root, _, whole = dataset
    source = open_source(str(root), InputOptions(group_by="day"))
    assert [os.path.relpath(f.path, root) for f in source.files] == [
        f"{day}/part-{i}.{'csv' if day == DAYS[1] else 'parquet'}" for day in DAYS for i in (0, 1)
    ]
    chunks = list(source.batches())
    assert len(chunks) > len(source.files)
    np.testing.assert_array_equal(
        np.concatenate([c.y_true for c in chunks]), whole.column("y_true").to_numpy()
    )
    np.testing.assert_array_equal(
        np.concatenate([c.row_numbers for c in chunks]), np.arange(1, whole.num_rows + 1)
    )
    np.testing.assert_array_equal(
        np.concatenate([c.groups for c in chunks]).astype(str),
        np.array(whole.column("day").to_pylist()),
    )


def test_partitions_of_a_directory(dataset, monkeypatch):
    monkeypatch.setattr(source_module, "TABLE_BATCH_ROWS", 50)
    root, _, whole = dataset
    source = open_source(str(root), InputOptions(group_by="day", weight_col="w"))
    parts = [pickle.loads(pickle.dumps(p)) for p in source.partitions()]
    assert [p.path for p in parts] == [f.path for f in source.files]
    assert [p.hive for p in parts][0] == (("day", "2026-11-01"),)
    # Parquet files before any CSV: offsets from their metadata; after an unread CSV: unknown.
    assert parts[0].row_offset == 0 and parts[1].row_offset is not None
    assert parts[3].row_offset is None
    direct = list(source.batches())
    # After a full pass every file's rows are known.
    offsets = [p.row_offset for p in source.partitions()]
    assert None not in offsets
    got = [c for p in source.partitions() for c in p.batches()]
    for name in ("y_true", "row_numbers", "weights", "groups"):
        a = np.concatenate([getattr(c, name) for c in direct])
        b = np.concatenate([getattr(c, name) for c in got])
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert all(c.task.value == "regression" for c in got)


def test_glob_and_file_url(run_json, dataset, tmp_path):
    root, single, _ = dataset
    want = run_json("compute", single, "--losses", "mse,mae")
    for spec in (f"{root}/**/part-*.*", f"file://{root}", f"{root}/day=*"):
        got = run_json("compute", spec, "--losses", "mse,mae")
        assert_same_json(got, want)
    # A glob of only the CSV files: just those rows.
    csv_only = run_json("compute", f"{root}/**/*.csv", "--losses", "mse")
    assert csv_only["n_rows"] == sum(
        pacsv.read_csv(p).num_rows for p in sorted(root.glob(f"{DAYS[1]}/*.csv"))
    )


def test_api_reads_a_directory(dataset):
    root, single, _ = dataset
    got = lc.compute(root, losses="mse", group_by="day").to_dict()
    want = lc.compute(str(single), losses="mse", group_by="day").to_dict()
    assert_same_json(got, want)
    with pytest.raises(UsageError, match="for URLs"):
        lc.compute(root, storage_options={"anon": True})


def test_hive_keys_are_not_taken_for_predictions(run_json, tmp_path):
    # A partition key named like a column family ("label") or a model stays out of the
    # columns unless an option names it.
    for key in ("label", "y_pred_b"):
        root = tmp_path / key
        for i, value in enumerate(("x", "y")):
            folder = root / f"{key}={value}"
            folder.mkdir(parents=True)
            pq.write_table(_frame(i, 40), folder / "p.parquet")
        payload = run_json("compute", root, "--losses", "mse")
        assert payload["task"] == "regression"
        assert [r["model"] for r in payload["results"]] == ["y_pred"]


def test_whole_input_checks_span_the_files(run_json, run, tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    # The first file: every row has a missing prediction; the second is fine. With
    # --nan drop this is not "nothing left" (that holds for the dataset, not a file).
    (root / "a.csv").write_text("y_true,y_pred\n1,\n2,\n")
    (root / "b.csv").write_text("y_true,y_pred\n1,1.5\n3,2\n")
    payload = run_json("compute", root, "--nan", "drop", "--losses", "mse")
    assert payload["n_rows"] == 2 and payload["n_dropped"] == 2
    # Missing values are counted over the dataset, and the first is located in its file.
    result = run("compute", root, "--losses", "mse")
    line = assert_error(result, 1, "2 missing", "rows 1, 2", "row 1 is row 1 of")
    assert str(root / "a.csv") in line
    # 0/1 targets in one file, continuous in the next: regression for the whole dataset.
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "a.csv").write_text("y_true,y_pred\n0,0.2\n1,0.7\n")
    (labels / "b.csv").write_text("y_true,y_pred\n2.5,0.3\n")
    assert run_json("compute", labels, "--losses", "mse")["task"] == "regression"


def test_row_errors_name_the_file_and_its_row(run, tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    (root / "a.csv").write_text("y_true,y_pred\n1,1\n2,2\n3,3\n")
    (root / "b.csv").write_text("y_true,y_pred\n1,1\n2,abc\n")
    line = assert_error(run("compute", root), 1, "rows 5", f"row 5 is row 2 of {root / 'b.csv'}")
    assert "abc" in line
    (root / "b.csv").write_text("y_true,y_pred,w\n1,1,1\n")
    assert_error(
        run("compute", root),
        1,
        f"{root / 'b.csv'} does not have the columns of {root / 'a.csv'}",
        "extra w",
    )
    (root / "b.csv").write_text("y_true\n1\n")
    assert_error(run("compute", root), 1, "missing y_pred")
    # Same columns in another order: read in the first file's order.
    (root / "b.csv").write_text("y_pred,y_true\n1.5,1\n")
    ok = run("compute", root, "--losses", "mse", "--format", "json")
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout)["results"][0]["value"] == pytest.approx(0.25 / 4, rel=REL)


def test_unreadable_or_broken_partition_names_the_file(run, tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    pq.write_table(_frame(1, 20), root / "a.parquet")
    (root / "b.parquet").write_bytes(b"PAR1 this is not parquet")
    assert_error(run("compute", root), 1, f"{root / 'b.parquet'} is not a valid Parquet file")
    (root / "b.parquet").unlink()
    (root / "b.parquet").symlink_to(tmp_path / "gone.parquet")
    assert_error(run("compute", root), 1, f"file not found: {root / 'b.parquet'}")


def test_empty_layouts_are_clear_errors(run, tmp_path):
    empty = tmp_path / "empty"
    (empty / "_temporary").mkdir(parents=True)
    (empty / "_SUCCESS").write_text("")
    assert_error(run("compute", empty), 1, "is a directory with no data files", "CSV")
    assert_error(run("compute", f"{tmp_path}/*.parquet"), 1, "matches no file", "quote it")
    (tmp_path / "notes.txt").write_text("x")
    assert_error(run("compute", f"{tmp_path}/*.txt"), 1, "matches only notes.txt")
    assert_error(run("compute", f"file://{tmp_path}/nope.csv"), 1, "file not found")


def test_hive_layout_errors(run, tmp_path):
    root = tmp_path / "d"
    (root / "day=1").mkdir(parents=True)
    (root / "other").mkdir()
    pq.write_table(_frame(1, 20), root / "day=1" / "a.parquet")
    pq.write_table(_frame(2, 20), root / "other" / "b.parquet")
    assert_error(run("compute", root), 1, "sits under partition folders (none)", "day=")
    (root / "other" / "b.parquet").unlink()
    table = _frame(3, 20).append_column("day", pa.array(["x"] * 20))
    pq.write_table(table, root / "day=1" / "c.parquet")
    (root / "day=1" / "a.parquet").unlink()
    assert_error(run("compute", root, "--group-by", "day"), 1, "column day is both a column of")


def test_storage_option_usage_errors(run, dataset):
    root, single, _ = dataset
    assert_error(run("compute", single, "--storage-option", "anon=true"), 2, "not for the local")
    assert_error(run("compute", root, "--storage-option", "novalue"), 2, "expects KEY=VALUE")
    line = assert_error(
        run("compute", "s3://b/k/", "--storage-option", "secret", "--storage-option", "x"),
        2,
        "KEY=VALUE",
    )
    assert "secret" in line
    assert_error(
        run("compute", "s3://b/", "--storage-option", "a=1", "--storage-option", "a=2"),
        2,
        "given twice",
    )


def test_storage_option_values():
    assert storage_option_value("true") is True and storage_option_value("False") is False
    assert storage_option_value("none") is None
    assert storage_option_value("8") == 8 and isinstance(storage_option_value("8"), int)
    assert storage_option_value("0.5") == 0.5 and storage_option_value("1e3") == 1000.0
    assert storage_option_value('{"region_name": "eu-west-1"}') == {"region_name": "eu-west-1"}
    assert storage_option_value("http://localhost:9000") == "http://localhost:9000"
    assert parse_storage_options(["endpoint_url=http://h:1/?a=b", "anon=true"]) == {
        "endpoint_url": "http://h:1/?a=b",
        "anon": True,
    }
    with pytest.raises(UsageError, match="not valid JSON"):
        storage_option_value("{oops")


def test_data_file_names():
    assert is_data_file("a/part-0.snappy.parquet") and is_data_file("x.csv.gz")
    assert is_data_file("x.TSV")
    for name in ("_SUCCESS", ".part-0.crc", "_metadata", "notes.txt", "x.json.gz", ".a.csv"):
        assert not is_data_file(name), name


def test_local_inputs_do_not_import_fsspec(dataset):
    root, _, _ = dataset
    code = (
        "import sys; from losscli.cli import run; sys.argv = ['loss', 'compute', "
        f"{str(root)!r}, '--losses', 'mse', '--format', 'json'];\n"
        "try:\n    run()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'fsspec' not in sys.modules, 'fsspec imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("blocked", "url"), [("fsspec", "s3://bucket/preds/"), ("s3fs", "s3://bucket/preds/")]
)
def test_url_without_the_cloud_extra(blocked, url):
    # The package is made unimportable, as on an install without the extra.
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "from losscli.cli import main\n"
        f"sys.argv = ['loss', 'compute', {url!r}]\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert "pip install 'losscli[cloud]'" in lines[0]


@pytest.mark.parametrize("command", ["compute", "compare", "sensitivity"])
def test_errors_found_by_the_losses_name_the_file(run, tmp_path, command):
    # A value outside a loss's domain is found while computing, after the rows were read.
    root = tmp_path / "d"
    root.mkdir()
    (root / "a.csv").write_text("y_true,y_pred\n1,1\n2,2\n")
    (root / "b.csv").write_text("y_true,y_pred\n1,1\n-2,2\n")
    assert_error(
        run(command, root, "-l", "msle"),
        1,
        "loss msle",
        "at row 4",
        f"(row 4 is row 2 of {root / 'b.csv'})",
    )


def test_id_col_and_group_by_from_hive_folders(run, dataset, tmp_path):
    root, _, whole = dataset
    out = tmp_path / "per_sample.csv"
    result = run("compute", root, "-l", "mse", "--per-sample", out, "--id-col", "day")
    assert result.exit_code == 0, result.stderr
    rows = pacsv.read_csv(out)
    assert rows.column_names[:2] == ["row", "day"]
    assert rows.column("day").cast(pa.string()).to_pylist() == whole.column("day").to_pylist()


def test_report_default_name_for_globs_and_urls():
    from losscli.cli.report import default_output

    assert default_output("logs/**/part-*.csv") == "logs.loss-report.html"
    assert default_output("s3://bucket/preds/") == "preds.loss-report.html"
    assert default_output("s3://bucket/preds/*.parquet") == "preds.loss-report.html"
    assert default_output("*.csv") == "data.loss-report.html"
    assert default_output("preds/") == "preds.loss-report.html"


@pytest.fixture
def web_server(tmp_path):
    """A local web server over a folder (index pages list its files as links)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    folder = tmp_path / "site"
    folder.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_file_and_index_page(run_json, run, web_server):
    pytest.importorskip("fsspec")
    pytest.importorskip("aiohttp", reason="fsspec reads http(s) URLs with aiohttp")
    folder, base = web_server
    (folder / "day=1").mkdir()
    (folder / "day=2").mkdir()
    (folder / "day=1" / "a.csv").write_text("y_true,y_pred\n1,1.5\n2,2\n")
    (folder / "day=2" / "b.csv").write_text("y_true,y_pred\n3,2\n4,4.5\n")
    one = run_json("compute", f"{base}/day=1/a.csv", "-l", "mse")
    assert one["n_rows"] == 2 and one["results"][0]["value"] == pytest.approx(0.125, rel=REL)
    every = run_json("compute", f"{base}/", "-l", "mse", "--group-by", "day")
    assert every["n_rows"] == 4
    assert [(r["group"], r["value"]) for r in every["results"]] == [
        (None, pytest.approx(0.375, rel=REL)),
        ("1", pytest.approx(0.125, rel=REL)),
        ("2", pytest.approx(0.625, rel=REL)),
    ]
    assert_error(run("compute", f"{base}/nope.csv"), 1, f"file not found: {base}/nope.csv")


def test_output_into_the_input_directory_is_refused(run, dataset, tmp_path):
    root, _, _ = dataset
    inside = root / DAYS[0] / "losses.csv"
    result = run("compute", root, "-l", "mse", "--per-sample", inside)
    assert_error(result, 2, "inside the input directory", "choose a path outside")
    assert not inside.exists()
    outside = tmp_path / "losses.csv"
    assert run("compute", root, "-l", "mse", "--per-sample", outside).exit_code == 0


def test_group_cap_counts_groups_over_every_file(run, tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    for name, start in (("a.csv", 0), ("b.csv", 600)):
        lines = ["y_true,y_pred,g"] + [f"1,2,g{start + i}" for i in range(600)]
        (root / name).write_text("\n".join(lines) + "\n")
    assert_error(run("compute", root, "--group-by", "g"), 1, "more than 1,000 distinct values")
    (root / "b.csv").write_text((root / "a.csv").read_text())  # the same 600 groups again
    assert run("compute", root, "--group-by", "g", "-l", "mse").exit_code == 0


@pytest.mark.parametrize(("url", "package"), [("gs://b/p/", "gcsfs"), ("abfs://c/p/", "adlfs")])
def test_other_clouds_without_their_package(run, url, package):
    pytest.importorskip("fsspec")
    try:
        __import__(package)
    except ImportError:
        assert_error(run("compute", url), 1, package, "pip install 'losscli[cloud]'")
    else:
        pytest.skip(f"{package} is installed here")


def test_empty_files_add_no_rows(run, run_json, tmp_path):
    # Writers leave empty partitions (a header, or a Parquet schema, and no rows).
    root = tmp_path / "d"
    root.mkdir()
    (root / "a.csv").write_text("y_true,y_pred\n")
    pq.write_table(
        pa.table({"y_true": pa.array([], pa.float64()), "y_pred": pa.array([], pa.float64())}),
        root / "b.parquet",
    )
    (root / "c.csv").write_text("y_true,y_pred\n1,1.5\n2,2\n3,2\n4,4.5\n")
    payload = run_json("compute", root, "-l", "mse")
    assert payload["n_rows"] == 4
    assert payload["results"][0]["value"] == pytest.approx(0.375, rel=REL)
    source = open_source(str(root), InputOptions())
    parts = source.partitions()
    assert [sum(c.n_rows for c in p.batches()) for p in parts] == [0, 0, 4]
    (root / "c.csv").write_text("y_true,y_pred\n")
    assert_error(run("compute", root), 1, "every file has a header but no data rows")
