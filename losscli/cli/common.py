"""Helpers the command modules share: loading data, choosing losses, writing output safely."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any


def write_atomically(path: str, write: Callable[[IO[str]], None]) -> None:
    """Write a text file atomically (see :mod:`losscli.atomic`); ``-`` writes to stdout."""
    from losscli.atomic import write_atomically as write_file

    if path == "-":
        from losscli.report.console import stdout_stream

        stream = stdout_stream()
        write(stream)
        stream.flush()
        return
    write_file(path, write)


def input_paths(files: str | Sequence[str] | None, kwargs: dict[str, Any]) -> list[str]:
    """The paths a command reads: its data file(s) and the files of its --custom losses."""
    paths = [files] if isinstance(files, str) else list(files or ())
    for value in kwargs.get("custom") or ():
        head, sep, _ = value.strip().partition(".py:")
        if sep:
            paths.append(head + ".py")
    return paths


def _stdin_closed() -> bool:
    if sys.stdin is None:  # Python found no file descriptor 0 (`loss compute - <&-`)
        return True
    try:
        fd = sys.stdin.fileno()
    except (OSError, ValueError, AttributeError):
        return False  # an in-memory stdin (tests, embedding)
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of an input that could be overwritten: a regular file (stdin too)."""
    try:
        info = os.fstat(0) if path == "-" else os.stat(path)
    except (OSError, ValueError):
        return None  # a closed stdin, a URL, a file that does not exist (reported later)
    return (info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) else None


def check_outputs(inputs: Sequence[str | None], outputs: Sequence[tuple[str, str | None]]) -> None:
    """Before the work starts: every output path can be written and is none of the inputs.

    ``inputs`` are the data files (``-`` = stdin, compared by what fd 0 is) and the
    user's --custom code; ``outputs`` are (option, path) pairs, ``-`` meaning stdout.
    Device and inode are compared, so a link, a symbolic link or /dev/stdin naming an
    input is caught. Writing into an input is a usage error (exit 2); an output that
    cannot be written (no such folder, a directory, no permission) is exit 1.
    """
    from losscli.atomic import check_output
    from losscli.errors import InputError, UsageError

    if "-" in inputs and _stdin_closed():
        raise InputError(
            "stdin is closed: pipe a CSV into loss (loss compute - < data.csv) or give a FILE"
        )
    ids = {i for i in (_identity(p) for p in inputs if p) if i is not None}
    for option, path in outputs:
        if path is None or path == "-":
            continue
        if not path.strip():
            raise UsageError(f"{option} needs a file name, or - for stdout (got {path!r})")
        try:
            info = os.stat(path)
        except OSError:
            info = None
        if info is not None and (info.st_dev, info.st_ino) in ids:
            raise UsageError(
                f"{option} {path} is the input file: writing it would overwrite the input; "
                f"choose another path"
            )
        _not_into_input_folder(option, path, inputs)
        check_output(path)


def data_checked(
    file: str, kwargs: dict[str, Any], outputs: Sequence[tuple[str, str | None]], plot: str | None
) -> Any:
    """What the API reads (FILE, or the FILEs joined by --on), checked before any work.

    The outputs (see :func:`check_outputs`) are none of the inputs; --plot draws
    one FILE, which is read a second time for the charts.
    """
    from losscli.cli.options import join_data

    data = join_data(file, kwargs)
    check_outputs(input_paths(data, kwargs), outputs)
    if plot:
        from losscli.cli.plotting import check_plot_target, refuse_plot_of_join

        refuse_plot_of_join(data)
        # The charts read the file a second time (stdin cannot give that).
        check_plot_target(plot, file, rereads=True)
    return data


def _not_into_input_folder(option: str, path: str, inputs: Sequence[str | None]) -> None:
    """A data file written below an input directory would be read as data by the next run."""
    folders = [p for p in inputs if p and p != "-" and os.path.isdir(p)]
    if not folders:
        return
    from losscli.errors import UsageError
    from losscli.io.files import is_data_file

    if not is_data_file(path):
        return
    target = os.path.realpath(path)
    for folder in folders:
        root = os.path.realpath(folder)
        if os.path.commonpath([root, target]) == root:
            raise UsageError(
                f"{option} {path} is inside the input directory {folder}: the next run "
                f"would read it as data; choose a path outside it"
            )


def _to_stderr(text: str) -> None:
    """One message on stderr: wrapped to the terminal there, one line when piped (for scripts)."""
    from losscli.report.console import safe

    text = safe(text)  # names from the input may hold control characters
    if sys.stderr.isatty():
        import shutil
        import textwrap

        width = shutil.get_terminal_size().columns
        text = textwrap.fill(
            text,
            width=width,
            subsequent_indent="  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    print(text, file=sys.stderr, flush=True)


def warn(lines: list[str]) -> None:
    """Warnings go to stderr as 'Warning: ...' lines; they never change the exit code."""
    for line in lines:
        _to_stderr(f"Warning: {line}")


def choose_losses(losses: tuple[str, ...] | list[str], dataset: Any) -> list[Any]:
    """The user's --losses, else the task's default panel for what these data provide.

    When the data leave out losses of the usual panel (e.g. probability losses
    on raw scores), a note on stderr says which and why.
    """
    from losscli.analysis.diagnostics import selection_warnings
    from losscli.core.registry import panel_omissions, select_losses

    if not losses:
        for line in panel_omissions(dataset.task, dataset.features):
            note(f"Note: {line}")
    selections = select_losses(list(losses), dataset.task, dataset.features)
    warn(selection_warnings(dataset, selections, explicit=bool(losses)))
    return selections


def ignored_without_ci(ci: float | None, names: tuple[str, ...] = ("n_boot", "seed")) -> list[str]:
    """Warnings for --bootstrap/--seed given on the command line without --ci."""
    import click

    if ci is not None:
        return []
    ctx = click.get_current_context()
    flags = {"n_boot": "--bootstrap", "seed": "--seed"}
    given = [
        flags[n]
        for n in names
        if ctx.get_parameter_source(n) is click.core.ParameterSource.COMMANDLINE
    ]
    if not given:
        return []
    verb = "apply" if len(given) > 1 else "applies"
    return [f"{' and '.join(given)} only {verb} with --ci LEVEL; ignored"]


def _arrow_allocator() -> None:
    """Arrow's buffers (the parsed batches, --per-sample's text) from jemalloc where
    pyarrow has it, for the command line only.

    pyarrow's default, mimalloc, hands freed batch-sized buffers back to the system and
    takes fresh (zeroed, often huge) pages for the next batch; jemalloc keeps reusing
    them: 5-8% less peak memory for every command and less system time at the same
    speed (benchmarks/README.md). ARROW_DEFAULT_MEMORY_POOL, when set, decides; a
    Python session calling the API keeps its own pyarrow default.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        import pyarrow as pa
    except ImportError:  # said where the data is read: "pip install pyarrow"
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without it (Windows wheels)
        return
    pa.set_memory_pool(pool)


@contextmanager
def api_warnings(reads_data: bool = True) -> Iterator[None]:
    """Print the API's LossWarnings on stderr as 'Warning: ...' lines when the block ends.

    Also when it ends with an error, so that the warnings come before the
    ``Error:`` line, as they were found. ``reads_data``: the block reads a file
    (then Arrow's allocator is chosen first; a run from flags alone loads no pyarrow).
    """
    import warnings

    from losscli.errors import LossWarning

    if reads_data:
        _arrow_allocator()
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:  # noqa: F811
            warnings.simplefilter("always", LossWarning)
            yield
    finally:
        for other in caught:
            if not issubclass(other.category, LossWarning):
                warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
        warn([str(w.message) for w in caught if issubclass(w.category, LossWarning)])


def note(text: str) -> None:
    _to_stderr(text)


def kwargs_without(kwargs: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k not in names}
