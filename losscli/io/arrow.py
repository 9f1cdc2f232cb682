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


def float64_numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The column cast to float64 as a writable NumPy array, NaN where it is null.

    Integers beyond 2^53 (int64, uint64) are rounded to the nearest float64, as NumPy does.
    """
    cast = column.cast(pa.float64(), safe=False)
    chunks = cast.chunks if isinstance(cast, pa.ChunkedArray) else [cast]
    parts = []
    for chunk in chunks:
        n = len(chunk)
        if n == 0:
            continue
        validity, data = chunk.buffers()
        values = np.frombuffer(data, dtype=np.float64, count=n, offset=chunk.offset * 8).copy()
        if chunk.null_count:
            if chunk.null_count == n or validity is None:
                values[:] = np.nan
            else:
                bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
                values[bits[chunk.offset : chunk.offset + n] == 0] = np.nan
        parts.append(values)
    if not parts:
        return np.empty(0, dtype=np.float64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def indices_numpy(indices: pa.Array, missing: int) -> np.ndarray:
    """A dictionary array's integer indices as NumPy (intp), ``missing`` where null.

    From the buffers: ``fill_null`` with a Python number would build a pyarrow
    scalar, which imports pandas.
    """
    n = len(indices)
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    validity, data = indices.buffers()
    dtype = np.dtype(indices.type.to_pandas_dtype())
    codes = np.frombuffer(data, dtype=dtype, count=n, offset=indices.offset * dtype.itemsize)
    codes = codes.astype(np.intp)
    if indices.null_count:
        if indices.null_count == n or validity is None:
            codes[:] = missing
        else:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            codes[bits[indices.offset : indices.offset + n] == 0] = missing
    return codes
