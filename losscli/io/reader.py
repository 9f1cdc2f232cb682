"""The checks on a text input's bytes and header, written once for the one reader.

Used by :mod:`losscli.io.text` (which reads every CSV/TSV input) and
:mod:`losscli.io.source` (which opens inputs): the extension's meaning, the
delimiter, opening a path with clear messages, binary or misnamed compressed
content, encodings, comment/preamble first lines and duplicate column names.
"""

from __future__ import annotations

import codecs
import csv
import os
import sys
from collections.abc import Sequence
from typing import IO

from losscli.errors import InputError, UsageError

_COMPRESSION = (".gz", ".bz2", ".xz")


def _split_extension(path: str) -> tuple[str, str | None]:
    """('.csv', '.gz') for data.csv.gz; ('.csv', None) for data.csv."""
    base, ext = os.path.splitext(path.lower())
    if ext in _COMPRESSION:
        inner = os.path.splitext(base)[1]
        return inner, ext
    return ext, None


def _delimiter_for(path: str, override: str | None) -> str:
    """One ASCII character (tab as ``tab`` or ``\\t``), never the quote or a line end."""
    if override is not None:
        if override in ("\\t", "tab", "TAB"):
            return "\t"
        if len(override) != 1 or not (override == "\t" or " " <= override <= "~"):
            raise UsageError(
                f"--delimiter must be one ASCII character, such as ';' or '|' (tab: "
                f"--delimiter tab), got {override!r}"
            )
        if override == '"':
            raise UsageError(
                "--delimiter cannot be '\"', the quote character of CSV; choose another one"
            )
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


# Codecs that map text to text in Python's sense but not a file's bytes to its text.
_NOT_FILE_ENCODINGS = ("idna", "punycode", "undefined")


def _check_encoding(encoding: str) -> None:
    """A codec that decodes a file's bytes into text (not rot13, base64, zip, idna ...)."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise UsageError(
            f"unknown encoding {encoding!r} for --encoding; try utf-8, latin-1, cp1252 or utf-16"
        ) from None
    # CodecInfo._is_text_encoding is False for the bytes-to-bytes and str-to-str codecs
    # (base64, hex, zip, bz2, rot13, ...), which codecs.decode accepts but files never use.
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_FILE_ENCODINGS:
        raise UsageError(
            f"--encoding {encoding!r} is not a text encoding (it does not turn a file's "
            f"bytes into text); try utf-8, latin-1, cp1252 or utf-16"
        )


def _line_and_column(data: bytes | bytearray, offset: int) -> tuple[int, int]:
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


def _check_header(names: Sequence[str], path: str) -> None:
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise InputError(
                f"{path}, line 1: duplicate column name {name!r} (field {position} of the "
                f"header); rename one of them"
            )
        seen.add(name)


def check_text_start(
    head: bytes, path: str, *, delimiter: str | None = None, encoding: str = "utf-8"
) -> None:
    """The checks of the reader (io/text.py) that need only the first bytes of the text.

    For readers that stream a file in blocks: pass the first (decompressed) block.
    Raises InputError for binary or misnamed compressed content, a wrong encoding,
    a comment/preamble first line or a header that hints at another delimiter.
    """
    _check_encoding(encoding)
    shown = "stdin" if path == "-" else path
    _check_not_binary(head, shown, encoding, complete=False)
    _check_header_line(_first_line(head, encoding), _delimiter_for(path, delimiter), shown)


def _clean_arrow(message: str) -> str:
    return message.replace("CSV parse error: ", "").strip()
