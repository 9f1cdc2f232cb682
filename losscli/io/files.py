"""One dataset over many files: a directory, a glob or a URL, read file by file.

:func:`open_partition` opens one :class:`~losscli.io.source.Partition` again
(on this process or a Dask worker) from its path and options alone.
"""

from __future__ import annotations

from losscli.io.source import Partition, Source


def open_partition(partition: Partition) -> Source:
    """The Source of one partition: its file, its rows numbered from its ``row_offset``."""
    from losscli.io.source import _file_source

    return _file_source(
        partition.path,
        partition.opts,
        row_offset=partition.row_offset or 0,
        whole=False,
    )
