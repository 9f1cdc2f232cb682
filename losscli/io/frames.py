"""In-memory data (DataFrames, Arrow tables, dicts of arrays) as a source of Datasets.

The Python API accepts a pandas or polars DataFrame, a pyarrow Table or
RecordBatchReader, or a mapping of column names to arrays. :func:`to_table`
turns each into one Arrow table, and :class:`FrameSource` hands it to the same
column mapping and validation as a file (:func:`~losscli.io.columns.build_dataset`),
so a DataFrame and the same data written as CSV give the same numbers and
the same messages. Row numbers in messages are 1-based positions in the data.

A 2-D array in a mapping is spread over one column per entry of its second
axis, ``<name>_<j>``: ``{"y_true": labels, "y_pred": probabilities}`` with an
(n, K) ``probabilities`` gives the multiclass columns ``y_pred_0 .. y_pred_{K-1}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from losscli.core.dataset import Dataset
from losscli.errors import InputError, UsageError
from losscli.io.arrow import CAST_ERRORS
from losscli.io.columns import InputOptions, build_dataset

if TYPE_CHECKING:
    from losscli.io.source import Partition


def describe(data: Any) -> str:
    """The ``source`` shown in reports for in-memory data, e.g. ``<pandas.DataFrame>``."""
    kind = type(data)
    module = kind.__module__.split(".")[0]
    return f"<{module}.{kind.__name__}>" if module != "builtins" else f"<{kind.__name__}>"


def is_in_memory(data: Any) -> bool:
    """Whether ``data`` is a table in memory rather than a path or URL."""
    return not isinstance(data, (str, bytes)) and not hasattr(data, "__fspath__")


def to_table(data: Any) -> pa.Table:
    """One Arrow table from a DataFrame, an Arrow table/reader or a mapping of arrays."""
    if isinstance(data, pa.Table):
        table = data
    elif isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
    elif isinstance(data, pa.RecordBatchReader):
        table = data.read_all()
    elif _is_pandas(data):
        table = _from_pandas(data)
    elif _is_polars(data):
        table = data.to_arrow()
    elif isinstance(data, Mapping):
        table = _from_mapping(data)
    else:
        raise UsageError(
            f"data of type {type(data).__name__} is not supported: give a path or URL, a pandas "
            f"or polars DataFrame, a pyarrow Table or RecordBatchReader, or a dict of arrays"
        )
    _check_names(table.column_names)
    return _decoded(table)


def _is_pandas(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def _is_polars(data: Any) -> bool:
    return type(data).__module__.startswith("polars") and hasattr(data, "to_arrow")


def _from_pandas(frame: Any) -> pa.Table:
    _check_names([str(label) for label in frame.columns])  # before Arrow's own ValueError
    frame = frame.rename(columns=str)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except CAST_ERRORS as exc:
        mixed = _as_text_where_mixed(frame)
        if mixed is None:
            raise InputError(f"the DataFrame cannot be read: {_first_line(exc)}") from None
    try:
        return pa.Table.from_pandas(mixed, preserve_index=False)
    except CAST_ERRORS as exc:
        raise InputError(f"the DataFrame cannot be read: {_first_line(exc)}") from None


def _as_text_where_mixed(frame: Any) -> Any:
    """``frame`` with each object column Arrow cannot type (1 beside "2") as text, as a
    file's cells are: the numbers among them are then read as numbers are from text.
    None when no column is mixed that way."""
    changed = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        try:
            pa.array(column, from_pandas=True)
        except CAST_ERRORS:
            changed[name] = column.map(lambda v: v if v is None or v != v else str(v))
    return frame.assign(**changed) if changed else None


def _from_mapping(data: Mapping[Any, Any]) -> pa.Table:
    _check_names([str(key) for key in data])  # 1 and "1" would both be column "1"
    columns: dict[str, Any] = {}
    lengths: dict[str, int] = {}
    for key, values in data.items():
        name = str(key)
        array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else np.asarray(values)
        if isinstance(array, np.ndarray) and array.ndim == 2:
            for j in range(array.shape[1]):
                columns[f"{name}_{j}"] = array[:, j]
                lengths[f"{name}_{j}"] = array.shape[0]
            continue
        if isinstance(array, np.ndarray) and array.ndim != 1:
            raise InputError(
                f"column {name}: expected a 1-D array (or 2-D: one column per class), "
                f"got shape {array.shape}"
            )
        columns[name] = array
        lengths[name] = len(array)
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise InputError(f"the arrays have different lengths ({shown}); give one value per row")
    try:
        return pa.table({k: _arrow(v) for k, v in columns.items()})
    except CAST_ERRORS as exc:
        raise InputError(f"the arrays cannot be read: {_first_line(exc)}") from None


def _arrow(values: Any) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    if values.dtype.kind in "fiub":
        return numeric_array(values)
    return pa.array(values.tolist())


def numeric_array(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A 1-D numeric NumPy array as an Arrow array, nulls where ``valid`` is False.

    Built from the buffers directly: ``pa.array`` on NumPy data imports pandas
    (a third of a second) only to ask whether the input is a pandas object.
    """
    array = np.ascontiguousarray(values, dtype=np.int8 if values.dtype.kind == "b" else None)
    kind = pa.from_numpy_dtype(array.dtype)
    bitmap = None
    nulls = 0
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid.astype(bool), bitorder="little"))
        nulls = int(valid.size - np.count_nonzero(valid))
    return pa.Array.from_buffers(kind, array.size, [bitmap, pa.py_buffer(array)], null_count=nulls)


def _check_names(names: list[str]) -> None:
    """Each column's name (as text) is its own, as a file's header must be (io/reader.py)."""
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise InputError(
                f"duplicate column name {name!r} (column {position} of the data); "
                f"rename one of them"
            )
        seen.add(name)


def _decoded(table: pa.Table) -> pa.Table:
    """Categorical (dictionary) columns as plain values, as a file would give them."""
    if not any(pa.types.is_dictionary(f.type) for f in table.schema):
        return table
    columns = [
        c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns
    ]
    return pa.table(columns, names=table.column_names)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class FrameSource:
    """In-memory data as a source: ``batches()`` yields it as one validated Dataset.

    The same interface as :class:`losscli.io.source.Source` (each call is one
    full pass), so every command runs on it unchanged. ``in_memory``: an engine
    reads it again rather than keeping a copy of a pass (engines/local.py).
    """

    in_memory = True

    def __init__(self, data: Any, opts: InputOptions, *, source: str | None = None) -> None:
        self.table = to_table(data)
        self.opts = opts
        self.path = source or describe(data)
        self.total_bytes: int | None = None
        self.passes = 0

    @property
    def source(self) -> str:
        return self.path

    def dataset(self) -> Dataset:
        """The whole data as one validated Dataset."""
        if self.table.num_rows == 0:
            raise InputError("the data have no rows: expected at least one row of values")
        from losscli.io.columns import choose_positive_class

        return build_dataset(self.table, choose_positive_class(self.opts, self.table), self.path)

    def batches(self) -> Iterator[Dataset]:
        self.passes += 1
        yield self.dataset()

    def partitions(self) -> list[Partition]:
        """The data as one partition that carries the table (sent to a worker with it)."""
        from losscli.io.families import detect_family
        from losscli.io.source import Partition

        first = self.dataset()
        decided = self.opts
        if detect_family(self.table.column_names, self.opts.task) is None:
            decided = dataclasses.replace(
                self.opts, task=first.task.value, task_reason=first.task_reason
            )
        return [Partition(self.path, decided, table=self.table)]

    def close(self) -> None:
        pass

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
