"""An input as a source of validated Dataset chunks, readable in several passes.

:func:`open_source` is the one way the commands read their data:
``Source.batches()`` yields validated :class:`~losscli.core.dataset.Dataset`
chunks (a small input is one chunk), the task decided on the first chunk and
fixed for the rest, row numbers counted over the whole input. Each call to
``batches()`` is one full pass over the input: a regular file is opened again;
stdin, FIFOs and process substitutions (``<(...)``) cannot be read twice, so
the first pass copies what it reads into an anonymous temporary file (deleted
when closed, never next to the input) and later passes read that copy.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from losscli.core.dataset import Dataset
from losscli.io.columns import InputOptions

Progress = Callable[[int], None]


class Source:
    """Where the data comes from; ``batches()`` reads it once more on every call."""

    def __init__(
        self,
        path: str,
        opts: InputOptions,
        *,
        progress: Progress | None = None,
        total_bytes: int | None = None,
        spool: _Spool | None = None,
    ) -> None:
        self.path = path
        self.opts = opts
        self.progress = progress
        self.total_bytes = total_bytes  # bytes on disk when known (for a progress bar)
        self._spool = spool
        self.passes = 0

    @property
    def source(self) -> str:
        """The name shown in reports: the path, or ``-`` for stdin."""
        return self.path

    def batches(self) -> Iterator[Dataset]:
        """One full pass over the input: validated chunks in file order."""
        from losscli.io.stream import open_stream

        self.passes += 1
        progress = self.progress if self.passes == 1 else None
        if self._spool is None:
            stream = open_stream(self.path, self.opts, progress=progress)
            return _chunks_of(stream)
        return self._spooled_pass(progress)

    def _spooled_pass(self, progress: Progress | None) -> Iterator[Dataset]:
        from losscli.io.stream import open_stream

        assert self._spool is not None
        with self._spool.as_stdin():
            stream = open_stream("-", self.opts, progress=progress)
            if stream.whole is not None:
                yield stream.whole
                return
            assert stream.chunks is not None
            yield from stream.chunks

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chunks_of(stream: Any) -> Iterator[Dataset]:
    if stream.whole is not None:
        yield stream.whole
        return
    yield from stream.chunks


def open_source(path: str, opts: InputOptions, *, progress: Progress | None = None) -> Source:
    """The input at ``path`` (``-`` for stdin) as a :class:`Source`.

    Nothing is read yet except what tells the kind of input; errors about the
    content come from ``batches()``.
    """
    if path == "-":
        return Source(path, opts, progress=progress, spool=_Spool(sys.stdin.buffer))
    total = None
    try:
        info = os.stat(path)
    except OSError:
        info = None  # the reader reports a missing or unreadable file with its own message
    if info is not None and stat.S_ISREG(info.st_mode):
        total = info.st_size
    return Source(path, opts, progress=progress, total_bytes=total)


class _Spool:
    """A byte stream that can be read again: what was read is kept in a temporary file.

    Each :meth:`reader` starts at byte 0: it replays the bytes kept so far,
    then reads on from the underlying stream, keeping those bytes too. So a
    pass that stopped early (an error, a consumer that had enough) leaves a
    spool the next pass completes.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._file: IO[bytes] | None = None
        self._size = 0
        self._ended = False

    def _keep(self, data: bytes) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="losscli-input-")
        self._file.seek(0, os.SEEK_END)
        self._file.write(data)
        self._size += len(data)

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` of the input (b'' at its end)."""
        if offset < self._size:
            assert self._file is not None
            self._file.flush()
            return os.pread(self._file.fileno(), min(size, self._size - offset), offset)
        if self._ended:
            return b""
        data = self._stream.read(size)
        if not data:
            self._ended = True
            return b""
        self._keep(data)
        return data

    def reader(self) -> IO[bytes]:
        return io.BufferedReader(_SpoolReader(self), buffer_size=1 << 16)

    @contextmanager
    def as_stdin(self) -> Iterator[None]:
        """The readers that read ``-`` from sys.stdin read this spool from its start."""
        saved = sys.stdin
        sys.stdin = io.TextIOWrapper(self.reader())
        try:
            yield
        finally:
            sys.stdin = saved

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _SpoolReader(io.RawIOBase):
    """A raw, read-only file over a :class:`_Spool`, from its first byte."""

    def __init__(self, spool: _Spool) -> None:
        super().__init__()
        self._spool = spool
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._spool.read_at(self._offset, len(buffer))
        n = len(data)
        buffer[:n] = data
        self._offset += n
        return n
