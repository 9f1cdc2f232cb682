"""What the streaming tests share: small chunks, a regression file, whole vs streamed reports.

A file is streamed when it is larger than io.text's WHOLE_BYTES, in chunks of
about CHUNK_BYTES; :func:`small_chunks` lowers both so that a test file of a
few kB is read in many chunks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import numpy as np
import pytest

import losscli.io.text as text_module
from losscli.analysis.compute import compute
from losscli.analysis.streaming import compute_chunks
from losscli.core.registry import select_losses
from losscli.io.columns import InputOptions, load_dataset
from losscli.io.source import open_source
from losscli.io.stream import ValueSpool


@contextlib.contextmanager
def small_chunks(chunk_bytes: int, whole_bytes: int = 0) -> Iterator[None]:
    """Files above ``whole_bytes`` are read in chunks of about ``chunk_bytes``."""
    with (
        mock.patch.object(text_module, "WHOLE_BYTES", whole_bytes),
        mock.patch.object(text_module, "CHUNK_BYTES", chunk_bytes),
    ):
        yield


def write_regression(path, n=4000, seed=0, weights=False, groups=False, holes=False, sort=False):
    """y_true, y_pred, model_b (+ w, segment): heavy-tailed errors, optional empty cells."""
    rng = np.random.default_rng(seed)
    y = np.round(rng.normal(100, 25, n), 4)
    noise = rng.normal(0, 1.5, n)
    noise[rng.random(n) < 0.02] *= 20
    p = np.round(y + noise, 4)
    p2 = np.round(y + rng.normal(0.5, 2.0, n), 4)
    if sort:
        order = np.argsort(np.abs(y - p))
        y, p, p2 = y[order], p[order], p2[order]
    header = ["y_true", "y_pred", "model_b"]
    if weights:
        header.append("w")
    if groups:
        header.append("segment")
    lines = [",".join(header)]
    for i in range(n):
        cells = [repr(float(y[i])), repr(float(p[i])), repr(float(p2[i]))]
        if weights:
            cells.append(str(int(rng.integers(0, 4))))
        if groups:
            cells.append(["north", "south", "east"][int(rng.integers(0, 3))])
        if holes and i % 97 == 5:
            cells[1] = ""
        if holes and i % 211 == 7:
            cells[0] = "n/a"
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def _default_selections(dataset: Any) -> Any:
    return select_losses([], dataset.task, dataset.features)


def in_memory_report(
    path, opts: InputOptions, selections: Callable[[Any], Any] = _default_selections, **ci: Any
) -> Any:
    """compute's report with every row of ``path`` in memory (``ci``: ci_level, n_boot...)."""
    dataset = load_dataset(str(path), opts)
    report, _ = compute(dataset, selections(dataset), **ci)
    return report


def streamed_report(
    path,
    opts: InputOptions,
    chunk_bytes: int = 3000,
    *,
    selections: Callable[[Any], Any] = _default_selections,
    median_cap: int = 64,
    reread: bool = True,
    spool_budget: int = 1 << 12,
    **ci: Any,
) -> Any:
    """The same report from ``path`` read in chunks of ``chunk_bytes`` (several, checked)."""
    source = open_source(str(path), opts)
    seen = []

    def counted(chunks):
        for chunk in chunks:
            seen.append(chunk.n_rows)
            yield chunk

    spool = ValueSpool(memory_budget=spool_budget)
    try:
        with small_chunks(chunk_bytes):
            report = compute_chunks(
                counted(source.batches()),
                selections,
                spool,
                median_cap=median_cap,
                reread=source.batches if reread else None,
                **ci,
            )
        assert len(seen) > 1  # several chunks
        return report
    finally:
        spool.close()
        source.close()


def assert_same_report(streamed: Any, whole: Any) -> None:
    """Streamed and in-memory reports agree: 1e-12 relative, order statistics exactly."""
    assert streamed.n_rows == whole.n_rows
    assert streamed.n_dropped == whole.n_dropped
    assert streamed.task == whole.task
    assert len(streamed.results) == len(whole.results)
    scale = {}
    for r in whole.results:
        if r.loss == "mae":
            scale[(r.model, r.group)] = abs(r.value)
    for a, b in zip(streamed.results, whole.results):
        assert (a.loss, a.model, a.group, a.n_rows) == (b.loss, b.model, b.group, b.n_rows)
        # Signed losses (mbe) may sit near 0: compare them relative to the mean |error|.
        atol = 1e-12 * scale.get((b.model, b.group), 0.0) if b.signed else 0.0
        assert a.value == pytest.approx(b.value, rel=1e-12, abs=atol), (a.loss, a.group)
        if a.loss == "median_ae" or a.loss == "max_error":
            assert a.value == b.value  # order statistics: exactly the same row value
