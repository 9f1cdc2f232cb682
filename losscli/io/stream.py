"""Reading a large CSV in chunks: bounded memory however long the file is.

:func:`open_stream` decides whether an input is read whole (the ordinary
:func:`~losscli.io.reader.read_table` path: small files, other encodings,
structured column families) or streamed; large parquet files stream by record
batches. Streaming reads the
decompressed bytes in blocks of ``chunk_bytes``, cuts each block after its
last complete record (a newline outside quotes), parses the block with
``pyarrow.csv.read_csv`` (multithreaded) and hands every chunk to the same
:func:`~losscli.io.columns.build_dataset` as the whole-file path, with the
chunk's row offset, so validation and messages name the file's row numbers.
The task is detected on the first chunk and then fixed for the rest; when the
first chunk's y_true looks binary under --task auto, the y_true column of the
whole file is scanned first (one extra pass over that column only, stopping at
the first non-binary value), so detection holds for the whole column (SPEC 2).
stdin cannot be scanned twice: there the first chunk decides, and a later
non-binary label is an error that says so.

Why this reader: ``benchmarks/README.md`` has the measurements (pyarrow's
``open_csv`` streaming reader read ahead far more than one block and held
more memory for the same speed; pandas chunks were slower).

:class:`ValueSpool` keeps per-row arrays for later passes (the exact median
needs a second look at the values): in memory while small, then in an
anonymous temporary file. stdin cannot be read twice, so the spool is what
makes the second pass possible there too.
"""

from __future__ import annotations

import bz2
import csv
import dataclasses
import gzip
import io
import lzma
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from losscli.core.dataset import Dataset
from losscli.errors import DataError, InputError
from losscli.io.columns import InputOptions, build_dataset, load_dataset
from losscli.io.reader import (
    _check_header,
    _check_header_line,
    _check_not_binary,
    _delimiter_for,
    _first_line,
    _line_and_column,
    _open_binary,
    _split_extension,
)

# Inputs smaller than this are read whole (one chunk): same numbers, less overhead.
STREAM_MIN_BYTES = int(os.environ.get("LOSSCLI_STREAM_MIN_BYTES", 32 << 20))
# Bytes of CSV text parsed per chunk (measured: see benchmarks/README.md).
CHUNK_BYTES = int(os.environ.get("LOSSCLI_CHUNK_BYTES", 4 << 20))

# Rows per record batch when streaming a parquet file.
PARQUET_BATCH_ROWS = 1 << 18

_DECOMPRESS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}

Progress = Callable[[int], None]


@dataclass
class StreamInput:
    """An input ready to be consumed: either one whole Dataset or a stream of chunks."""

    source: str
    whole: Dataset | None = None
    chunks: Iterator[Dataset] | None = None
    total_bytes: int | None = None  # size on disk when known, for a progress bar

    @property
    def streamed(self) -> bool:
        return self.chunks is not None


def open_stream(
    path: str,
    opts: InputOptions,
    *,
    chunk_bytes: int | None = None,
    min_bytes: int | None = None,
    progress: Progress | None = None,
) -> StreamInput:
    """Read small inputs whole and set up chunked reading for large CSV/TSV inputs.

    ``chunk_bytes`` and ``min_bytes`` default to the module's CHUNK_BYTES and
    STREAM_MIN_BYTES (read at call time, so tests can lower them).
    """
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    min_bytes = STREAM_MIN_BYTES if min_bytes is None else min_bytes
    source = "-" if path == "-" else path
    inner, compression = _split_extension(path)
    plain_utf8 = opts.encoding.lower().replace("_", "-") in ("utf-8", "utf8")
    if inner == ".parquet" and path != "-":
        return _open_parquet(path, opts, min_bytes, progress)
    if not plain_utf8:
        return StreamInput(source, whole=load_dataset(path, opts))
    if path == "-":
        head = sys.stdin.buffer.read(min_bytes)
        if len(head) < min_bytes:
            with _stdin_replaced(head):
                return StreamInput(source, whole=load_dataset(path, opts))
        raw: IO[bytes] = _Chained(head, sys.stdin.buffer)  # type: ignore[assignment]
        total = None
    else:
        handle = _open_binary(path)  # existence, directory and permission messages
        size = os.fstat(handle.fileno()).st_size
        # Compressed: the text is several times larger than the file on disk.
        limit = min_bytes if compression is None else min_bytes // 8
        if size < limit:
            handle.close()
            return StreamInput(source, whole=load_dataset(path, opts))
        raw = handle
        total = size
    text = _DECOMPRESS[compression](raw) if compression else raw  # type: ignore[operator]
    return _start_chunks(source, path, text, raw, total, opts, chunk_bytes, progress)


def _open_parquet(
    path: str, opts: InputOptions, min_bytes: int, progress: Progress | None
) -> StreamInput:
    """Parquet: small files whole, large ones by row groups' record batches."""
    handle = _open_binary(path)
    size = os.fstat(handle.fileno()).st_size
    handle.close()
    if size < min_bytes // 4:  # parquet is compressed: several times smaller than CSV
        return StreamInput(path, whole=load_dataset(path, opts))
    import pyarrow.parquet as pq

    from losscli.io.families import detect_family

    try:
        # No pre-buffering and a 1 MiB read buffer: measured 131 MiB instead of 259 MiB
        # to iterate a 10M-row file, at the same speed.
        parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    except (pa.ArrowInvalid, OSError):
        return StreamInput(path, whole=load_dataset(path, opts))  # its usual message
    names = parquet.schema_arrow.names
    _check_header(names, path)
    if parquet.metadata.num_rows == 0 or detect_family(names, opts.task) is not None:
        return StreamInput(path, whole=load_dataset(path, opts))
    total_rows = parquet.metadata.num_rows

    def chunks() -> Iterator[Dataset]:
        rows_before = 0
        chunk_opts = opts
        kept = 0
        positive_weight = False
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            table = pa.Table.from_batches([batch])
            dataset = build_dataset(table, chunk_opts, path, row_offset=rows_before, chunk=True)
            if rows_before == 0:
                chunk_opts = dataclasses.replace(opts, task=dataset.task.value)
            rows_before += table.num_rows
            kept += dataset.n_rows
            if dataset.weights is not None and not positive_weight:
                positive_weight = bool(np.any(dataset.weights > 0))
            if progress is not None:
                progress(int(size * rows_before / total_rows))
            yield dataset
        _check_whole_file(opts, kept, positive_weight)

    return StreamInput(path, chunks=_prefetched(chunks()), total_bytes=size)


_BINARY_LABELS = (frozenset({0.0, 1.0}), frozenset({-1.0, 1.0}))
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def _whole_file_task(
    first: pa.Table, opts: InputOptions, shown: str, sep: str
) -> InputOptions | None:
    """Regression options when y_true stops looking binary after the first chunk, else None.

    Only binary-vs-regression depends on values (multiclass and the families
    are told by column names), so only that case is settled by a scan of
    y_true to the end of the file; the scan stops at the first non-binary value.
    """
    from losscli.io.arrow import float64_numpy

    head = float64_numpy(first.column(opts.true_col))
    labels = set(np.unique(head[np.isfinite(head)]).tolist())
    for values in _column_blocks(shown, sep, opts.true_col):
        labels.update(np.unique(values[np.isfinite(values)]).tolist())
        if not any(labels <= allowed for allowed in _BINARY_LABELS):
            reason = f"{opts.true_col} holds continuous values beyond its first rows"
            return dataclasses.replace(opts, task="regression", task_reason=reason)
    return None


def _column_blocks(path: str, sep: str, column: str) -> Iterator[np.ndarray]:
    """One column of a CSV file as float64, block by block; non-numbers are left out."""
    import pyarrow.compute as pc

    from losscli.io.arrow import float64_numpy

    _, compression = _split_extension(path)
    raw = open(path, "rb")  # noqa: SIM115 - closed below
    try:
        text = _DECOMPRESS[compression](raw) if compression else raw  # type: ignore[operator]
        reader = pacsv.open_csv(
            text,
            read_options=pacsv.ReadOptions(use_threads=True, block_size=4 << 20),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                include_columns=[column], column_types={column: pa.string()}
            ),
        )
        for batch in reader:
            strings = pc.utf8_trim_whitespace(batch.column(0))
            try:
                numbers = pc.cast(strings, pa.float64())
            except pa.ArrowInvalid:
                numbers = pc.cast(
                    pc.filter(strings, pc.match_substring_regex(strings, _NUMBER)), pa.float64()
                )
            yield float64_numpy(numbers)
    except (pa.ArrowInvalid, OSError, EOFError, lzma.LZMAError):
        return  # the main pass reports unreadable content with row numbers
    finally:
        raw.close()


def _check_whole_file(opts: InputOptions, kept: int, positive_weight: bool) -> None:
    """The checks build_dataset skips for a chunk, over the whole file (same messages)."""
    if kept == 0:
        raise DataError("every row has a missing or non-numeric value; nothing is left to compute")
    if opts.weight_col and not positive_weight:
        raise DataError(
            f"column {opts.weight_col}: all sample weights are zero; "
            f"at least one row needs a positive weight"
        )


def _start_chunks(
    source: str,
    path: str,
    text: IO[bytes],
    raw: IO[bytes],
    total: int | None,
    opts: InputOptions,
    chunk_bytes: int,
    progress: Progress | None,
) -> StreamInput:
    shown = "stdin" if path == "-" else path
    sep = _delimiter_for(path, opts.delimiter)
    try:
        header_line = text.readline()
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise InputError(
            f"{path} is not a valid {os.path.splitext(path)[1][1:]} file ({exc}); "
            f"rename it to match its real format or re-create it"
        ) from None
    names = _parse_header(header_line, sep, shown)
    from losscli.io.families import detect_family

    if detect_family(names, opts.task) is not None:
        # Structured families (GAN columns of different lengths...) are read whole.
        if path != "-":
            raw.close()
            return StreamInput(source, whole=load_dataset(path, opts))
        with _stdin_replaced(header_line + text.read()):
            return StreamInput(source, whole=load_dataset(path, opts))
    chunks = _iter_chunks(source, shown, text, raw, names, sep, opts, chunk_bytes, progress)
    return StreamInput(source, chunks=_prefetched(chunks), total_bytes=total)


def _prefetched(chunks: Iterator[Dataset]) -> Iterator[Dataset]:
    """Read and validate the next chunk in a worker thread while the caller computes.

    pyarrow parses and NumPy computes without holding the GIL, so reading
    chunk i+1 overlaps the losses of chunk i; one chunk ahead bounds memory.
    """
    from concurrent.futures import ThreadPoolExecutor

    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="losscli-read") as pool:
        future = pool.submit(next, chunks, done)
        try:
            while True:
                item = future.result()
                if item is done:
                    return
                future = pool.submit(next, chunks, done)
                yield item  # type: ignore[misc]
        finally:
            future.cancel()
            try:
                future.result()
            except BaseException:  # noqa: BLE001 - already reported or abandoned
                pass
            chunks.close()  # type: ignore[attr-defined]


def _parse_header(line: bytes, sep: str, shown: str) -> list[str]:
    if not line.strip():
        raise InputError(f"{shown} is empty: expected a header row and data rows")
    # The whole-file reader's checks on the first line (issue 7): binary or compressed
    # content, comment/preamble lines, a header that hints at another delimiter.
    _check_not_binary(line, shown, "utf-8", complete=False)
    _check_header_line(_first_line(line, "utf-8"), sep, shown)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{shown} is not valid UTF-8 (byte {exc.start}); "
            f"pass its encoding, e.g. --encoding latin-1 or --encoding utf-16"
        ) from None
    header = text.lstrip("\ufeff").rstrip("\r\n")
    if "\r" in header:
        raise InputError(
            f"{shown}: lines end with a lone CR (old Mac format), which large files cannot "
            f"be streamed with; convert the line ends to LF or CRLF (e.g. with dos2unix -c mac)"
        )
    try:
        names = next(csv.reader([header], delimiter=sep), [])
    except csv.Error as exc:
        raise InputError(f"{shown}, line 1: cannot parse the header ({exc})") from None
    _check_header(names, shown)
    names = [n.strip() for n in names]  # ' y_true ' -> 'y_true', as read_table does
    _check_header(names, shown)
    return names


def _record_blocks(text: IO[bytes], chunk_bytes: int) -> Iterator[bytes]:
    """Blocks of whole records: each cut after a newline with an even number of quotes before it."""
    rest = b""
    while True:
        data = text.read(chunk_bytes)
        if not data:
            if rest.strip():
                yield rest
            return
        block = rest + data
        cut = block.rfind(b"\n")
        quoted = b'"' in block
        while quoted and cut >= 0 and block.count(b'"', 0, cut) % 2:
            cut = block.rfind(b"\n", 0, cut)  # that newline is inside a quoted field
        if cut < 0:
            rest = block
            continue
        rest = block[cut + 1 :]
        yield block[: cut + 1]


def _iter_chunks(
    source: str,
    shown: str,
    text: IO[bytes],
    raw: IO[bytes],
    names: list[str],
    sep: str,
    opts: InputOptions,
    chunk_bytes: int,
    progress: Progress | None,
) -> Iterator[Dataset]:
    read_options = pacsv.ReadOptions(column_names=names, use_threads=True, block_size=1 << 20)
    parse_options = pacsv.ParseOptions(delimiter=sep, invalid_row_handler=None)
    convert_options = pacsv.ConvertOptions(strings_can_be_null=True)
    rows_before = 0
    kept = 0
    positive_weight = False
    chunk_opts = opts
    first = True
    try:
        for block in _record_blocks(text, chunk_bytes):
            table = _parse_block(
                block, shown, read_options, parse_options, convert_options, 1 + rows_before
            )
            if table.num_rows == 0:
                continue
            dataset = build_dataset(table, chunk_opts, source, row_offset=rows_before, chunk=True)
            if first and opts.task == "auto" and dataset.task.value == "binary" and source != "-":
                regression = _whole_file_task(table, opts, shown, sep)
                if regression is not None:
                    chunk_opts = regression
                    dataset = build_dataset(table, chunk_opts, source, chunk=True)
            if first:
                chunk_opts = dataclasses.replace(
                    chunk_opts, task=dataset.task.value, task_reason=dataset.task_reason
                )
                first = False
            rows_before += table.num_rows
            kept += dataset.n_rows
            if dataset.weights is not None and not positive_weight:
                positive_weight = bool(np.any(dataset.weights > 0))
            if progress is not None:
                try:
                    progress(raw.tell())
                except (OSError, ValueError, AttributeError):
                    pass
            yield dataset
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise InputError(f"{shown}: cannot read the file ({exc})") from None
    finally:
        if raw is not sys.stdin.buffer and not isinstance(raw, _Chained):
            raw.close()
    if rows_before == 0:
        raise InputError(f"{shown} has a header but no data rows")
    _check_whole_file(opts, kept, positive_weight)


def _parse_block(
    block: bytes,
    shown: str,
    read_options: pacsv.ReadOptions,
    parse_options: pacsv.ParseOptions,
    convert_options: pacsv.ConvertOptions,
    lines_before: int,
) -> pa.Table:
    if not block.isascii():  # fast path; a UTF-8 check costs ~15 ms per 200 MB otherwise
        try:
            block.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Checked here: pyarrow would fail later, or inside the invalid-row handler.
            line, column = _line_and_column(block, exc.start)
            raise InputError(
                f"{shown} is not valid UTF-8 (line {line + lines_before}, column {column}, "
                f"byte {block[exc.start]:#04x}); pass its encoding, e.g. --encoding latin-1 "
                f"(or cp1252 for Windows exports)"
            ) from None
    bad_rows: list[tuple[int | None, int, int]] = []

    def on_invalid(row: Any) -> str:
        if row.text.strip():  # a line of spaces is a blank line, not a short row
            bad_rows.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    options = pacsv.ParseOptions(
        delimiter=parse_options.delimiter,
        quote_char=parse_options.quote_char,
        invalid_row_handler=on_invalid,
    )
    try:
        table = pacsv.read_csv(
            pa.py_buffer(block),
            read_options=read_options,
            parse_options=options,
            convert_options=convert_options,
        )
    except pa.ArrowInvalid as exc:
        message = str(exc).replace("CSV parse error: ", "").strip()
        if "UTF8" in message or "utf8" in message.lower():
            raise InputError(
                f"{shown} is not valid UTF-8; pass its encoding, e.g. --encoding latin-1"
            ) from None
        raise InputError(f"{shown}: cannot parse as CSV ({message})") from None
    if bad_rows:
        raise _field_count_error(block, options, read_options, shown, lines_before, len(bad_rows))
    return table


def _field_count_error(
    block: bytes,
    options: pacsv.ParseOptions,
    read_options: pacsv.ReadOptions,
    shown: str,
    lines_before: int,
    count: int,
) -> InputError:
    """Re-parse the block single-threaded (the error path only) to learn the line number.

    Same message as the whole-file reader (io/reader.py); the count covers this chunk.
    """
    rows: list[tuple[int | None, int, int]] = []

    def record(row: Any) -> str:
        if row.text.strip():
            rows.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    pacsv.read_csv(
        pa.py_buffer(block),
        read_options=pacsv.ReadOptions(column_names=read_options.column_names, use_threads=False),
        parse_options=pacsv.ParseOptions(
            delimiter=options.delimiter, quote_char=options.quote_char, invalid_row_handler=record
        ),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
    )
    number, expected, actual = rows[0] if rows else (None, 0, 0)
    where = f"line {number + lines_before}" if number is not None else "a row"
    more = f" ({count} such rows in all)" if count > 1 else ""
    return InputError(
        f"{shown}, {where}: {actual} field(s) but the header has {expected}{more}; "
        f"fix the row or check the delimiter (--delimiter)"
    )


class _Chained(io.RawIOBase):
    """Bytes already read from stdin followed by the rest of stdin."""

    def __init__(self, head: bytes, tail: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head.nbytes:
            n = min(len(buffer), self._head.nbytes)
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._tail.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return bytes(self._head) + self._tail.read()
        out = bytearray()
        while len(out) < size:
            chunk = bytearray(size - len(out))
            n = self.readinto(chunk)
            if not n:
                break
            out += chunk[:n]
        return bytes(out)

    def readline(self, size: int | None = -1) -> bytes:
        out = bytearray()
        while True:
            byte = self.read(1)
            if not byte:
                break
            out += byte
            if byte == b"\n":
                break
        return bytes(out)


@contextmanager
def _stdin_replaced(data: bytes) -> Iterator[None]:
    """Let the whole-file reader read bytes already taken from stdin."""
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(data))
    try:
        yield
    finally:
        sys.stdin = saved


class ValueSpool:
    """Per-row arrays kept for further passes: in memory up to a budget, then on disk.

    The file is an anonymous temporary file (deleted when closed, never next
    to the input). Each :meth:`append` stores one chunk; iteration yields the
    chunks back in order.
    """

    def __init__(self, memory_budget: int = 16 << 20) -> None:
        self._budget = memory_budget
        self._memory: list[dict[str, np.ndarray]] = []
        self._in_memory = 0
        self._file: IO[bytes] | None = None
        self._index: list[dict[str, tuple[int, np.dtype[Any], int]]] = []
        self._offset = 0

    def append(self, arrays: dict[str, np.ndarray]) -> None:
        if self._file is None:
            self._memory.append(arrays)
            self._in_memory += sum(a.nbytes for a in arrays.values())
            if self._in_memory <= self._budget:
                return
            self._file = tempfile.TemporaryFile(prefix="losscli-spool-")
            pending, self._memory = self._memory, []
            for item in pending:
                self._write(item)
            return
        self._write(arrays)

    def _write(self, arrays: dict[str, np.ndarray]) -> None:
        assert self._file is not None
        entry = {}
        for name, array in arrays.items():
            data = np.ascontiguousarray(array)
            self._file.write(data.tobytes())
            entry[name] = (self._offset, data.dtype, int(data.size))
            self._offset += data.nbytes
        self._index.append(entry)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        if self._file is None:
            yield from self._memory
            return
        self._file.flush()
        fd = self._file.fileno()
        for entry in self._index:
            yield {
                name: np.frombuffer(os.pread(fd, size * dtype.itemsize, offset), dtype=dtype)
                for name, (offset, dtype, size) in entry.items()
            }

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory = []
