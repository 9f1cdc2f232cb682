"""The local engine: a plan's passes over the batches of one input, in this process.

Pass 1 starts with the first batch, which the plan also sees as its ``head``
(to choose losses from the task and columns); every further pass the plan
asks for calls ``source.batches()`` again (each call is one full pass; the
reader spools stdin on the first pass so that it can be read again).
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import sys
from collections.abc import Callable, Iterator
from typing import Any

from losscli.analysis.plan import BatchSource, Plan, run_passes
from losscli.core.dataset import Dataset


def run_plan(
    plan: Plan, source: BatchSource, *, on_pass: Callable[[int], None] | None = None
) -> Any:
    """Run every pass of ``plan`` over ``source`` and return the plan's report.

    ``on_pass(n)`` is called before pass n (1-based), e.g. to restart a
    progress bar.
    """
    batches: Iterator[Dataset] = source.batches()
    head = next(batches, None)
    if head is None:
        raise ValueError("the input yielded no batch")
    first: Iterator[Dataset] = itertools.chain([head], batches)

    def one_pass(step: Any, number: int) -> Any:
        state = step.new_state()
        for batch in first if number == 1 else source.batches():
            state = step.update(state, batch)
        return state

    # The name is looked up at each call (tests replace it).
    return run_passes(plan, head, one_pass, on_pass, lambda: release_free_memory())


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
        return None


def release_free_memory() -> None:
    """Return the C heap's free pages to the OS (glibc's malloc_trim), between passes.

    A pass allocates and frees many batch-sized arrays; glibc keeps what is freed in
    its heaps, where the next pass's arrays do not always fit, so without this the
    peak grew with the number of passes, and so with the input's size (compare --ci
    runs three more passes on 30M rows than on 10M). Dask's workers do the same for
    the same reason. Nothing happens where the C library has no malloc_trim.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
