"""Domain exceptions and exit codes: the one place that decides how losscli fails.

The core and io raise these with messages that name the input (column, row,
value) and say what to do; the CLI prints ``Error: <message>`` and exits with
the exception's code. Nothing here imports numpy or click.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the ``loss`` command (SPEC section 7)."""

    OK = 0
    DATA_ERROR = 1
    USAGE = 2
    GATE_FAILED = 3
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    TERMINATED = 143  # SIGTERM (128 + 15); SIGHUP gives 129


class LossCliError(ValueError):
    """Base of every error losscli reports to the user as one ``Error:`` line.

    A ``ValueError``, so Python callers of :mod:`losscli` can catch bad input the
    way they catch it from numpy or scikit-learn.
    """

    exit_code: ExitCode = ExitCode.DATA_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(LossCliError):
    """Bad input: the data cannot be read, lack a column, or hold unusable values (exit 1)."""


class NoDataRows(InputError):
    """The input has a header (or schema) but no data rows (one file of a dataset may)."""


class DataError(InputError):
    """The values in the file are unusable (missing, non-numeric, mismatched)."""


class DomainError(DataError):
    """A value lies outside the domain of a selected loss."""


class CustomLossError(InputError):
    """User code given with --custom failed; the message carries the user's frames."""


class OutputError(LossCliError):
    """stdout (or stderr) cannot take the output: a full device, a file-size limit."""


class UsageError(LossCliError):
    """Bad arguments: an unknown loss or option value, a contradiction (exit 2)."""

    exit_code = ExitCode.USAGE


class GateFailed(LossCliError):
    """A --fail-above or --fail-below quality gate failed."""

    exit_code = ExitCode.GATE_FAILED


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C (temporary files removed), exit 128+N.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# The signals the command line turned into KeyboardInterrupt or Terminated (cli.main).
_SIGNALLED: list[int] = []


def signalled(signum: int) -> None:
    """Remember that the command line's handler raised for ``signum`` (see raise_if_signalled)."""
    _SIGNALLED.append(signum)


def forget_signals() -> None:
    """A new command starts (or one ended): signals seen before it are not its own."""
    _SIGNALLED.clear()


def raise_if_signalled() -> None:
    """Raise again a Ctrl-C (or SIGTERM/SIGHUP) the command line has seen.

    Python drops an exception raised inside a weak reference's callback or a
    ``__del__`` ("Exception ignored in ..."), so a signal landing there is lost
    and the command would go on, write its output and exit 0. The points that
    commit output (an atomic rename, stdout's release) call this first. Without
    the command line's handler (the Python API) nothing is recorded: a no-op.
    """
    if not _SIGNALLED:
        return
    import signal

    signum = _SIGNALLED[-1]
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def require_modules(modules: tuple[str, ...], needed_by: str, install: str) -> None:
    """One clear error naming what ``needed_by`` lacks when any of ``modules`` is missing.

    ``install`` is the command that installs the optional extra providing them.
    """
    missing = []
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise LossCliError(
            f"{needed_by} needs {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; install "
            f"{'it' if len(missing) == 1 else 'them'} with: {install}"
        )


class LossWarning(UserWarning):
    """A warning about the data or the chosen losses (pitfalls, clipping, dropped rows).

    The Python API issues these through :mod:`warnings`; the ``loss`` command
    prints them on stderr as ``Warning: ...`` lines.
    """
