"""Partitions for the Dask fault tests, importable on the workers (tests/ is on their path)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from losscli.core.dataset import Dataset
from losscli.io.source import Partition


@dataclass(frozen=True)
class SlowPartition(Partition):
    """A file read slowly, noting each start (the worker's process id) in ``marker``."""

    marker: str = ""
    pause: float = 0.5

    def batches(self) -> Iterator[Dataset]:
        with open(self.marker, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(self.pause)
        yield from super().batches()
