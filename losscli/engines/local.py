"""The local engine: a plan's passes over the batches of one input, in this process.

Pass 1 starts with the first batch, which the plan also sees as its ``head``
(to choose losses from the task and columns); every further pass the plan
asks for calls ``source.batches()`` again (each call is one full pass; the
reader spools stdin on the first pass so that it can be read again).

When the first step says that another pass will follow (``more_passes``:
sensitivity's flags, compare --ci's median bands, recommend's moments, the
report), pass 1 also keeps its batches in a :class:`BatchSpool`, a temporary
file, and the later passes read them back from there instead of parsing and
checking the input again.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import io
import itertools
import os
import pickle
import queue
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

from losscli.analysis.plan import BatchSource, ListSource, Plan, more_passes, run_passes
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
    kept: list[BatchSpool] = []

    def one_pass(step: Any, number: int) -> Any:
        state = step.new_state()
        if number > 1:
            again = kept[0].batches() if kept and kept[0].complete else source.batches()
            for batch in again:
                state = step.update(state, batch)
            return state
        spool = BatchSpool.start() if _worth_keeping(step, source) else None
        if spool is not None:
            kept.append(spool)
        for batch in first:
            if spool is not None:
                spool.add(batch)
            state = step.update(state, batch)
        if spool is not None:
            spool.finish_writing()
        return state

    try:
        # The name is looked up at each call (tests replace it).
        return run_passes(plan, head, one_pass, on_pass, lambda: release_free_memory())
    finally:
        for spool in kept:
            spool.close()


def _worth_keeping(step: Any, source: BatchSource) -> bool:
    """Keep pass 1's batches when another pass will follow and the input is not in memory
    (batches in a list, a DataFrame or arrays: read again at no parsing cost) and not
    already copied to a temporary file as it is read (stdin, a FIFO: ``keeps_a_copy``;
    a second copy would double what the temporary folder holds)."""
    in_memory = isinstance(source, ListSource) or bool(getattr(source, "in_memory", False))
    copied = bool(getattr(source, "keeps_a_copy", False))
    return more_passes(step) and not in_memory and not copied


# Batches waiting for the spool's writer: pass 1 waits for it beyond this many.
SPOOL_QUEUE = 2
# The share of the temporary folder's free space (at the start) the spool may take:
# the rest stays for the temporary files a command cannot do without.
SPOOL_SHARE = 0.5


class BatchSpool:
    """Pass 1's batches in a temporary file, read back by the later passes.

    Each batch is pickled (protocol 5) with its arrays' bytes written out of
    band, as they are in memory, so a batch read back is the same Dataset: the
    same values bit for bit, the same row numbers, groups, weights and notes.
    Writing happens in a thread of its own (the file's writes release the
    GIL), at most :data:`SPOOL_QUEUE` batches behind the pass. The file is
    anonymous (``tempfile.TemporaryFile``: removed as soon as it is closed,
    even if the process is killed).

    The spool is an optimisation only. It takes at most :data:`SPOOL_SHARE` of
    the space free in the temporary folder when it starts; beyond that, or if
    a write fails (a full or read-only folder) or a batch cannot be pickled,
    it stops, gives its space back at once (the file is truncated, so the
    temporary files the command needs still find room) and the later passes
    read the input again.
    """

    def __init__(self, file: io.BufferedRandom, budget: int) -> None:
        self._file = file
        self._fd = file.fileno()
        self._budget = budget
        self._size = 0
        # (offset, pickle bytes, array bytes) of every batch.
        self._index: list[tuple[int, int, list[int]]] = []
        self._queue: queue.Queue[Dataset | None] = queue.Queue(maxsize=SPOOL_QUEUE)
        self._failed = False
        self._closed = False
        self.complete = False
        self._writer = threading.Thread(target=self._write_all, name="losscli-spool", daemon=True)
        try:
            self._writer.start()
        except BaseException:
            file.close()
            raise

    @classmethod
    def start(cls) -> BatchSpool | None:
        if not hasattr(os, "pread"):  # no positional reads here: read the input again
            return None
        try:
            file = tempfile.TemporaryFile(prefix="losscli-batches-")
        except OSError:  # no usable temporary folder: read the input again instead
            return None
        try:
            found = os.fstatvfs(file.fileno())
            budget = int(found.f_bavail * found.f_frsize * SPOOL_SHARE)
        except (OSError, AttributeError):  # no statvfs here: no bound but the disk's
            budget = sys.maxsize
        return cls(file, budget)

    def add(self, batch: Dataset) -> None:
        if not self._failed:
            self._queue.put(batch)

    def _write_all(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._failed:
                continue
            try:
                self._write(batch)
            except Exception:  # noqa: BLE001 - a full disk, an unpicklable value: no spool
                self._drop()

    def _write(self, batch: Dataset) -> None:
        buffers: list[pickle.PickleBuffer] = []
        meta = pickle.dumps(batch, protocol=5, buffer_callback=buffers.append)
        raws = [buffer.raw() for buffer in buffers]
        size = len(meta) + sum(raw.nbytes for raw in raws)
        if self._size + size > self._budget:
            raise OSError(errno.ENOSPC, "the spool's share of the temporary folder is used")
        self._file.write(meta)
        for raw in raws:
            self._file.write(raw)
        self._index.append((self._size, len(meta), [raw.nbytes for raw in raws]))
        self._size += size

    def _drop(self) -> None:
        """Stop spooling and give the space back now (the file is closed later)."""
        self._failed = True
        self._index.clear()
        try:
            self._file.seek(0)
            self._file.truncate(0)
        except (OSError, ValueError):
            pass

    def finish_writing(self) -> None:
        """Wait for the writer once pass 1 has seen every batch."""
        self._queue.put(None)
        self._writer.join()
        if not self._failed:
            try:
                self._file.flush()
                self.complete = True
            except OSError:
                self._drop()
        if self._failed:
            self.close()

    def batches(self) -> Iterator[Dataset]:
        """The spooled batches again, in order, read ahead in a thread as the input is.

        Reads are positional (``os.pread``), so a pass left early and a new pass
        never share a file position.
        """
        import pyarrow as pa

        from losscli.io.source import _prefetched

        fd, index = self._fd, list(self._index)

        def read() -> Iterator[Dataset]:
            for offset, size, sizes in index:
                meta = _read_at(fd, size, offset)
                offset += size
                arrays = []
                for nbytes in sizes:
                    # Arrow's memory pool, as the batches of pass 1 (the C heap keeps
                    # what it frees: pass 2's peak grew with the input's size).
                    raw = pa.allocate_buffer(nbytes)
                    _read_into(fd, raw, offset)
                    offset += nbytes
                    arrays.append(raw)
                yield pickle.loads(meta, buffers=arrays)

        return _prefetched(read())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.complete = False
        if self._writer.is_alive():  # pass 1 ended early (an error): stop the writer
            self._failed = True
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._queue.put(None)
            self._writer.join()
        self._file.close()


def _read_at(fd: int, size: int, offset: int) -> bytes:
    data = os.pread(fd, size, offset)
    while len(data) < size:
        more = os.pread(fd, size - len(data), offset + len(data))
        if not more:
            raise OSError(errno.EIO, "the batch spool ended early")
        data += more
    return data


def _read_into(fd: int, buffer: Any, offset: int) -> None:
    view = memoryview(buffer).cast("B")
    done = 0
    while done < len(view):
        if hasattr(os, "preadv"):
            count = os.preadv(fd, [view[done:]], offset + done)
        else:  # pragma: no cover - platforms without preadv
            data = os.pread(fd, len(view) - done, offset + done)
            count = len(data)
            view[done : done + count] = data
        if count == 0:
            raise OSError(errno.EIO, "the batch spool ended early")
        done += count


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
