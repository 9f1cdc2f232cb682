"""Helpers for the plan tests: a dataset cut into batches, the reference comparison."""

from __future__ import annotations

import dataclasses
import math
import pickle
from typing import Any

import cloudpickle
import numpy as np

from losscli.core.dataset import Dataset


def split_rows(dataset: Dataset, cuts: list[int]) -> list[Dataset]:
    """The dataset as consecutive batches cut before each index in ``cuts``."""
    bounds = [0, *sorted(c for c in cuts if 0 < c < dataset.n_rows), dataset.n_rows]
    out = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        part = slice(a, b)

        def cut(x: Any, part: slice = part) -> Any:
            return None if x is None else x[part]

        out.append(
            dataclasses.replace(
                dataset,
                y_true=dataset.y_true[part],
                models={k: v[part] for k, v in dataset.models.items()},
                row_numbers=dataset.row_numbers[part],
                weights=cut(dataset.weights),
                groups=cut(dataset.groups),
                labels=cut(dataset.labels),
                file_y_true=cut(dataset.file_y_true),
                extra={k: v[part] for k, v in dataset.extra.items()},
                strata=cut(dataset.strata),
                n_dropped=dataset.n_dropped if i == 0 else 0,
            )
        )
    return out


def assert_same(got: Any, want: Any, path: str = "", rel: float = 1e-12) -> None:
    """Equal JSON-like structures, floats to ``rel`` relative (NaN equals NaN)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{path}: keys {got} != {want}"
        for key in want:
            assert_same(got[key], want[key], f"{path}.{key}", rel)
    elif isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), f"{path}: {got} != {want}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{path}[{i}]", rel)
    elif isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, (float, int)), f"{path}: {got!r} != {want!r}"
        if math.isnan(want):
            assert math.isnan(got), f"{path}: {got} != nan"
        else:
            assert math.isclose(got, want, rel_tol=rel, abs_tol=1e-300), f"{path}: {got} != {want}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


def with_weights(dataset: Dataset, seed: int = 0, zeros: bool = True) -> Dataset:
    """The dataset with integer weights 0..3 (exact sums, so medians tie-break alike)."""
    rng = np.random.default_rng(seed)
    w = rng.integers(0 if zeros else 1, 4, dataset.n_rows).astype(np.float64)
    w[0] = max(w[0], 1.0)
    return dataclasses.replace(dataset, weights=w)


def run_partitioned(
    plan: Any, batches: list[Dataset], parts: int = 3, later_first: bool = False
) -> Any:
    """Run ``plan`` as a partitioned engine would: a state per partition, pickled, merged.

    Each partition's state starts at the global index of its first row (``at_row``,
    where the step has it) and is pickled as Dask sends it (cloudpickle: a loss's
    lambda goes by value); the states merge from the last partition back to the
    first, the earlier as merge's first argument, or with ``later_first`` the later
    (a merge must not depend on the order of its arguments).
    """
    passes = plan(batches[0])
    step = next(passes)
    bounds = np.linspace(0, len(batches), parts + 1).astype(int)
    while True:
        states = []
        offset = 0
        for a, b in zip(bounds, bounds[1:]):
            state = step.new_state()
            if hasattr(step, "at_row"):
                state = step.at_row(state, offset)
            for batch in batches[a:b]:
                state = step.update(state, batch)
                offset += batch.n_rows
            states.append(pickle.loads(cloudpickle.dumps(state)))
        assert offset, "no rows in the batches"
        merged = states[-1]
        for other in reversed(states[:-1]):
            merged = step.merge(merged, other) if later_first else step.merge(other, merged)
        try:
            step = passes.send(step.finish(merged))
        except StopIteration as done:
            return done.value
