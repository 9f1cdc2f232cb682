"""The ``loss`` command: a Click group whose subcommands load lazily.

Only click is imported at start-up, so ``loss --help`` stays instant; each
subcommand module imports numpy/pandas/rich inside its function body. Errors
are mapped to exit codes here, once, for every subcommand.
"""

from __future__ import annotations

import errno
import importlib
import io
import os
import sys
import warnings
from typing import Any, NoReturn

import click

from losscli import __version__
from losscli.errors import (
    ExitCode,
    GateFailed,
    LossCliError,
    OutputError,
    Terminated,
    UsageError,
    forget_signals,
    raise_if_signalled,
    signalled,
)

# A write that found no room: a full disk or quota, a file-size limit.
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

# Modules whose RuntimeWarnings are not shown (a --custom loss's own warnings are).
_LIBRARIES = r"(losscli|numpy|matplotlib|pandas|pyarrow)(\.|$)"

# name -> "module:attribute"; a new command is one line here plus its module.
COMMANDS: dict[str, str] = {
    "compute": "losscli.cli.compute:compute",
    "list": "losscli.cli.catalogue:list_command",
    "info": "losscli.cli.catalogue:info_command",
    "recommend": "losscli.cli.recommend:recommend",
    "sensitivity": "losscli.cli.sensitivity:sensitivity",
    "compare": "losscli.cli.compare:compare",
    "explain": "losscli.cli.explain:explain",
    "report": "losscli.cli.report:report",
}


class LossGroup(click.Group):
    """Lazy subcommands and the one error-to-exit-code mapping."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            name, command, rest = super().resolve_command(ctx, args)
        except click.UsageError as exc:
            import difflib

            name = args[0] if args else ""
            close = difflib.get_close_matches(name, list(COMMANDS), n=2)
            if close and "No such command" in exc.message:
                exc.message += f" Did you mean {' or '.join(close)}?"  # type: ignore[misc]
            raise
        if command is not None and name is not None:
            refuse_repeated_options(ctx, name, command, rest)
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        show_traceback = "--traceback" in sys.argv or bool(os.environ.get("LOSSCLI_TRACEBACK"))
        forget_signals()
        try:
            return self._invoke(ctx, show_traceback)
        finally:
            forget_signals()  # the API called in the same process is not this command

    def _invoke(self, ctx: click.Context, show_traceback: bool) -> Any:
        held = _HeldStdout.install()
        try:
            try:
                with warnings.catch_warnings():
                    # NumPy's floating-point complaints (from losscli, numpy, matplotlib)
                    # name source lines, not the input: overflow and invalid values are
                    # reported where they matter, as Warning or Error lines.
                    warnings.filterwarnings("ignore", category=RuntimeWarning, module=_LIBRARIES)
                    result = super().invoke(ctx)
            except (GateFailed, click.exceptions.Exit):
                raise_if_signalled()
                held.release()  # the report of a failed gate is still printed (exit 3)
                raise
            raise_if_signalled()  # a Ctrl-C that Python dropped on the way: no report
            held.release()
            # Buffered output meets a full disk here, not at exit (where it would be a
            # Python complaint and exit 120).
            _flush_stdout()
            return result
        except UsageError as exc:
            raise click.UsageError(error_text(exc)) from None
        except LossCliError as exc:
            if show_traceback or (ctx.obj or {}).get("traceback"):
                import traceback

                traceback.print_exc()
            if isinstance(exc, OutputError):
                _silence_stdout()  # what stdout could not take is dropped, not retried at exit
            elif isinstance(exc, GateFailed):
                _flush_stdout()  # the report first, then the Error line
            click.echo(f"Error: {error_text(exc)}", err=True)
            ctx.exit(int(exc.exit_code))
        except click.ClickException as exc:
            from losscli.report.console import safe

            exc.message = safe(exc.message)  # type: ignore[misc]  # quoted as typed
            raise
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(int(ExitCode.INTERRUPTED))
        except Terminated as exc:
            click.echo("Terminated.", err=True)
            ctx.exit(128 + exc.signum)
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(0)
        except OSError as exc:
            if exc.errno not in _NO_ROOM or show_traceback or (ctx.obj or {}).get("traceback"):
                raise
            # A temporary file in a full TMPDIR (stdout's own failures are OutputError).
            click.echo(
                f"Error: cannot write {exc.filename or 'a temporary file'}: {exc.strerror}; "
                f"free some space, or point TMPDIR at a folder with room for temporary files",
                err=True,
            )
            ctx.exit(int(ExitCode.DATA_ERROR))
        except MemoryError:
            click.echo("Error: out of memory; try a smaller file or fewer losses", err=True)
            ctx.exit(int(ExitCode.DATA_ERROR))
        except Exception as exc:  # the last resort: never a bare traceback
            if show_traceback or (ctx.obj or {}).get("traceback"):
                raise
            # One line, whatever the exception's text holds (it may span lines).
            from losscli.report.console import safe

            detail = safe(" ".join(str(exc).split()))
            detail = detail if len(detail) <= 200 else detail[:197] + "..."
            click.echo(
                f"Error: internal error ({type(exc).__name__}: {detail}). This is a bug in "
                f"losscli; please report it with the command you ran (rerun with "
                f"`loss --traceback ...` for details)",
                err=True,
            )
            ctx.exit(int(ExitCode.DATA_ERROR))
        finally:
            held.discard()  # a command that failed leaves nothing half-printed on stdout


def refuse_repeated_options(
    ctx: click.Context, name: str, command: click.Command, args: list[str]
) -> None:
    """A usage error when an option that takes one value is given more than once.

    Click keeps the last value silently; a second ``--group-by`` or ``--true-col``
    is almost always a mistake (or a belief that the option is repeatable), so it
    is refused, naming the option. Flags and repeatable options are not concerned.
    """
    sub = command.context_class(command, info_name=name, parent=ctx, resilient_parsing=True)
    try:
        _, _, order = command.make_parser(sub).parse_args(args=list(args))
    except click.UsageError:
        return  # the command's own parsing reports it
    seen: dict[str, int] = {}
    for param in order:
        if not isinstance(param, click.Option) or param.multiple or param.count:
            continue
        if param.is_flag or param.nargs != 1 or param.name is None:
            continue
        seen[param.name] = seen.get(param.name, 0) + 1
        if seen[param.name] == 2:
            flag = max(param.opts, key=len)
            raise click.UsageError(
                f"{flag} was given more than once; it takes one value "
                f"(give it once; only options marked 'repeatable' in --help take several)",
                sub,
            )


def error_text(exc: LossCliError) -> str:
    """The message of an ``Error:`` line, with user strings in it shown as escapes.

    One line (a file name holding a newline shows it as ``\\n``), except the error of
    a --custom loss, whose following lines show the frames of the user's code.
    """
    from losscli.errors import CustomLossError
    from losscli.report.console import safe

    if isinstance(exc, CustomLossError):
        return "\n".join(safe(line) for line in exc.message.split("\n"))
    return safe(exc.message)


class _HeldStdout:
    """stdout held back while a command runs, then written whole, or dropped on an error.

    Every command computes its whole report before anything reaches stdout: an error
    half-way (bad data found late, an internal error, Ctrl-C) leaves stdout empty, never
    the first part of a table or a JSON document. The text is kept in memory up to
    ``SPOOL_BYTES`` and in a temporary file beyond (per-sample CSV on stdout can be
    large), so memory stays bounded. ``isatty`` and ``fileno`` are the real stdout's,
    so consoles still see a terminal.
    """

    SPOOL_BYTES = 8 << 20

    def __init__(self, real: Any) -> None:
        self.real = real
        self._spool: Any = None

    @classmethod
    def install(cls) -> _HeldStdout:
        held = cls(sys.stdout)
        if sys.stdout is not None:
            sys.stdout = _Holding(held)  # type: ignore[assignment]
        return held

    def write(self, text: str) -> int:
        if self._spool is None:
            import tempfile

            self._spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115
                max_size=self.SPOOL_BYTES, mode="w+", encoding="utf-8", newline=""
            )
        return int(self._spool.write(text))

    def release(self) -> None:
        """Put the real stdout back and write what was held to it."""
        if self.real is None or not isinstance(sys.stdout, _Holding):
            return
        sys.stdout = self.real
        spool, self._spool = self._spool, None
        if spool is None:
            return
        from losscli.report.console import stdout_stream

        out = stdout_stream()
        try:
            spool.seek(0)
            while chunk := spool.read(1 << 20):
                out.write(chunk)
        finally:
            spool.close()

    def discard(self) -> None:
        """Put the real stdout back and drop what was held (the command failed)."""
        if self.real is not None and isinstance(sys.stdout, _Holding):
            sys.stdout = self.real
        if self._spool is not None:
            self._spool.close()
            self._spool = None


class _Holding(io.TextIOBase):
    """What ``sys.stdout`` is while a command runs (see :class:`_HeldStdout`)."""

    def __init__(self, held: _HeldStdout) -> None:
        self._held = held

    def write(self, text: str) -> int:
        return self._held.write(text)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return bool(self._held.real.isatty())

    def fileno(self) -> int:
        return int(self._held.real.fileno())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._held.real, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._held.real, "errors", None)


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write to stdout: {exc.strerror or exc}") from None


def _silence_stdout() -> None:
    # After a closed pipe Python would complain when flushing stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@click.group(cls=LossGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="loss")
@click.option(
    "--traceback", is_flag=True, help="Show the full traceback of an error (for bug reports)."
)
@click.pass_context
def cli(ctx: click.Context, traceback: bool) -> None:
    """loss: compute, compare and choose loss functions from a file of predictions.

    Point it at a CSV with y_true and y_pred columns:

        loss compute predictions.csv

    Every data command reads csv, tsv, compressed (.gz/.bz2/.xz) and parquet
    files, or - for CSV on stdin; several models' files are joined on a key
    with FILE FILE ... --on KEY. Exit codes: 0 ok, 1 bad input or data,
    2 usage error, 3 a --fail-above/--fail-below gate failed, 130 interrupted,
    143 terminated.
    """
    ctx.ensure_object(dict)
    ctx.obj["traceback"] = traceback


def _on_termination(signum: int, frame: Any) -> None:
    signalled(signum)
    raise Terminated(signum)


def _on_interrupt(signum: int, frame: Any) -> None:
    """Ctrl-C as Python's own handler does (KeyboardInterrupt), remembered: raised
    inside a weak reference's callback it would be dropped (see raise_if_signalled)."""
    signalled(signum)
    raise KeyboardInterrupt


def _keep_freed_memory() -> None:
    """glibc: reuse a freed batch's memory for the next batch instead of returning it.

    Every batch allocates and frees arrays of about a megabyte, in several
    threads. By default glibc serves them from fresh mappings or gives the
    freed top of a heap back to the system, so each batch faults its pages
    in again (~40,000 page faults, a tenth of a CPU-second on 10M rows).
    Arrays up to 4 MiB now come from the heaps, which keep up to 16 MiB free
    at their top; between passes the engines still return all free memory
    (engines/local.release_free_memory). A user's MALLOC_* settings win;
    nothing happens with another C library.
    """
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 4 << 20)
    mallopt(m_trim_threshold, 16 << 20)


def main() -> NoReturn:
    """Console-script entry point: :func:`run`, then the end of the process.

    The command's exit status ends the process once its outputs are flushed and
    Python's exit functions have run (see :func:`_end_process`).
    """
    try:
        run()
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # not made an exit status by run(): --traceback, or a bug
        sys.excepthook(*sys.exc_info())
        code = 1
    else:
        code = 0
    if code is None or isinstance(code, int):
        status = int(code or 0)
    else:  # sys.exit("text"), as Python does: the text on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    _end_process(status)


def _end_process(status: int) -> NoReturn:
    """End the process without the interpreter's teardown of its modules.

    When a command has finished, one of Arrow's pool threads may still be
    releasing a CSV read's reader, whose Python objects (the bytes it parsed,
    the bad-row handler) need the GIL to go. During the interpreter's
    teardown a thread that asks for the GIL is ended by Python, and ending a
    C++ thread that way aborts the process: "terminate called without an
    active exception", exit status -6 after a complete output (about one run
    in 150 of a small file here; apache/arrow#34314). pyarrow 14's pool could
    also deadlock at that point. So the outputs are flushed, Python's exit
    functions run (temporary files, logging, child processes), and the
    process ends there with the command's status.
    """
    import atexit

    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is not None:
        run_exit_functions()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, KeyboardInterrupt):  # a closed pipe, or Ctrl-C now
            pass
    os._exit(status)


def run() -> None:
    """The command line in this process; ends with SystemExit like any Click program.

    SIGTERM and SIGHUP unwind like Ctrl-C: temporary files are removed, one line
    ``Terminated.`` on stderr, exit 143 (SIGTERM) or 129 (SIGHUP).
    """
    import signal

    # OpenBLAS (NumPy's linear algebra) starts a thread per core at import, and each
    # spins waiting for work for a while: ~0.1 CPU-s of a 2-core machine at every start,
    # taken from the parse. Every figure here is elementwise; a user's setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _keep_freed_memory()
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None:
            try:
                signal.signal(signum, _on_termination)
            except (OSError, ValueError):  # not the main thread, or not supported here
                pass
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored
            signal.signal(signal.SIGINT, _on_interrupt)
    except (OSError, ValueError):
        pass
    try:
        cli.main(prog_name="loss")
    except KeyboardInterrupt:  # pragma: no cover - outside a command body
        click.echo("Interrupted.", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except Terminated as exc:  # pragma: no cover - outside a command body
        sys.exit(128 + exc.signum)
    except BrokenPipeError:  # pragma: no cover
        _silence_stdout()
        sys.exit(0)
