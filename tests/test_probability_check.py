"""Whether predictions can be probabilities (every finite value in [0, 1]): the fast
two-reduction check agrees with filtering the finite values, NaN and infinities included."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from losscli.io.columns import _within_unit

EDGES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 1.0000000000000002, -5e-324, 0.5, 2.0, -1.0]


def _by_filtering(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return not (finite.size and (finite.min() < 0 or finite.max() > 1))


@given(
    arrays(
        np.float64,
        st.integers(0, 8),
        elements=st.one_of(st.sampled_from(EDGES), st.floats(-0.5, 1.5), st.floats()),
    )
)
def test_agrees_with_filtering_the_finite_values(values):
    assert _within_unit(values) == _by_filtering(values)
    # Multiclass predictions are (rows, classes).
    if values.size % 2 == 0:
        assert _within_unit(values.reshape(-1, 2)) == _by_filtering(values)
