"""User-defined losses: ``--custom PATH.py:FUNC[:k=v...]`` (SPEC section 3).

The guide's custom-loss signature is ``FUNC(y_true, y_pred)`` returning the
losses; a loss with extra parameters is written as a factory that returns such
a function (its ``custom_loss_with_threshold(threshold=1)`` wrapper pattern).
``PATH.py:FACTORY:threshold=2`` calls ``FACTORY(threshold=2)`` and uses the
function it returns; ``PATH.py:FACTORY`` alone calls ``FACTORY()`` when the
function cannot take two arguments but can take none.

This module loads the user's file (so it is not part of the pure core) and
hands :class:`~losscli.core.registry.LossSpec` objects to the registry, where
they join the selected losses or the default panel of every data command. An
exception raised by the user's code - while importing the file, in the factory
or in the loss - becomes :class:`~losscli.errors.CustomLossError` (exit 1)
whose message shows the user's own frames (file, line, code) and none of
losscli's. So does ``sys.exit()`` (a library calling ``argparse.parse_args``
too) and ``raise BaseException``: user code never ends the command, whatever
the exit status it asks for; only Ctrl-C (KeyboardInterrupt, exit 130) and
SIGTERM pass through. While user code runs, what it prints goes to stderr
(``print()`` and writes to file descriptor 1 alike), so that ``--format json``
on stdout stays valid.

What the loss receives: ``y_true`` and ``y_pred`` as float64 NumPy arrays
(copies), shaped (n,) for regression/binary and (n, K) for multiclass and the
structured families (see :mod:`losscli.core.losses.structured`). What it may
return: n per-sample losses, an (n, ...) array (averaged over the trailing
axes, as keras does with elementwise losses), or one scalar, which is then
used for every row (so it has no per-row breakdown and bootstrap intervals
collapse to it). A wrong shape, a non-numeric or a complex result (the
imaginary part is never dropped silently) is an error (exit 1) naming the
function's file and line;
so is NaN on any row, named by its file row numbers
(:func:`losscli.analysis.evaluate.check_custom_values`); +-inf is a warning
naming the rows.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import re
import sys
import sysconfig
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

import numpy as np

from losscli.core.registry import (
    LossInputs,
    LossSpec,
    Param,
    Properties,
    Task,
    set_custom_losses,
)
from losscli.errors import CustomLossError, InputError, Terminated, UsageError

_SPEC = re.compile(r"^(?P<path>.+?\.py):(?P<rest>.+)$", re.IGNORECASE)
_LOSSCLI_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class CustomSpec:
    """A parsed ``--custom`` value."""

    path: str
    function: str
    kwargs: dict[str, Any]

    @property
    def text(self) -> str:
        return f"{os.path.basename(self.path)}:{self.function}"


def parse_value(text: str) -> Any:
    """``k=v`` values: int, float or bool where they look like one, else the string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def parse_custom(text: str) -> CustomSpec:
    """Parse ``PATH.py:FUNC[:k=v...]`` (UsageError, exit 2, when malformed)."""
    match = _SPEC.match(text.strip())
    if not match:
        raise UsageError(
            f"--custom {text!r}: write PATH.py:FUNC or PATH.py:FACTORY:name=value, "
            f"e.g. my_losses.py:custom_loss_with_threshold:threshold=2"
        )
    function, *raw = match.group("rest").split(":")
    if not function.isidentifier():
        raise UsageError(f"--custom {text!r}: {function!r} is not a Python function name")
    kwargs: dict[str, Any] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(
                f"--custom {text!r}: bad parameter {item!r}; write name=value, e.g. threshold=2"
            )
        kwargs[key.strip()] = parse_value(value.strip())
    return CustomSpec(match.group("path"), function, kwargs)


# --------------------------------------------------------------------------- user frames


def _library_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return [os.path.abspath(d) for d in dirs] + [_LOSSCLI_DIR]


def _is_user_frame(filename: str, user_file: str) -> bool:
    path = os.path.abspath(filename)
    if path == user_file:
        return True
    if filename.startswith("<"):
        return False
    return not any(path == d or path.startswith(d + os.sep) for d in _library_dirs())


def _shown_path(filename: str) -> str:
    """Paths under the working directory are shown relative to it, as the user typed them."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return filename if relative.startswith("..") else relative


def _frames(exc: BaseException) -> traceback.StackSummary:
    return traceback.extract_tb(exc.__traceback__)


def user_error(exc: BaseException, user_file: str, what: str) -> CustomLossError:
    """A CustomLossError whose message shows only the frames of the user's code."""
    frames = [f for f in _frames(exc) if _is_user_frame(f.filename, user_file)]
    if isinstance(exc, SystemExit):
        text = f"{what} called sys.exit({exc.code!r}) (SystemExit): a loss must return its "
        text += "values, not end the program"
        if any(os.path.basename(f.filename) == "argparse.py" for f in _frames(exc)):
            text += (
                " (an argparse parser in your code read losscli's command line: "
                "give it its own arguments, e.g. parse_args([]))"
            )
        lines = [text]
    else:
        lines = [f"{what} raised {type(exc).__name__}: {exc}"]
    if isinstance(exc, SyntaxError) and exc.filename:
        lines.append(f'  File "{_shown_path(exc.filename)}", line {exc.lineno}')
        if exc.text:
            lines.append(f"    {exc.text.strip()}")
    if frames:
        lines.append("Traceback of your code (most recent call last):")
        for f in frames:
            lines.append(f'  File "{_shown_path(f.filename)}", line {f.lineno}, in {f.name}')
            if f.line:
                lines.append(f"    {f.line.strip()}")
    return CustomLossError("\n".join(lines))


@contextlib.contextmanager
def _output_to_stderr() -> Iterator[None]:
    """While user code runs, its stdout is stderr: print() and writes to fd 1 alike.

    losscli's own output is held until the report is whole (see the CLI), so nothing
    of losscli's reaches fd 1 meanwhile.
    """
    saved = None
    try:
        sys.stderr.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):  # no fd 1 or 2 (closed, embedded)
        if saved is not None:
            os.close(saved)
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 1)
            os.close(saved)


def run_user_code(call: Callable[[], Any], user_file: str, what: str) -> Any:
    """``call()`` of the user's code: any exception or exit is a CustomLossError.

    Ctrl-C (KeyboardInterrupt) and SIGTERM (Terminated) pass through: the user
    stopped the command, which exits 130 / 143 as anywhere else.
    """
    try:
        with _output_to_stderr():
            return call()
    except (KeyboardInterrupt, Terminated, CustomLossError):
        raise
    except BaseException as exc:  # SystemExit, GeneratorExit, a bare BaseException too
        raise user_error(exc, user_file, what) from None


def _defined_at(func: Callable[..., Any]) -> str:
    """' (defined in FILE, line N)' for the messages about what a function returned."""
    target = inspect.unwrap(func) if callable(func) else func
    try:
        filename = inspect.getsourcefile(target)
        _, line = inspect.getsourcelines(target)
    except (OSError, TypeError):
        return ""
    return f" (defined in {_shown_path(filename)}, line {line})" if filename else ""


# --------------------------------------------------------------------------- loading


def _load_module(path: str) -> ModuleType:
    if not os.path.exists(path):
        raise InputError(f"--custom: file not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"--custom: {path} is a directory, not a .py file")
    full = os.path.abspath(path)
    name = "losscli_custom_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise InputError(f"--custom: cannot load {path} as Python code")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(full)
    sys.path.insert(0, folder)  # the user's file may import its neighbours
    loader = spec.loader
    try:
        run_user_code(lambda: loader.exec_module(module), full, f"loading {path}")
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
    return module


def _takes(func: Callable[..., Any], n_args: int) -> bool:
    try:
        inspect.signature(func).bind(*([None] * n_args))
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): assume it is a loss
        return n_args == 2
    return True


def _resolve(custom: CustomSpec) -> tuple[Callable[..., Any], Callable[..., Any] | None, str]:
    """(loss function, factory or None, absolute path of the user's file)."""
    module = _load_module(custom.path)
    full = os.path.abspath(custom.path)
    target = getattr(module, custom.function, None)
    if target is None or not callable(target):
        found = sorted(
            n
            for n, v in vars(module).items()
            if callable(v)
            and not n.startswith("_")
            and getattr(v, "__module__", "") == module.__name__
        )
        available = ", ".join(found) if found else "none"
        what = "not found" if target is None else "is not a function"
        raise InputError(
            f"--custom {custom.text}: {custom.function!r} {what} in {custom.path} "
            f"(functions there: {available})"
        )
    if not custom.kwargs and _takes(target, 2):
        return target, None, full
    if not custom.kwargs and not _takes(target, 0):
        raise InputError(
            f"--custom {custom.text}: {custom.function} must take (y_true, y_pred), or be a "
            f"factory returning such a function"
        )
    return _call_factory(target, custom.kwargs, custom, full), target, full


def _call_factory(
    factory: Callable[..., Any], kwargs: dict[str, Any], custom: CustomSpec, full: str
) -> Callable[..., Any]:
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as exc:
        raise UsageError(f"--custom {custom.text}: {exc}") from None
    except ValueError:
        pass
    loss = run_user_code(lambda: factory(**kwargs), full, f"custom loss factory {custom.function}")
    if not callable(loss):
        raise InputError(
            f"--custom {custom.text}: {custom.function}({_kwargs_text(kwargs)}) returned "
            f"{type(loss).__name__}, not a loss function (y_true, y_pred)"
        )
    return cast(Callable[..., Any], loss)


def _kwargs_text(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def per_sample_values(
    result: Any, n: int, name: str, function: Callable[..., Any] | None = None
) -> np.ndarray:
    """The user's return value as n per-sample losses (see the module docstring).

    The messages name the file and line of ``function`` (the user's loss).
    """

    def where() -> str:  # looked up only for a message
        return _defined_at(function) if function is not None else ""

    try:
        if result is None:
            raise TypeError
        raw = np.asarray(result)
        if not np.iscomplexobj(raw):
            values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise CustomLossError(
            f"custom loss {name}{where()} returned {type(result).__name__}; it must return "
            f"per-sample losses (an array of {n}) or a scalar"
        ) from None
    if np.iscomplexobj(raw):  # never drop the imaginary part silently
        flat = raw.reshape(-1)
        imaginary = np.flatnonzero(flat.imag != 0)
        shown = f" (first: {complex(flat[imaginary[0]])})" if imaginary.size else ""
        raise CustomLossError(
            f"custom loss {name}{where()} returned complex values{shown}; a loss must be "
            f"real: return its .real or abs() if that is what you mean"
        )
    if values.ndim == 0 or (values.size == 1 and n != 1):
        # A read-only view of stride 0: how per_sample_losses tells a scalar
        # (no per-row breakdown, PerSample.scalar) from n per-row losses.
        return np.broadcast_to(np.float64(values.reshape(-1)[0]), (n,))
    if values.shape[0] == n:
        return values.reshape(n, -1).mean(axis=1) if values.ndim > 1 else values
    raise CustomLossError(
        f"custom loss {name}{where()} returned an array of shape {values.shape}; expected {n} "
        f"per-sample losses (one per row) or a scalar"
    )


def build_spec(custom: CustomSpec) -> LossSpec:
    """Load the user's function and wrap it as a loss the registry can select."""
    loss, factory, full = _resolve(custom)
    name = custom.function

    def kernel(x: LossInputs, **params: Any) -> np.ndarray:
        fn = loss
        if factory is not None and params != custom.kwargs:
            fn = _call_factory(factory, params, custom, full)
        y_true = np.array(x.y_true, dtype=np.float64)
        y_pred = np.array(x.y_pred, dtype=np.float64)
        result = run_user_code(lambda: fn(y_true, y_pred), full, f"custom loss {name}")
        return per_sample_values(result, len(x), name, fn)

    doc = inspect.getdoc(factory or loss) or ""
    summary = (
        doc.strip().splitlines()[0] if doc.strip() else f"User-defined loss from {custom.text}."
    )
    call = f"{name}({_kwargs_text(custom.kwargs)})" if factory is not None else name
    return LossSpec(
        name=name,
        kernel=kernel,
        task=Task.REGRESSION,  # replaced by the data's task when selected
        summary=summary,
        formula=f"user code: {call}(y_true, y_pred) from {custom.path}",
        properties=Properties(
            convex=False,
            smooth=False,
            robust=False,
            probabilistic=False,
            margin_based=False,
            nonnegative=False,
            zero_at_perfect=False,
        ),
        reference=f"{custom.path}:{name}",
        params=tuple(
            Param(k, v, type(v), help="factory parameter") for k, v in custom.kwargs.items()
        ),
        conventions="User-defined with --custom; properties are unknown to losscli.",
    )


def load_custom_losses(values: tuple[str, ...] | list[str]) -> list[LossSpec]:
    """Load every ``--custom`` value and make them selectable (replacing earlier ones)."""
    specs = [build_spec(parse_custom(v)) for v in values]
    names = [s.name.lower() for s in specs]
    duplicate = {n for n in names if names.count(n) > 1}
    if duplicate:
        raise UsageError(f"--custom: the name {sorted(duplicate)[0]!r} is given twice")
    set_custom_losses(specs)
    return specs
