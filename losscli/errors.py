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
    INTERRUPTED = 130


class LossCliError(Exception):
    """Base of every error losscli reports to the user as one ``Error:`` line."""

    exit_code: ExitCode = ExitCode.DATA_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(LossCliError):
    """The file cannot be read or does not have the expected structure."""


class DataError(LossCliError):
    """The values in the file are unusable (missing, non-numeric, mismatched)."""


class DomainError(DataError):
    """A value lies outside the domain of a selected loss."""


class CustomLossError(LossCliError):
    """User code given with --custom failed; the message carries the user's frames."""


class UsageError(LossCliError):
    """The command line asks for something impossible (unknown loss, bad parameter)."""

    exit_code = ExitCode.USAGE


class GateFailed(LossCliError):
    """A --fail-above or --fail-below quality gate failed."""

    exit_code = ExitCode.GATE_FAILED
