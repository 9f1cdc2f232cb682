"""Property test: a join of models' files equals the inner join of the same rows."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import losscli as lc
from losscli.errors import LossWarning


@st.composite
def joins(draw):
    n = draw(st.integers(1, 60))
    files = draw(st.integers(2, 3))
    ids = draw(st.lists(st.integers(-(10**12), 10**12), min_size=n, max_size=n, unique=True))
    seed = draw(st.integers(0, 2**32 - 1))
    sort = draw(st.booleans())
    rows = st.lists(st.booleans(), min_size=n, max_size=n).filter(any)  # no empty file
    keep = [draw(rows) for _ in range(files)]
    return np.array(ids, dtype=np.int64), seed, sort, keep


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(joins())
def test_inner_join_is_pandas_merge(case):
    ids, seed, sort, keep = case
    rng = np.random.default_rng(seed)
    n = ids.size
    y = rng.normal(size=n)
    with tempfile.TemporaryDirectory() as folder:
        paths, frames = [], []
        for k, rows in enumerate(keep):
            mask = np.array(rows, dtype=bool)
            frame = pd.DataFrame({"id": ids, "y_true": y, "y_pred": y + rng.normal(size=n)})[mask]
            frame = frame.sort_values("id") if sort else frame.sample(frac=1, random_state=seed)
            path = Path(folder) / f"m{k}.csv"
            frame.to_csv(path, index=False)
            paths.append(str(path))
            frames.append(frame.rename(columns={"y_pred": f"m{k}"}).set_index("id"))
        # The inner join by hand (keys in every file), not DataFrame.join: pandas' join
        # of int64 indexes gave wrong rows for keys near -2.5e9 in one run of this test.
        common = sorted(set.intersection(*(set(f.index.tolist()) for f in frames)))
        merged = pd.DataFrame(
            {"y_true": [frames[0].at[key, "y_true"] for key in common]}
            | {f"m{k}": [f.at[key, f"m{k}"] for key in common] for k, f in enumerate(frames)},
            index=pd.Index(common, dtype=np.int64),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LossWarning)
            if merged.empty:
                with pytest.raises(lc.InputError, match="no key is in every file"):
                    lc.compute(paths, on="id", join="inner", losses="mse")
                return
            result = lc.compute(paths, on="id", join="inner", losses="mse,max_error")
        assert result.n_rows == len(merged)
        for k in range(len(paths)):
            e = merged["y_true"].to_numpy() - merged[f"m{k}"].to_numpy()
            assert result.value("mse", model=f"m{k}") == pytest.approx(np.mean(e**2), rel=1e-12)
            assert result.value("max_error", model=f"m{k}") == pytest.approx(
                np.max(np.abs(e)), rel=1e-12
            )
        if all(all(rows) for rows in keep):  # every key everywhere: exact gives the same
            exact = lc.compute(paths, on="id", losses="mse")
            assert exact.value("mse", model="m0") == result.value("mse", model="m0")
