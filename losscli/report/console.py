"""The one place rich Consoles are built (markup off for user strings, NO_COLOR respected).

Also the one place that makes user-supplied text safe to print for people:
:func:`safe` shows control characters and bidi overrides as visible escapes,
and :func:`for_people` applies it to every string of a report before a table
or markdown is rendered (JSON escapes by itself; CSV keeps the data exact).
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from rich.console import Console


T = TypeVar("T")

# C0 controls (newline and tab included), DEL, C1 controls, the bidi marks, embeddings,
# overrides and isolates (U+061C, U+200E/F, U+202A-E, U+2066-9) and the Unicode line and
# paragraph separators: what can move the cursor, rewrite the screen, the clipboard or
# the window title, open hyperlinks, or make text read differently from what it is.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(char: str, byte_below: int = 0x100) -> str:
    """The escape of one unsafe character: ``\\n``, ``\\r``, ``\\t``, ``\\xHH`` below
    ``byte_below``, else ``\\uHHHH``."""
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < byte_below else f"\\u{code:04x}")


def _escape(match: re.Match[str]) -> str:
    return _visible(match.group())


def safe(text: str) -> str:
    """``text`` with every control character and bidi override shown as a visible escape.

    ``"a\x1b[2Jb"`` -> ``a\\x1b[2Jb``, ``"\u202e"`` -> ``\\u202e``, a newline -> ``\\n``: one
    line, printed as the characters it holds. Backslashes are left alone, so applying it
    twice changes nothing. Every user-supplied string printed for people goes through it.
    """
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def shell_word(arg: str) -> str:
    """``arg`` quoted for a POSIX shell, with :func:`safe`'s visible escapes.

    A word without control characters or bidi overrides is quoted as
    :func:`shlex.quote` does. One with them is written in the shell's ``$'...'``
    form (bash, zsh, ksh, POSIX.1-2024), which reads the escapes back into the
    characters: a column ``m``, right-to-left override, ``evil`` is shown as
    ``$'m\\u202eevil'``, so the command reads as it runs. C1 controls are written
    ``\\u0085`` there, not ``\\x85`` (``$'\\x85'`` is one byte, not the character).
    """
    import shlex

    if not _UNSAFE.search(arg):
        return shlex.quote(arg)
    body = arg.replace("\\", "\\\\").replace("'", "\\'")
    return "$'" + _UNSAFE.sub(lambda m: _visible(m.group(), byte_below=0x80), body) + "'"


def for_people(obj: T) -> T:
    """A copy of a report (dataclasses, tuples, lists, dicts) with :func:`safe` strings.

    Applied at the render boundary of tables and markdown, so a column, model, group,
    file or class name read from the input cannot drive the terminal. Numbers, arrays,
    enums and other objects are kept as they are (the same object).
    """
    return _people(obj, {})  # type: ignore[no-any-return]


def _people(obj: Any, seen: dict[int, Any]) -> Any:
    if type(obj) is str:
        return safe(obj)
    if obj is None or isinstance(obj, (bool, int, float, Enum)):
        return obj
    key = id(obj)
    if key in seen:
        return seen[key]
    out: Any = obj
    if type(obj) in (list, tuple):
        items = [_people(v, seen) for v in obj]
        if any(new is not old for new, old in zip(items, obj)):
            out = type(obj)(items)
    elif type(obj) is dict:
        pairs = [(_people(k, seen), _people(v, seen)) for k, v in obj.items()]
        if any(k2 is not k or v2 is not v for (k2, v2), (k, v) in zip(pairs, obj.items())):
            out = dict(pairs)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changed = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            new = _people(value, seen)
            if new is not value:
                changed[f.name] = new
        if changed:
            import copy

            out = copy.copy(obj)
            for name, value in changed.items():
                object.__setattr__(out, name, value)
    seen[key] = out
    return out


#: The narrowest console laid out: a smaller $COLUMNS is read as this.
MIN_WIDTH = 20
DEFAULT_WIDTH = 80


def console_width(stream: Any, is_tty: bool) -> int:
    """The width tables are laid out for: $COLUMNS when it is a positive number, else the
    terminal's width, else 80. ``COLUMNS=-1``, ``0`` or text are ignored (never a width
    that prints nothing); widths below 20 are read as 20."""
    try:
        columns = int(os.environ.get("COLUMNS", "").strip())
    except ValueError:
        columns = 0
    if columns <= 0 and is_tty:
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 0
    if columns <= 0:
        columns = DEFAULT_WIDTH
    return max(columns, MIN_WIDTH)


def make_console(stderr: bool = False) -> Console:
    """A Console writing to stdout (data) or stderr (diagnostics).

    Width follows $COLUMNS, else the terminal (80 when not a terminal), at least 20
    (:func:`console_width`); colour is
    off under NO_COLOR or when the stream is not a terminal. Markup and
    highlighting are off so that user-supplied names print literally.
    """
    from rich.console import Console

    stream: Any = _Output(sys.stderr if stderr else sys.stdout, "stderr" if stderr else "stdout")
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    width = console_width(stream, is_tty)
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


class _TextOnly:
    """What a report written as text for scripts needs of a Console: its file."""

    def __init__(self, stderr: bool) -> None:
        self.file = _Output(sys.stderr if stderr else sys.stdout, "stderr" if stderr else "stdout")


def report_console(fmt: str, stderr: bool = False) -> Console:
    """The console a report is written to in ``fmt``: JSON, CSV and markdown are written
    to its file alone, so they need no rich Console (whose import and set-up cost about
    30 ms, a tenth of a run on 1,000 rows); tables get :func:`make_console`'s."""
    if fmt.lower() in ("json", "csv", "markdown"):
        return cast("Console", _TextOnly(stderr))
    return make_console(stderr)


def _raise_broken_pipe() -> None:
    raise BrokenPipeError


def stdout_stream() -> Any:
    """sys.stdout whose write errors (other than a closed pipe) are OutputError."""
    return _Output(sys.stdout, "stdout")


class _Output(io.TextIOBase):
    """stdout or stderr for a Console: a write that finds no room is an ``Error:`` line.

    ``loss compute f.csv > /dev/full`` says "cannot write to stdout: No space left on
    device" (exit 1) instead of an internal error; a closed pipe stays a BrokenPipeError
    (the CLI ends quietly).
    """

    def __init__(self, stream: Any, name: str) -> None:
        self._stream = stream
        self._name = name

    def _failed(self, exc: OSError) -> Exception:
        from losscli.errors import OutputError

        if isinstance(exc, BrokenPipeError):
            return exc
        return OutputError(f"cannot write to {self._name}: {exc.strerror or exc}")

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except OSError as exc:
            raise self._failed(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise self._failed(exc) from None

    # A text stream (callers test isinstance(..., io.TextIOBase)) that delegates the rest.
    def isatty(self) -> bool:
        return bool(self._stream.isatty())

    def fileno(self) -> int:
        return int(self._stream.fileno())

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._stream, "encoding", None) or "utf-8")

    def close(self) -> None:  # the wrapped stream stays open (it is sys.stdout)
        pass

    def __del__(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class ProgressBar:
    """A rich progress bar on stderr (only on a terminal): the bytes of the file read,
    then, with --ci, the bootstrap resamples drawn (a count: their number of passes
    depends on the plan)."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.text import Text

        class PerUnit(ProgressColumn):
            """Bytes for the reading bar, a count for the resamples."""

            def __init__(self, column: ProgressColumn, counted: bool) -> None:
                super().__init__()
                self.column, self.counted = column, counted

            def render(self, task: Any) -> Any:
                if task.fields.get("unit") != "resamples":
                    return self.column.render(task)
                return Text(f"{int(task.completed):,} resamples" if self.counted else "")

        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            PerUnit(DownloadColumn(), counted=True),
            PerUnit(TransferSpeedColumn(), counted=False),
            TimeRemainingColumn(),
            console=make_console(stderr=True),
            transient=True,
        )
        self._task: Any = None
        self._resamples: Any = None
        self._started = False

    def _start(self) -> None:
        if not self._started:
            self._progress.start()
            self._started = True

    def start(self, total: int | None) -> None:
        self._task = self._progress.add_task("reading", total=total)
        self._start()

    def update(self, done: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=done)

    def resamples(self, count: int) -> None:
        """``count`` more bootstrap resamples were drawn."""
        if self._resamples is None:
            self._resamples = self._progress.add_task("bootstrap", total=None, unit="resamples")
            self._start()
        self._progress.advance(self._resamples, count)

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
    from losscli.analysis.bootstrap import RESAMPLES_DRAWN

    bar = ProgressBar()
    token = RESAMPLES_DRAWN.set(bar.resamples)
    try:
        yield bar
    finally:
        RESAMPLES_DRAWN.reset(token)
        bar.stop()
