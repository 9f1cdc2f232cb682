"""Writing output files: atomically where the path is a file, directly where it is not.

The one writer of every output path (--per-sample, --plot, report files):

- a regular file, or a new path: a temporary ``.losscli-*`` file in the same
  folder, renamed into place. A reader never sees half a file; a failed or
  interrupted write (an error, Ctrl-C, SIGTERM) leaves no file and no
  temporary behind. An existing file keeps its permission bits (and, when run
  as root, its owner); a new file gets the usual permissions of the umask.
- a symbolic link: its target is replaced that way; the link is kept.
- a device (``/dev/null``, a terminal), a FIFO, a socket or ``/dev/fd/N``
  (e.g. ``>(wc -c)``): written directly, as a shell redirection would; a
  rename would replace the node with a regular file.

:func:`check_output` says before any work whether a path can be written.
Standard library only, so every layer may use it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from typing import IO, Any

from losscli.errors import InputError, raise_if_signalled

# Paths that name an already open descriptor: never renamed over, always written through.
_FD_PREFIXES = ("/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/")
_FD_NAMES = ("/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty")


def _names_a_descriptor(path: str) -> bool:
    full = os.path.abspath(path)
    if full in _FD_NAMES or full.startswith(_FD_PREFIXES):
        return True
    parts = full.split(os.sep)  # /proc/<pid>/fd/N
    return len(parts) == 5 and parts[1] == "proc" and parts[3] == "fd"


def is_direct(path: str) -> bool:
    """True when ``path`` is written in place: an existing non-regular file or a descriptor."""
    if _names_a_descriptor(path):
        return True
    try:
        mode = os.stat(path).st_mode  # follows symbolic links
    except OSError:
        return False  # a new path (or a dangling link): created atomically
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _target(path: str) -> str:
    """Where the new file goes: the final target of a symbolic link, else the path."""
    return os.path.realpath(path) if os.path.islink(path) else path


def check_output(path: str) -> None:
    """InputError unless ``path`` can be written (before any work is done).

    A directory, a missing folder, a folder (or an existing device or FIFO) the
    user may not write to, a read-only file system, an empty path.
    """
    if not path.strip():
        raise InputError(f"cannot write to an empty path ({path!r}); give a file name")
    if os.path.isdir(path):
        raise InputError(f"cannot write {path}: it is a directory; give a file name")
    if is_direct(path):
        if not os.access(path, os.W_OK):
            raise InputError(f"cannot write {path}: permission denied")
        return
    target = _target(path)
    folder = os.path.dirname(os.path.abspath(target))
    try:
        os.stat(folder)
    except PermissionError:
        raise InputError(f"cannot write {path}: permission denied (folder {folder})") from None
    except OSError:
        raise InputError(f"cannot write {path}: folder {folder} does not exist") from None
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {path}: {folder} is not a folder")
    if os.path.exists(target) and not os.access(target, os.W_OK):
        # Renaming over it would work, but the file says it is not to be changed.
        raise InputError(f"cannot write {path}: permission denied (the file is read-only)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"cannot write {path}: permission denied in folder {folder}; "
            f"choose a folder you can write to"
        )


def check_writable(path: str) -> None:
    """Kept for callers of the earlier name: see :func:`check_output`."""
    check_output(path)


def _open_kwargs(binary: bool) -> dict[str, Any]:
    return {} if binary else {"newline": "", "encoding": "utf-8"}


def write_atomically(path: str, write: Callable[[IO[Any]], None], *, binary: bool = False) -> None:
    """Create or replace ``path`` with ``write(handle)``: all or nothing (see the module doc)."""
    check_output(path)
    if is_direct(path):
        _write_directly(path, write, binary)
        return
    target = _target(path)
    folder = os.path.dirname(os.path.abspath(target))
    suffix = os.path.splitext(target)[1] or ".tmp"
    try:
        existing: os.stat_result | None = os.stat(target)
    except OSError:
        existing = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".losscli-", suffix=suffix, dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb" if binary else "w", **_open_kwargs(binary)) as handle:
            write(handle)
        if existing is not None:
            os.chmod(tmp, stat.S_IMODE(existing.st_mode))
            if os.geteuid() == 0 and (existing.st_uid, existing.st_gid) != (0, 0):
                os.chown(tmp, existing.st_uid, existing.st_gid)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        raise_if_signalled()  # a Ctrl-C that Python dropped on the way: no output
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            # A full disk or a vanished folder is a problem with the output, not a bug.
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _write_directly(path: str, write: Callable[[IO[Any]], None], binary: bool) -> None:
    """Write into a device, FIFO or open descriptor (a FIFO waits for its reader)."""
    try:
        with open(path, "wb" if binary else "w", **_open_kwargs(binary)) as handle:
            write(handle)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
