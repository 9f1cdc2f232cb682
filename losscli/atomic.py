"""Writing output files atomically: a temporary file in the same folder, renamed into place.

Used for --per-sample and --plot. A reader never sees half a file, a failed or
interrupted write leaves no file and no temporary behind, and the new file
gets the usual permissions of the user's umask (mkstemp alone would make it
private). Standard library only, so every layer may use it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import IO, Any

from losscli.errors import InputError


def check_writable(path: str) -> None:
    """InputError when ``path`` cannot be a new file (missing folder, a directory)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise InputError(f"cannot write {path}: it is a directory")


def write_atomically(path: str, write: Callable[[IO[Any]], None], *, binary: bool = False) -> None:
    """Create ``path`` with ``write(handle)``, all or nothing."""
    check_writable(path)
    folder = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1] or ".tmp"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".losscli-", suffix=suffix, dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        if binary:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
        else:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
                write(handle)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            # A full disk or a vanished folder is a problem with the output, not a bug.
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
