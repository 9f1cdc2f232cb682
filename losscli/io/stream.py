"""Per-row arrays kept for later passes of the streaming engine (:class:`ValueSpool`).

Reading an input in chunks is :mod:`losscli.io.source` (one reader for every input).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import numpy as np


class ValueSpool:
    """Per-row arrays kept for further passes: in memory up to a budget, then on disk.

    The exact median needs a second look at the values; stdin is spooled by
    the reader, but keeping only the values near the median here is cheaper.

    The file is an anonymous temporary file (deleted when closed, never next
    to the input). Each :meth:`append` stores one chunk; iteration yields the
    chunks back in order.
    """

    def __init__(self, memory_budget: int = 16 << 20) -> None:
        self._budget = memory_budget
        self._memory: list[dict[str, np.ndarray]] = []
        self._in_memory = 0
        self._file: IO[bytes] | None = None
        self._index: list[dict[str, tuple[int, np.dtype[Any], int]]] = []
        self._offset = 0

    def append(self, arrays: dict[str, np.ndarray]) -> None:
        if self._file is None:
            self._memory.append(arrays)
            self._in_memory += sum(a.nbytes for a in arrays.values())
            if self._in_memory <= self._budget:
                return
            self._file = tempfile.TemporaryFile(prefix="losscli-spool-")
            pending, self._memory = self._memory, []
            for item in pending:
                self._write(item)
            return
        self._write(arrays)

    def _write(self, arrays: dict[str, np.ndarray]) -> None:
        assert self._file is not None
        entry = {}
        for name, array in arrays.items():
            data = np.ascontiguousarray(array)
            self._file.write(data.tobytes())
            entry[name] = (self._offset, data.dtype, int(data.size))
            self._offset += data.nbytes
        self._index.append(entry)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        if self._file is None:
            yield from self._memory
            return
        self._file.flush()
        fd = self._file.fileno()
        for entry in self._index:
            yield {
                name: np.frombuffer(os.pread(fd, size * dtype.itemsize, offset), dtype=dtype)
                for name, (offset, dtype, size) in entry.items()
            }

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory = []
