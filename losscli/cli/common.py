"""Helpers the command modules share: loading data, choosing losses, writing output safely."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

from losscli.outputs import check_outputs, input_paths

__all__ = ["check_outputs", "input_paths"]


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
