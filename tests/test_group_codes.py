"""--group-by's vectorised group codes: the same groups, names and order as sorting strings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

from losscli.core.dataset import factorize_groups
from losscli.io import InputOptions
from losscli.io.columns import build_dataset


def _reference(groups: np.ndarray) -> tuple[np.ndarray, list[str]]:
    names, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    return codes.reshape(-1), [str(n) for n in names]


@pytest.mark.parametrize("distinct", [1, 20, 5000, 70_000])
def test_factorize_equals_sorting_strings(distinct):
    rng = np.random.default_rng(distinct)
    names = np.array([f"g{i}" if i % 3 else f"ü{i:05d} x" for i in range(distinct)])
    groups = names[rng.integers(0, distinct, 120_000)]
    codes, listed = factorize_groups(groups)
    want_codes, want_names = _reference(groups)
    assert listed == want_names
    np.testing.assert_array_equal(codes, want_codes)
    obj = groups.astype(object)  # Python strings (in-memory data) take the sorting path
    codes, listed = factorize_groups(obj)
    assert listed == want_names


def _table(values: list[str | None]) -> pa.Table:
    n = len(values)
    return pa.table(
        {
            "y_true": pa.array(np.arange(n, dtype=float)),
            "y_pred": pa.array(np.arange(n, dtype=float) + 0.5),
            "segment": pa.array(values, pa.string()),
        }
    )


def test_reader_codes_strip_merge_and_survive_nan_drop():
    values = [" a", "a", "b ", None, "", "ü", "a", "b"]
    opts = InputOptions(group_by="segment", nan="drop")
    dataset = build_dataset(_table(values), opts, "t.csv")
    # Empty and missing cells are dropped; " a" and "a" are one group.
    assert dataset.groups.tolist() == ["a", "a", "b", "ü", "a", "b"]
    codes, names = dataset.group_index()
    assert names == ["a", "b", "ü"]
    assert codes.tolist() == [0, 0, 1, 2, 0, 1]
    assert dataset.group_codes is not None and dataset.group_codes[0] is dataset.groups


def test_replaced_groups_do_not_reuse_stale_codes():
    dataset = build_dataset(_table(["x", "y", "x"]), InputOptions(group_by="segment"), "t.csv")
    moved = dataclasses.replace(dataset, groups=np.array(["y", "y", "z"]))
    codes, names = moved.group_index()
    assert names == ["y", "z"] and codes.tolist() == [0, 0, 1]
