"""The reading thread of a pass (io/source.py _prefetched) never holds the command up.

A pass left early (an error in the computation, a consumer that stops, or a
generator finalised by the garbage collector in another thread) may leave its
reader blocked on a pipe that nobody writes to again: closing the pass must
not wait for that read.
"""

from __future__ import annotations

import os
import platform
import sys
import threading

import pytest

from losscli.io.source import READ_AHEAD, _prefetched


def _blocking_chunks(read_fd: int, done: list[str], reading: threading.Event):
    try:
        yield "first"
        reading.set()
        os.read(read_fd, 1)  # blocks: nothing is ever written
        yield "second"
    finally:
        done.append("closed")


def test_closing_a_pass_does_not_wait_for_a_blocked_read():
    read_fd, write_fd = os.pipe()
    try:
        done: list[str] = []
        finished = threading.Event()
        reading = threading.Event()

        def consume() -> None:
            passes = _prefetched(_blocking_chunks(read_fd, done, reading))
            assert next(passes) == "first"
            assert reading.wait(timeout=60)
            passes.close()  # the reader is now blocked in os.read
            finished.set()

        thread = threading.Thread(target=consume, daemon=True)
        thread.start()
        thread.join(timeout=60)
        assert finished.is_set(), "closing the pass waited for the blocked read"
        assert done == []  # the read is still blocked: nothing pretended it ended
    finally:
        os.close(write_fd)  # the read returns (EOF) and the reader thread ends


def test_errors_and_order_come_through():
    def chunks():
        yield 1
        yield 2
        raise ValueError("bad chunk")

    passes = _prefetched(chunks())
    assert next(passes) == 1
    assert next(passes) == 2
    with pytest.raises(ValueError, match="bad chunk"):
        next(passes)


def test_the_reader_reads_at_most_read_ahead_chunks_ahead():
    produced: list[int] = []
    taken: list[tuple[int, int]] = []

    def chunks():
        for i in range(6):
            produced.append(i)
            yield i

    passes = _prefetched(chunks())
    for item in passes:
        threading.Event().wait(0.05)  # let the reader run ahead if it could
        taken.append((item, len(produced)))
    assert [i for i, _ in taken] == list(range(6))
    # While chunk i is computed on, chunks up to i + READ_AHEAD are read, no more.
    assert all(made <= min(6, item + 1 + READ_AHEAD) for item, made in taken)
    assert any(made == item + 1 + READ_AHEAD for item, made in taken)  # it does read ahead


def test_the_local_engine_releases_free_memory_between_passes(monkeypatch):
    """Each pass ends by giving the C heap's free pages back (glibc's malloc_trim)."""
    import losscli.engines.local as local
    from losscli.analysis.plan import ListSource

    events: list[str] = []
    monkeypatch.setattr(local, "release_free_memory", lambda: events.append("release"))

    class Step:
        def new_state(self) -> int:
            return 0

        def update(self, state: int, batch: int) -> int:
            events.append(f"batch {batch}")
            return state + batch

        def finish(self, state: int) -> int:
            return state

    def plan(head: int):
        first = yield Step()
        second = yield Step()
        return first, second

    assert local.run_plan(plan, ListSource([2, 3])) == (5, 5)  # type: ignore[arg-type]
    assert events == ["batch 2", "batch 3", "release"] * 2


def test_releasing_free_memory_is_harmless_here():
    from losscli.engines.local import _malloc_trim, release_free_memory

    release_free_memory()
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert _malloc_trim() is not None
