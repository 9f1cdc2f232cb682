"""One dataset over many files: a directory, a quoted glob or an fsspec URL.

``loss compute preds/``, ``loss compute 'logs/**/part-*.csv'`` and
``loss compute s3://bucket/preds/ --storage-option endpoint_url=...`` read
one dataset: the data files, sorted by path, their rows one after another.

- A directory means its data files (``.csv``, ``.tsv``, ``.tab``, those
  compressed as ``.gz``/``.bz2``/``.xz``, and ``.parquet``), recursively.
  Names starting with ``.`` or ``_`` are skipped, files and folders alike
  (hidden files, ``_SUCCESS`` markers, ``_temporary`` folders), and so are
  files of other kinds (a README, ``.crc`` checksums). A glob's matches are
  filtered the same way, and a folder it matches stands for its data files.
  CSV and Parquet files may be mixed: each file is read by its own extension.
- Every file must have the same columns as the first (in any order; the
  first file's order is kept); otherwise the error names the first file that
  differs and how.
- Folders named ``key=value`` (hive partitioning, e.g. ``day=2026-11-01/``)
  give a text column ``key`` holding ``value`` for the rows of the files
  below them, added only when an option names it (``--group-by day``), so
  they are never taken for targets or predictions. Every file must sit
  under the same partition keys.
- Row numbers count the rows of the whole dataset, files in order; an error
  about a row says which file and which of its rows that is.
- URLs go through fsspec (the ``cloud`` extra: ``pip install
  'losscli[cloud]'``); ``file://`` URLs, local folders and globs need
  nothing beyond the standard library. ``--storage-option KEY=VALUE``
  options go to fsspec (see :func:`storage_option_value`).

:func:`open_partition` opens one :class:`~losscli.io.source.Partition` again
(in this process or on a Dask worker) from its path and options alone.
"""

from __future__ import annotations

import bisect
import glob
import json
import os
import re
import stat
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

import pyarrow as pa

from losscli.errors import InputError, LossCliError, NoDataRows, UsageError
from losscli.io.arrow import repeated_string
from losscli.io.columns import InputOptions, missing_and_extra
from losscli.io.source import Partition, Progress, Source

CLOUD_EXTRA_HINT = "pip install 'losscli[cloud]'"
DATA_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet")
_COMPRESSED = (".gz", ".bz2", ".xz")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_MAGIC = re.compile(r"[*?\[]")
_HIVE = re.compile(r"^([^=]+)=(.*)$")
# S3 defaults that keep an unreachable endpoint from hanging (botocore's own are a
# 60 s connect timeout and 5 attempts): at most 3 attempts of 10 s to connect.
S3_TIMEOUTS: dict[str, Any] = {
    "connect_timeout": 10,
    "read_timeout": 60,
    "retries": {"max_attempts": 3},
}
# Words in a storage option's name that mark its value as a secret (never shown).
_SECRET_WORDS = ("secret", "key", "token", "password", "credential", "sas", "connection")


# --------------------------------------------------------------------------- what FILE is


def url_scheme(path: str) -> str | None:
    """The scheme of a URL (``s3``, ``https``, ``file``, ...), else None."""
    found = _URL.match(path)
    return found.group(1).lower() if found else None


def is_many(path: str) -> bool:
    """Whether ``path`` is read here: a URL, a directory, or a glob that is not a file."""
    if path == "-":
        return False
    if url_scheme(path) is not None:
        return True
    if os.path.isdir(path):
        return True
    return bool(_MAGIC.search(path)) and not os.path.lexists(path)


def is_data_file(name: str) -> bool:
    """A CSV/TSV (maybe compressed) or Parquet file name, not hidden or a marker."""
    base = os.path.basename(name.rstrip("/"))
    if base.startswith((".", "_")):
        return False
    low = base.lower()
    stem, ext = os.path.splitext(low)
    if ext in _COMPRESSED:
        return os.path.splitext(stem)[1] in (".csv", ".tsv", ".tab")
    return ext in DATA_SUFFIXES


def storage_option_value(text: str) -> Any:
    """A ``--storage-option`` value as fsspec expects it.

    ``true``/``false`` (any case) become booleans, ``none``/``null`` None,
    whole numbers ints, other numbers floats, and text starting with ``{``
    or ``[`` is read as JSON (``client_kwargs={"region_name": "eu-west-1"}``);
    anything else stays text.
    """
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if re.fullmatch(r"[-+]?\d+", low):
        return int(low)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", low):
        return float(low)
    if low.startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            raise UsageError(
                f"--storage-option value {text!r} starts like JSON but is not valid JSON"
            ) from None
    return text


def parse_storage_options(items: Sequence[str]) -> dict[str, Any]:
    """``["anon=true", "endpoint_url=http://..."]`` as a dict (values converted)."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"--storage-option expects KEY=VALUE (e.g. endpoint_url=http://localhost:9000), "
                f"got {_shown_option(item)!r}"
            )
        if key in options:
            raise UsageError(f"--storage-option {key} is given twice")
        options[key] = storage_option_value(value)
    return options


def _shown_option(item: str) -> str:
    key = item.partition("=")[0]
    return f"{key}=..." if _is_secret(key) else item


def _is_secret(key: str) -> bool:
    low = key.lower()
    return any(word in low for word in _SECRET_WORDS)


def _scrub(text: str, storage_options: Mapping[str, Any]) -> str:
    """``text`` with every storage option's secret value (and long values) hidden."""
    for key, value in storage_options.items():
        for shown in _secret_texts(key, value):
            text = text.replace(shown, "***")
    return text


def _secret_texts(key: str, value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [t for k, v in value.items() for t in _secret_texts(f"{key}.{k}", v)]
    if isinstance(value, str) and value and (_is_secret(key) or len(value) >= 16):
        return [value] if key != "endpoint_url" else []
    return []


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class _File:
    """One data file: ``path`` as shown and opened (a local path or a full URL)."""

    path: str
    hive: tuple[tuple[str, str], ...]
    size: int | None


class _Location:
    """Where the files live: this machine, or an fsspec filesystem."""

    def __init__(self, spec: str, storage_options: Mapping[str, Any]) -> None:
        self.spec = spec
        self.storage_options = dict(storage_options)
        self.fs: Any = None
        self.protocol: str | None = None
        scheme = url_scheme(spec)
        if scheme == "file":
            self.root = urllib.parse.unquote(spec[len("file://") :]) or "/"
            if storage_options:
                raise UsageError("--storage-option is for remote URLs, not for file:// paths")
        elif scheme is not None:
            self.protocol = scheme
            self.fs, self.root = _filesystem(spec, self.storage_options)
        else:
            self.root = spec
            if storage_options:
                raise UsageError(
                    f"--storage-option is for URLs (s3://, gs://, abfs://, https://), "
                    f"not for the local path {spec}"
                )

    # ---------------------------------------------------------------- remote calls

    def remote(self, what: str, call: Callable[[], Any]) -> Any:
        """``call()`` on the filesystem, its failures as one clear InputError."""
        try:
            return call()
        except LossCliError:
            raise
        except Exception as exc:  # noqa: BLE001 - every storage library has its own
            raise remote_error(what, exc, self.storage_options) from None

    def url(self, path: str) -> str:
        if self.fs is None:
            return path
        return str(self.fs.unstrip_protocol(path))

    # ---------------------------------------------------------------- listing

    def files(self) -> list[_File]:
        if self.fs is None:
            return self._local_files()
        return self._remote_files()

    def _local_files(self) -> list[_File]:
        root = self.root
        if os.path.isdir(root):
            found = _walk(root)
            if not found:
                raise InputError(
                    f"{self.spec} is a directory with no data files (CSV, TSV or Parquet; "
                    f"names starting with . or _ are skipped): give a file, or a directory "
                    f"or quoted glob of data files"
                )
            base = root
        elif _MAGIC.search(root) and not os.path.lexists(root):
            base = _glob_base(root)
            matches = sorted(glob.glob(root, recursive=True))
            found = []
            for match in matches:
                if _hidden_below(match + ("/" if os.path.isdir(match) else ""), base):
                    continue  # under a _temporary or hidden folder
                if os.path.isdir(match):
                    found.extend(_walk(match))
                elif is_data_file(match):
                    found.append(match)
            if not found:
                what = (
                    f"matches only {_few(matches)}, none of them data files (CSV, TSV or Parquet)"
                    if matches
                    else "matches no file"
                )
                raise InputError(
                    f"{self.spec} {what}; check the pattern (quote it so that the shell "
                    f"does not expand it)"
                )
        else:
            # A single file given as file://
            from losscli.io.reader import _open_binary

            _open_binary(root).close()  # existence, directory and permission messages
            return [_File(root, (), os.stat(root).st_size)]
        paths = sorted(set(found))
        return [_File(p, _hive(p, base), _local_size(p)) for p in paths]

    def _remote_files(self) -> list[_File]:
        fs, root, spec = self.fs, self.root, self.spec
        if _MAGIC.search(root):
            matches = self.remote(spec, lambda: fs.glob(root, detail=True))
            found: dict[str, Any] = {}
            for name, info in sorted(matches.items()):
                if info.get("type") == "directory":
                    found.update(self._find(name))
                else:
                    found[name] = info
            base = _glob_base(root)
        else:
            info = self.remote(spec, lambda: _info(fs, root))
            if info is None:
                hint = (
                    " (and --storage-option endpoint_url=... for a non-AWS endpoint)"
                    if self.protocol in ("s3", "s3a")
                    else ""
                )
                raise InputError(f"file not found: {spec}. Check the URL{hint}")
            # A web server has no folders: a URL ending in / is an index page whose links
            # are the files (as fsspec lists them).
            web_folder = self.protocol in ("http", "https") and root.endswith("/")
            if info.get("type") != "directory" and not web_folder:
                return [_File(self.url(root), (), info.get("size"))]
            found = self._find(root)
            base = root
        data = {
            name: info
            for name, info in found.items()
            if info.get("type") != "directory"
            and is_data_file(name)
            and not _hidden_below(name, base)
        }
        if not data:
            raise InputError(
                f"{spec} holds no data files (CSV, TSV or Parquet; names starting with . or _ "
                f"are skipped){'' if not found else ': found ' + _few(sorted(found))}"
            )
        return [
            _File(self.url(name), _hive(name, base), data[name].get("size"))
            for name in sorted(data)
        ]

    def _find(self, folder: str) -> dict[str, Any]:
        found: dict[str, Any] = self.remote(self.spec, lambda: self.fs.find(folder, detail=True))
        return found

    # ---------------------------------------------------------------- opening

    def opener(self, path: str) -> Callable[[], IO[bytes]]:
        """Opens the file at ``path`` (a URL for remote files) for reading bytes."""
        if self.fs is None:
            from losscli.io.reader import _open_binary

            return lambda: _open_binary(path)
        fs = self.fs
        inner = fs._strip_protocol(path)

        def open_remote() -> IO[bytes]:
            handle: IO[bytes] = self.remote(path, lambda: fs.open(inner, "rb"))
            guarded: Any = _Guarded(handle, path, self.storage_options)
            return cast(IO[bytes], guarded)  # read like the file it wraps

        return open_remote


def _info(fs: Any, root: str) -> dict[str, Any] | None:
    try:
        info: dict[str, Any] = fs.info(root)
    except FileNotFoundError:
        return None
    return info


def _few(names: Sequence[str]) -> str:
    shown = ", ".join(os.path.basename(n.rstrip("/")) or n for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _walk(root: str) -> list[str]:
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        found.extend(os.path.join(folder, n) for n in names if is_data_file(n))
    return found


def _local_size(path: str) -> int | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _glob_base(pattern: str) -> str:
    """The folders of a glob before its first wildcard (hive keys are read below them)."""
    parts = pattern.split("/")
    plain: list[str] = []
    for part in parts[:-1]:
        if _MAGIC.search(part):
            break
        plain.append(part)
    return "/".join(plain)


def _relative_folders(path: str, base: str) -> list[str]:
    base = base.rstrip("/")
    rest = path[len(base) :] if base and path.startswith(base) else path
    return [p for p in rest.split("/")[:-1] if p]


def _hidden_below(path: str, base: str) -> bool:
    return any(
        p.startswith((".", "_")) and p not in (".", "..") for p in _relative_folders(path, base)
    )


def _hive(path: str, base: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for folder in _relative_folders(path.replace(os.sep, "/"), base.replace(os.sep, "/")):
        # Writers escape characters of values as %XX (web servers the = too).
        found = _HIVE.match(urllib.parse.unquote(folder))
        if found:
            pairs.append((found.group(1), found.group(2)))
    return tuple(pairs)


# --------------------------------------------------------------------------- fsspec


def _filesystem(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path within it."""
    try:
        import fsspec
    except ImportError:
        raise InputError(
            f"reading {url.split('://')[0]}:// URLs needs fsspec, which is not installed; "
            f"install it with: {CLOUD_EXTRA_HINT}"
        ) from None
    options = dict(storage_options)
    scheme = url_scheme(url)
    if scheme in ("s3", "s3a") and "config_kwargs" not in options:
        options["config_kwargs"] = S3_TIMEOUTS
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        raise InputError(
            f"reading {scheme}:// URLs needs a package that is not installed "
            f"({_first_line(exc)}); install it with: {CLOUD_EXTRA_HINT}"
        ) from None
    except ValueError as exc:
        if "Protocol not known" in str(exc) or "not known" in str(exc):
            raise UsageError(
                f"{scheme}:// is not a storage protocol fsspec knows; use s3://, gs://, "
                f"abfs://, https:// or a local path"
            ) from None
        raise UsageError(f"--storage-option: {_scrub(_first_line(exc), storage_options)}") from None
    except TypeError as exc:
        raise UsageError(
            f"--storage-option: {_scrub(_first_line(exc), storage_options)} "
            f"(the options go to the {scheme}:// filesystem of fsspec)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - each filesystem checks its options its own way
        raise remote_error(url, exc, storage_options) from None
    return fs, str(path)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# A refused or timed-out connection, decided before access denied: its text names the
# endpoint, whose port may hold the digits 403 ...
_UNREACHABLE = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError")
# ... and HTTP status 403 as a word: not the digits of a port or a key (":40369").
_HTTP_403 = re.compile(r"(?<![\w:./-])403(?![\w.])")


def remote_error(what: str, exc: BaseException, storage_options: Mapping[str, Any]) -> InputError:
    """A storage library's exception as one clear InputError, secrets hidden."""
    name = type(exc).__name__
    detail = _scrub(_first_line(exc), storage_options)
    if name in ("NoCredentialsError", "PartialCredentialsError", "NoCredentialsFound") or (
        "credential" in detail.lower() and "invalid" not in detail.lower()
    ):
        return InputError(
            f"cannot read {what}: no usable credentials ({detail}); pass "
            f"--storage-option key=... --storage-option secret=... (or set "
            f"AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), or anon=true for a public bucket"
        )
    unreachable = name in _UNREACHABLE or isinstance(exc, (ConnectionError, TimeoutError))
    if not unreachable and (
        isinstance(exc, PermissionError)
        or any(
            word in detail
            for word in ("AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch")
        )
        or _HTTP_403.search(detail) is not None
    ):
        return InputError(
            f"cannot read {what}: access denied ({detail}); check the credentials and that "
            f"they may read this location"
        )
    if isinstance(exc, FileNotFoundError):
        return InputError(f"file not found: {what} ({detail})")
    if unreachable:
        return InputError(
            f"cannot reach the storage for {what} ({detail}); check the URL, the network "
            f"and --storage-option endpoint_url"
        )
    return InputError(f"cannot read {what}: {detail}")


class _Guarded:
    """A remote file whose read failures become InputErrors naming it (secrets hidden)."""

    def __init__(self, handle: IO[bytes], path: str, storage_options: Mapping[str, Any]) -> None:
        self._handle = handle
        self._path = path
        self._options = storage_options

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._handle, method)(*args)
        except LossCliError:
            raise
        except Exception as exc:  # noqa: BLE001 - every storage library has its own
            raise remote_error(self._path, exc, self._options) from None

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._call("read", size)
        return data

    def readinto(self, buffer: Any) -> int:
        count: int = self._call("readinto", buffer)
        return count

    def seek(self, offset: int, whence: int = 0) -> int:
        position: int = self._call("seek", offset, whence)
        return position

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> _Guarded:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- one file


def _file_pass(
    location: _Location, file: _File, opts: InputOptions, columns: list[str] | None
) -> Any:
    """One pass over one file of the dataset (the io/source.py pass of its format)."""
    from losscli.io.reader import _split_extension
    from losscli.io.source import _ParquetPass
    from losscli.io.text import TextPass, text_format

    inner, _ = _split_extension(file.path)
    if location.fs is None:
        if inner == ".parquet":
            return _ParquetPass(file.path, columns)
        fmt = text_format(file.path, opts.delimiter, opts.encoding, stream=False)
        return TextPass(
            location.opener(file.path), fmt, size_hint=_local_size(file.path), columns=columns
        )
    opener = location.opener(file.path)
    if inner == ".parquet":
        return _ParquetPass(file.path, columns, opener=opener, size=file.size)
    fmt = text_format(file.path, opts.delimiter, opts.encoding, stream=False)
    return TextPass(opener, fmt, size_hint=file.size, columns=columns)


def _hive_columns(opts: InputOptions, hive: tuple[tuple[str, str], ...]) -> list[str]:
    """The partition keys an option names (only those become columns)."""
    wanted = {opts.group_by, *opts.extra_columns, *getattr(opts, "id_cols", ())} - {None}
    return [key for key, _ in hive if key in wanted]


def _with_hive(table: pa.Table, hive: tuple[tuple[str, str], ...], keys: list[str]) -> pa.Table:
    values = dict(hive)
    for key in keys:
        table = table.append_column(key, repeated_string(values[key], table.num_rows))
    return table


class _FilesPass:
    """One pass over every file of the dataset, in order; row numbers run on."""

    def __init__(
        self,
        source: FilesSource,
        columns: list[str] | None,
    ) -> None:
        self._source = source
        self._columns = columns
        files: list[_File] = source.files
        self.current: str | None = files[0].path
        self._first = source.open_file(files[0], columns)
        self._reading: Any = self._first
        first_names = list(self._first.names)
        self._file_names = first_names
        self._keys = _hive_columns(source.opts, files[0].hive)
        for key in self._keys:
            if key in first_names:
                self._first.close()
                raise InputError(
                    f"column {key} is both a column of {files[0].path} and a partition "
                    f"folder ({key}=...); rename one of them"
                )
        self.names = first_names + self._keys
        self._done_bytes = 0
        self._position = 0

    def tables(self) -> Iterator[tuple[pa.Table, int]]:
        source, files = self._source, self._source.files
        rows_before = 0
        for index, file in enumerate(files):
            self.current = file.path
            if index == 0:
                reading = self._first
            else:
                reading = source.open_file(file, self._columns)
                self._reading = reading
                _same_columns(files[0].path, self._file_names, file.path, list(reading.names))
            if [k for k, _ in file.hive] != [k for k, _ in files[0].hive]:
                reading.close()
                raise InputError(
                    f"{file.path} sits under partition folders "
                    f"{'/'.join(k + '=' for k, _ in file.hive) or '(none)'} but "
                    f"{files[0].path} under "
                    f"{'/'.join(k + '=' for k, _ in files[0].hive) or '(none)'}; every file "
                    f"needs the same partition keys"
                )
            source.note_start(index, rows_before)
            file_rows = 0
            try:
                for table, _ in _rows_of(reading):
                    if index > 0:  # the first file's column order
                        table = table.select(
                            [n for n in self._file_names if n in table.column_names]
                        )
                    if self._keys:
                        table = _with_hive(table, file.hive, self._keys)
                    yield table, rows_before + file_rows
                    file_rows += table.num_rows
                    position = reading.position()
                    if position is not None:
                        self._position = self._done_bytes + position
            finally:
                reading.close()
            rows_before += file_rows
            source.note_rows(index, file_rows)
            self._done_bytes += file.size or 0
            self._position = self._done_bytes
        if rows_before == 0:
            self.current = None
            raise NoDataRows(
                f"{source.name}: every file has a header but no data rows"
                if len(files) > 1
                else f"{files[0].path} has no data rows"
            )

    def position(self) -> int | None:
        return self._position

    def close(self) -> None:
        self._reading.close()


def _rows_of(reading: Any) -> Iterator[tuple[pa.Table, int]]:
    """The tables of one file; a file with no data rows adds none (a dataset may hold one)."""
    try:
        yield from reading.tables()
    except NoDataRows:
        return


def _same_columns(first: str, names: list[str], path: str, found: list[str]) -> None:
    if sorted(found) == sorted(names) and len(set(found)) == len(found):
        return
    how = missing_and_extra(
        [n for n in names if n not in found], [n for n in found if n not in names]
    )
    raise InputError(
        f"{path} does not have the columns of {first} ({how or 'a column repeated'}); "
        f"every file of a dataset needs the same columns"
    )


# --------------------------------------------------------------------------- the source


class FilesSource(Source):
    """Many files (or one remote file) as one dataset: see the module's docstring."""

    files: list[_File]
    location: _Location

    def __init__(
        self,
        location: _Location,
        files: list[_File],
        opts: InputOptions,
        *,
        progress: Progress | None = None,
    ) -> None:
        sizes = [f.size for f in files]
        super().__init__(
            location.spec,
            opts,
            lambda columns: _FilesPass(self, columns),
            progress=progress,
            total_bytes=sum(s for s in sizes if s is not None) if None not in sizes else None,
            partitioner=self._split,
            locate=self._locate,
        )
        self.location = location
        self.files = files
        self._starts: list[int | None] = [0] + [None] * (len(files) - 1)
        self._rows: list[int | None] = [None] * len(files)

    def open_file(self, file: _File, columns: list[str] | None) -> Any:
        wanted = None if columns is None else [c for c in columns if c not in dict(file.hive)]
        return _file_pass(self.location, file, self.opts, wanted)

    def note_start(self, index: int, rows_before: int) -> None:
        self._starts[index] = rows_before

    def note_rows(self, index: int, rows: int) -> None:
        self._rows[index] = rows

    def _locate(self, row: int) -> str | None:
        row -= self.row_offset
        known = [(start, i) for i, start in enumerate(self._starts) if start is not None]
        starts = [start for start, _ in known]
        at = bisect.bisect_right(starts, row - 1) - 1
        if at < 0:
            return None
        start, index = known[at]
        rows = self._rows[index]
        if rows is not None and row > start + rows:
            return None
        return f"row {row - start} of {self.files[index].path}"

    def _offsets(self) -> list[int | None]:
        """The first row of every file in the dataset, where the rows before it are known."""
        import pyarrow.parquet as pq

        from losscli.io.reader import _split_extension

        offsets: list[int | None] = []
        before: int | None = 0
        for index, file in enumerate(self.files):
            offsets.append(before)
            rows = self._rows[index]
            if rows is None and _split_extension(file.path)[0] == ".parquet":
                opener = self.location.opener(file.path)
                try:
                    with opener() as handle:
                        rows = pq.ParquetFile(handle).metadata.num_rows
                except LossCliError:
                    rows = None  # the partition's own read reports it
                except (pa.ArrowInvalid, OSError):
                    rows = None
            before = None if before is None or rows is None else before + rows
        return offsets

    def _split(self, decided: InputOptions) -> list[Partition]:
        from losscli.io.families import detect_family

        if detect_family(self.names_of_first(), self.opts.task) is not None:
            raise InputError(
                f"{self.name}: the structured column families (boxes, pairs, GAN, VAE) are "
                f"validated as one table and cannot be split into partitions; use the local "
                f"engine"
            )
        options = self.location.storage_options
        return [
            Partition(file.path, decided, dict(options), file.hive, offset)
            for file, offset in zip(self.files, self._offsets())
        ]

    def names_of_first(self) -> list[str]:
        reading = self.open_file(self.files[0], None)
        try:
            return list(reading.names)
        finally:
            reading.close()


def open_files(
    path: str,
    opts: InputOptions,
    *,
    storage_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> FilesSource:
    """The dataset at ``path``: a directory, a glob or a URL (see the module's docstring)."""
    location = _Location(path, storage_options or {})
    return FilesSource(location, location.files(), opts, progress=progress)


def open_partition(partition: Partition) -> Source:
    """The Source of one partition: its file, its rows numbered from its ``row_offset``."""
    offset = partition.row_offset or 0
    if url_scheme(partition.path) is None and not partition.hive:
        from losscli.io.source import _file_source

        source = _file_source(partition.path, partition.opts, row_offset=offset, whole=False)
        return source
    location = _Location(partition.path, partition.storage_options)
    file = _File(partition.path, partition.hive, _local_size(partition.path))
    if location.fs is not None:
        info = location.remote(partition.path, lambda: _info(location.fs, location.root))
        if info is None:
            raise InputError(f"file not found: {partition.path} (a partition of the input)")
        file = _File(partition.path, partition.hive, info.get("size"))
    source = FilesSource(location, [file], partition.opts)
    source.row_offset = offset
    source.whole = False
    return source
