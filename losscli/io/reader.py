"""Reading a file (csv, tsv, compressed, parquet, stdin) into an Arrow table.

Structural problems (missing file, empty file, bad compression, rows with the
wrong number of fields, duplicate header names) raise InputError here.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import os
import sys
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
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise InputError(
                f"{path} is not a valid {compression[1:]} file ({exc}); "
                f"rename it to match its real format or re-create it"
            ) from None
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def _header_fields(data: bytes, delimiter: str, encoding: str) -> list[str]:
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    text = first.decode(encoding, errors="replace").lstrip("\ufeff")
    return next(csv.reader([text], delimiter=delimiter), [])


def _check_header(names: Sequence[str], path: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(
                f"{path}: duplicate column name {name!r} in the header; rename one of them"
            )
        seen.add(name)


def read_table(path: str, *, delimiter: str | None = None, encoding: str = "utf-8") -> pa.Table:
    """Read a csv/tsv/compressed/parquet file or stdin into an Arrow table."""
    inner, _ = _split_extension(path)
    if inner == ".parquet" and path != "-":
        return _read_parquet(path)
    sep = _delimiter_for(path, delimiter)
    data = _read_all_bytes(path)
    shown = "stdin" if path == "-" else path
    if not data.strip():
        raise InputError(f"{shown} is empty: expected a header row and data rows")
    enc = encoding.lower().replace("_", "-")
    if enc in ("utf-8", "utf8"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{shown} is not valid UTF-8 (byte {exc.start}); "
                f"pass its encoding, e.g. --encoding latin-1 or --encoding utf-16"
            ) from None
        if b"\x00" in data[:4096]:
            raise InputError(
                f"{shown} contains NUL bytes: it looks binary or UTF-16; "
                f"for UTF-16 text pass --encoding utf-16"
            )
    header = _header_fields(data, sep, encoding if enc not in ("utf-8", "utf8") else "utf-8")
    if enc in ("utf-8", "utf8"):
        _check_header(header, shown)

    bad_rows: list[tuple[int | None, int, int]] = []

    def on_invalid(row: Any) -> str:
        bad_rows.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(encoding=encoding, use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=sep, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r} for --encoding") from None
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "Empty CSV" in message:
            raise InputError(f"{shown} is empty: expected a header row and data rows") from None
        raise InputError(f"{shown}: cannot parse as CSV ({_clean_arrow(message)})") from None
    if bad_rows:
        number, expected, actual = bad_rows[0]
        where = f"line {number}" if number is not None else "a row"
        more = f" ({len(bad_rows)} such rows in all)" if len(bad_rows) > 1 else ""
        raise InputError(
            f"{shown}: {where} has {actual} field(s) but the header has {expected}{more}; "
            f"fix the row or check the delimiter (--delimiter)"
        )
    if enc not in ("utf-8", "utf8"):
        _check_header(table.column_names, shown)
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
