"""Output paths checked before any work: writable, and never one of the inputs.

Used by the API (``per_sample=``) and by the command line (--per-sample, --plot,
--output), so a path that names an input is refused the same way from both.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Sequence
from typing import Any


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
