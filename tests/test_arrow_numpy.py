"""io/arrow.py's float64_numpy reads numeric columns from their buffers: the values of
Arrow's own cast to float64 (with NaN for nulls) for every numeric type, offsets and
chunks included, without importing pyarrow.compute for the types NumPy has."""

from __future__ import annotations

import decimal
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from losscli.io.arrow import float64_numpy

TYPES = [
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
    pa.uint64(),
    pa.float16(),
    pa.float32(),
    pa.float64(),
    pa.bool_(),
    pa.decimal128(10, 3),
]


def _column(kind: pa.DataType) -> pa.Array:
    if kind == pa.float16():
        return pa.array(np.array([1.5, -2, 0, 65504, np.nan], dtype=np.float16), type=kind)
    if kind == pa.bool_():
        return pa.array([True, False, None, True])
    if pa.types.is_decimal(kind):
        return pa.array([decimal.Decimal("1.250"), None, decimal.Decimal("-3.5")], type=kind)
    values: list[object] = [1, 2, None, 100, 0]
    if pa.types.is_signed_integer(kind) or pa.types.is_floating(kind):
        values.append(-7)
    if kind == pa.int64():
        values += [2**63 - 1, 2**53 + 1]  # rounded to the nearest float64, as Arrow's cast does
    if kind == pa.uint64():
        values.append(2**64 - 1)
    if pa.types.is_floating(kind):
        values += [float("nan"), float("inf"), -0.0]
    return pa.array(values, type=kind)


@pytest.mark.parametrize("kind", TYPES, ids=str)
def test_the_values_of_arrows_cast(kind):
    array = _column(kind)
    for column in (array, array.slice(1), pa.chunked_array([array.slice(0, 2), array.slice(2)])):
        got = float64_numpy(column)
        if kind == pa.float16():  # exact in float64 (pyarrow 14 cannot cast it)
            cells = column.to_pylist()
        else:
            cells = pc.cast(column, pa.float64(), safe=False).to_pylist()
        want = np.array([np.nan if v is None else v for v in cells], dtype=np.float64)
        assert got.dtype == np.float64 and got.flags.writeable
        assert np.array_equal(
            got.view(np.uint64)[~np.isnan(want)], want.view(np.uint64)[~np.isnan(want)]
        )
        assert np.array_equal(np.isnan(got), np.isnan(want))


def test_a_numeric_column_needs_no_pyarrow_compute():
    code = (
        "import sys, numpy as np, pyarrow as pa\n"
        "from losscli.io.arrow import float64_numpy\n"
        "from losscli.io.frames import numeric_array\n"
        "for dtype in ('int64', 'float64', 'float32', 'uint8', 'float16'):\n"
        "    a = numeric_array(np.arange(3).astype(dtype), np.array([True, False, True]))\n"
        "    got = float64_numpy(pa.chunked_array([a, a.slice(1)]))\n"
        "    assert got[[0, 2, 4]].tolist() == [0, 2, 2] and np.isnan(got[[1, 3]]).all(), got\n"
        "print('pyarrow.compute' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_arrays_built_from_buffers_equal_pyarrows():
    from losscli.io.arrow import bool_array, bool_numpy, index_array, null_strings, repeated_string

    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 8, 9, 100):
        mask = rng.uniform(size=n) < 0.5
        assert bool_array(mask).equals(pa.array(mask, pa.bool_()))
        positions = rng.integers(0, 1000, n)
        assert index_array(positions).equals(pa.array(positions, pa.int64()))
        assert null_strings(n).equals(pa.array([None] * n, pa.string()))
        assert repeated_string('é,"x', n).equals(pa.array(['é,"x'] * n, pa.string()))
        # with nulls, an offset and chunks: null cells read as False
        cells = [None if v < 0.2 else bool(v < 0.6) for v in rng.uniform(size=n)]
        array = pa.array(cells, pa.bool_())
        want = np.array([bool(c) for c in cells], dtype=bool)
        assert np.array_equal(bool_numpy(array), want)
        assert np.array_equal(bool_numpy(array.slice(min(n, 3))), want[min(n, 3) :])
        chunked = pa.chunked_array([array.slice(0, n // 2), array.slice(n // 2)], pa.bool_())
        assert np.array_equal(bool_numpy(chunked), want)
