"""An input as a source of validated Dataset chunks, readable in several passes.

:func:`open_source` is the one way the commands read their data, and
:func:`source_from_table` the way in-memory tables join the same route:
``Source.batches()`` yields validated :class:`~losscli.core.dataset.Dataset`
chunks (a small input is one chunk), the task decided on the first chunk and
fixed for the rest, row numbers counted over the whole input. Each call to
``batches()`` is one full pass over the input: a regular file is opened again;
stdin, FIFOs and process substitutions (``<(...)``) cannot be read twice, so
the first pass copies what it reads into an anonymous temporary file (deleted
when closed, never next to the input) and later passes read that copy.

The route is the same for every input::

    input -> a pass: header names + Arrow tables (io/text.py for CSV/TSV,
             Parquet record batches, or slices of an in-memory table)
          -> build_dataset per table (io/columns.py: mapping and row checks)
          -> the checks that need the whole input (:class:`WholeInputChecks`):
             missing values counted over every chunk, some row left, some
             positive weight, the --group-by cap

Structured families (GAN columns of different lengths, boxes, pairs, ...)
are validated as one table: their tables are concatenated, then built once.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
import stat
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

import numpy as np
import pyarrow as pa

from losscli.core.dataset import MAX_GROUPS, Dataset
from losscli.core.registry import Task
from losscli.errors import DataError, InputError, NoDataRows, UsageError
from losscli.io.columns import (
    InputOptions,
    MissingTally,
    build_dataset,
    check_positive_class,
    choose_positive_class,
)

Progress = Callable[[int], None]

# Rows per record batch of a Parquet file or an in-memory table.
TABLE_BATCH_ROWS = 1 << 18


class _Pass(Protocol):
    """One read of an input: its column names, then its tables in order."""

    names: list[str]

    # (table, rows before it) or (table, its rows' numbers) when they are not consecutive.
    def tables(self) -> Iterator[tuple[pa.Table, Any]]: ...

    def position(self) -> int | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Partition:
    """One independently readable piece of an input (a file of a multi-file dataset).

    Picklable and self-contained: a Dask worker opens it again from ``path``,
    ``opts``, ``storage_options`` and ``hive`` alone (or from ``table`` for
    in-memory data). ``opts`` carry the task decided for the whole input, so
    every partition validates its rows the same way. Concatenating
    :meth:`batches` over ``Source.partitions()`` gives the rows of
    ``Source.batches()`` (the same row numbers when ``row_offset`` is known;
    with ``None`` the partition numbers its rows from 1, and messages name
    its file).

    ``batches()`` applies the checks one partition can make (values, columns,
    missing values under --nan error, the --group-by cap within it); the
    checks that need every partition (some row left, some positive weight,
    the --group-by cap over all of them) are the engine's, as in
    :class:`WholeInputChecks`.
    """

    path: str  # file path or URL (what error messages name)
    opts: InputOptions
    storage_options: dict[str, Any] = field(default_factory=dict, repr=False)  # for fsspec
    hive: tuple[tuple[str, str], ...] = ()  # partition columns from key=value directories
    row_offset: int | None = 0  # global index of its first data row, when known
    table: pa.Table | None = field(default=None, repr=False, compare=False)  # in-memory data

    def batches(self) -> Iterator[Dataset]:
        """This partition's validated datasets, in order (one pass; call again for another).

        A file with a header but no data rows yields none (a dataset may hold empty
        files; "no rows at all" is a check of the whole input).
        """
        if self.table is not None:
            source = Source(
                self.path,
                self.opts,
                lambda columns: _TablePass(self.table, self.path, columns),
                whole=False,
            )
            return source.batches()
        from losscli.io.files import open_partition

        return _unless_empty(open_partition(self).batches())


@dataclass(frozen=True)
class Reopen:
    """How to open an input again in another process: :func:`open_source`'s arguments.

    Picklable. The Dask engine sends it to a worker, which finds the input's
    partitions there (:meth:`partitions`: listing its files, reading the first
    rows to decide the task and, for 0/1 or two-label targets, the y_true
    column to the end, exactly as :meth:`Source.partitions` does on one
    machine), so that the client never reads a row of the input.
    """

    path: str
    opts: InputOptions
    storage_options: dict[str, Any] = field(default_factory=dict, repr=False)  # for fsspec

    def partitions(self) -> list[Partition]:
        with open_source(self.path, self.opts, storage_options=self.storage_options) as source:
            return source.partitions()


def _unless_empty(chunks: Iterator[Dataset]) -> Iterator[Dataset]:
    try:
        yield from chunks
    except NoDataRows:
        return


class Source:
    """Where the data comes from; ``batches()`` reads it once more on every call.

    ``row_offset`` is added to the row numbers (a partition that is not the
    first file of its dataset); ``whole=False`` leaves the checks that need
    the whole input (some row left, some positive weight) to the caller.
    ``partitioner`` returns the input's partitions given the options decided
    on its first rows (None: the input cannot be split, e.g. stdin).
    """

    def __init__(
        self,
        name: str,
        opts: InputOptions,
        open_pass: Callable[[list[str] | None], _Pass],
        *,
        progress: Progress | None = None,
        total_bytes: int | None = None,
        closer: Callable[[], None] | None = None,
        row_offset: int = 0,
        whole: bool = True,
        partitioner: Callable[[InputOptions], list[Partition]] | None = None,
        unsplittable: str = "this input",
        locate: Callable[[int], str | None] | None = None,
    ) -> None:
        self.name = name
        self.path = name  # the path given (kept for callers written against the first Source)
        self.opts = opts
        self._open_pass = open_pass
        self.progress = progress
        self.total_bytes = total_bytes  # bytes on disk when known (for a progress bar)
        self._closer = closer
        self.passes = 0
        self.row_offset = row_offset
        self.whole = whole
        self._partitioner = partitioner
        self._unsplittable = unsplittable
        # For inputs of several files: "row 3 of preds/b.csv" for a row number of the input.
        self.locate = locate
        # How another process (a Dask worker) opens this input again (None: it cannot).
        self.reopen: Reopen | None = None
        # Copied to a temporary file as it is read (stdin, FIFOs): later passes read that.
        self.keeps_a_copy = False

    @property
    def source(self) -> str:
        """The name shown in reports: the path, ``-`` for stdin, or the table's name."""
        return self.name

    def batches(self) -> Iterator[Dataset]:
        """One full pass over the input: validated chunks in input order."""
        self.passes += 1
        progress = self.progress if self.passes == 1 else None
        return _prefetched(self._datasets(progress))

    def dataset(self) -> Dataset:
        """The whole input as one Dataset (for the commands that work in memory)."""
        reading = self._open_pass(None)
        try:
            items = list(reading.tables())
            rows: Any = 0
            if any(isinstance(before, np.ndarray) for _, before in items):
                rows = np.concatenate(
                    [
                        before
                        if isinstance(before, np.ndarray)
                        else np.arange(before + 1, before + table.num_rows + 1)
                        for table, before in items
                    ]
                )
            whole = _WholePass(reading.names, concat_tables([t for t, _ in items]), rows)
        finally:
            reading.close()
        datasets = list(self._validated(whole, None))
        assert len(datasets) == 1
        return datasets[0]

    def decided_options(self) -> InputOptions:
        """The options with the task decided for the whole input (reads its first rows).

        Auto-detection looks at the first chunk (and, for 0/1 targets, at
        y_true to the end of the input), exactly as a pass of ``batches()``
        does; the returned options name that task and reason, so that every
        partition read on its own validates its rows the same way.
        """
        from losscli.io.families import detect_family

        if self.opts.task != "auto" and self.opts.task_reason is not None:
            return self.opts
        reading = self._open_pass(None)
        try:
            if detect_family(reading.names, self.opts.task) is not None:
                return self.opts  # families are validated as one table
            first = next(self._validated(reading, None, whole=False), None)
        finally:
            reading.close()
        if first is None:  # pragma: no cover - a pass yields a chunk or raises
            raise InputError(f"{self.name} has no data rows")
        # Binary labels written as text: the positive class chosen on the whole input.
        pos_label, pos_note = getattr(self, "_positive", (None, None))
        return dataclasses.replace(
            self.opts,
            task=first.task.value,
            task_reason=first.task_reason,
            pos_label=self.opts.pos_label or pos_label,
            pos_label_note=self.opts.pos_label_note or pos_note,
        )

    def partitions(self) -> list[Partition]:
        """The input as independently readable :class:`Partition` objects (files, in order).

        A single file is one partition; a directory, glob or URL one per
        file. Inputs that can be read only once (stdin, FIFOs) raise
        :class:`~losscli.errors.InputError`.
        """
        if self._partitioner is None:
            raise InputError(
                f"{self._unsplittable} cannot be split into partitions read elsewhere "
                f"(for --engine dask); save it to a file and pass the file's path"
            )
        from losscli.io.families import detect_family

        reading = self._open_pass(None)
        try:
            family = detect_family(reading.names, self.opts.task)
        finally:
            reading.close()
        if family is not None:
            return self._partitioner(self.opts)
        return self._partitioner(self.decided_options())

    def _datasets(self, progress: Progress | None) -> Iterator[Dataset]:
        reading = self._open_pass(None)
        try:
            project = getattr(reading, "project", None)
            if project is not None:
                from losscli.io.columns import needed_columns, text_columns

                # Parse only the columns the options use, names as text.
                project(
                    needed_columns(reading.names, self.opts),
                    text_columns(reading.names, self.opts),
                )
            yield from self._validated(reading, progress, whole=self.whole)
        finally:
            reading.close()

    def _validated(
        self, reading: _Pass, progress: Progress | None, *, whole: bool = True
    ) -> Iterator[Dataset]:
        if self.locate is None:
            yield from self._checked(reading, progress, whole=whole)
            return
        try:
            yield from self._checked(reading, progress, whole=whole)
        except UsageError:
            raise
        except InputError as exc:
            raise self.located(exc, getattr(reading, "current", None)) from None

    def located(self, exc: InputError, current: str | None = None) -> InputError:
        """``exc`` with the file of the first row it names (inputs of several files).

        Row numbers count the rows of the whole input (its files in order);
        the message gains which file, and which row of it, that is. An error
        without a row number names the file being read when it happened.
        """
        import re

        message = exc.message
        found = re.search(r"\brows? (\d+)", message)
        if found and f"(row {found.group(1)} is " in message:
            return exc  # located already (while reading; the source's exit sees it again)
        where = self.locate(int(found.group(1))) if found and self.locate else None
        if where is not None:
            message = f"{message} (row {found.group(1)} is {where})"  # type: ignore[union-attr]
        elif current is not None and current not in message:
            message = f"{message} (in {current})"
        else:
            return exc
        try:
            return type(exc)(message)
        except TypeError:  # pragma: no cover - every InputError takes one message
            return exc

    def _checked(
        self, reading: _Pass, progress: Progress | None, *, whole: bool = True
    ) -> Iterator[Dataset]:
        from losscli.io.families import detect_family

        opts, name = self.opts, self.name
        family = detect_family(reading.names, opts.task)
        if family is not None:
            yield build_dataset(_family_table(reading, family, name), opts, name)
            return
        checks = WholeInputChecks(opts)
        tables = reading.tables()
        chunk_opts = opts
        first = True
        offset = self.row_offset
        while (item := next(tables, None)) is not None:
            table, rows_before = item
            following = None
            if first:
                following = next(tables, None)
                if following is not None:
                    tables = itertools.chain([following], tables)
                # Text labels of a binary y_true: their order is that of the whole input.
                chunk_opts = choose_positive_class(
                    opts, table, None if following is None else self._true_column
                )
                checks.opts = chunk_opts
                self._positive = (chunk_opts.pos_label, chunk_opts.pos_label_note)
            rows_before += offset
            dataset = checks.build(table, chunk_opts, name, rows_before)
            if first:
                first = False
                if (
                    opts.task == "auto"
                    and dataset.task is Task.BINARY
                    and chunk_opts.pos_label is None
                ):
                    if following is not None:  # more than one chunk: read y_true to the end
                        regression = self._labels_beyond_first(table, opts)
                        if regression is not None:
                            chunk_opts = regression
                            dataset = checks.build(table, chunk_opts, name, rows_before, again=True)
                chunk_opts = dataclasses.replace(
                    chunk_opts, task=dataset.task.value, task_reason=dataset.task_reason
                )
            checks.add(dataset)
            if progress is not None:
                done = reading.position()
                if done is not None:
                    progress(done)
            yield dataset
        checks.finish(whole=whole)

    def _true_column(self) -> Iterator[pa.ChunkedArray]:
        """The y_true column of the whole input, table by table (a pass reading only it)."""
        scan = self._open_pass([self.opts.true_col])
        try:
            for table, _ in scan.tables():
                yield table.column(0)
        finally:
            scan.close()

    def _labels_beyond_first(self, first: pa.Table, opts: InputOptions) -> InputOptions | None:
        """Regression options when y_true stops looking binary after the first chunk, else None.

        Only binary-vs-regression depends on values (multiclass and the families
        are told by column names), so only that case is settled by reading the
        y_true column to the end of the input; the scan stops at the first
        non-binary value.
        """
        from losscli.io.numbers import column_float64

        binary = (frozenset({0.0, 1.0}), frozenset({-1.0, 1.0}))
        head = column_float64(first.column(opts.true_col))
        assert head is not None
        labels = set(np.unique(head[np.isfinite(head)]).tolist())
        try:
            scan = self._open_pass([opts.true_col])
        except (InputError, DataError):
            return None  # the main pass reports it with its row numbers
        try:
            for table, _ in scan.tables():
                values = column_float64(table.column(0))
                if values is None:
                    return None
                labels.update(np.unique(values[np.isfinite(values)]).tolist())
                if not any(labels <= allowed for allowed in binary):
                    reason = f"{opts.true_col} holds continuous values beyond its first rows"
                    return dataclasses.replace(opts, task="regression", task_reason=reason)
        except (InputError, DataError):
            return None
        finally:
            scan.close()
        return None

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self.close()
        if self.locate is not None and isinstance(exc, InputError):
            if not isinstance(exc, UsageError):
                located = self.located(exc)
                if located is not exc:  # an error about a row: say which file it is in
                    raise located from exc


class WholeInputChecks:
    """The checks that hold for the whole input, over its chunks (same messages as one table).

    Missing or non-numeric values under ``--nan error`` are counted over every
    chunk and reported at the end ("4 missing or non-numeric values (rows 2,
    3, 4, 6; ...)"), or as soon as another error would be raised, which they
    precede as they do within one table.
    """

    def __init__(self, opts: InputOptions) -> None:
        self.opts = opts
        self.missing = MissingTally()
        self.kept = 0
        self.positive_weight = False
        self.groups: set[str] = set()
        self.labels: set[str] = set()

    def build(
        self,
        table: pa.Table,
        opts: InputOptions,
        source: str,
        rows_before: int | np.ndarray,
        *,
        again: bool = False,
    ) -> Dataset:
        if again:
            self.missing = MissingTally()
        try:
            return build_dataset(
                table, opts, source, row_offset=rows_before, chunk=True, tally=self.missing
            )
        except DataError:
            self.missing.raise_pending()
            raise

    def add(self, dataset: Dataset) -> None:
        self.kept += dataset.n_rows
        if self.opts.pos_label is not None:
            self.labels.update(dataset.binary_labels)
            if len(self.labels) > 2:
                self.missing.raise_pending()
                check_positive_class(self.opts, self.labels)
        if dataset.weights is not None and not self.positive_weight:
            self.positive_weight = bool(np.any(dataset.weights > 0))
        if dataset.groups is not None and self.opts.group_by:
            self.groups.update(dataset.group_index()[1])
            self._check_groups()

    def _check_groups(self) -> None:
        if len(self.groups) > MAX_GROUPS:
            self.missing.raise_pending()
            raise DataError(
                f"column {self.opts.group_by} (--group-by) has more than {MAX_GROUPS:,} "
                f"distinct values; --group-by expects a categorical column such as a "
                f"segment or a split (at most {MAX_GROUPS:,} groups)"
            )

    def merge(self, other: WholeInputChecks) -> None:
        """Take in the counts of another part of the input (a partition read elsewhere)."""
        self.kept += other.kept
        self.positive_weight = self.positive_weight or other.positive_weight
        if other.labels:  # text labels of a binary y_true: --pos-label holds over them all
            self.labels |= other.labels
            if len(self.labels) > 2:
                check_positive_class(self.opts, self.labels)
        if other.groups:
            self.groups |= other.groups
            self._check_groups()

    def finish(self, *, whole: bool = True) -> None:
        """Raise what the chunks left pending; ``whole``: also the checks of a whole input."""
        self.missing.raise_pending()
        if not whole:
            return
        check_positive_class(self.opts, self.labels)
        if self.kept == 0:
            raise DataError(
                "every row has a missing or non-numeric value; nothing is left to compute"
            )
        if self.opts.weight_col and not self.positive_weight:
            raise DataError(
                f"column {self.opts.weight_col}: all sample weights are zero; "
                f"at least one row needs a positive weight"
            )


# The structured families (boxes, embeddings, GAN columns, VAE latents) are validated
# as one table in memory; their parsed columns may take at most this many bytes.
FAMILY_MAX_BYTES = int(os.environ.get("LOSSCLI_FAMILY_MAX_BYTES", 256 << 20))


def _family_table(reading: Any, family: tuple[Task, str], name: str) -> pa.Table:
    """A structured family's input as one table, within :data:`FAMILY_MAX_BYTES`."""
    tables: list[pa.Table] = []
    size = rows = 0
    for table, _ in reading.tables():
        tables.append(table)
        size += table.nbytes
        rows += table.num_rows
        if size > FAMILY_MAX_BYTES:
            task, reason = family
            raise DataError(
                f"{name}: {task.value} data ({reason}) are read whole, and this input's "
                f"columns take more than {FAMILY_MAX_BYTES >> 20} MiB in memory (over "
                f"{rows:,} rows read so far); split it into smaller files and evaluate each "
                f"(or set LOSSCLI_FAMILY_MAX_BYTES to allow more memory)"
            )
    return concat_tables(tables)


def concat_tables(tables: list[pa.Table]) -> pa.Table:
    """Tables of one input as one (a column typed differently by blocks becomes text)."""
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.lib.ArrowNotImplementedError):
        from losscli.io.arrow import CAST_ERRORS

        as_text = []
        for table in tables:
            try:
                as_text.append(
                    table.cast(pa.schema([(n, pa.string()) for n in table.column_names]))
                )
            except CAST_ERRORS:
                raise DataError(
                    "columns of this input hold values of types that cannot be read together"
                ) from None
        return pa.concat_tables(as_text)


# Chunks read (and validated) ahead of the one being computed on.
READ_AHEAD = 2


def _prefetched(chunks: Iterator[Dataset]) -> Iterator[Dataset]:
    """Read and validate the next chunk in a worker thread while the caller computes.

    pyarrow parses and NumPy computes without holding the GIL, so reading
    chunks i+1, i+2 overlaps the losses of chunk i; :data:`READ_AHEAD` chunks
    ahead bound memory.

    A pass left early (an error, a consumer that stops, or a generator
    finalised by the garbage collector in whatever thread runs it) waits for
    the chunk being read at most a moment: the read may be blocked on a pipe
    nobody writes to again, and waiting for it from inside another thread's
    start deadlocked.
    """
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    done = object()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="losscli-read")
    # Reads queued in the one worker thread (so the chunks are read one at a time, in
    # order); READ_AHEAD of them let the reader run on while the caller is slower.
    pending = deque(pool.submit(next, chunks, done) for _ in range(READ_AHEAD))
    try:
        while True:
            item = pending.popleft().result()
            if item is done:
                return
            pending.append(pool.submit(next, chunks, done))
            yield item  # type: ignore[misc]
    finally:
        for future in pending:
            future.cancel()
        for future in pending:
            try:
                future.result(timeout=2.0)
            except FutureTimeout:
                pass  # a read that blocks: left to finish on its own
            except BaseException:  # noqa: BLE001 - already reported or abandoned
                pass
        try:
            chunks.close()  # type: ignore[attr-defined]
        except ValueError:
            pass  # still being read (above): closed when the read returns and it is collected
        pool.shutdown(wait=False)


# --------------------------------------------------------------------------- passes


class _WholePass:
    """A table already in memory, as one pass of one table."""

    def __init__(self, names: list[str], table: pa.Table, rows: Any = 0) -> None:
        self.names = names
        self._table = table
        self._rows = rows

    def tables(self) -> Iterator[tuple[pa.Table, Any]]:
        yield self._table, self._rows

    def position(self) -> int | None:
        return None

    def close(self) -> None:
        pass


class _TablePass:
    """An in-memory table, in slices of TABLE_BATCH_ROWS rows."""

    def __init__(self, table: pa.Table, name: str, columns: list[str] | None) -> None:
        from losscli.io.reader import _check_header

        _check_header(table.column_names, name)
        self._table = table.select(columns) if columns else table
        self.names = list(table.column_names)
        self._name = name

    def tables(self) -> Iterator[tuple[pa.Table, int]]:
        n = self._table.num_rows
        if n == 0:
            raise InputError(f"{self._name} has no data rows")
        for start in range(0, n, TABLE_BATCH_ROWS):
            yield self._table.slice(start, TABLE_BATCH_ROWS), start

    def position(self) -> int | None:
        return None

    def close(self) -> None:
        pass


class _ParquetPass:
    """A Parquet file by record batches (bounded memory whatever its size)."""

    def __init__(
        self,
        path: str,
        columns: list[str] | None,
        *,
        opener: Callable[[], IO[bytes]] | None = None,
        size: int | None = None,
    ) -> None:
        """``path`` on this machine, or read through ``opener`` (a remote file of ``size``)."""
        import pyarrow.parquet as pq

        from losscli.io.reader import _check_header, _open_binary

        self._path = path
        self._handle: IO[bytes] | None = None
        if opener is None:
            _open_binary(path).close()  # existence, directory and permission messages
            self._size = os.stat(path).st_size
            where: Any = path
        else:
            self._handle = where = opener()
            self._size = size or 0
        try:
            # No pre-buffering and a 1 MiB read buffer: measured 131 MiB instead of 259 MiB
            # to iterate a 10M-row file, at the same speed.
            self._file = pq.ParquetFile(where, pre_buffer=False, buffer_size=1 << 20)
            self.names = list(self._file.schema_arrow.names)
        except (pa.ArrowInvalid, OSError) as exc:
            self._close_handle()
            raise _not_parquet(path, exc) from None
        _check_header(self.names, path)
        self._columns = columns
        self._done = 0

    def project(self, columns: list[str] | None, text: Sequence[str] = ()) -> None:
        """Read only these columns (None: all) from now on (before ``tables()``).

        ``text`` is for text files: Parquet's columns carry their own types.
        """
        self._columns = columns

    def tables(self) -> Iterator[tuple[pa.Table, int]]:
        total = self._file.metadata.num_rows
        if total == 0:
            raise NoDataRows(f"{self._path} has no data rows")
        rows = 0
        try:
            for batch in self._file.iter_batches(
                batch_size=TABLE_BATCH_ROWS, columns=self._columns
            ):
                table = pa.Table.from_batches([batch])
                before = rows
                rows += table.num_rows
                self._done = int(self._size * rows / total)
                yield table, before
        except (pa.ArrowInvalid, OSError) as exc:
            raise _not_parquet(self._path, exc) from None

    def position(self) -> int | None:
        return self._done

    def close(self) -> None:
        self._file.close()
        self._close_handle()

    def _close_handle(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _not_parquet(path: str, exc: Exception) -> InputError:
    first = (str(exc).strip().splitlines() or [""])[0]
    return InputError(f"{path} is not a valid Parquet file ({first})")


# --------------------------------------------------------------------------- opening


def open_source(
    path: str,
    opts: InputOptions,
    *,
    progress: Progress | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Source:
    """The input at ``path`` (``-`` for stdin) as a :class:`Source`.

    ``path`` may also be a directory, a glob or an fsspec URL, read as one
    dataset over its files (:mod:`losscli.io.files`; ``storage_options`` go
    to fsspec). Checks that the input exists and can be opened; errors about
    the content come from ``batches()``.
    """
    from losscli.io.files import is_many, open_files
    from losscli.io.reader import _open_binary
    from losscli.io.text import TextPass, text_format

    reopen = Reopen(path, opts, dict(storage_options or {}))
    if storage_options or is_many(path):
        many = open_files(path, opts, storage_options=storage_options, progress=progress)
        many.reopen = reopen
        return many
    if path == "-":
        spool = _Spool(lambda: sys.stdin.buffer)
        fmt = text_format(path, opts.delimiter, opts.encoding, stream=True)
        stdin = Source(
            path,
            opts,
            lambda columns: TextPass(spool.reader, fmt, columns=columns),
            progress=progress,
            closer=spool.close,
            unsplittable="stdin (-)",
        )
        stdin.keeps_a_copy = True
        return stdin
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is None or stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
        _open_binary(path).close()  # existence, directory and permission messages
        info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        # A FIFO, <(...) or a device: readable once, so spooled for later passes.
        spool = _Spool(lambda: _open_binary(path))
        fmt = text_format(path, opts.delimiter, opts.encoding, stream=True)
        once = Source(
            path,
            opts,
            lambda columns: TextPass(spool.reader, fmt, columns=columns),
            progress=progress,
            closer=spool.close,
            unsplittable=f"{path} (a pipe or device, readable once)",
        )
        once.keeps_a_copy = True
        return once
    source = _file_source(path, opts, progress=progress, size=info.st_size)
    source.reopen = reopen
    return source


def _file_source(
    path: str,
    opts: InputOptions,
    *,
    progress: Progress | None = None,
    size: int | None = None,
    row_offset: int = 0,
    whole: bool = True,
) -> Source:
    """A regular local CSV/TSV/Parquet file as a Source (one partition)."""
    from losscli.io.reader import _open_binary, _split_extension
    from losscli.io.text import TextPass, text_format

    inner, _ = _split_extension(path)

    def partitioner(decided: InputOptions) -> list[Partition]:
        return [Partition(path, decided, row_offset=row_offset)]

    if inner == ".parquet":
        return Source(
            path,
            opts,
            lambda columns: _ParquetPass(path, columns),
            progress=progress,
            total_bytes=size,
            row_offset=row_offset,
            whole=whole,
            partitioner=partitioner,
        )
    fmt = text_format(path, opts.delimiter, opts.encoding, stream=False)
    return Source(
        path,
        opts,
        lambda columns: TextPass(
            lambda: _open_binary(path), fmt, size_hint=os.stat(path).st_size, columns=columns
        ),
        progress=progress,
        total_bytes=size,
        row_offset=row_offset,
        whole=whole,
        partitioner=partitioner,
    )


def source_from_table(table: pa.Table, opts: InputOptions, name: str) -> Source:
    """An in-memory Arrow table as a Source (for DataFrames and tables from Python)."""
    return Source(
        name,
        opts,
        lambda columns: _TablePass(table, name, columns),
        partitioner=lambda decided: [Partition(name, decided, table=table)],
    )


# --------------------------------------------------------------------------- spooling


class _Spool:
    """A byte stream that can be read again: what was read is kept in a temporary file.

    Each :meth:`reader` starts at byte 0: it replays the bytes kept so far,
    then reads on from the underlying stream, keeping those bytes too. So a
    pass that stopped early (an error, a consumer that had enough) leaves a
    spool the next pass completes.
    """

    def __init__(self, opener: Callable[[], IO[bytes]]) -> None:
        self._opener = opener
        self._stream: IO[bytes] | None = None
        self._file: IO[bytes] | None = None
        self._size = 0
        self._ended = False

    def _keep(self, data: bytes) -> None:
        if self._file is None:
            try:
                self._file = tempfile.TemporaryFile(prefix="losscli-input-")
            except OSError as exc:
                raise InputError(
                    f"cannot keep a copy of the input for a second pass in the temporary "
                    f"folder ({exc.strerror or exc}); set TMPDIR to a folder with room"
                ) from None
        self._file.seek(0, os.SEEK_END)
        try:
            self._file.write(data)
        except OSError as exc:
            raise InputError(
                f"cannot keep a copy of the input for a second pass in the temporary folder "
                f"({exc.strerror or exc}); set TMPDIR to a folder with room"
            ) from None
        self._size += len(data)

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` of the input (b'' at its end)."""
        if offset < self._size:
            assert self._file is not None
            self._file.flush()
            return os.pread(self._file.fileno(), min(size, self._size - offset), offset)
        if self._ended:
            return b""
        if self._stream is None:
            self._stream = self._opener()
        try:
            data = self._stream.read(size)
        except OSError as exc:
            raise InputError(f"cannot read the input: {exc.strerror or exc}") from None
        if not data:
            self._ended = True
            return b""
        self._keep(data)
        return data

    def reader(self) -> IO[bytes]:
        return io.BufferedReader(_SpoolReader(self), buffer_size=1 << 16)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._stream is not None and self._stream is not sys.stdin.buffer:
            self._stream.close()
        self._stream = None


class _SpoolReader(io.RawIOBase):
    """A raw, read-only file over a :class:`_Spool`, from its first byte."""

    def __init__(self, spool: _Spool) -> None:
        super().__init__()
        self._spool = spool
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._spool.read_at(self._offset, len(buffer))
        n = len(data)
        buffer[:n] = data
        self._offset += n
        return n
