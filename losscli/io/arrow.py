"""Arrow columns to NumPy without pyarrow's pandas-backed conversion.

``ChunkedArray.to_numpy(zero_copy_only=False)`` imports pandas (about 0.25 s)
the first time it is used; reading the buffers directly keeps ``loss compute``
free of pandas (SPEC section 8: start-up time).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

# What pyarrow raises when a column cannot be cast to the type asked for.
CAST_ERRORS: tuple[type[Exception], ...] = (
    pa.ArrowInvalid,
    pa.lib.ArrowNotImplementedError,
    pa.ArrowTypeError,
)


def numpy_dtype(kind: pa.DataType) -> np.dtype:
    """The NumPy dtype of an Arrow integer or float type (``to_pandas_dtype`` imports
    pandas at pyarrow 14)."""
    if pa.types.is_floating(kind):
        return np.dtype(f"f{kind.bit_width // 8}")
    sign = "i" if pa.types.is_signed_integer(kind) else "u"
    return np.dtype(f"{sign}{kind.bit_width // 8}")


def float64_numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The column cast to float64 as a writable NumPy array, NaN where it is null.

    Integers beyond 2^53 (int64, uint64) are rounded to the nearest float64, as NumPy does.
    """
    kind = column.type
    # Integers and floats are read from their buffers and converted by NumPy (which
    # rounds int64 and uint64 to the nearest float64, as Arrow's cast does); only
    # other types (booleans, decimals) are cast by Arrow, whose cast is
    # pyarrow.compute: ~25 ms of import that a numeric file does not need.
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
    dtype = numpy_dtype(kind) if numeric else None
    cast = column if dtype is not None else column.cast(pa.float64(), safe=False)
    dtype = dtype or np.dtype(np.float64)
    chunks = cast.chunks if isinstance(cast, pa.ChunkedArray) else [cast]
    # One copy into the result (writable), chunk after chunk, converting as it goes.
    out = np.empty(sum(len(chunk) for chunk in chunks), dtype=np.float64)
    at = 0
    for chunk in chunks:
        n = len(chunk)
        if n == 0:
            continue
        validity, data = chunk.buffers()
        values = out[at : at + n]
        values[:] = np.frombuffer(data, dtype=dtype, count=n, offset=chunk.offset * dtype.itemsize)
        if chunk.null_count:
            if chunk.null_count == n or validity is None:
                values[:] = np.nan
            else:
                bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
                values[bits[chunk.offset : chunk.offset + n] == 0] = np.nan
        at += n
    return out


def indices_numpy(indices: pa.Array, missing: int) -> np.ndarray:
    """A dictionary array's integer indices as NumPy (intp), ``missing`` where null.

    From the buffers: ``fill_null`` with a Python number would build a pyarrow
    scalar, which imports pandas.
    """
    n = len(indices)
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    validity, data = indices.buffers()
    dtype = numpy_dtype(indices.type)
    codes = np.frombuffer(data, dtype=dtype, count=n, offset=indices.offset * dtype.itemsize)
    codes = codes.astype(np.intp)
    if indices.null_count:
        if indices.null_count == n or validity is None:
            codes[:] = missing
        else:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            codes[bits[indices.offset : indices.offset + n] == 0] = missing
    return codes


# Arrays built from their buffers: pa.array and pa.scalar import pandas (about 40 MiB
# and a third of a second) only to ask whether their input is a pandas object.


def bool_array(mask: np.ndarray) -> pa.Array:
    """A NumPy boolean mask as an Arrow boolean array (no nulls)."""
    mask = np.ascontiguousarray(mask, dtype=bool)
    bits = pa.py_buffer(np.packbits(mask, bitorder="little"))
    return pa.Array.from_buffers(pa.bool_(), int(mask.size), [None, bits])


def index_array(positions: np.ndarray) -> pa.Array:
    """Row positions (for ``take``) as an Arrow int64 array."""
    data = np.ascontiguousarray(positions, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), int(data.size), [None, pa.py_buffer(data)])


def null_strings(n: int) -> pa.Array:
    """``n`` missing strings (the "else" of an ``if_else`` that blanks cells)."""
    return pa.nulls(n, pa.string())


def repeated_string(text: str, n: int) -> pa.Array:
    """One string ``n`` times (a constant column, e.g. a hive partition's value)."""
    encoded = text.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int64) * len(encoded)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(encoded * n)]
    return pa.Array.from_buffers(pa.large_string(), n, buffers).cast(pa.string())


def bool_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean array as NumPy booleans, False where it is null."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=bool)
    validity, data = array.buffers()
    start = array.offset

    def bits(buffer: pa.Buffer) -> np.ndarray:
        unpacked = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), bitorder="little")
        return unpacked[start : start + n].astype(bool)

    out = bits(data)
    if array.null_count:
        out &= bits(validity) if validity is not None else False
    return out
