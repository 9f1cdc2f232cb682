"""The one place rich Consoles are built (markup off for user strings, NO_COLOR respected)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def make_console(stderr: bool = False) -> Console:
    """A Console writing to stdout (data) or stderr (diagnostics).

    Width follows the terminal (80 when not a terminal, or $COLUMNS); colour is
    off under NO_COLOR or when the stream is not a terminal. Markup and
    highlighting are off so that user-supplied names print literally.
    """
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    width = None
    if not is_tty:
        try:
            width = int(os.environ.get("COLUMNS", "")) or 80
        except ValueError:
            width = 80
    console = Console(
        file=stream,
        width=width,
        markup=False,
        highlight=False,
        emoji=False,
        no_color=bool(os.environ.get("NO_COLOR")) or not is_tty,
        force_terminal=None if is_tty else False,
        soft_wrap=False,
    )
    # rich would exit 1 on a closed pipe; the CLI's one handler ends quietly with 0,
    # as for every other output format (`loss compute f.csv | head`).
    console.on_broken_pipe = _raise_broken_pipe  # type: ignore[method-assign]
    return console


def _raise_broken_pipe() -> None:
    raise BrokenPipeError


class ProgressBar:
    """A rich progress bar on stderr over the bytes of a file (only on a terminal)."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=make_console(stderr=True),
            transient=True,
        )
        self._task: Any = None

    def start(self, total: int | None) -> None:
        self._task = self._progress.add_task("reading", total=total)
        self._progress.start()

    def update(self, done: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=done)

    def stop(self) -> None:
        self._progress.stop()


@contextmanager
def progress_bar(wanted: bool) -> Iterator[ProgressBar | None]:
    """A :class:`ProgressBar` when wanted and stderr is a terminal, else None.

    Never in pipes, redirected stderr or machine-readable output (the caller
    passes ``wanted=False`` for json/csv/markdown).
    """
    if not wanted or not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        yield None
        return
    bar = ProgressBar()
    try:
        yield bar
    finally:
        bar.stop()
