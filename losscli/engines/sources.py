"""Inputs as batch sources for the engines (until every input comes from one reader)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from losscli.analysis.plan import BatchSource, ListSource
from losscli.core.dataset import Dataset


@dataclass
class StreamSource:
    """A file read in batches by :func:`losscli.io.stream.open_stream`, once per pass."""

    path: str
    opts: Any
    progress: Callable[[int], None] | None = None

    def batches(self) -> Iterator[Dataset]:
        from losscli.io.stream import open_stream

        stream = open_stream(self.path, self.opts, progress=self.progress)
        if stream.whole is not None:
            yield stream.whole
            return
        assert stream.chunks is not None
        yield from stream.chunks


def open_batches(
    path: str, opts: Any, *, progress: Callable[[int], None] | None = None
) -> BatchSource:
    """A source whose every ``batches()`` call is one full pass over ``path``."""
    try:
        from losscli.io.source import open_source  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        return open_source(path, opts, progress=progress)  # type: ignore[no-any-return]
    if path == "-":  # stdin cannot be read twice: one batch in memory
        from losscli.io import load_dataset

        return ListSource([load_dataset(path, opts)])
    return StreamSource(path, opts, progress)
