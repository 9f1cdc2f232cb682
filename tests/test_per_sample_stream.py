"""--per-sample is written batch by batch and has the rows and values of the former writer."""

from __future__ import annotations

import csv
import io
import math
import warnings

import numpy as np
import pytest
from conftest import SAMPLES
from stream_support import small_chunks

from losscli.analysis.compute import compute
from losscli.core.registry import select_losses
from losscli.io.columns import InputOptions, load_dataset


def reference_per_sample(dataset, items) -> str:
    """The writer --per-sample used before it streamed (a Python loop over rows)."""
    handle = io.StringIO()
    writer = csv.writer(handle, lineterminator="\n")
    labels: list[str] = []
    for item in items:
        if item.selection.label not in labels:
            labels.append(item.selection.label)
    gan = dataset.task.value == "generative"
    header = ["row"] + (["column"] if gan else [])
    header += (["group"] if dataset.groups is not None else []) + ["model"] + labels
    writer.writerow(header)
    for model in dataset.model_names:
        columns = [(i.values, i.support) for i in items if i.model == model]
        for r, row_number in enumerate(dataset.row_numbers):
            prefix = [int(row_number)]
            if gan:
                prefix.append("d_real" if dataset.y_true[r] == 1 else "d_fake")
            if dataset.groups is not None:
                prefix.append(dataset.groups[r])
            cells = [
                "" if support is not None and not support[r] else repr(float(values[r]))
                for values, support in columns
            ]
            writer.writerow(prefix + [model] + cells)
    return handle.getvalue()


def assert_same_rows(text: str, reference: str) -> None:
    mine = list(csv.reader(io.StringIO(text)))
    theirs = list(csv.reader(io.StringIO(reference)))
    assert mine[0] == theirs[0]  # the header
    assert len(mine) == len(theirs)
    header = theirs[0]
    first_loss = header.index("model") + 1
    for a, b in zip(mine[1:], theirs[1:]):
        assert a[:first_loss] == b[:first_loss]
        for x, y in zip(a[first_loss:], b[first_loss:]):
            if y == "":
                assert x == ""
            elif math.isnan(float(y)):
                assert math.isnan(float(x))
            else:
                assert float(x) == float(y)  # the very same float64


CASES = [
    ("regression_outliers.csv", {"pred_cols": ("y_pred", "model_b")}, ()),
    ("regression_outliers.csv", {"group_by": "segment"}, ("--group-by", "segment")),
    ("binary_imbalanced.csv", {"pred_cols": ("y_pred", "model_b")}, ()),
    ("binary_logits.csv", {"from_logits": True}, ("--from-logits",)),
    ("multiclass_probs.csv", {}, ()),
    ("multiclass_soft.csv", {}, ()),
    ("hinge_labels.csv", {}, ()),
    ("gan_outputs.csv", {}, ()),
    ("similarity_pairs.csv", {}, ()),
    ("similarity_triplets.csv", {}, ()),
    ("detection_boxes.csv", {}, ()),
    ("vae_latents.csv", {}, ()),
]


@pytest.mark.parametrize(("name", "opts", "extra"), CASES, ids=[c[0] + str(c[2]) for c in CASES])
@pytest.mark.parametrize("chunked", [False, True])
def test_per_sample_matches_the_former_writer(run, tmp_path, name, opts, extra, chunked):
    path = SAMPLES / name
    dataset = load_dataset(str(path), InputOptions(**opts))
    selections = select_losses([], dataset.task, dataset.features)
    _, items = compute(dataset, selections)
    reference = reference_per_sample(dataset, items)
    args = ["compute", path, *extra, "--per-sample", tmp_path / "out.csv", "--format", "json"]
    for column in opts.get("pred_cols", ()):
        args += ["--pred-col", column]
    if chunked:
        with small_chunks(2000):
            result = run(*args)
    else:
        result = run(*args)
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "out.csv").read_text()
    assert_same_rows(text, reference)


def test_per_sample_quotes_only_cells_that_need_it(run, tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('y_true,y_pred,seg\n1,1.5,"a,b"\n2,2.5,plain\n3,2,"say ""hi"""\n')
    out = tmp_path / "out.csv"
    result = run("compute", path, "-l", "mae", "--group-by", "seg", "--per-sample", out)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows == [
        ["row", "group", "model", "mae"],
        ["1", "a,b", "y_pred", "0.5"],
        ["2", "plain", "y_pred", "0.5"],
        ["3", 'say "hi"', "y_pred", "1"],
    ]


def test_per_sample_streams_many_batches_of_two_models(run, tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    y = rng.normal(size=n)
    lines = ["y_true,a,b"] + [
        f"{float(y[i])!r},{float(y[i] + 0.1)!r},{float(y[i] - 0.2)!r}" for i in range(n)
    ]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.csv"
    with small_chunks(4096):
        result = run(
            "compute",
            path,
            "--pred-col",
            "a",
            "--pred-col",
            "b",
            "-l",
            "mse",
            "--per-sample",
            out,
            "--format",
            "json",
        )
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(out.read_text())))[1:]
    assert [r[1] for r in rows] == ["a"] * n + ["b"] * n
    assert [int(r[0]) for r in rows] == list(range(1, n + 1)) * 2
    assert [float(r[2]) for r in rows[:n]] == list((y - (y + 0.1)) ** 2)


def test_bad_row_in_a_late_batch_leaves_the_old_file(run, tmp_path):
    lines = ["y_true,y_pred"] + [f"{i},{i + 0.5}" for i in range(2000)] + ["1,abc"]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    with small_chunks(2048):
        result = run("compute", path, "-l", "mse", "--per-sample", out)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert result.stdout == ""
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "out.csv"]


def _weighted_grouped_file(path, n=3000):
    rng = np.random.default_rng(3)
    y = rng.normal(10, 3, n)
    lines = ["y_true,a,b,w,seg,key"]
    for i in range(n):
        a = "" if i % 97 == 0 else repr(float(y[i] + rng.normal()))
        # A group name that needs quotes only in the later batches.
        seg = '"g,2"' if i > n // 2 and i % 5 == 0 else ("g1", "h3")[i % 2]
        lines.append(
            f"{float(y[i])!r},{a},{float(y[i] - 0.3)!r},{float(rng.uniform(0.5, 2))!r},{seg},k{i}"
        )
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("ids", [False, True])
def test_per_sample_bytes_do_not_depend_on_the_slices(run, tmp_path, ids):
    """Slicing and formatting on two threads change nothing: the same bytes as one slice."""
    import losscli.report.per_sample as per_sample_module

    path = tmp_path / "d.csv"
    _weighted_grouped_file(path)
    args = ["compute", path, "--pred-col", "a", "--pred-col", "b", "--weight-col", "w"]
    args += ["--nan", "drop", "--group-by", "seg", "-l", "mse,mae,median_ae,r2,huber"]
    args += ["--id-col", "key"] * ids
    outputs = []
    for slice_rows, in_flight in [(10**9, 3), (7, 1), (7, 3), (64, 2)]:
        out = tmp_path / f"out_{slice_rows}_{in_flight}.csv"
        with (
            small_chunks(20_000),
            pytest.MonkeyPatch.context() as patch,
        ):
            patch.setattr(per_sample_module, "SLICE_ROWS", slice_rows)
            patch.setattr(per_sample_module, "IN_FLIGHT", in_flight)
            result = run(*args, "--per-sample", out, "--format", "json")
        assert result.exit_code == 0, result.stderr
        outputs.append(out.read_bytes())
    assert all(o == outputs[0] for o in outputs[1:])
    text = outputs[0].decode()
    lines = text.splitlines()
    assert lines[1].startswith("2,h3,")  # row 1 is dropped (NaN); the first batch: no quotes
    assert '"g,2"' in text and lines[-1].startswith('3000,"h3",')  # later batches: quoted
    if not ids:
        dataset = load_dataset(
            str(path),
            InputOptions(pred_cols=("a", "b"), weight_col="w", nan="drop", group_by="seg"),
        )
        selections = select_losses(["mse,mae,median_ae,huber"], dataset.task, dataset.features)
        _, items = compute(dataset, selections)
        # r2's cells are empty (no per-row value); every other cell is the float64 computed.
        rows = list(csv.reader(io.StringIO(text)))
        r2 = rows[0].index("r2")
        assert all(row[r2] == "" for row in rows[1:])
        handle = io.StringIO()
        csv.writer(handle, lineterminator="\n").writerows(row[:r2] + row[r2 + 1 :] for row in rows)
        assert_same_rows(handle.getvalue(), reference_per_sample(dataset, items))


def test_columns_with_the_same_values_share_their_text_byte_for_byte():
    """mse and rmse (mae, median_ae, max_error) have the same per-row values: their text
    is cast once and written twice. The bytes are those of Arrow's writer given every
    column, for exact copies only: -0.0 against 0.0, NaN, inf, 1e-5 and empty cells."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    import losscli.report.per_sample as per_sample_module
    from losscli.io.frames import numeric_array

    rng = np.random.default_rng(3)
    n = 50
    e = rng.normal(size=n)
    e[:6] = [0.0, -0.0, np.nan, np.inf, 1e-5, -1e300]
    zero_flipped = e.copy()
    zero_flipped[1] = 0.0  # equal by ==, not by bits: written "0", not "-0"
    support = rng.uniform(size=n) > 0.2
    columns = [
        (e, None),
        (e.copy(), None),  # an exact copy: shared
        (zero_flipped, None),  # not shared
        (e, support),  # the same values with empty cells: not shared with the first
        (np.abs(e), support),
        (np.abs(e), support),  # shared with the one before
    ]
    seen: list = []
    same: dict[str, str] = {}
    arrays = {"row": numeric_array(np.arange(1, n + 1))}
    for i, (values, valid) in enumerate(columns):
        name = f"c{i}"
        arrays[name] = numeric_array(values, valid)
        twin = per_sample_module._twin(seen, values, valid)
        if twin is None:
            seen.append((name, values, valid))
        else:
            same[name] = twin
    assert same == {"c1": "c0", "c5": "c4"}
    table = pa.table(arrays)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    want = pa.BufferOutputStream()
    pacsv.write_csv(table, want, options)
    for slice_rows in (7, 1000):
        got = io.BytesIO()
        writer = per_sample_module.PerSampleWriter(got)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(per_sample_module, "SLICE_ROWS", slice_rows)
            writer._write_slices(table, options, same)
            writer._drain()
        writer.discard()
        assert got.getvalue() == want.getvalue().to_pybytes()
    assert b",-0," in got.getvalue() and b"nan" in got.getvalue()


def test_a_signed_column_takes_the_text_of_its_absolute_values():
    """mbe's e is written as mae's |e| with a "-" where e is negative: the same bytes as
    Arrow's writer given both, for -0.0, NaN with its sign bit set, -inf and empty cells."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    import losscli.report.per_sample as per_sample_module
    from losscli.io.frames import numeric_array

    rng = np.random.default_rng(4)
    n = 60
    e = rng.normal(size=n) * 10.0 ** rng.integers(-8, 8, n)
    e[:7] = [-0.0, 0.0, -np.nan, np.nan, -np.inf, np.inf, -1e-5]
    support = rng.uniform(size=n) > 0.2
    for valid in (None, support):
        table = pa.table(
            {
                "row": numeric_array(np.arange(n)),
                "mae": numeric_array(np.abs(e), valid),
                "mbe": numeric_array(e, valid),
            }
        )
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        want = pa.BufferOutputStream()
        pacsv.write_csv(table, want, options)
        seen = [("mae", np.abs(e), valid)]
        assert per_sample_module._twin(seen, e, valid) is None
        assert per_sample_module._twin(seen, np.abs(e), valid) == "mae"
        negative = np.signbit(e) & ~np.isnan(e)
        for slice_rows in (7, 1000):
            got = io.BytesIO()
            writer = per_sample_module.PerSampleWriter(got)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(per_sample_module, "SLICE_ROWS", slice_rows)
                writer._write_slices(table, options, {}, {"mbe": ("mae", negative)})
                writer._drain()
            writer.discard()
            assert got.getvalue() == want.getvalue().to_pybytes()


@pytest.mark.parametrize("to", ["file", "stdout", "api-text"])
def test_later_models_rows_kept_as_numbers_read_back_exactly(run, tmp_path, to):
    """A later model's rows wait as numbers (not text) until the end: every batch of
    them, with shared (mse/rmse), signed (mbe) and -0.0 cells, comes back as the
    former writer wrote it, to a file, to stdout and to an open text file."""
    rng = np.random.default_rng(7)
    n = 2500
    y = np.round(rng.normal(size=n), 3)
    y[::50] = -0.0
    a = np.where(np.arange(n) % 50 == 0, 0.0, y + np.round(rng.normal(size=n), 2))
    b = y - rng.standard_t(2, size=n)
    lines = ["y_true,a,b,c"] + [
        f"{float(y[i])!r},{float(a[i])!r},{float(b[i])!r},{float(-b[i])!r}" for i in range(n)
    ]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    options = InputOptions(pred_cols=("a", "b", "c"))
    dataset = load_dataset(str(path), options)
    selections = select_losses([], dataset.task, dataset.features)
    _, items = compute(dataset, selections)
    reference = reference_per_sample(dataset, items)
    with small_chunks(4096):
        if to == "api-text":
            import losscli as lc

            handle = io.StringIO()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", lc.LossWarning)  # b's heavy tail
                lc.compute(str(path), y_pred=["a", "b", "c"], per_sample=handle)
            text = handle.getvalue()
        else:
            target = "-" if to == "stdout" else tmp_path / "out.csv"
            args = ["compute", path, "--per-sample", target, "--format", "json"]
            result = run(*args, "--pred-col", "a", "--pred-col", "b", "--pred-col", "c")
            assert result.exit_code == 0, result.stderr
            text = result.stdout if to == "stdout" else (tmp_path / "out.csv").read_text()
    assert text.count("\n") == 3 * n + 1
    assert_same_rows(text, reference)


def _advice_spy(monkeypatch):
    import os

    import losscli.report.per_sample as per_sample

    calls: list[tuple[int, int, int]] = []
    real = os.posix_fadvise

    def spy(fd, offset, length, advice):
        calls.append((offset, length, advice))
        return real(fd, offset, length, advice)

    monkeypatch.setattr(per_sample, "DROP_WINDOW", 4096)
    monkeypatch.setattr(per_sample.os, "posix_fadvise", spy)
    return calls


@pytest.mark.skipif(not hasattr(__import__("os"), "posix_fadvise"), reason="no posix_fadvise")
def test_the_output_files_written_pages_are_dropped_behind_the_writing(run, tmp_path, monkeypatch):
    """--per-sample PATH asks the kernel to drop the pages it has written back, a window
    behind the writing; the file is the same, byte for byte."""
    import os

    path = SAMPLES / "regression_outliers.csv"
    out = tmp_path / "out.csv"
    args = ["compute", path, "--pred-col", "y_pred", "--pred-col", "model_b", "--format", "json"]
    with small_chunks(2000):
        plain = run(*args, "--per-sample", tmp_path / "plain.csv")
        calls = _advice_spy(monkeypatch)
        result = run(*args, "--per-sample", out)
    assert plain.exit_code == 0 and result.exit_code == 0, result.stderr
    assert out.read_bytes() == (tmp_path / "plain.csv").read_bytes()
    size = out.stat().st_size
    assert size > 5 * 4096 and len(calls) >= size // 4096 - 3
    for k, (offset, length, advice) in enumerate(calls):
        assert (offset, length, advice) == (k * 4096, 2 * 4096, os.POSIX_FADV_DONTNEED)
        assert offset + 3 * 4096 <= size  # always behind what was written


@pytest.mark.skipif(not hasattr(__import__("os"), "posix_fadvise"), reason="no posix_fadvise")
def test_an_open_file_or_stdout_gets_no_advice(run, tmp_path, monkeypatch):
    """Rows that are read back (the spool behind stdout, a user's open file) stay cached."""
    import losscli as lc

    path = SAMPLES / "regression_outliers.csv"
    calls = _advice_spy(monkeypatch)
    with small_chunks(2000):
        result = run("compute", path, "--per-sample", "-", "--format", "json")
        with open(tmp_path / "mine.csv", "w") as handle:
            lc.compute(str(path), per_sample=handle)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "mine.csv").stat().st_size > 5 * 4096
    assert calls == []
