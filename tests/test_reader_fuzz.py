"""Fuzzing the streaming reader: random quotes, long lines and headers, mixed line ends,
compressed and FIFO inputs (issue 12).

Every generated input is small (a few kB) while the reader's sizes are
lowered (blocks of 64-512 bytes, records of at most 4 kB), so each case runs
the streaming code paths on a bounded amount of work: the reader's splitting
is linear in the input, so no case can hang. The only outcomes allowed are a
result or a clean InputError/DataError/UsageError (the CLI's ``Error:``
lines); anything else is an internal error and fails the test.
"""

from __future__ import annotations

import bz2
import gzip
import os
import tempfile
import threading
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import losscli.io.text as text_module
from losscli.errors import LossCliError
from losscli.io.columns import InputOptions
from losscli.io.source import open_source

CELL_TEXT = st.sampled_from(
    ["1", "0", "-2.5", "1e3", ".5", "NA", "", " 3 ", "0x10", "1_000", "inf", "abc", "é", "\t"]
)
QUOTED = st.sampled_from(['"', '""', '"a,b"', '"x\ny"', 'a"b', '"\r\n"'])
LONG = st.builds(
    lambda ch, n: ch * n, st.sampled_from(["x", "9", '"', ",", "\n"]), st.integers(100, 6000)
)
CELL = st.one_of(CELL_TEXT, CELL_TEXT, CELL_TEXT, QUOTED, LONG)
LINE_END = st.sampled_from(["\n", "\n", "\r\n", "\r", ""])
HEADER = st.one_of(
    st.just("y_true,y_pred"),
    st.just("y_true,y_pred,note"),
    st.just('"y_true","y_pred"'),
    st.builds(
        lambda n: ",".join(["y_true", "y_pred"] + [f"c{i}" for i in range(n)]), st.integers(0, 800)
    ),
    st.lists(CELL, min_size=1, max_size=4).map(",".join),
)


@st.composite
def csv_inputs(draw) -> bytes:
    header = draw(HEADER)
    rows = draw(st.lists(st.lists(CELL, min_size=1, max_size=4), max_size=60))
    ends = draw(st.lists(LINE_END, min_size=len(rows) + 1, max_size=len(rows) + 1))
    text = header + ends[0] + "".join(",".join(r) + e for r, e in zip(rows, ends[1:]))
    encoded = text.encode("utf-8")
    if draw(st.booleans()) and encoded:  # a few random bytes flipped or cut
        data = bytearray(encoded)
        for _ in range(draw(st.integers(0, 3))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        encoded = bytes(data[: draw(st.integers(0, len(data)))])
    return encoded


# Every fuzz test: 150 inputs, however slow a case (the reader's sizes are lowered).
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _read(path: str, opts: InputOptions) -> None:
    source = open_source(path, opts)
    try:
        for _ in range(2):  # a second pass reads the spool (FIFOs) or the file again
            total = 0
            for chunk in source.batches():
                assert np.all(np.diff(chunk.row_numbers) > 0)
                total += chunk.n_rows
            assert total >= 0
    finally:
        source.close()


def _through_fifo(folder: str, data: bytes, opts: InputOptions) -> None:
    fifo = os.path.join(folder, "pipe.csv")
    os.mkfifo(fifo)

    def feed() -> None:
        try:
            with open(fifo, "wb") as writer:
                writer.write(data)  # small: fits the pipe buffer, never blocks on a reader
        except BrokenPipeError:
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        _read(fifo, opts)
    finally:
        # Free a writer still waiting for a reader (the read failed before opening).
        release = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        feeder.join()
        os.close(release)


@FUZZ
@given(
    data=csv_inputs(),
    container=st.sampled_from(["plain", "plain", "gz", "bz2", "fifo", "fifo-gz", "gz-cut"]),
    chunk=st.sampled_from([64, 128, 512]),
    whole=st.sampled_from([1, 100, 1 << 20]),
    encoding=st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"]),
    nan=st.sampled_from(["error", "drop"]),
)
def test_streaming_reader_never_fails_internally(data, container, chunk, whole, encoding, nan):
    if encoding == "utf-16":
        data = data.decode("utf-8", errors="replace").encode("utf-16")
    if container in ("gz", "fifo-gz"):
        data = gzip.compress(data)
    elif container == "bz2":
        data = bz2.compress(data)
    elif container == "gz-cut":
        data = gzip.compress(data)[: max(1, len(data) // 2)]
    opts = InputOptions(nan=nan, encoding=encoding)
    with (
        mock.patch.object(text_module, "CHUNK_BYTES", chunk),
        mock.patch.object(text_module, "WHOLE_BYTES", whole),
        mock.patch.object(text_module, "MAX_RECORD_BYTES", 4096),
        tempfile.TemporaryDirectory() as folder,
    ):
        try:
            if container.startswith("fifo"):
                _through_fifo(folder, data, opts)
            else:
                suffix = {"gz": ".csv.gz", "gz-cut": ".csv.gz", "bz2": ".csv.bz2"}
                path = os.path.join(folder, "data" + suffix.get(container, ".csv"))
                with open(path, "wb") as handle:
                    handle.write(data)
                _read(path, opts)
        except LossCliError as exc:
            # A clean error with a message for people (control characters in column
            # names are escaped when the CLI prints it: report/console.py).
            assert str(exc).strip()


def _outcome(path: str, opts: InputOptions) -> list:
    """What reading gives: each chunk's columns and row numbers, or the error's message."""
    seen: list = []
    try:
        for chunk in open_source(path, opts).batches():
            seen.append((chunk.y_true.tolist(), chunk.row_numbers.tolist()))
            seen.append({name: values.tolist() for name, values in chunk.models.items()})
    except LossCliError as exc:
        seen.append((type(exc).__name__, str(exc)))
    return seen


@FUZZ
@given(
    data=csv_inputs(),
    chunk=st.sampled_from([16, 64, 128, 512]),
    carry=st.sampled_from([0, 8, 64, 1 << 16]),
    nan=st.sampled_from(["error", "drop"]),
)
def test_reading_into_own_buffers_reads_what_pieces_read(data, chunk, carry, nan):
    """A plain file is read into the records' buffers (no copies); the rows, their
    numbers and every error are those of the piece-by-piece route, whatever the
    block size and however much of a block's end is carried into the next buffer."""
    opts = InputOptions(nan=nan)
    with (
        mock.patch.object(text_module, "CHUNK_BYTES", chunk),
        mock.patch.object(text_module, "WHOLE_BYTES", 1),
        mock.patch.object(text_module, "MAX_RECORD_BYTES", 4096),
        mock.patch.object(text_module, "CARRY_BYTES", carry),
        tempfile.TemporaryDirectory() as folder,
    ):
        path = os.path.join(folder, "data.csv")
        with open(path, "wb") as handle:
            handle.write(data)
        filled = _outcome(path, opts)
        with mock.patch.object(text_module, "_fillable", lambda *args: False):
            pieces = _outcome(path, opts)
    assert filled == pieces


def _all_record_ends(piece: bytes, odd: bool) -> tuple[int, int, bool]:
    """Every LF outside quotes, by a plain loop over the bytes: the reference."""
    ends = []
    inside = odd
    for i, byte in enumerate(piece):
        if byte == ord('"'):
            inside = not inside
        elif byte == ord("\n") and not inside:
            ends.append(i + 1)
    return (ends[0], ends[-1], inside) if ends else (-1, -1, inside)


@FUZZ
@given(
    piece=st.lists(st.sampled_from(['"', "\n", ",", "a", '""', "1.5", "\r\n"]), max_size=200).map(
        lambda parts: "".join(parts).encode()
    ),
    odd=st.booleans(),
    window=st.sampled_from([1, 2, 3, 8, 32, 1 << 16]),
    span=st.sampled_from([1, 5, 1 << 18]),
)
def test_record_ends_searched_at_the_ends_are_every_end_s_first_and_last(piece, odd, window, span):
    """A quoted piece is searched for record ends only in its first and last window
    (the quotes before the last window counted span by span): the first and last
    end and the parity after are those of a byte-by-byte walk, whatever the sizes."""
    with (
        mock.patch.object(text_module, "ENDS_WINDOW", window),
        mock.patch.object(text_module, "_COUNT_SPAN", span),
    ):
        assert text_module._record_ends(piece, odd) == _all_record_ends(piece, odd)
        assert text_module._record_ends(bytearray(piece), odd) == _all_record_ends(piece, odd)
