"""Every bad input gets one clear ``Error:`` line, the right exit code and no output (issue 7).

Each case asserts: the exit code, the message (what is wrong, where, what to do),
an empty stdout, and that no --per-sample file (nor a temporary file) is left
behind. Awkward but valid inputs are checked to give the same numbers as a
clean file.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import math
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from losscli.cli import cli

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
CLEAN = b"y_true,y_pred\n1,1.5\n2,2\n3,2\n4,4.5\n"
CLEAN_MSE = (0.25 + 0 + 1 + 0.25) / 4


def assert_error(result, code: int, *fragments: str) -> str:
    """One ``Error:`` line naming every fragment; nothing on stdout; no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if code == 2:  # Click's usage errors print a usage line first
        lines = [line for line in lines if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def check(run, tmp_path):
    """Run ``loss compute PATH ARGS --per-sample OUT`` and assert the error and no output."""

    def invoke(content: bytes, name: str, args: list[str], code: int, *fragments: str) -> str:
        path = tmp_path / name
        path.write_bytes(content)
        out = tmp_path / "out" / "per_sample.csv"
        out.parent.mkdir(exist_ok=True)
        result = run("compute", path, *args, "--per-sample", out)
        line = assert_error(result, code, *fragments)
        assert list(out.parent.iterdir()) == [], "a partial output file was left behind"
        return line

    return invoke


def mse_of(run, path: Path, *args: str) -> float:
    result = run("compute", path, "-l", "mse", "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)["results"][0]["value"]


# --------------------------------------------------------------------------- files


def test_missing_file(run, tmp_path):
    assert_error(run("compute", tmp_path / "nope.csv"), 1, "file not found", "nope.csv")


def test_directory(run, tmp_path):
    assert_error(run("compute", tmp_path), 1, "is a directory", "CSV")


def test_unreadable_file(run, tmp_path, monkeypatch):
    path = tmp_path / "secret.csv"
    path.write_bytes(CLEAN)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # root reads a chmod 000 file anyway: simulate the refusal at open().
        import losscli.io.reader as reader

        real_open = open

        def refuse(file, mode="r", *args, **kwargs):
            if str(file) == str(path):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, mode, *args, **kwargs)

        monkeypatch.setattr(reader, "open", refuse, raising=False)
    else:  # pragma: no cover - CI runs as root
        path.chmod(0)
    assert_error(run("compute", path), 1, "cannot read", "permission denied")


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"", ("is empty", "header row")),
        (b"\n\n   \n\r\n", ("is empty",)),
        (b"y_true,y_pred\n", ("has a header but no data rows",)),
        (b"y_true,y_pred\n\n\n", ("has a header but no data rows",)),
    ],
    ids=["empty", "blank-lines", "header-only", "header-and-blank-lines"],
)
def test_empty_files(check, content, fragments):
    check(content, "data.csv", [], 1, "data.csv", *fragments)


def test_utf8_bom_just_works(run, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CLEAN)
    assert mse_of(run, path) == pytest.approx(CLEAN_MSE)


@pytest.mark.parametrize(
    ("encoding", "fragments"),
    [
        ("utf-16", ("UTF-16", "--encoding utf-16")),
        ("utf-16-le", ("UTF-16", "--encoding utf-16")),
        ("latin-1", ("not valid UTF-8", "line 1", "--encoding latin-1")),
    ],
)
def test_other_encodings_suggest_encoding_which_then_works(
    check, run, tmp_path, encoding, fragments
):
    text = "y_true,y_pred,café\n1,1.5,é\n2,2,è\n3,2,ü\n4,4.5,ß\n"
    content = text.encode(encoding)
    check(content, "data.csv", [], 1, *fragments)
    path = tmp_path / "data.csv"
    assert mse_of(run, path, "--encoding", encoding) == pytest.approx(CLEAN_MSE)


def test_unknown_encoding_is_a_usage_error(check):
    check(CLEAN, "data.csv", ["--encoding", "klingon"], 2, "unknown encoding 'klingon'")


def test_latin1_error_names_the_line(check):
    content = "y_true,y_pred,note\n1,1.5,ok\n2,2,caf\xe9\n".encode("latin-1")
    check(content, "data.csv", [], 1, "line 3", "column 8", "--encoding")


@pytest.mark.parametrize(
    ("name", "content", "fragments"),
    [
        ("data.csv.gz", CLEAN, ("not a valid gz file", "rename it")),
        ("data.csv.bz2", CLEAN, ("not a valid bz2 file",)),
        ("data.csv.xz", CLEAN, ("not a valid xz file",)),
        ("data.csv", gzip.compress(CLEAN), ("gzip-compressed", ".gz extension")),
        ("data.csv", bz2.compress(CLEAN), ("bzip2-compressed", ".bz2 extension")),
        ("data.csv", lzma.compress(CLEAN), ("xz-compressed", ".xz extension")),
        ("data.csv", b"PK\x03\x04" + bytes(200), ("ZIP archive", "export the sheet as CSV")),
        ("data.csv", b"PAR1" + bytes(50), ("Parquet", ".parquet extension")),
        ("data.parquet", CLEAN, ("not a valid Parquet file",)),
    ],
    ids=[
        "text-named-gz",
        "text-named-bz2",
        "text-named-xz",
        "gzip-named-csv",
        "bzip2-named-csv",
        "xz-named-csv",
        "xlsx-named-csv",
        "parquet-named-csv",
        "text-named-parquet",
    ],
)
def test_misnamed_compressed_files(check, name, content, fragments):
    check(content, name, [], 1, name, *fragments)


def _big_csv() -> bytes:
    rng = np.random.default_rng(1)
    rows = "".join(f"{a:.6f},{b:.6f}\n" for a, b in rng.normal(size=(5000, 2)))
    return b"y_true,y_pred\n" + rows.encode()


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("data.csv.gz", gzip.compress),
        ("data.csv.bz2", bz2.compress),
        ("data.csv.xz", lzma.compress),
    ],
)
def test_truncated_compressed_files(check, name, compress):
    packed = compress(_big_csv())
    check(packed[: len(packed) // 2], name, [], 1, name, "truncated", "re-create")


def test_binary_junk(check):
    junk = bytes(np.random.default_rng(7).integers(0, 256, 3000, dtype=np.uint8))
    check(junk, "data.csv", [], 1, "does not look like a text file", "line", "column")


def test_nul_bytes_in_text(check):
    check(b"y_true,y_pred\n1,2\x00\n", "data.csv", [], 1, "binary bytes at line 2, column 4")


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize(
    ("content", "name", "hint"),
    [
        (b"y_true;y_pred\n1;1.5\n2;2\n", "data.csv", "--delimiter ';'"),
        (b"y_true\ty_pred\n1\t1.5\n2\t2\n", "data.csv", "--delimiter 'tab'"),
        (b"y_true|y_pred\n1|1.5\n2|2\n", "data.csv", "--delimiter '|'"),
        (b"y_true,y_pred\n1,1.5\n2,2\n", "data.tsv", "--delimiter ','"),
        (b"y_true;y_pred\n1,5;1,0\n2,0;2,5\n", "data.csv", "--delimiter ';'"),
    ],
    ids=["semicolon", "tab", "pipe", "comma-in-tsv", "semicolon-decimal-comma"],
)
def test_wrong_delimiter_hints_the_right_one(check, content, name, hint):
    check(content, name, [], 1, "line 1", "single column", hint)


def test_decimal_commas_hint(check):
    content = b"y_true;y_pred\n1,5;1,0\n2,0;2,5\n"
    check(content, "data.csv", ["--delimiter", ";"], 1, "column y_true", "decimal comma")


def test_duplicate_columns(check):
    check(b"y_true,y_pred,y_pred\n1,2,3\n", "data.csv", [], 1, "line 1", "duplicate", "'y_pred'")


def test_duplicate_columns_after_trimming_spaces(check):
    check(b"y_true,y_pred, y_pred\n1,2,3\n", "data.csv", [], 1, "duplicate", "'y_pred'")


@pytest.mark.parametrize(
    ("content", "args", "fragments"),
    [
        (b"ytrue,y_pred\n1,2\n", [], ("'y_true' not found", "ytrue, y_pred", "'ytrue'")),
        (b"y_true,prediction\n1,2\n", [], ("'y_pred' not found", "--pred-col")),
        (CLEAN, ["--weight-col", "weight"], ("'weight' not found", "--weight-col")),
        (CLEAN, ["--group-by", "segment"], ("'segment' not found", "--group-by")),
    ],
    ids=["true", "pred", "weight", "group"],
)
def test_missing_columns_list_found_and_suggest(check, content, args, fragments):
    check(content, "data.csv", args, 1, *fragments)


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"y_true,y_pred\n1,2\n3,4,5\n6,7\n", ("line 3", "3 fields", "header has 2")),
        (b"y_true,y_pred\n1,2\n3,4\n5\n", ("line 4", "1 field but", "header has 2")),
        (b"y_true,y_pred\n1,2\n3,4,5\n6,7,8\n", ("line 3", "2 such rows")),
    ],
    ids=["too-many", "too-few", "several"],
)
def test_rows_with_wrong_field_counts(check, content, fragments):
    check(content, "data.csv", [], 1, *fragments)


@pytest.mark.parametrize(
    "content",
    [b'y_true,y_pred\n1,2\n"3,4\n6,7\n', b'y_true,y_pred\n1,2\n3,"4\n'],
    ids=["mid-file", "last-line"],
)
def test_unterminated_quote(check, content):
    check(content, "data.csv", [], 1, "line 3", "never closed")


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"# exported by tool\n# 2024\ny_true,y_pred\n1,2\n", ("line 1", "comment or preamble")),
        (b"// notes\ny_true,y_pred\n1,2\n", ("comment or preamble",)),
        (b"Model evaluation\ny_true,y_pred\n1,2\n", ("line 2", "title or comment", "delete")),
    ],
    ids=["hash-comments", "slash-comment", "title-line"],
)
def test_preamble_and_comment_lines(check, content, fragments):
    check(content, "data.csv", [], 1, *fragments)


def test_hash_column_name_is_not_a_comment(run, tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"#id,y_true,y_pred\n1,1,1.5\n2,2,2\n3,3,2\n4,4,4.5\n")
    assert mse_of(run, path) == pytest.approx(CLEAN_MSE)


# --------------------------------------------------------------------------- cells


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        (b"", "empty or NA cell"),
        (b"NA", "empty or NA cell"),
        (b"N/A", "empty or NA cell"),
        (b"null", "empty or NA cell"),
        (b"nan", "empty or NA cell"),
        (b"inf", "inf"),
        (b"-inf", "inf"),
        (b"1e400", "1e400"),
        (b"abc", "'abc'"),
        (b'"1,5"', "decimal comma"),
    ],
    ids=["empty", "NA", "N/A", "null", "nan", "inf", "-inf", "1e400", "text", "decimal-comma"],
)
def test_missing_cells(check, run, tmp_path, cell, shown):
    content = b"y_true,y_pred\n1,1.5\n2," + cell + b"\n3,2\n4,4.5\n"
    check(content, "data.csv", [], 1, "column y_pred", "1 missing", "rows 2", shown, "--nan drop")
    result = run("compute", tmp_path / "data.csv", "-l", "mse", "--nan", "drop", "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["n_rows"], report["n_dropped"]) == (3, 1)
    assert report["results"][0]["value"] == pytest.approx((0.25 + 1 + 0.25) / 3)


def test_missing_cells_count_and_first_rows(check):
    rows = b"".join(b"%d,\n" % i if i % 2 else b"%d,1\n" % i for i in range(1, 21))
    check(b"y_true,y_pred\n" + rows, "data.csv", [], 1, "10 missing", "rows 1, 3, 5, 7, 9, ...")


def test_missing_target_and_weight_cells(check):
    check(b"y_true,y_pred\n1,2\nx,3\n", "data.csv", [], 1, "column y_true", "'x'")
    content = b"y_true,y_pred,w\n1,2,1\n2,3,\n"
    check(content, "data.csv", ["--weight-col", "w"], 1, "column w", "rows 2")


def test_every_row_missing_with_drop(check):
    check(b"y_true,y_pred\n1,\n2,x\n", "data.csv", ["--nan", "drop"], 1, "every row")


# --------------------------------------------------------------------------- semantics


@pytest.mark.parametrize(
    ("content", "args", "fragments"),
    [
        (
            b"y_true,y_pred\n0,0.2\n1,1.7\n",
            ["-l", "bce"],
            ("loss bce", "column y_pred", "1.7", "row 2", "[0, 1]", "--from-logits"),
        ),
        (
            b"y_true,y_pred\n0,-0.2\n1,0.7\n",
            ["-l", "focal"],
            ("loss focal", "-0.2", "row 1", "--from-logits"),
        ),
        (
            b"y_true,y_pred_a,y_pred_b\na,0.2,1.8\nb,0.5,0.5\n",
            ["-l", "cce"],
            ("loss cce", "y_pred_b", "1.8", "row 1", "--from-logits"),
        ),
    ],
    ids=["bce", "focal", "cce"],
)
def test_probabilities_outside_unit_interval(check, content, args, fragments):
    check(content, "data.csv", args, 1, *fragments)


@pytest.mark.parametrize(
    ("content", "args", "fragments"),
    [
        (
            b"y_true,y_pred\n0,0.2\n2,0.7\n",
            ["--task", "binary"],
            ("column y_true", "0/1", "found 2 at row 2", "--task regression"),
        ),
        (
            b"y_true,y_pred_a,y_pred_b\na,0.5,0.5\nc,0.1,0.9\n",
            [],
            ("class 'c' at row 2", "y_pred_c", "a, b"),
        ),
        (
            b"y_true_a,y_pred_a,y_pred_b\n1,0.5,0.5\n",
            [],
            ("soft targets", "missing: y_true_b"),
        ),
        (
            b"y_true_a,y_true_b,y_pred_a,y_pred_b\n1.5,-0.5,0.5,0.5\n",
            [],
            ("soft targets", "[0, 1]", "row 1"),
        ),
        (
            b"y_true,y_pred\n1,0.2\n2,0.7\n",
            ["-l", "bce"],
            ("bce is a binary loss", "regression", "--task"),
        ),
        (
            b"y_true,y_pred\n1,0.2\n2,0.7\n",
            ["-l", "coverage"],
            ("coverage is an interval loss", "regression"),
        ),
    ],
    ids=[
        "binary-label-2",
        "unknown-class",
        "partial-soft-targets",
        "soft-out-of-range",
        "wrong-task",
        "wrong-task-an",
    ],
)
def test_labels_and_classes(check, content, args, fragments):
    check(content, "data.csv", args, 1, *fragments)


@pytest.mark.parametrize(
    ("loss", "content", "fragments"),
    [
        (
            "msle",
            b"y_true,y_pred\n1,2\n-2,1\n",
            ("loss msle", "column y_true", "-2", "row 2", "> -1"),
        ),
        ("rmsle", b"y_true,y_pred\n1,-1\n", ("loss rmsle", "column y_pred", "row 1")),
        ("poisson", b"y_true,y_pred\n1,2\n2,0\n", ("loss poisson", "y_pred", "row 2", "> 0")),
        ("poisson", b"y_true,y_pred\n2,2\n-1,2\n", ("loss poisson", "y_true", "row 2", ">= 0")),
        ("gamma", b"y_true,y_pred\n0,2\n", ("loss gamma", "y_true", "> 0")),
        ("gamma", b"y_true,y_pred\n1,-2\n", ("loss gamma", "y_pred", "> 0")),
        ("tweedie:power=1.5", b"y_true,y_pred\n1,0\n", ("loss tweedie", "y_pred")),
    ],
    ids=["msle", "rmsle", "poisson-pred", "poisson-true", "gamma-true", "gamma-pred", "tweedie"],
)
def test_loss_domains(check, loss, content, fragments):
    check(content, "data.csv", ["-l", loss], 1, *fragments)


def test_mape_with_zero_targets_is_valid_but_warned(run, tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"y_true,y_pred\n0,1\n2,2.5\n")
    result = run("compute", path, "-l", "mape", "--format", "json")
    assert result.exit_code == 0
    value = json.loads(result.stdout)["results"][0]["value"]
    eps = float(np.finfo(float).eps)
    assert value == pytest.approx((1 / eps + 0.25) / 2)  # sklearn's eps floor
    assert "P-MAPE0" in result.stderr and "rows 1" in result.stderr


@pytest.mark.parametrize(
    ("weights", "fragments"),
    [
        (b"1,-1,1,1", ("column w", ">= 0", "found -1 at row 2")),
        (b"0,0,0,0", ("column w", "all sample weights are zero")),
        (b"1e308,1e308,1,1", ("column w", "rescale")),
    ],
    ids=["negative", "all-zero", "overflowing-sum"],
)
def test_bad_weights(check, weights, fragments):
    w = weights.split(b",")
    rows = b"".join(b"%d,%d,%s\n" % (i, i, x) for i, x in enumerate(w, start=1))
    check(b"y_true,y_pred,w\n" + rows, "data.csv", ["--weight-col", "w"], 1, *fragments)


def test_text_group_values_are_fine_but_numeric_columns_of_odd_types_are_not(run, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "data.parquet"
    table = pa.table({"y_true": [1.0, 2.0], "y_pred": pa.array([[1.0], [2.0]])})
    pq.write_table(table, path)
    assert_error(run("compute", path), 1, "column y_pred", "not numbers")


def test_invalid_boxes(check):
    header = b"true_x1,true_y1,true_x2,true_y2,pred_x1,pred_y1,pred_x2,pred_y2\n"
    content = header + b"0,0,1,1,0,0,1,1\n0,0,1,1,5,0,1,1\n"
    check(content, "boxes.csv", [], 1, "pred_x2", "row 2", "x2 >= x1")


def test_embedding_size_mismatch(check):
    content = b"label,a_0,a_1,b_0\n0,1,2,3\n"
    check(content, "pairs.csv", [], 1, "embedding dimension mismatch", "2 a_*", "1 b_*")


# --------------------------------------------------------------------------- output files


def test_per_sample_into_missing_folder(run, tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(CLEAN)
    result = run("compute", path, "--per-sample", tmp_path / "nowhere" / "out.csv")
    assert_error(result, 1, "cannot write", "does not exist")


def test_per_sample_appears_whole_on_success(run, tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(CLEAN)
    out = tmp_path / "out" / "per_sample.csv"
    out.parent.mkdir()
    result = run("compute", path, "-l", "mse", "--per-sample", out)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["per_sample.csv"]
    assert out.read_text().splitlines()[0] == "row,model,mse"


def test_per_sample_interrupted_while_writing_leaves_nothing(run, tmp_path, monkeypatch):
    from losscli.report.per_sample import PerSampleWriter

    def explode(self, chunk, items):
        self.sink.write(b"row,model,mse\n1,y_pred,0.25\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(PerSampleWriter, "add", explode)
    path = tmp_path / "data.csv"
    path.write_bytes(CLEAN)
    out = tmp_path / "out" / "per_sample.csv"
    out.parent.mkdir()
    result = run("compute", path, "-l", "mse", "--per-sample", out)
    assert result.exit_code == 130
    assert "Traceback" not in result.stderr
    assert list(out.parent.iterdir()) == []


def test_per_sample_keeps_an_existing_file_on_error(run, tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"y_true,y_pred\n1,abc\n")
    out = tmp_path / "per_sample.csv"
    out.write_text("previous\n")
    result = run("compute", path, "--per-sample", out)
    assert_error(result, 1, "column y_pred")
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "per_sample.csv"]


def test_plot_into_missing_folder_writes_nothing(run, tmp_path):
    pytest.importorskip("matplotlib")
    result = run("compare", "-l", "mse,mae", "--plot", tmp_path / "nowhere" / "plot.png")
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "nowhere").exists()


# --------------------------------------------------------------------------- awkward but valid


@pytest.mark.parametrize(
    ("name", "content", "args"),
    [
        ("crlf.csv", CLEAN.replace(b"\n", b"\r\n"), []),
        ("no-newline.csv", CLEAN.rstrip(b"\n"), []),
        ("quoted.csv", b'"y_true","y_pred"\n"1","1.5"\n"2","2"\n"3","2"\n"4","4.5"\n', []),
        ("spaces.csv", b"y_true , y_pred\n 1 , 1.5 \n2,  2\n 3,2\n4 ,4.5\n", []),
        ("extra.csv", b"id,y_true,note,y_pred\n1,1,a,1.5\n2,2,b,2\n3,3,,2\n4,4,d,4.5\n", []),
        ("blank-lines.csv", b"y_true,y_pred\n1,1.5\n\n2,2\n   \n3,2\n4,4.5\n\n", []),
        ("data.tsv", CLEAN.replace(b",", b"\t"), []),
        ("data.txt", CLEAN.replace(b",", b";"), ["--delimiter", ";"]),
        ("data.csv.gz", gzip.compress(CLEAN), []),
        ("data.csv.bz2", bz2.compress(CLEAN), []),
        ("data.csv.xz", lzma.compress(CLEAN), []),
        ("data.tsv.gz", gzip.compress(CLEAN.replace(b",", b"\t")), []),
        ("bom-crlf.csv", b"\xef\xbb\xbf" + CLEAN.replace(b"\n", b"\r\n"), []),
        ("exponent.csv", b"y_true,y_pred\n1E0,15e-1\n2.0,+2\n3,2.\n4,.45e1\n", []),
    ],
)
def test_awkward_but_valid_input_just_works(run, tmp_path, name, content, args):
    path = tmp_path / name
    path.write_bytes(content)
    assert mse_of(run, path, *args) == pytest.approx(CLEAN_MSE)


def test_stdin(run):
    result = run("compute", "-", "-l", "mse", "--format", "json", input=CLEAN)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["value"] == pytest.approx(CLEAN_MSE)
    assert_error(run("compute", "-", input=b""), 1, "stdin is empty")


def test_parquet_float32_is_accumulated_in_float64(run, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    y = rng.normal(1000, 50, 20000).astype(np.float32)
    p = (y + rng.normal(0, 1, 20000)).astype(np.float32)
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"y_true": y, "y_pred": p}), path)
    expected = float(np.mean((y.astype(np.float64) - p.astype(np.float64)) ** 2))
    assert mse_of(run, path) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- numerical robustness


def test_extreme_logits_give_finite_losses(run, tmp_path):
    path = tmp_path / "logits.csv"
    path.write_bytes(b"y_true,y_pred\n1,-1e4\n0,1e4\n1,1e4\n0,-1e4\n")
    result = run("compute", path, "--from-logits", "-l", "bce,focal,hinge", "--format", "json")
    assert result.exit_code == 0, result.stderr
    values = {r["loss"]: r["value"] for r in json.loads(result.stdout)["results"]}
    assert values["bce"] == pytest.approx(1e4 / 2)
    assert all(v is not None and math.isfinite(v) for v in values.values())

    path = tmp_path / "mc.csv"
    path.write_bytes(b"y_true,y_pred_a,y_pred_b\na,-1e4,1e4\nb,-1e4,1e4\n")
    result = run("compute", path, "--from-logits", "-l", "cce", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["value"] == pytest.approx(1e4)


def test_log_cosh_of_huge_errors_is_finite(run, tmp_path):
    path = tmp_path / "huge.csv"
    path.write_bytes(b"y_true,y_pred\n1e300,-1e300\n0,1e200\n")
    result = run("compute", path, "-l", "log_cosh,huber,mae", "--format", "json")
    assert result.exit_code == 0, result.stderr
    values = {r["loss"]: r["value"] for r in json.loads(result.stdout)["results"]}
    assert values["log_cosh"] == pytest.approx((2e300 + 1e200) / 2 - math.log(2))
    assert all(v is not None and math.isfinite(v) for v in values.values())


def test_overflowing_square_is_a_warned_inf_never_nan(run, tmp_path):
    path = tmp_path / "huge.csv"
    path.write_bytes(b"y_true,y_pred\n1e200,-1e200\n1,2\n")
    result = run("compute", path, "-l", "mse,rmse", "--format", "csv")
    assert result.exit_code == 0
    assert "nan" not in result.stdout.lower()
    assert "inf" in result.stdout
    assert "overflow float64" in result.stderr


def test_sum_of_huge_finite_squares_does_not_overflow(run, tmp_path):
    path = tmp_path / "huge.csv"
    path.write_bytes(b"y_true,y_pred\n1e154,0\n1e154,0\n1e154,0\n")
    assert mse_of(run, path) == pytest.approx(1e308)


# --------------------------------------------------------------------------- the last resort


def _boom(*args, **kwargs):
    raise RuntimeError("kernel exploded\nwith a second line")


def test_unexpected_exception_is_one_line_asking_for_a_bug_report(run, tmp_path, monkeypatch):
    import losscli.analysis.evaluate as evaluate

    monkeypatch.setattr(evaluate, "check_domain", _boom)
    path = tmp_path / "data.csv"
    path.write_bytes(CLEAN)
    line = assert_error(
        run("compute", path), 1, "internal error", "RuntimeError", "bug", "--traceback"
    )
    assert "kernel exploded with a second line" in line


def test_traceback_flag_shows_the_traceback(tmp_path, monkeypatch):
    import losscli.analysis.evaluate as evaluate

    monkeypatch.setattr(evaluate, "check_domain", _boom)
    path = tmp_path / "data.csv"
    path.write_bytes(CLEAN)
    result = CliRunner().invoke(cli, ["--traceback", "compute", str(path)])
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    assert "kernel exploded" in "".join(__import__("traceback").format_exception(result.exception))


def test_traceback_flag_on_a_data_error_prints_it_and_the_error_line(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"y_true,y_pred\n1,abc\n")
    result = CliRunner().invoke(cli, ["--traceback", "compute", str(path)])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: column y_pred")


def test_keyboard_interrupt_exits_130_quietly(run, tmp_path, monkeypatch):
    import losscli.analysis.evaluate as evaluate

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "check_domain", interrupt)
    path = tmp_path / "data.csv"
    path.write_bytes(CLEAN)
    result = run("compute", path)
    assert result.exit_code == 130
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "Interrupted" in result.stderr


def test_usage_errors_exit_2(run, tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(CLEAN)
    assert_error(run("compute", path, "-l", "msee"), 2, "unknown loss", "mse")
    assert_error(run("compute", path, "-l", "huber:delta=0"), 2, "delta")
    assert_error(run("compute", path, "--delimiter", ";;"), 2, "one ASCII character")
    assert run("compute", path, "--no-such-option").exit_code == 2


def test_check_text_start_for_streaming_readers():
    from losscli.errors import InputError
    from losscli.io.reader import check_text_start

    check_text_start(b"y_true,y_pred\n1,2\n3,\xc3", "big.csv")  # cut inside a character: fine
    for head, fragment in [
        (b"y_true;y_pred\n1;2\n", "--delimiter ';'"),
        (b"# comment\ny_true,y_pred\n", "comment or preamble"),
        (gzip.compress(CLEAN), "gzip-compressed"),
        (b"y_true,y_pred\n1,\xe9\n", "--encoding latin-1"),
    ]:
        with pytest.raises(InputError, match=fragment.replace("(", r"\(")):
            check_text_start(head, "big.csv")


@pytest.mark.parametrize(
    ("content", "encoding", "fragments"),
    [
        (CLEAN, "utf-16", ("cannot be decoded as utf-16", "check --encoding")),
        (CLEAN, "utf-32", ("cannot be decoded as utf-32",)),
        ("y_true,y_pred,n\n1,2,\u00e9\n".encode("latin-1"), "ascii", ("as ascii",)),
        ("y_true,y_pred\n1,2\n".encode("utf-16"), "latin-1", ("UTF-16", "--encoding utf-16")),
    ],
    ids=["utf8-as-utf16", "utf8-as-utf32", "latin1-as-ascii", "utf16-as-latin1"],
)
def test_a_wrong_explicit_encoding(check, content, encoding, fragments):
    check(content, "data.csv", ["--encoding", encoding], 1, *fragments)


def test_group_column_that_is_not_text(run, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "data.parquet"
    table = pa.table({"y_true": [1.0, 2.0], "y_pred": [1.0, 2.5], "g": pa.array([[1], [2]])})
    pq.write_table(table, path)
    assert_error(run("compute", path, "--group-by", "g"), 1, "column g (--group-by)", "group names")


def test_streaming_reader_reports_bad_utf8_with_its_line(run, tmp_path, monkeypatch):
    from losscli.io import text

    monkeypatch.setattr(text, "WHOLE_BYTES", 1)
    monkeypatch.setattr(text, "CHUNK_BYTES", 64)
    rows = b"".join(b"%d,%d\n" % (i, i) for i in range(1, 40))
    path = tmp_path / "data.csv"
    path.write_bytes(b"y_true,y_pred\n" + rows + b"7,caf\xe9\n")
    assert_error(run("compute", path), 1, "not valid UTF-8", "line 41", "--encoding latin-1")


def test_per_sample_file_gets_the_usual_permissions(run, tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(CLEAN)
    out = tmp_path / "per_sample.csv"
    assert run("compute", path, "-l", "mse", "--per-sample", out).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_plot_that_fails_while_saving_leaves_nothing(run, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    def broken_savefig(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    out = tmp_path / "plots" / "curves.png"
    out.parent.mkdir()
    result = run("compare", "-l", "mse,mae", "--plot", out)
    assert_error(result, 1, "cannot write", "No space left on device")
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize(
    "text, option, rows",
    [
        # y_true/y_pred file, read whole and streamed alike
        ("y_true,y_pred\n" + "1,x\n" * 7 + "2,3\n", (), "rows 1, 2, 3, 4, 5, ...;"),
        ("y_true,y_pred\n1,2\n1,x\n1,x\n", (), "rows 2, 3;"),
        # a structured family (pairs) and a GAN column
        ("label,distance\n" + "1,x\n" * 6 + "0,1\n", (), "rows 1, 2, 3, 4, 5, ...;"),
        ("d_real,d_fake\n0.5,x\n0.5,x\n0.5,0.5\n", (), "rows 1, 2;"),
        # --group-by's empty cells
        (
            "y_true,y_pred,g\n" + "1,2,\n" * 6 + "1,2,a\n",
            ("--group-by", "g"),
            "rows 1, 2, 3, 4, 5, ...",
        ),
    ],
)
def test_bad_rows_are_listed_five_then_dots(tmp_path, text, option, rows):
    """Every reader names the first five bad rows the same way, "..." when there are more."""
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["compute", str(path), *option])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error:") and rows in result.stderr, result.stderr
