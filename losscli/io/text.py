"""Text inputs (CSV, TSV; compressed or not; any encoding) as a stream of Arrow tables.

The one route for every text input, small or large::

    bytes (a file, or stdin/FIFO replayed from its spool)
      -> decompressed (.gz/.bz2/.xz by extension; on stdin and FIFOs by magic bytes)
      -> UTF-8 (other encodings transcoded incrementally)
      -> the header record, then blocks of whole records
      -> pyarrow.csv.read_csv per block (multithreaded) -> tables

Block splitting is linear: the parity of double quotes is carried from block
to block, so each byte is scanned once; a record (a row, or the header) may
be as long as MAX_RECORD_BYTES, beyond which the input is refused with a
message (a quote that is never closed is the usual cause). An input whose
text ends within WHOLE_BYTES is one block (one batch), whatever its size on
disk; longer inputs are cut into blocks of about CHUNK_BYTES, so memory is
bounded by what the stream yields, never by the size on disk (gzip bombs,
FIFOs and ``<(...)`` included).
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import lzma
import os
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from losscli.errors import InputError, NoDataRows
from losscli.io.reader import (
    _check_encoding,
    _check_header,
    _check_header_line,
    _check_not_binary,
    _clean_arrow,
    _delimiter_for,
    _is_utf8,
    _line_and_column,
    _short,
    _split_extension,
)
from losscli.words import plural

# Bytes of CSV text parsed per block (measured: see benchmarks/README.md).
CHUNK_BYTES = int(os.environ.get("LOSSCLI_CHUNK_BYTES", 2 << 20))
# An input whose (decompressed) text ends within this many bytes is read as one block.
WHOLE_BYTES = int(os.environ.get("LOSSCLI_STREAM_MIN_BYTES", 32 << 20))
# Blocks parsed ahead of the one being used, and the threads parsing them.
PARSE_AHEAD = int(os.environ.get("LOSSCLI_PARSE_AHEAD", 2))
PARSE_THREADS = int(os.environ.get("LOSSCLI_PARSE_THREADS", 2))
# The longest record (a row or the header) read; longer ones are an error.
MAX_RECORD_BYTES = int(os.environ.get("LOSSCLI_MAX_RECORD_BYTES", 64 << 20))

# A block of text: bytes, or a bytearray the records read into (io/text.py's own).
Text = bytes | bytearray

_QUOTE = ord('"')
_LF = ord("\n")
_CR = ord("\r")

# Leading bytes of compressed streams, decompressed when the input has no name to tell.
_SNIFFED = ((b"\x1f\x8b", ".gz"), (b"BZh", ".bz2"), (b"\xfd7zXZ\x00", ".xz"))
_NAMES = {".gz": "gz", ".bz2": "bz2", ".xz": "xz"}


@dataclass(frozen=True)
class TextFormat:
    """How to read one text input: its name for messages, delimiter, encoding, compression."""

    shown: str
    sep: str
    encoding: str
    compression: str | None  # ".gz", ".bz2", ".xz" or None
    sniff: bool  # decompress by magic bytes (stdin, FIFOs: no extension to go by)


def text_format(path: str, delimiter: str | None, encoding: str, *, stream: bool) -> TextFormat:
    """The format of the text input at ``path`` (``-`` for stdin)."""
    _check_encoding(encoding)
    _, compression = _split_extension(path)
    shown = "stdin" if path == "-" else path
    return TextFormat(shown, _delimiter_for(path, delimiter), encoding, compression, stream)


# --------------------------------------------------------------------------- bytes


class _Prefixed:
    """Bytes already read followed by the rest of a stream (for decompressors)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        pass


def _read_exactly(raw: IO[bytes], size: int) -> bytes:
    out = b""
    while len(out) < size:
        data = raw.read(size - len(out))
        if not data:
            break
        out += data
    return out


def _decompressed(raw: IO[bytes], fmt: TextFormat) -> tuple[Any, str | None]:
    compression = fmt.compression
    source: Any = raw
    if compression is None and fmt.sniff:
        head = _read_exactly(raw, 6)
        source = _Prefixed(head, raw)
        compression = next((ext for magic, ext in _SNIFFED if head.startswith(magic)), None)
    if compression == ".gz":
        return gzip.GzipFile(fileobj=source, mode="rb"), compression
    if compression == ".bz2":
        return bz2.BZ2File(source, mode="rb"), compression
    if compression == ".xz":
        return lzma.LZMAFile(source, mode="rb"), compression
    return source, None


def _read_error(exc: Exception, fmt: TextFormat, compression: str | None) -> InputError:
    """The message for a stream that cannot be read (or decompressed) to its end."""
    if isinstance(exc, EOFError):
        return InputError(
            f"{fmt.shown} is truncated: the {_NAMES[compression or '.gz']} stream ends "
            f"early; re-create or re-download the file"
        )
    if compression is None:
        return InputError(f"cannot read {fmt.shown}: {exc}")
    return InputError(
        f"{fmt.shown} is not a valid {_NAMES[compression]} file ({exc}); "
        f"rename it to match its real format or re-create it"
    )


_READ_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error)


def _pieces(text: IO[bytes], fmt: TextFormat, compression: str | None) -> Iterator[bytes]:
    """The decompressed bytes in pieces of CHUNK_BYTES, with clear messages for bad streams."""
    size = CHUNK_BYTES
    while True:
        try:
            data = text.read(size)
        except _READ_ERRORS as exc:
            raise _read_error(exc, fmt, compression) from None
        if not data:
            return
        yield data


def _fillable(text: Any, compression: str | None, size_hint: int | None, fmt: TextFormat) -> bool:
    """Whether the text is read into the records' buffers: a file of known size, as it is."""
    return (
        compression is None
        and size_hint is not None
        and _is_utf8(fmt.encoding)
        and hasattr(text, "readinto")
    )


def _filler(text: IO[bytes], fmt: TextFormat) -> Callable[[memoryview], int]:
    """``readinto`` of an uncompressed stream, with the messages of :func:`_pieces`."""

    def fill(view: memoryview) -> int:
        try:
            return text.readinto(view)  # type: ignore[attr-defined, no-any-return]
        except _READ_ERRORS as exc:
            raise _read_error(exc, fmt, None) from None

    return fill


def _utf8_pieces(pieces: Iterator[bytes], fmt: TextFormat) -> Iterator[bytes]:
    """Pieces of another encoding as UTF-8, decoded incrementally."""
    decoder = codecs.getincrementaldecoder(fmt.encoding)()
    first = True
    try:
        for piece in pieces:
            text = decoder.decode(piece)
            if first and text:
                first = False
                if "\x00" in text[:65536]:
                    raise InputError(
                        f"{fmt.shown} decoded as {fmt.encoding} holds NUL characters, so it is "
                        f"in another encoding (UTF-32?); pass the right one, e.g. "
                        f"--encoding utf-32"
                    )
            yield text.encode("utf-8", errors="surrogatepass")
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail.encode("utf-8", errors="surrogatepass")
    except UnicodeError as exc:
        raise InputError(
            f"{fmt.shown} cannot be decoded as {fmt.encoding} ({exc.__class__.__name__}: "
            f"{_short(str(exc), 80)}); check --encoding (utf-8 is the default)"
        ) from None


# --------------------------------------------------------------------------- records


def _lines_in(block: Text) -> int:
    """Line breaks in a block: LF, CRLF and a lone CR each end a line."""
    lf = block.count(b"\n")
    if b"\r" not in block:
        return lf
    return lf + block.count(b"\r") - block.count(b"\r\n")


def _record_ends(piece: Text, odd: bool) -> tuple[int, int, bool]:
    """Offsets just after the first and last LF outside quotes (-1: none), and the parity after.

    ``odd`` says whether the piece starts inside a quoted field. Records are
    cut at LF only (CRLF files included); a file whose lines end with a lone
    CR is read as one block when it is small and refused when it is not.

    With quotes, only the piece's first and last ``ENDS_WINDOW`` bytes are
    searched for record ends (the quotes before the last window are counted):
    finding every record end of a 16 MiB piece cost ~35 ms, a tenth of the
    reading of a file whose text fields are quoted. A record longer than the
    window makes the whole piece searched, as before.
    """
    if b'"' not in piece:
        if odd:
            return -1, -1, True
        first, last = piece.find(b"\n"), piece.rfind(b"\n")
        return (first + 1 if first >= 0 else -1), (last + 1 if last >= 0 else -1), False
    data = np.frombuffer(piece, dtype=np.uint8)
    start = data.size - ENDS_WINDOW
    if start > ENDS_WINDOW:
        head = _ends_outside_quotes(data[:ENDS_WINDOW], odd)
        quotes_before = _count_quotes(data[:start])
        tail_odd = (int(odd) + quotes_before) % 2 == 1
        tail = _ends_outside_quotes(data[start:], tail_odd)
        if head.size and tail.size:
            parity = (int(tail_odd) + _count_quotes(data[start:])) % 2 == 1
            return int(head[0]), start + int(tail[-1]), parity
    ends = _ends_outside_quotes(data, odd)
    parity = (int(odd) + _count_quotes(data)) % 2 == 1
    if not ends.size:
        return -1, -1, parity
    return int(ends[0]), int(ends[-1]), parity


# Bytes at each end of a quoted piece searched for its first and last record end.
ENDS_WINDOW = 1 << 16
# Bytes compared at once when counting quotes (a boolean array this long, not the piece's).
_COUNT_SPAN = 1 << 18


def _ends_outside_quotes(data: np.ndarray, odd: bool) -> np.ndarray:
    """Offsets just after each LF of ``data`` outside quotes (``odd``: it starts inside)."""
    quotes = np.flatnonzero(data == _QUOTE)
    breaks = np.flatnonzero(data == _LF)
    before = np.searchsorted(quotes, breaks)
    return cast(np.ndarray, breaks[(before + int(odd)) % 2 == 0] + 1)


def _count_quotes(data: np.ndarray) -> int:
    return sum(
        int(np.count_nonzero(data[i : i + _COUNT_SPAN] == _QUOTE))
        for i in range(0, data.size, _COUNT_SPAN)
    )


# Pending bytes (the end of the last block's piece) at most this long are moved to the
# front of the next piece's buffer before it is read into, so that block needs no join.
CARRY_BYTES = 64 << 10


class _Records:
    """The header record and then blocks of whole records, splitting linearly.

    Pending bytes are kept as the list of pieces read since the last cut;
    each piece is scanned once when it arrives (quote parity carried over),
    and a block is joined once when it is cut.

    With ``fill`` (``readinto`` of the rest of an uncompressed UTF-8 file,
    after the pieces), a piece is read straight into a new buffer that
    starts with the short rest of the previous block, and a block cut from
    one such buffer is that buffer, truncated: the text is copied once, from
    the file, instead of three times (read, cut, join).
    """

    def __init__(
        self,
        pieces: Iterator[bytes],
        fmt: TextFormat,
        single: bool,
        count_lines: Callable[[int], int],
        fill: Callable[[memoryview], int] | None = None,
    ) -> None:
        self._source = pieces
        self._fill = fill
        self._count_lines = count_lines
        self._fmt = fmt
        self._single = single  # the whole input in one block
        self._pending: list[Text] = []
        self._size = 0
        self._odd = False  # quote parity at the end of the pending bytes
        self._first: tuple[int, int] | None = None  # first record end: (piece, offset)
        self._last: tuple[int, int] | None = None  # last record end
        self._eof = False
        self.bytes_before = 0  # bytes of text before the pending bytes
        self._known = (0, 0)  # (bytes, line breaks in them) counted while cheap

    def _scan(self, piece: Text) -> None:
        first, last, self._odd = _record_ends(piece, self._odd)
        index = len(self._pending)
        self._pending.append(piece)
        self._size += len(piece)
        if last >= 0:
            self._last = (index, last)
            if self._first is None:
                self._first = (index, first)

    def _read(self) -> None:
        piece: Text = next(self._source, b"")
        if not piece and self._fill is not None:
            piece = self._filled()
        if not piece:
            self._eof = True
            return
        self._scan(piece)
        if self._last is None and self._size > MAX_RECORD_BYTES:
            raise self._unfinished()

    def _filled(self) -> bytearray:
        """The next piece, read into a new buffer after the pending bytes when they are short.

        Pending bytes always start at a record boundary (outside quotes), so
        the merged buffer is scanned from there; empty at the end of the input.
        """
        assert self._fill is not None
        carry: Text = b""
        if len(self._pending) == 1 and self._size <= CARRY_BYTES:
            carry = self._pending.pop()
            self._size, self._odd, self._first, self._last = 0, False, None, None
        buffer = bytearray(len(carry) + CHUNK_BYTES)
        buffer[: len(carry)] = carry
        read = self._fill(memoryview(buffer)[len(carry) :])
        if not read:
            if carry:
                self._scan(carry)  # as it was
            return bytearray()
        del buffer[len(carry) + read :]
        return buffer

    def _take(self, at: tuple[int, int] | None) -> Text:
        """The pending bytes up to ``at`` (all when None), joined once; the rest stays."""
        if at is not None and at[0] == 0 and isinstance(self._pending[0], bytearray):
            # A buffer of our own: the block is the buffer itself, cut after the record.
            buffer = self._pending[0]
            offset = at[1]
            tail = bytes(buffer[offset:])
            del buffer[offset:]
            self._pending[0:1] = [tail] if tail else []
            self._size -= offset
            self.bytes_before += offset
            self._first = self._last = None
            return buffer
        if at is None:
            pieces, self._pending = self._pending, []
        else:
            index, offset = at
            head, rest = self._pending[index][:offset], self._pending[index][offset:]
            pieces = self._pending[:index] + [head]
            self._pending = ([rest] if rest else []) + self._pending[index + 1 :]
        block = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._size -= len(block)
        self.bytes_before += len(block)
        self._first = self._last = None
        return block

    def lines_before(self) -> int:
        """Line breaks before the pending bytes: counted again from the start when needed.

        Counting every block's lines would cost about 5% of the reading time; line
        numbers are only needed for messages, so the error path reads the input again.
        """
        known_bytes, known_lines = self._known
        if known_bytes != self.bytes_before:
            self._known = (self.bytes_before, self._count_lines(self.bytes_before))
        return self._known[1]

    def _rescan(self) -> None:
        """Find the record ends of the pending bytes again (after the header was cut)."""
        pending, self._pending = self._pending, []
        self._size, self._odd = 0, False
        for piece in pending:
            self._scan(piece)

    def _unfinished(self) -> InputError:
        """The error for a record that never ends: an open quote, or a huge record."""
        pending = b"".join(self._pending)[: MAX_RECORD_BYTES + 1]
        shown = self._fmt.shown
        if self._odd or pending.count(b'"') % 2:
            at = _unclosed_quote(pending, self._fmt.sep.encode())
            line, column = _line_and_column(pending, at)
            return InputError(
                f"{shown}, line {self.lines_before() + line}, column {column}: a double "
                f'quote (") is never closed; close or remove it'
            )
        if b"\r" in pending and b"\n" not in pending:
            return InputError(
                f"{shown}: lines end with a lone CR (old Mac format), which large files cannot "
                f"be streamed with; convert the line ends to LF or CRLF (e.g. with dos2unix -c mac)"
            )
        limit = MAX_RECORD_BYTES >> 20
        return InputError(
            f"{shown}, line {self.lines_before() + 1}: a row longer than {limit} MiB, the "
            f"longest losscli reads; check the line ends and the quotes of the file"
        )

    def header(self) -> Text | None:
        """The first record after any blank lines (None when the input is blank)."""
        while True:  # blank lines before the header: skipped, counted
            if not self._pending:
                self._read()
                if self._eof:
                    return None
                continue
            piece = self._pending[0]
            stripped = piece.lstrip(b" \t\r\n")
            if len(stripped) != len(piece):
                blank = len(piece) - len(stripped)
                self._known = (
                    self._known[0] + blank,
                    self._known[1] + _lines_in(piece[:blank]),
                )
                self.bytes_before += blank
                self._pending[0] = stripped
                self._size -= blank
                if not stripped:
                    self._pending.pop(0)
                    continue
            break
        self._rescan()
        while self._first is None and not self._eof:
            self._read()
        if self._first is None:  # the input ends without a line break
            if self._odd:
                raise self._unfinished()
            record = self._take(None)
            if b"\r" in record.rstrip(b"\r"):  # old Mac line ends: the header's is a CR
                cut = record.index(b"\r") + 1
                self._pending = [record[cut:]]
                self._size = len(record) - cut
                record = record[:cut]
        else:
            record = self._take(self._first)
            self._rescan()
        self._known = (self._known[0] + len(record), self._known[1] + _lines_in(record))
        return record

    def blocks(self) -> Iterator[Text]:
        """Blocks of whole records until the input ends (the caller counts their lines)."""
        while True:
            while not self._eof and (
                self._single or self._last is None or self._size < CHUNK_BYTES // 2
            ):
                self._read()
            if self._eof:
                if self._odd:
                    raise self._unfinished()
                block = self._take(None)
            else:
                block = self._take(self._last)
            yield block
            if self._eof and not self._pending:
                return


# --------------------------------------------------------------------------- header


def parse_header(record: Text, fmt: TextFormat) -> list[str]:
    """The column names of the header record (UTF-8), with the first-line checks."""
    _check_header_line(_first_text_line(record), fmt.sep, fmt.shown)
    text = record.decode("utf-8", errors="replace").lstrip("\ufeff")
    text = text.rstrip("\r\n")
    try:
        names = next(csv.reader([text], delimiter=fmt.sep, strict=False), [])
    except csv.Error as exc:
        raise InputError(f"{fmt.shown}, line 1: cannot parse the header ({exc})") from None
    _check_header(names, fmt.shown)
    names = [n.strip() for n in names]  # ' y_true ' -> 'y_true'
    _check_header(names, fmt.shown)
    return names


def _first_text_line(record: Text) -> str:
    text = record.decode("utf-8", errors="replace").lstrip("\ufeff")
    return text.split("\n", 1)[0].split("\r", 1)[0]


# --------------------------------------------------------------------------- blocks


class TextPass:
    """One pass over a text input: ``names``, then ``tables()`` block by block."""

    def __init__(
        self,
        opener: Callable[[], IO[bytes]],
        fmt: TextFormat,
        *,
        size_hint: int | None = None,
        columns: list[str] | None = None,
    ) -> None:
        self.fmt = fmt
        self._opener = opener
        self._raw = opener()
        self._columns = columns
        self._text_columns: list[str] = []
        try:
            self._start(size_hint)
        except BaseException:
            self._raw.close()
            raise

    def _text_pieces(self, raw: IO[bytes]) -> tuple[Iterator[bytes], str | None]:
        pieces, compression, _ = self._text(raw)
        return pieces, compression

    def _text(self, raw: IO[bytes]) -> tuple[Iterator[bytes], str | None, Any]:
        text, compression = _decompressed(raw, self.fmt)
        return _pieces(text, self.fmt, compression), compression, text

    def _count_lines(self, size: int) -> int:
        """Line breaks in the first ``size`` bytes of the text, reading the input again."""
        raw = self._opener()
        try:
            pieces, _ = self._text_pieces(raw)
            if not _is_utf8(self.fmt.encoding):
                pieces = _utf8_pieces(pieces, self.fmt)
            lines = 0
            cr_before = False
            for piece in pieces:
                piece = piece[:size]
                lines += _lines_in(piece)
                if cr_before and piece.startswith(b"\n"):
                    lines -= 1  # a CRLF split between two pieces
                cr_before = piece.endswith(b"\r")
                size -= len(piece)
                if size <= 0:
                    break
            return lines
        finally:
            raw.close()

    def _start(self, size_hint: int | None) -> None:
        fmt = self.fmt
        pieces, compression, text = self._text(self._raw)
        head = next(pieces, b"")
        if not head:
            raise InputError(f"{fmt.shown} is empty: expected a header row and data rows")
        _check_not_binary(head, fmt.shown, fmt.encoding, complete=False)
        fill = None
        if _fillable(text, compression, size_hint, fmt):
            # The rest is read into the records' own buffers (the first piece is read).
            fill = _filler(text, fmt)
            pieces = iter([head])
        else:
            pieces = _chain_first(head, pieces)
        if not _is_utf8(fmt.encoding):
            pieces = _utf8_pieces(pieces, fmt)
        single = False
        if compression is None and size_hint is not None:
            single = size_hint < WHOLE_BYTES
        else:
            single, pieces = _lookahead(pieces)
        self._records = _Records(pieces, fmt, single, self._count_lines, fill)
        header = self._records.header()
        if header is None:
            raise InputError(f"{fmt.shown} is empty: expected a header row and data rows")
        self.names = parse_header(header, fmt)
        self.rows = 0
        self._bad_rows = 0

    def project(self, columns: list[str] | None, text: Sequence[str] = ()) -> None:
        """Convert only these columns (None: all) from now on (before ``tables()``).

        Every field is still split, so field counts and row numbers are
        checked as before; the other columns are never parsed into values.
        The ``text`` columns are kept as text, never read as numbers or booleans.
        """
        self._columns = columns
        self._text_columns = list(text)

    def _lines_at(self, offset: int) -> int:
        """Line breaks in the first ``offset`` bytes of the text (read again: error path)."""
        if offset == self._records._known[0]:
            return self._records._known[1]
        return self._count_lines(offset)

    def position(self) -> int | None:
        """Bytes of the raw input consumed so far (for a progress bar), when known."""
        try:
            return int(self._raw.tell())
        except (OSError, ValueError, AttributeError):
            return None

    def close(self) -> None:
        self._raw.close()

    def tables(self) -> Iterator[tuple[pa.Table, int]]:
        """(table, data rows before it) for every block; the checks of a whole input at the end."""
        names = self.names
        records = self._records
        first_bad: tuple[int | None, int, int] | None = None
        for block, start, parsed in _parsed_ahead(
            records,
            lambda block: _parse_block(block, names, self.fmt, self._columns, self._text_columns),
        ):
            if first_bad is not None:  # count the others for the message, parse nothing more
                self._bad_rows += len(_bad_rows_of(block, names, self.fmt))
                continue
            try:
                table, bad = parsed()
            except _BadUtf8 as exc:
                line, column = _line_and_column(block, exc.offset)
                line += self._lines_at(start)
                raise InputError(
                    f"{self.fmt.shown} is not valid UTF-8 (line {line}, column {column}, "
                    f"byte {block[exc.offset]:#04x}); pass its encoding, e.g. --encoding "
                    f"latin-1 (or cp1252 for Windows exports)"
                ) from None
            if bad:
                rows = _bad_rows_of(block, names, self.fmt)
                text, expected, actual = rows[0] if rows else ("", len(names), 0)
                offset = _line_offset(block, text.encode("utf-8")) if text else -1
                at = None
                if offset >= 0:  # pyarrow's row numbers skip blank lines: count lines here
                    at = self._lines_at(start) + _lines_in(block[:offset]) + 1
                first_bad = (at, expected, actual)
                self._bad_rows += bad
                continue
            if table.num_rows == 0:
                continue
            rows_before = self.rows
            self.rows += table.num_rows
            yield table, rows_before
        if first_bad is not None:
            raise _field_count_error(self.fmt.shown, *first_bad, self._bad_rows)
        if self.rows == 0:
            raise NoDataRows(f"{self.fmt.shown} has a header but no data rows")


_Parsed = tuple[pa.Table, int]  # a block's table, and its rows with a wrong field count


def _parsed_ahead(
    records: _Records, parse: Callable[[Text], _Parsed]
) -> Iterator[tuple[Text, int, Callable[[], _Parsed]]]:
    """(block, its offset in the text, its parse) for every non-blank block, parsed ahead.

    From a second block on, blocks are handed to PARSE_THREADS parsing
    threads PARSE_AHEAD blocks before they are returned, so Arrow parses the
    next blocks while the caller checks and uses this one (cutting and
    checking hold the GIL, the parse does not). An input of one block is
    parsed in the caller's thread. A parse's exception is raised when its
    result is asked for, in block order; a parse left behind by a caller
    that stops early finishes on its own (it reads only its block, in memory).
    """
    from concurrent.futures import ThreadPoolExecutor

    pool: ThreadPoolExecutor | None = None
    first: tuple[Text, int] | None = None
    ahead: deque[tuple[Text, int, Callable[[], _Parsed]]] = deque()
    try:
        for block in records.blocks():
            start = records.bytes_before - len(block)
            if not block or block.isspace():
                continue
            if first is None and not ahead:
                first = (block, start)  # parsed here, unless another block follows
                continue
            if pool is None:
                pool = ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="losscli-parse")
            if first is not None:
                ahead.append((*first, pool.submit(parse, first[0]).result))
                first = None
            ahead.append((block, start, pool.submit(parse, block).result))
            while len(ahead) > PARSE_AHEAD:
                yield ahead.popleft()
        if first is not None:
            block = first[0]
            yield (*first, lambda: parse(block))
        while ahead:
            yield ahead.popleft()
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


# Quotes walked to find the unclosed one (an error path; beyond this: the last quote).
QUOTES_WALKED = 1 << 20


def _unclosed_quote(text: bytes, sep: bytes) -> int:
    """Where the double quote that is never closed most likely is, in a record that
    never ends (``text`` starts outside quotes).

    Counting alone cannot tell which quote is the stray one: after it, every
    later pair of quotes is paired the other way round. So the quotes are
    paired from the start, and a closing quote must be doubled (an escaped
    quote) or end its field (the delimiter, a line end or the end may follow,
    after spaces): the first closing quote that does neither (``"s05`` read as
    a closing quote) shows that the quote which opened that field is the one
    never closed. If every pair is well formed, the last opening quote is.
    """
    opened = -1
    at = text.find(b'"')
    walked = 0
    while at >= 0 and walked < QUOTES_WALKED:
        walked += 1
        if opened < 0:
            opened = at
            at = text.find(b'"', at + 1)
            continue
        if text[at + 1 : at + 2] == b'"':  # doubled: a quote inside the field
            at = text.find(b'"', at + 2)
            continue
        end = at + 1
        while text[end : end + 1] in (b" ", b"\t") and text[end : end + 1] != sep:
            end += 1  # spaces before the delimiter (unless they are the delimiter)
        follows = text[end : end + 1]
        if follows in (b"", b"\n", b"\r") or follows == sep:
            opened = -1
            at = text.find(b'"', at + 1)
            continue
        return opened  # the pairing broke inside the field this quote opened
    if at >= 0 or opened < 0:
        return text.rfind(b'"')
    return opened


def _chain_first(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if head:
        yield head
    yield from rest


def _lookahead(pieces: Iterator[bytes]) -> tuple[bool, Iterator[bytes]]:
    """Read up to WHOLE_BYTES: (whether the input ended there, all its pieces again)."""
    held: deque[bytes] = deque()
    size = 0
    ended = True
    for piece in pieces:
        held.append(piece)
        size += len(piece)
        if size >= WHOLE_BYTES:
            ended = False
            break

    def replay() -> Iterator[bytes]:
        while held:
            yield held.popleft()
        yield from pieces

    return ended, replay()


class _BadUtf8(Exception):
    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


def _check_utf8(block: Text) -> None:
    if block.isascii():  # fast path; a UTF-8 check costs ~15 ms per 200 MB otherwise
        return
    try:
        block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadUtf8(exc.start) from None


def _parse_block(
    block: Text,
    names: list[str],
    fmt: TextFormat,
    columns: list[str] | None,
    text: Sequence[str] = (),
) -> tuple[pa.Table, int]:
    """(table, rows with a wrong number of fields); the ``text`` columns as strings."""
    _check_utf8(block)
    bad_rows = 0

    def on_invalid(row: Any) -> str:
        nonlocal bad_rows
        if row.text.strip():  # a line of spaces is a blank line, not a short row
            bad_rows += 1
        return "skip"

    parse = pacsv.ParseOptions(
        delimiter=fmt.sep, invalid_row_handler=on_invalid, newlines_in_values=b'"' in block
    )
    types = {name: pa.string() for name in text} or None
    if (b"x" in block or b"X" in block) and (b"0x" in block or b"0X" in block):
        # pyarrow reads 0x10 as the integer 16; the number grammar (io/numbers.py) does not.
        types = {name: pa.string() for name in (columns or names)}
    convert = pacsv.ConvertOptions(
        strings_can_be_null=True, include_columns=columns, column_types=types
    )
    block_size = 1 << 20
    while True:
        try:
            table = pacsv.read_csv(
                pa.py_buffer(block),
                read_options=pacsv.ReadOptions(
                    column_names=names,
                    use_threads=len(block) > block_size,
                    block_size=block_size,
                ),
                parse_options=parse,
                convert_options=convert,
            )
        except pa.ArrowInvalid as exc:
            message = _clean_arrow(str(exc))
            if "straddling" in message and block_size <= len(block):
                block_size = len(block) + 1  # a row longer than a parser block: one block
                bad_rows = 0
                continue
            raise InputError(
                f"{fmt.shown}: cannot parse as CSV ({_short(message.splitlines()[0], 200)}); "
                f"check the delimiter (--delimiter) and the encoding (--encoding)"
            ) from None
        return table, bad_rows


def _line_offset(block: Text, line: bytes) -> int:
    """Where the first line of the block that is exactly ``line`` starts (-1: none)."""
    start = 0
    while (start := block.find(line, start)) >= 0:
        end = start + len(line)
        if (start == 0 or block[start - 1] in b"\r\n") and (
            end == len(block) or block[end] in b"\r\n"
        ):
            return start
        start += 1
    return -1


def _bad_rows_of(block: Text, names: list[str], fmt: TextFormat) -> list[tuple[str, int, int]]:
    """(text, fields expected, fields found) of every row with a wrong count of fields."""
    rows: list[tuple[str, int, int]] = []
    try:
        _check_utf8(block)
    except _BadUtf8:
        # Only counted (a later block, after the first bad row): pyarrow would fail to
        # decode such a row for the handler and report it as an unraisable exception.
        block = block.decode("utf-8", errors="replace").encode("utf-8")

    def record(row: Any) -> str:
        if row.text.strip():
            rows.append((row.text, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        pacsv.read_csv(
            pa.py_buffer(block),
            read_options=pacsv.ReadOptions(
                column_names=names, use_threads=False, block_size=max(1 << 20, len(block) + 1)
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=fmt.sep,
                invalid_row_handler=record,
                newlines_in_values=b'"' in block,
            ),
            convert_options=pacsv.ConvertOptions(
                strings_can_be_null=True, column_types={n: pa.string() for n in names}
            ),
        )
    except pa.ArrowInvalid:
        pass  # counted as far as it goes: this is already the error path
    return rows


def _field_count_error(
    shown: str, line: int | None, expected: int, actual: int, count: int
) -> InputError:
    """The message for the first row with a wrong field count; ``count`` covers the input."""
    where = f"line {line}" if line is not None else "a row"
    more = f" ({count} such rows in all)" if count > 1 else ""
    hint = "fix the row or check the delimiter (--delimiter)"
    if expected == 1 and actual > 1:
        hint = (
            "if line 1 is a title or comment above the header, delete it; "
            "otherwise check the delimiter (--delimiter)"
        )
    return InputError(
        f"{shown}, {where}: {plural(actual, 'field')} but the header has {expected}{more}; {hint}"
    )
