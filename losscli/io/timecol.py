"""``--time-col COL``: the order of the rows as a time series (compare's HAC variance).

The column's values become int64/float64 order keys in ``Dataset.extra["time"]``:
numbers as they are, dates and timestamps (Arrow date/timestamp columns, or
text in ISO 8601 such as 2024-03-01 or 2024-03-01T12:00) as nanoseconds. The
rows must come in time order (non-decreasing); the significance step checks it
as it streams (see :mod:`losscli.analysis.significance`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow as pa

from losscli.core.dataset import Dataset
from losscli.errors import DataError, InputError
from losscli.words import plural


def time_keys(table: pa.Table, name: str) -> np.ndarray:
    """The column as float64 order keys (an Error for empty cells or other values)."""
    import pyarrow.compute as pc

    if name not in table.column_names:
        shown = ", ".join(table.column_names[:20])
        raise InputError(f"column {name!r} not found (--time-col); the file has: {shown}")
    column = table.column(name)
    kind = column.type
    empty = column.null_count
    if empty:
        rows = np.flatnonzero(np.asarray(column.is_null().to_pylist(), dtype=bool))[:5] + 1
        raise DataError(
            f"column {name} (--time-col): {plural(empty, 'empty cell')} (rows "
            f"{', '.join(str(int(r)) for r in rows)}); every row needs its time"
        )
    try:
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            keys = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
        elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            keys = np.asarray(
                column.cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy(zero_copy_only=False),
                dtype=np.float64,
            )
        else:
            text = pc.utf8_trim_whitespace(column.cast(pa.string()))
            try:
                keys = np.asarray(text.cast(pa.float64()).to_numpy(zero_copy_only=False))
            except pa.ArrowInvalid:
                stamps = text.cast(pa.timestamp("ns")).cast(pa.int64())
                keys = np.asarray(stamps.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        first = column[0].as_py()
        raise DataError(
            f"column {name} (--time-col) holds values such as {first!r} that are neither "
            f"numbers nor ISO 8601 dates/timestamps (e.g. 2024-03-01 or 2024-03-01T12:00)"
        ) from None
    if not np.all(np.isfinite(keys)):
        raise DataError(f"column {name} (--time-col): values must be finite numbers or dates")
    return keys


def with_time(dataset: Dataset, table: pa.Table, opts: Any, row_offset: Any) -> Dataset:
    """The dataset with the time keys of its kept rows in ``extra["time"]``."""
    keys = time_keys(table, opts.time_col)
    if isinstance(row_offset, np.ndarray):
        raise InputError("--time-col reads one file's rows in order; it does not apply to a join")
    index = dataset.row_numbers - 1 - int(row_offset)
    return dataclasses.replace(
        dataset,
        extra={**dataset.extra, "time": keys[index]},
        columns={**dataset.columns, "time": opts.time_col},
    )
