"""The one grammar of numbers in a cell, the same for every column, chunk and command.

A cell is a number when, after ASCII spaces and tabs around it are removed, it is

* a decimal number: an optional ``+`` or ``-``, ASCII digits with an optional
  decimal point (``12``, ``12.``, ``12.5``, ``.5``), and an optional exponent
  ``e`` or ``E`` with an optional sign (``1e-3``, ``2.5E+8``); integers too
  large for float64's 53 bits are rounded to the nearest float64, as NumPy does;
* infinity: ``inf`` or ``infinity`` in any case, with an optional sign
  (read, then reported as not finite, like a literal beyond float64 such as ``1e400``).

A missing value is an empty cell or one of the spellings ``NA``, ``N/A``,
``n/a``, ``NaN``, ``nan``, ``-NaN``, ``-nan``, ``NULL``, ``null``, ``#N/A``,
``#N/A N/A``, ``#NA``, ``-1.#IND``, ``-1.#QNAN``, ``1.#IND``, ``1.#QNAN``
(pyarrow's list). Everything else is non-numeric: hexadecimal (``0x10``),
digit separators (``1_000``, ``1,000``), a decimal comma (``2,5``) and digits
other than ASCII (``١٢``). Parquet columns of a numeric type are numbers as
stored (integers beyond 2^53 rounded likewise).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from losscli.io.arrow import float64_numpy, null_strings

# RE2 syntax (pyarrow): \d is ASCII only.
NUMBER_PATTERN = r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:inf|infinity))$"


def is_numeric_type(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
    )


def is_text_type(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def text_to_float64(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Text cells as float64 under the grammar above; NaN for missing and non-numeric cells."""
    import pyarrow.compute as pc  # only for text cells: ~25 ms of import a numeric file never needs

    strings = pc.ascii_trim(column, characters=" \t")
    valid = pc.match_substring_regex(strings, NUMBER_PATTERN)
    numbers = pc.if_else(valid, strings, null_strings(len(strings)))
    return float64_numpy(pc.cast(numbers, pa.float64()))


def column_float64(column: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    """A numeric or text column as float64 (NaN where not a number), None for other types."""
    kind = column.type
    if pa.types.is_null(kind):
        return np.full(len(column), np.nan)
    if is_numeric_type(kind):
        return float64_numpy(column)
    if is_text_type(kind):
        return text_to_float64(column)
    return None
