"""Reading a file (csv, tsv, compressed, parquet, stdin) into an Arrow table.

Structural problems (missing file, empty file, bad compression, rows with the
wrong number of fields, duplicate header names) raise InputError here.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import lzma
import os
import sys
import zlib
from collections.abc import Sequence
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv

from losscli.errors import InputError, UsageError

_COMPRESSION = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _split_extension(path: str) -> tuple[str, str | None]:
    """('.csv', '.gz') for data.csv.gz; ('.csv', None) for data.csv."""
    base, ext = os.path.splitext(path.lower())
    if ext in _COMPRESSION:
        inner = os.path.splitext(base)[1]
        return inner, ext
    return ext, None


def _delimiter_for(path: str, override: str | None) -> str:
    if override:
        if override in ("\\t", "tab", "TAB"):
            return "\t"
        if len(override) != 1:
            raise UsageError(f"--delimiter must be one character, got {override!r}")
        return override
    inner, _ = _split_extension(path)
    return "\t" if inner in (".tsv", ".tab") else ","


def _open_binary(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    if not os.path.exists(path):
        raise InputError(f"file not found: {path}. Check the path (use - to read from stdin)")
    if os.path.isdir(path):
        raise InputError(
            f"{path} is a directory, not a file: give the path of a CSV, TSV or Parquet file"
        )
    try:
        handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except PermissionError:
        raise InputError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return handle


def _read_all_bytes(path: str) -> bytes:
    """The decompressed bytes of the file (compression from the extension)."""
    _, compression = _split_extension(path)
    handle = _open_binary(path)
    try:
        if compression is None:
            return handle.read()
        opener = _COMPRESSION[compression]
        try:
            with opener(handle) as stream:  # type: ignore[operator]
                return stream.read()
        except EOFError:
            raise InputError(
                f"{path} is truncated: the {compression[1:]} stream ends early; "
                f"re-create or re-download the file"
            ) from None
        except (OSError, lzma.LZMAError, zlib.error) as exc:
            raise InputError(
                f"{path} is not a valid {compression[1:]} file ({exc}); "
                f"rename it to match its real format or re-create it"
            ) from None
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


# Leading bytes of formats that are not CSV text: (magic, what it is, what to do).
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed data", "name it with a .gz extension"),
    (b"BZh", "bzip2-compressed data", "name it with a .bz2 extension"),
    (b"\xfd7zXZ\x00", "xz-compressed data", "name it with a .xz extension"),
    (b"PAR1", "a Parquet file", "name it with a .parquet extension"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?)", "export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.xls?)", "export the sheet as CSV"),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_DELIMITER_CANDIDATES = (";", "\t", "|", ",")
_COMMENT_PREFIXES = ("#", "//", "%")


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UsageError(
            f"unknown encoding {encoding!r} for --encoding; try utf-8, latin-1, cp1252 or utf-16"
        ) from None


def _line_and_column(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in bytes) of a byte offset."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _check_not_binary(data: bytes, shown: str, encoding: str, complete: bool = True) -> None:
    """Recognise compressed files, spreadsheets and binary junk before parsing them as CSV."""
    for magic, what, todo in _MAGIC:
        if data.startswith(magic):
            raise InputError(f"{shown} looks like {what}, not CSV text; {todo}")
    utf8 = _is_utf8(encoding)
    wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    if utf8 and data.startswith(_UTF16_BOMS):
        raise InputError(
            f"{shown} is UTF-16 text (it starts with a UTF-16 byte-order mark); "
            f"pass --encoding utf-16"
        )
    if wide:
        return
    head = data[:65536]
    nul = head.find(b"\x00")
    if nul >= 0:
        # UTF-16 without a byte-order mark: every other byte of ASCII text is NUL.
        if head[1::2].count(0) > 0.4 * len(head[1::2]) or head[0::2].count(0) > 0.4 * len(
            head[0::2]
        ):
            raise InputError(f"{shown} looks like UTF-16 text; pass --encoding utf-16")
    control = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 13))
    if nul >= 0 or control > max(2, len(head) // 100):
        first = (
            nul
            if nul >= 0
            else next(i for i, b in enumerate(head) if b < 32 and b not in (9, 10, 13))
        )
        line, column = _line_and_column(data, first)
        raise InputError(
            f"{shown} does not look like a text file (binary bytes at line {line}, "
            f"column {column}); give a CSV, TSV, compressed CSV or Parquet file"
        )
    if utf8:
        try:
            # A block cut from a longer file may end inside a character: not an error.
            codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
        except UnicodeDecodeError as exc:
            line, column = _line_and_column(data, exc.start)
            raise InputError(
                f"{shown} is not valid UTF-8 (line {line}, column {column}, byte "
                f"{data[exc.start]:#04x}); pass its encoding, e.g. --encoding latin-1 "
                f"(or cp1252 for Windows exports)"
            ) from None


def _first_line(data: bytes, encoding: str) -> str:
    first = data.split(b"\n", 1)[0]
    if codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):
        text = data[:65536].decode(encoding, errors="replace").split("\n", 1)[0]
    else:
        text = first.decode(encoding, errors="replace")
    # Old Mac files end lines with a lone CR, which the CSV parser accepts too.
    return text.lstrip("\ufeff").split("\r", 1)[0]


def _check_header_line(header: str, sep: str, shown: str) -> None:
    """Comment/preamble lines and a wrong delimiter show up in the first line."""
    stripped = header.strip()
    try:
        fields = next(csv.reader([header], delimiter=sep), [])
    except csv.Error:  # e.g. a NUL or a stray quote: the Arrow parser reports it better
        return
    # '#id' may be a column name; '# generated by ...' or a lone '#...' field is not.
    comment = stripped.startswith(_COMMENT_PREFIXES) and (
        len(fields) == 1 or stripped.lstrip("#/%")[:1] in (" ", "")
    )
    if comment:
        raise InputError(
            f"{shown}, line 1: {_short(stripped)!r} looks like a comment or preamble line; "
            f"the first line must be the header row (column names): delete the lines above it"
        )
    if len(fields) != 1:
        return
    for candidate in _DELIMITER_CANDIDATES:
        if candidate != sep and candidate in header:
            shown_sep = "tab" if candidate == "\t" else candidate
            raise InputError(
                f"{shown}, line 1: the header {_short(header)!r} is a single column when split "
                f"on {_named(sep)}; the file seems to use {_named(candidate)}: "
                f"pass --delimiter '{shown_sep}'"
            )


def _named(sep: str) -> str:
    return {"\t": "tabs", ",": "commas", ";": "semicolons", "|": "pipes"}.get(sep, repr(sep))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_quotes(data: bytes, shown: str) -> None:
    """An odd number of double quotes means one is never closed: find its line."""
    if data.count(b'"') % 2 == 0:
        return
    open_quote = False
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.count(b'"') % 2:
            open_quote = not open_quote
            if open_quote:
                column = line.find(b'"') + 1
                raise InputError(
                    f'{shown}, line {number}, column {column}: a double quote (") is never '
                    f"closed; close or remove it"
                )


def _check_header(names: Sequence[str], path: str) -> None:
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise InputError(
                f"{path}, line 1: duplicate column name {name!r} (field {position} of the "
                f"header); rename one of them"
            )
        seen.add(name)


def _strip_names(table: pa.Table, shown: str) -> pa.Table:
    """' y_true ' -> 'y_true' (spaces around header names are a formatting accident)."""
    names = table.column_names
    _check_header(names, shown)
    stripped = [n.strip() for n in names]
    if stripped == names:
        return table
    _check_header(stripped, shown)
    return table.rename_columns(stripped)


def _parse(data: bytes, sep: str, encoding: str, use_threads: bool, on_invalid: Any) -> pa.Table:
    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(encoding=encoding, use_threads=use_threads),
        parse_options=pacsv.ParseOptions(delimiter=sep, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
    )


def _field_count_error(data: bytes, sep: str, encoding: str, shown: str, count: int) -> InputError:
    """Re-parse single-threaded (the error path only) to learn the line numbers."""
    rows: list[tuple[int | None, int, int]] = []

    def record(row: Any) -> str:
        if row.text.strip():
            rows.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    _parse(data, sep, encoding, False, record)
    number, expected, actual = rows[0] if rows else (None, 0, 0)
    where = f"line {number}" if number is not None else "a row"
    more = f" ({count} such rows in all)" if count > 1 else ""
    hint = "fix the row or check the delimiter (--delimiter)"
    if expected == 1 and actual > 1:
        hint = (
            "if line 1 is a title or comment above the header, delete it; "
            "otherwise check the delimiter (--delimiter)"
        )
    return InputError(
        f"{shown}, {where}: {actual} field(s) but the header has {expected}{more}; {hint}"
    )


def check_text_start(
    head: bytes, path: str, *, delimiter: str | None = None, encoding: str = "utf-8"
) -> None:
    """The checks of :func:`read_table` that need only the first bytes of the text.

    For readers that stream a file in blocks: pass the first (decompressed) block.
    Raises InputError for binary or misnamed compressed content, a wrong encoding,
    a comment/preamble first line or a header that hints at another delimiter.
    """
    _check_encoding(encoding)
    shown = "stdin" if path == "-" else path
    _check_not_binary(head, shown, encoding, complete=False)
    _check_header_line(_first_line(head, encoding), _delimiter_for(path, delimiter), shown)


def read_table(path: str, *, delimiter: str | None = None, encoding: str = "utf-8") -> pa.Table:
    """Read a csv/tsv/compressed/parquet file or stdin into an Arrow table."""
    _check_encoding(encoding)
    inner, _ = _split_extension(path)
    if inner == ".parquet" and path != "-":
        return _read_parquet(path)
    sep = _delimiter_for(path, delimiter)
    data = _read_all_bytes(path)
    shown = "stdin" if path == "-" else path
    if not data.strip():
        raise InputError(f"{shown} is empty: expected a header row and data rows")
    _check_not_binary(data, shown, encoding)
    _check_header_line(_first_line(data, encoding), sep, shown)
    if not codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):
        _check_quotes(data, shown)

    bad_rows = 0

    def on_invalid(row: Any) -> str:
        nonlocal bad_rows
        if row.text.strip():  # a line of spaces is a blank line, not a short row
            bad_rows += 1
        return "skip"

    try:
        table = _parse(data, sep, encoding, True, on_invalid)
    except UnicodeError as exc:  # an explicit --encoding that does not fit the bytes
        raise InputError(
            f"{shown} cannot be decoded as {encoding} ({exc.__class__.__name__}: "
            f"{_short(str(exc), 80)}); check --encoding (utf-8 is the default)"
        ) from None
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "Empty CSV" in message:
            raise InputError(f"{shown} is empty: expected a header row and data rows") from None
        raise InputError(
            f"{shown}: cannot parse as CSV ({_clean_arrow(message)}); "
            f"check the delimiter (--delimiter) and the encoding (--encoding)"
        ) from None
    if bad_rows:
        raise _field_count_error(data, sep, encoding, shown, bad_rows)
    table = _strip_names(table, shown)
    if table.num_rows == 0:
        raise InputError(f"{shown} has a header but no data rows")
    return table


def _clean_arrow(message: str) -> str:
    return message.replace("CSV parse error: ", "").strip()


def _read_parquet(path: str) -> pa.Table:
    handle = _open_binary(path)
    handle.close()
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise InputError("reading .parquet needs pyarrow: pip install pyarrow") from None
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path} is not a valid Parquet file ({exc})") from None
    _check_header(table.column_names, path)
    if table.num_rows == 0:
        raise InputError(f"{path} has no data rows")
    return table
