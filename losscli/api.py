"""The Python API: the ``loss`` command's results as objects, for notebooks and scripts.

Every ``loss`` data command is one function here, with keyword arguments named
after the command's options; the command line is a thin client that calls
these functions, renders what they return and maps errors to exit codes::

    >>> import losscli as lc
    >>> data = {"y_true": [1.0, 2.0, 3.0, 4.0], "y_pred": [1.5, 2.0, 2.0, 4.0]}
    >>> result = lc.compute(data, losses="mse,mae")
    >>> result.value("mse")
    0.3125
    >>> result.to_dict()["results"][1]
    {'loss': 'mae', 'params': {}, 'model': 'y_pred', 'value': 0.375}

``data`` is a path, a directory, a glob or a URL such as ``s3://bucket/preds/``
(read by the same reader as the command line; ``storage_options={...}`` go
to fsspec), a pandas or polars DataFrame, a pyarrow Table or RecordBatchReader, or a dict
of arrays; or a list of paths, several models' files joined on the key
column(s) ``on`` (``on="row"`` matches rows by position; ``join="inner"``
keeps the keys every file has), as ``loss compute a.csv b.csv --on id``. Errors are raised, never printed: :class:`~losscli.errors.InputError`
for bad data, :class:`~losscli.errors.UsageError` for bad arguments (both
``ValueError``); warnings go through :mod:`warnings` as
:class:`~losscli.errors.LossWarning`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, ParamSpec, TypeVar

from losscli.errors import InputError, LossWarning, UsageError
from losscli.words import plural

if TYPE_CHECKING:
    import numpy.typing as npt

    from losscli.analysis.curves import GridSpec
    from losscli.core.dataset import Dataset
    from losscli.core.registry import LossSelection, LossSpec
    from losscli.io.columns import InputOptions
    from losscli.results import (
        CompareResult,
        ComputeResult,
        CurvesResult,
        ExplainResult,
        RecommendResult,
        SensitivityResult,
    )

    ArrayLike = npt.ArrayLike

__all__ = [
    "Accumulator",
    "compare",
    "compare_losses",
    "compute",
    "explain",
    "list_losses",
    "loss_info",
    "losses",
    "recommend",
    "sensitivity",
]

Losses = str | Sequence[str] | None
Columns = str | Sequence[str] | None
TASKS = (
    "auto",
    "regression",
    "binary",
    "multiclass",
    "detection",
    "similarity",
    "generative",
    "vae",
    "interval",
    "quantile",
)
RECOMMEND_TASKS = (
    "regression",
    "binary",
    "multiclass",
    "detection",
    "similarity",
    "generative",
    "distribution",
)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _quiet_numpy(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run an API function with NumPy's floating-point warnings off.

    Overflow and invalid operations are handled where they matter (an overflowing
    residual is an InputError naming the row; per-row losses past float64 are inf with
    a LossWarning that says so), so NumPy's own RuntimeWarnings, which name losscli's
    source lines, never reach the user.
    """

    @functools.wraps(function)
    def quiet(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        import numpy as np

        with np.errstate(all="ignore"):
            return function(*args, **kwargs)

    return quiet


# --------------------------------------------------------------------------- messages


@dataclass
class _Messages:
    """Notes (facts for the report) and warnings (issued as LossWarning at the end)."""

    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def issue(self, extra: Iterable[str] = ()) -> None:
        for text in [*self.warnings, *extra]:
            warnings.warn(text, LossWarning, stacklevel=4)  # user, wrapper, function, issue


# --------------------------------------------------------------------------- arguments


def _names(value: Columns) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


# keyword -> (an example column name, what its column holds), for the messages below
_COLUMN_KEYWORDS = {
    "y_true": ("y_true", "targets"),
    "weights": ("w", "weights"),
    "group_by": ("region", "group labels"),
    "time_col": ("date", "times"),
}
_COLUMN_LIST_KEYWORDS = {
    "y_pred": ("y_pred", "predictions"),
    "interval_cols": ("y_lower", "interval bounds"),
    "id_cols": ("id", "row ids"),
    "on": ("id", "keys"),
}


def _column_name(value: Any, keyword: str, where: str = "") -> str:
    """A column name as text: a DataFrame's numbered columns (0, 1, ...) are read as "0", "1"."""
    import numbers

    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(value)  # in-memory data name their columns str(label) (io/frames.py)
    example, holds = {**_COLUMN_KEYWORDS, **_COLUMN_LIST_KEYWORDS}[keyword]
    expects = (
        "a column name or a list of them" if keyword in _COLUMN_LIST_KEYWORDS else "a column name"
    )
    kind = type(value).__name__
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    raise UsageError(
        f'{keyword} expects {expects}, e.g. {keyword}="{example}" (got {article} {kind}{where}); '
        f"add the {holds} to the data as a column and pass its name"
    )


def _holds_values(value: Any) -> bool:
    """Whether ``value`` is an array of data (a Series, a numeric NumPy array), not names."""
    kind = type(value)
    package = kind.__module__.split(".")[0]
    if package in ("pandas", "polars") and kind.__name__ == "Series":
        return True
    return package == "numpy" and getattr(getattr(value, "dtype", None), "kind", "O") not in "OUS"


def _column_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The column-name keywords among ``arguments``, checked before any work.

    Each names a column of the data; an array of values given instead is a
    UsageError that says so. Single names come back as text, lists as tuples
    of text (a text stays as given: "lo,hi" and "a,b" are split later).
    """
    checked: dict[str, Any] = {}
    for keyword in _COLUMN_KEYWORDS:
        value = arguments.get(keyword)
        if keyword in arguments and (value is not None or keyword == "y_true"):
            checked[keyword] = _column_name(value, keyword)
    for keyword in _COLUMN_LIST_KEYWORDS:
        value = arguments.get(keyword)
        if value is None or isinstance(value, str):
            continue
        if isinstance(value, Iterable) and not _holds_values(value):
            checked[keyword] = tuple(_column_name(v, keyword, " in the list") for v in value)
        else:  # one name (a DataFrame's column 0), or values where names were expected
            checked[keyword] = (_column_name(value, keyword),)
    return checked


def _gate_texts(value: str | Sequence[str] | None, keyword: str) -> tuple[str, ...]:
    """fail_above/fail_below: one "NAME=VALUE" text or a list of them (the CLI's repeats)."""
    texts = (value,) if isinstance(value, str) else tuple(value or ())
    for text in texts:
        if not isinstance(text, str):
            raise UsageError(
                f'{keyword} expects "NAME=VALUE" texts, e.g. {keyword}="mse=0.5" or '
                f'{keyword}=["mse=0.5", "mae=0.2"] (got a {type(text).__name__})'
            )
    return texts


def _loss_texts(value: Losses) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _choice(value: str, name: str, allowed: Sequence[str]) -> str:
    low = str(value).lower()
    if low not in allowed:
        raise UsageError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
    return low


@dataclass(frozen=True)
class _InputArguments:
    """The keyword arguments every data function shares that say how to read the input.

    A data function captures them from its own arguments as its first statement,
    ``inputs = _InputArguments.of(locals())`` (the names are the same), and
    turns them into io's InputOptions with :meth:`options` where it used to,
    after its own checks (so the first error reported stays the same).
    """

    y_true: str
    y_pred: Columns
    weights: str | None
    task: str
    from_logits: bool
    nan: str
    pred_prefix: str | Sequence[str]
    true_prefix: str
    pos_label: str | float | None
    delimiter: str | None
    encoding: str
    interval_cols: Sequence[str] | str | None
    interval_level: float
    group_by: str | None = None

    @classmethod
    def of(cls, arguments: Mapping[str, Any]) -> _InputArguments:
        """The shared arguments among a function's ``locals()`` (group_by if it has one)."""
        names = [f.name for f in dataclasses.fields(cls)]
        given = {**arguments, **_column_arguments(arguments)}
        return cls(**{name: given[name] for name in names if name in given})

    def options(self, **changes: Any) -> InputOptions:
        """Checked and normalised as io.InputOptions (``changes`` replace arguments first)."""
        from losscli.io.columns import InputOptions

        a = dataclasses.replace(self, **changes)
        prefixes = _names(a.pred_prefix) or ("y_pred_",)
        return InputOptions(
            true_col=a.y_true,
            pred_cols=_names(a.y_pred),
            weight_col=a.weights,
            pred_prefix=prefixes[0],
            pred_prefixes=prefixes if len(prefixes) > 1 else (),
            true_prefix=a.true_prefix,
            task=_choice(a.task, "task", TASKS),
            from_logits=_flag(a.from_logits, "from_logits"),
            nan=_choice(a.nan, "nan", ("error", "drop")),
            delimiter=a.delimiter,
            encoding=a.encoding,
            group_by=a.group_by,
            pos_label=None if a.pos_label is None else _label_text(a.pos_label),
            interval_cols=_interval_cols(a.interval_cols),
            interval_level=_interval_level(a.interval_level),
        )


def _interval_cols(value: Sequence[str] | str | None) -> tuple[str, str] | None:
    """--interval-cols LOWER,UPPER (a "LOWER,UPPER" text or a pair of names)."""
    if value is None:
        return None
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    if len(names) != 2 or not all(names) or names[0] == names[1]:
        raise UsageError(
            f"--interval-cols needs two different column names, LOWER,UPPER "
            f"(e.g. y_lower,y_upper); got {value!r}"
        )
    return names[0], names[1]


def _interval_level(value: float) -> float:
    level = float(value)
    if not 0.0 < level < 1.0:
        raise UsageError(
            f"--interval-level must be between 0 and 1 (e.g. 0.9 for 90% intervals); got {value!r}"
        )
    return level


def _label_text(value: str | float) -> str:
    """A --pos-label value as text (1.0 and 1 are the label "1")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _file_list(data: Any) -> list[str] | None:
    """A list or tuple of paths as strings (several files), else None."""
    if not isinstance(data, (list, tuple)) or not data:
        return None
    if not all(isinstance(item, (str, bytes, os.PathLike)) for item in data):
        return None
    paths = [os.fspath(item) for item in data]
    return [os.fsdecode(p) if isinstance(p, bytes) else p for p in paths]


def _open(
    data: Any,
    opts: InputOptions,
    progress: Any = None,
    storage_options: Mapping[str, Any] | None = None,
    *,
    on: str | Sequence[str] | None = None,
    join: str = "exact",
) -> Any:
    """A source with ``batches()``: a file, directory, glob or URL, in-memory data, or
    several files joined.

    ``storage_options`` go to fsspec for a URL (``{"endpoint_url": ...}``).
    """
    from losscli.io.frames import FrameSource, is_in_memory

    files = _file_list(data)
    if files is not None and len(files) == 1 and not on:
        data = files[0]
    elif files is not None:
        from losscli.io.join import open_join

        if storage_options:
            raise UsageError(
                "storage_options are for one path or URL (a directory, glob or URL is one "
                "dataset), not for several joined files"
            )

        how = _choice(join, "join", ("exact", "inner"))
        if progress is None:
            return open_join(files, opts, on or (), how)
        return _with_progress(
            progress, lambda report: open_join(files, opts, on or (), how, progress=report)
        )
    elif on:
        raise UsageError(
            "on= joins several models' files on a key; give a list of two paths or more"
        )
    if is_in_memory(data):
        if storage_options:
            raise UsageError("storage_options are for a URL; the data given are in memory")
        return FrameSource(data, opts)
    from losscli.io.source import open_source

    path = os.fspath(data)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if storage_options is not None and not isinstance(storage_options, Mapping):
        raise UsageError(
            "storage_options must be a dict of fsspec options, e.g. {'anon': True} "
            f"(got {type(storage_options).__name__})"
        )
    if progress is None:
        return open_source(path, opts, storage_options=storage_options)
    return _with_progress(
        progress,
        lambda report: open_source(path, opts, progress=report, storage_options=storage_options),
    )


def _with_progress(progress: Any, opener: Callable[[Any], Any]) -> Any:
    """The source ``opener(on_progress)`` opens, its reading shown on ``progress``."""
    started = False

    def on_progress(done: int) -> None:
        nonlocal started
        if not started:  # only inputs read in several chunks show a bar
            progress.start(source.total_bytes)
            started = True
        progress.update(done)

    source = opener(on_progress)
    return source


def _whole(source: Any) -> Dataset:
    """All of a source as one Dataset (commands that still need every row in memory)."""
    dataset: Dataset = source.dataset()
    return dataset


ENGINES = ("local", "dask")


def _engine(engine: str, scheduler: Any, data: Any) -> str:
    """The engine chosen (checked before any data are read or a cluster is started)."""
    chosen = _choice(engine, "engine", ENGINES)
    if scheduler is not None and chosen != "dask":
        raise UsageError("--scheduler names a Dask cluster; it applies with --engine dask")
    if chosen == "dask":
        from losscli.engines.dask import require_dask

        files = _file_list(data)
        if files is not None and len(files) > 1:
            raise UsageError(
                "several files joined on a key (--on) are matched on this machine (the join "
                "does not run on --engine dask); use --engine local, or join them into one "
                "file (or a directory of files) first"
            )
        if isinstance(data, (str, os.PathLike)) and os.fspath(data) == "-":
            raise UsageError(
                "--engine dask reads the input on the workers, and standard input cannot "
                "be read there; give a FILE (a path, directory, glob or URL) or use "
                "--engine local"
            )
        require_dask()
    return chosen


@contextlib.contextmanager
def _runner(engine: str, scheduler: Any) -> Iterator[Callable[[Any, Any], Any]]:
    """``run(plan, source)`` on the chosen engine (dask: a client for the whole call)."""
    if engine == "local":
        from losscli.engines.local import run_plan

        yield run_plan
        return
    from losscli.engines.dask import dask_client
    from losscli.engines.dask import run_plan as run_on_dask

    with dask_client(scheduler) as client:
        yield lambda plan, source: run_on_dask(plan, source, client=client)


def _in_memory_on_dask(engine: str, what: str) -> None:
    if engine == "dask":
        raise UsageError(
            f"{what} runs on this machine only (it does not run on --engine dask); "
            f"use --engine local"
        )


# The command line loads --custom losses while parsing its options (every command,
# this API or not); it passes this instead of the texts so that user code runs once.
CUSTOM_LOADED_BY_CLI: Sequence[str] = ("<loaded by the command line>",)


def _custom_texts(custom: Sequence[str] | str | None) -> tuple[str, ...]:
    """``custom`` as a tuple of ``"path.py:FUNC"`` texts (one text alone is one loss)."""
    if custom is None:
        return ()
    if isinstance(custom, (str, os.PathLike)):
        return (os.fspath(custom),)
    return tuple(os.fspath(text) for text in custom)


def _check_per_sample_path(data: Any, custom: Sequence[str] | str | None, path: str) -> None:
    """``per_sample`` is writable and none of the inputs (data files, --custom code).

    The same check as the command line's, before any work: a path naming an input
    (a link to it included) is a UsageError and nothing is written.
    """
    from losscli.outputs import check_outputs, input_paths

    files = _file_list(data)
    if files is None and isinstance(data, (str, bytes, os.PathLike)):
        files = [os.fsdecode(os.fspath(data))]
    texts = () if custom is CUSTOM_LOADED_BY_CLI else _custom_texts(custom)
    check_outputs(input_paths(files, {"custom": texts}), [("per_sample", path)])


def _prepare_losses(losses: tuple[str, ...], custom: Sequence[str] | str | None) -> None:
    """Load custom losses and parse ``losses`` before reading data (typos fail fast).

    ``custom`` (``["path.py:FUNC"]``, as ``--custom``) replaces the custom losses
    of an earlier call (none: no custom loss).
    """
    from losscli.core.registry import Task, select_losses

    if custom is not CUSTOM_LOADED_BY_CLI:
        from losscli.custom import load_custom_losses

        load_custom_losses(_custom_texts(custom))
    if losses:
        select_losses(list(losses), Task.REGRESSION)


def _choose(losses: tuple[str, ...], dataset: Dataset, messages: _Messages) -> list[LossSelection]:
    """The given losses, else the task's default panel for what these data provide."""
    from losscli.analysis.diagnostics import selection_warnings
    from losscli.core.registry import panel_omissions, select_losses

    if not losses:
        for line in panel_omissions(dataset.task, dataset.features):
            if line not in messages.notes:
                messages.notes.append(line)
    selections = select_losses(list(losses), dataset.task, dataset.features)
    for line in selection_warnings(dataset, selections, explicit=bool(losses)):
        if line not in messages.warnings:
            messages.warnings.append(line)
    return selections


def _promote(report: Any, cls: type[Any], notes: Sequence[str] = ()) -> Any:
    """The analysis report as its public result class (the same frozen fields)."""
    import dataclasses

    values = {f.name: getattr(report, f.name) for f in dataclasses.fields(report) if f.init}
    if notes and "notes" in values:
        kind = type(values["notes"])
        values["notes"] = kind([*notes, *[n for n in values["notes"] if n not in notes]])
    return cls(**values)


# --------------------------------------------------------------------------- compute


@_quiet_numpy
def compute(
    data: Any,
    *,
    y_true: str = "y_true",
    y_pred: Columns = None,
    losses: Losses = None,
    weights: str | None = None,
    group_by: str | None = None,
    task: str = "auto",
    from_logits: bool = False,
    ci: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    nan: str = "error",
    pred_prefix: str | Sequence[str] = "y_pred_",
    true_prefix: str = "y_true_",
    pos_label: str | float | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    storage_options: Mapping[str, Any] | None = None,
    interval_cols: Sequence[str] | str | None = None,
    interval_level: float = 0.9,
    on: str | Sequence[str] | None = None,
    join: str = "exact",
    custom: Sequence[str] = (),
    fail_above: Sequence[str] = (),
    fail_below: Sequence[str] = (),
    per_sample: str | IO[str] | None = None,
    id_cols: str | Sequence[str] = (),
    progress: Any = None,
    engine: str = "local",
    scheduler: Any = None,
) -> ComputeResult:
    """The selected losses for every model: ``loss compute`` as a function.

    ``y_pred`` names the prediction column, or a list of them (one model
    each); ``losses`` is ``"mse,mae,huber:delta=2"`` or a list of such texts
    (default: the task's panel); ``weights`` names a column of sample weights;
    ``group_by`` adds every loss per value of a column; ``ci`` (e.g. 0.95)
    adds bootstrap percentile intervals (``n_boot`` resamples, ``seed``).
    ``fail_above`` (``"mae=0.5"`` or a list of such texts) and ``fail_below``
    (``"r2=0.8"``, for scores) make sure the gated figures are computed;
    :meth:`~losscli.results.ComputeResult.gate_failures` then names those
    beyond their bound. ``per_sample`` writes the per-row losses as CSV to a path
    (atomically; ``"-"`` is standard output; a path naming an input is a
    UsageError) or an open text file; ``id_cols`` names input columns copied
    into it (a join's key columns are copied anyway). ``pos_label`` names the
    positive class of binary labels written as text or numbers other than 0/1
    (two text labels without it: the later in sorted order, as scikit-learn);
    ``pred_prefix`` may be a list, one multiclass model per prefix.
    ``engine="dask"`` runs the same plan on a Dask cluster: ``scheduler`` is its
    address (or a ``distributed.Client``); without it a local cluster of one
    worker process per core is started and closed (needs
    ``pip install 'losscli[dask]'``).

    >>> import losscli as lc
    >>> r = lc.compute({"y_true": [0, 1, 1, 0], "y_pred": [0.1, 0.8, 0.6, 0.3]}, losses="brier")
    >>> r.task, round(r.value("brier"), 12)
    ('binary', 0.075)
    """
    inputs = _InputArguments.of(locals())
    from losscli.analysis.gates import parse_gates
    from losscli.core.registry import LossSelection, get_loss
    from losscli.results import ComputeResult

    texts = _loss_texts(losses)
    gates = parse_gates(_gate_texts(fail_above, "fail_above")) + parse_gates(
        _gate_texts(fail_below, "fail_below"), below=True
    )
    if ci is not None:
        ci, n_boot, seed = _check_ci(ci, n_boot, seed)
    per_sample = _per_sample_target(per_sample)
    if isinstance(per_sample, str):
        _check_per_sample_path(data, custom, per_sample)
    chosen = _engine(engine, scheduler, data)
    if chosen == "dask" and per_sample is not None:
        raise UsageError(
            "--per-sample writes every row's losses on this machine (it does not run on "
            "--engine dask); use --engine local"
        )
    opts = inputs.options()
    _prepare_losses(texts, custom)
    messages = _Messages()
    if per_sample is not None:
        import dataclasses

        opts = dataclasses.replace(opts, id_cols=_names(id_cols), per_sample_ids=True)
    elif _names(id_cols):
        messages.warnings.append(
            "--id-col copies columns into the --per-sample output; without --per-sample "
            "it is ignored"
        )

    def selections_for(dataset: Dataset) -> list[LossSelection]:
        chosen = _choose(texts, dataset, messages)
        for gate in gates:
            if all(s.name != gate.loss for s in chosen):
                spec = get_loss(gate.loss)
                chosen.append(LossSelection(spec, spec.resolve_params({})))
        return chosen

    source = _open(data, opts, progress, storage_options, on=on, join=join)
    try:
        from losscli.analysis.streaming import compute_chunks
        from losscli.io.stream import ValueSpool

        def run(on_items: Any = None) -> Any:
            spool = ValueSpool()
            try:
                return compute_chunks(
                    source.batches(),
                    selections_for,
                    spool,
                    reread=source.batches,
                    ci_level=ci,
                    n_boot=n_boot,
                    seed=seed,
                    on_items=on_items,
                )
            finally:
                spool.close()

        if chosen == "dask":
            from losscli.analysis.compute_plan import compute_plan

            plan = compute_plan(selections_for, ci_level=ci, n_boot=n_boot, seed=seed)
            with _runner(chosen, scheduler) as run_plan:
                report = run_plan(plan, source)
        elif per_sample is None:
            report = run()
        else:
            # The per-row losses are written batch by batch during the first pass.
            report = _with_per_sample(per_sample, run)
    except InputError as exc:
        if getattr(source, "locate", None) is not None and not isinstance(exc, UsageError):
            located = source.located(exc)
            if located is not exc:  # an error about a row: say which file it is in
                raise located from exc
        raise
    finally:
        source.close()
    if opts.weight_col:  # the table's footer says "weighted by COL"
        import dataclasses

        report = dataclasses.replace(report, weight_column=opts.weight_col)
    result: ComputeResult = _promote(report, ComputeResult, messages.notes)
    object.__setattr__(result, "_gates", tuple(gates))
    messages.issue(result.warnings)
    return result


def _check_ci(ci: float, n_boot: int, seed: int) -> tuple[float, int, int]:
    """The interval's arguments checked, as Python numbers (NumPy scalars are welcome)."""
    import numbers

    if isinstance(ci, bool) or not isinstance(ci, numbers.Real) or not 0 < ci < 1:
        raise UsageError(f"ci must be a level between 0 and 1, e.g. 0.95 (got {ci!r})")
    if (
        isinstance(n_boot, bool)
        or not isinstance(n_boot, numbers.Integral)
        or not 10 <= n_boot <= 100_000
    ):
        raise UsageError(
            f"n_boot must be a whole number of bootstrap resamples between 10 and 100,000 "
            f"(got {n_boot!r})"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise UsageError(f"seed must be a whole number >= 0 (got {seed!r})")
    return float(ci), int(n_boot), int(seed)


def _flag(value: Any, name: str) -> bool:
    """A True/False argument (or 0/1): a text such as "False" is not taken for True."""
    import numbers

    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise UsageError(f"{name} takes True or False (got {value!r})")


def _per_sample_target(value: Any) -> str | IO[Any] | None:
    """``per_sample`` as a path or an open file; None and False mean no per-row output."""
    if value is None or value is False:
        return None
    if isinstance(value, (str, bytes, os.PathLike)):
        path = os.fsdecode(os.fspath(value))
        if path == "-":  # as on the command line: standard output
            handle: IO[Any] = sys.stdout
            return handle
        if not path.strip():
            raise UsageError(
                f"per_sample is an empty path ({path!r}): give a file name (e.g. "
                f"per_sample='rows.csv') or an open file"
            )
        return path
    if hasattr(value, "write") and not isinstance(value, type):
        opened: IO[Any] = value
        return opened
    shown = repr(value) if isinstance(value, (bool, int, float)) else f"a {type(value).__name__}"
    raise UsageError(
        f"per_sample takes a path or an open file to write every row's losses to as CSV "
        f"(got {shown}); for the per-row values as an array, call "
        f"lc.losses.<name>(y_true, y_pred, per_sample=True)"
    )


def _with_per_sample(target: str | IO[Any], run: Any) -> Any:
    """``run(on_items)`` with every batch's per-row losses written to ``target``.

    A path is written atomically: the whole computation runs inside the
    write, so an error in any batch leaves no file (and an old one untouched).
    """
    from losscli.report.per_sample import PerSampleWriter

    def write(handle: IO[Any], drop_written: bool = False) -> Any:
        writer = PerSampleWriter(handle, drop_written=drop_written)
        try:
            report = run(writer.add)
            writer.close()
            return report
        finally:
            writer.discard()

    if isinstance(target, (str, os.PathLike)):
        from losscli.atomic import write_atomically

        done: list[Any] = []
        write_atomically(
            os.fspath(target), lambda h: done.append(write(h, drop_written=True)), binary=True
        )
        return done[0]
    # An open file (stdout): the rows wait in an anonymous temporary file until every
    # batch is in, so an error in a later batch writes nothing to it.
    import io
    import shutil
    import tempfile

    with tempfile.TemporaryFile() as spool:
        report = write(spool)
        spool.seek(0)
        if isinstance(target, (io.RawIOBase, io.BufferedIOBase)):
            shutil.copyfileobj(spool, target, 1 << 20)
        else:  # a text file, or anything else with write(str)
            text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
            shutil.copyfileobj(text, target, 1 << 20)
            text.detach()
    return report


# --------------------------------------------------------------------------- compare


@_quiet_numpy
def compare(
    data: Any,
    *,
    y_true: str = "y_true",
    y_pred: Columns = None,
    losses: Losses = None,
    weights: str | None = None,
    task: str = "auto",
    from_logits: bool = False,
    ci: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    nan: str = "error",
    pred_prefix: str | Sequence[str] = "y_pred_",
    true_prefix: str = "y_true_",
    pos_label: str | float | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    storage_options: Mapping[str, Any] | None = None,
    interval_cols: Sequence[str] | str | None = None,
    interval_level: float = 0.9,
    on: str | Sequence[str] | None = None,
    join: str = "exact",
    custom: Sequence[str] = (),
    progress: Any = None,
    time_col: str | None = None,
    engine: str = "local",
    scheduler: Any = None,
) -> CompareResult:
    """Models side by side: ``loss compare FILE`` as a function.

    Every loss for every model with its per-row distribution (median, p95,
    max, share of the worst 1% of rows), a ranking per loss and whether the
    losses agree on the best model; ``ci`` adds paired-bootstrap intervals of
    each model's difference to the best. With two models or more, paired tests
    of equal expected loss (``tests``); ``time_col`` names a column the rows are
    sorted by, for the Diebold-Mariano test's Newey-West (HAC) variance.

    >>> import losscli as lc
    >>> data = {"y_true": [1.0, 2.0, 3.0], "a": [1.0, 2.5, 3.0], "b": [2.0, 2.0, 2.0]}
    >>> r = lc.compare(data, y_pred=["a", "b"], losses="mae")
    >>> r.rankings["mae"], r.value("mae", model="b")
    (['a', 'b'], 0.6666666666666666)
    """
    inputs = _InputArguments.of(locals())
    from losscli.results import CompareResult

    texts = _loss_texts(losses)
    if ci is not None:
        ci, n_boot, seed = _check_ci(ci, n_boot, seed)
    chosen = _engine(engine, scheduler, data)
    opts = inputs.options()
    if time_col is not None:  # SPEC 12: --time-col orders the rows for the HAC variance
        opts = dataclasses.replace(opts, time_col=str(time_col))
    _prepare_losses(texts, custom)
    messages = _Messages()
    with _open(data, opts, progress, storage_options, on=on, join=join) as source:
        from losscli.analysis.compare_plan import compare_plan

        plan = compare_plan(
            lambda head: _choose(texts, head, messages), ci_level=ci, n_boot=n_boot, seed=seed
        )
        with _runner(chosen, scheduler) as run_plan:
            report = run_plan(plan, source)
    result: CompareResult = _promote(report, CompareResult, messages.notes)
    messages.issue(result.warnings)
    return result


@_quiet_numpy
def compare_losses(
    losses: Losses = None, *, errors: str | tuple[float, float, int] | GridSpec = "-3:3:13"
) -> CurvesResult:
    """Losses compared as functions: ``loss compare`` without a FILE.

    Values and gradients over an error grid (``errors`` = ``"START:STOP:N"``
    or ``(start, stop, n)``; classification losses use the probability of the
    true class, hinge-type losses the margin), and the guide's property
    table. Default losses: mse, mae, huber (the guide's "Loss vs Error").

    >>> import losscli as lc
    >>> r = lc.compare_losses("mse,mae", errors="-1:1:3")
    >>> r.to_dict()["curves"][0]["values"]
    [1.0, 0.0, 1.0]
    """
    from losscli.analysis.curves import GridSpec, compare_curves, parse_grid
    from losscli.core.registry import Task, select_losses
    from losscli.results import CurvesResult

    if isinstance(errors, GridSpec):
        grid = errors
    else:
        text = errors if isinstance(errors, str) else ":".join(str(v) for v in errors)
        grid = parse_grid(text)
    texts = _loss_texts(losses) or ("mse,mae,huber",)
    # With explicit names the task is not used: parsed and de-duplicated as given.
    selections = select_losses(list(texts), Task.REGRESSION)
    result: CurvesResult = _promote(compare_curves(selections, grid), CurvesResult)
    return result


# --------------------------------------------------------------------------- sensitivity


@_quiet_numpy
def sensitivity(
    data: Any,
    *,
    y_true: str = "y_true",
    y_pred: Columns = None,
    losses: Losses = None,
    weights: str | None = None,
    task: str = "auto",
    from_logits: bool = False,
    rule: str | None = None,
    threshold: float | None = None,
    nan: str = "error",
    pred_prefix: str | Sequence[str] = "y_pred_",
    true_prefix: str = "y_true_",
    pos_label: str | float | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    storage_options: Mapping[str, Any] | None = None,
    interval_cols: Sequence[str] | str | None = None,
    interval_level: float = 0.9,
    on: str | Sequence[str] | None = None,
    join: str = "exact",
    custom: Sequence[str] = (),
    bins: int | Callable[[int], int] = 60,
    progress: Any = None,
    engine: str = "local",
    scheduler: Any = None,
) -> SensitivityResult:
    """How much each loss is driven by a few outlying rows: ``loss sensitivity``.

    ``rule`` is ``"mad"`` (robust z-score, default threshold 3.5) or ``"iqr"``
    (Tukey's fences, default 1.5); for classification ``threshold`` is the
    probability of the true class below which a row is confidently wrong
    (default 0.01). ``bins`` sets the residual histogram's bins (default 60),
    or is a function of the number of rows giving them (the command line fits
    the histogram to the terminal that way).

    >>> import losscli as lc
    >>> y = [float(i % 7) for i in range(50)]
    >>> p = [v + 0.1 for v in y[:-1]] + [100.0]
    >>> r = lc.sensitivity({"y_true": y, "y_pred": p}, losses="mse,mae")
    >>> r.outliers[0].rows
    [50]
    """
    inputs = _InputArguments.of(locals())
    import math

    from losscli.analysis.sensitivity import sensitivity as run_sensitivity
    from losscli.core.registry import Task, custom_losses
    from losscli.results import SensitivityResult

    if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
        raise UsageError(f"--threshold must be a positive number (got {threshold:g})")
    chosen_rule = "mad" if rule is None else _choice(rule, "rule", ("mad", "iqr"))
    texts = _loss_texts(losses)
    chosen = _engine(engine, scheduler, data)
    opts = inputs.options()
    _prepare_losses(texts, custom)
    messages = _Messages()

    def bins_for(n_rows: int) -> int:
        return int(bins(n_rows) if callable(bins) else bins)

    def check_threshold(data_task: Task) -> None:
        if data_task is not Task.REGRESSION and threshold is not None and threshold >= 1:
            raise UsageError(
                f"--threshold for {data_task.value} data is a probability of the true class "
                f"in (0, 1), e.g. 0.01 (got {threshold:g})"
            )

    # --custom losses may return one number for all rows: they need every row at once.
    in_memory = bool(custom_losses())
    if in_memory:
        _in_memory_on_dask(chosen, "sensitivity with --custom losses (read into memory)")
    with (
        _open(data, opts, progress, storage_options, on=on, join=join) as source,
        _runner(chosen, scheduler) as run_plan,
    ):
        if not in_memory:
            from losscli.analysis.sensitivity_plan import NeedsMemory, sensitivity_plan

            plan = sensitivity_plan(
                lambda head: _choose(texts, head, messages),
                rule=chosen_rule,
                threshold=threshold,
                bins_for=bins_for,
                check_head=lambda head: check_threshold(head.task),
            )
            try:
                report = run_plan(plan, source)
            except NeedsMemory:
                in_memory = True  # a weighted median whose neighbours were not kept
        if in_memory:
            dataset = _whole(source)
            check_threshold(dataset.task)
            selections = _choose(texts, dataset, messages)
            report = run_sensitivity(
                dataset,
                selections,
                rule=chosen_rule,
                threshold=threshold,
                bins=bins_for(dataset.n_rows),
            )
    notes = list(messages.notes)
    if rule is not None and report.task != Task.REGRESSION.value:
        notes = [*notes, *report.notes]
        notes.append(
            f"--rule applies to regression residuals; {report.task} rows are "
            f"flagged by the probability of the true class"
        )
    result: SensitivityResult = _promote(report, SensitivityResult, notes)
    messages.issue(result.warnings)
    return result


# --------------------------------------------------------------------------- recommend


@_quiet_numpy
def recommend(
    data: Any = None,
    *,
    task: str | None = None,
    outliers: bool | None = None,
    heavy_tails: bool = False,
    imbalanced: bool = False,
    max_margin: bool = False,
    need_probabilities: bool = False,
    interpretable: bool = False,
    smooth: bool = False,
    losses: Losses = None,
    y_true: str = "y_true",
    y_pred: Columns = None,
    weights: str | None = None,
    from_logits: bool = False,
    nan: str = "error",
    pred_prefix: str | Sequence[str] = "y_pred_",
    true_prefix: str = "y_true_",
    pos_label: str | float | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    storage_options: Mapping[str, Any] | None = None,
    interval_cols: Sequence[str] | str | None = None,
    interval_level: float = 0.9,
    on: str | Sequence[str] | None = None,
    join: str = "exact",
    progress: Any = None,
    engine: str = "local",
    scheduler: Any = None,
) -> RecommendResult:
    """Losses recommended by the guide's rules: ``loss recommend`` as a function.

    The flags state what you know (``outliers=True`` or ``False``,
    ``heavy_tails``, ``imbalanced``, ...); with ``data`` the evidence is
    measured too, and where it strongly contradicts a flag it wins (see
    ``contradictions``). ``losses`` rates the losses you plan to use.

    >>> import losscli as lc
    >>> r = lc.recommend(outliers=True)
    >>> r.task, r.top.loss
    ('regression', 'huber')
    """
    inputs = _InputArguments.of({**locals(), "task": "auto"})  # task: the chosen one, below
    from losscli.analysis.profile_plan import profile_plan
    from losscli.analysis.recommend import Flags, check_flags, reconcile, resolve_task
    from losscli.analysis.recommend import recommend as run_recommend
    from losscli.analysis.rules import ROWSUM_TOLERANCE, PlannedLoss
    from losscli.core.registry import parse_loss_list
    from losscli.results import RecommendResult

    chosen = None if task is None else _choice(task, "task", RECOMMEND_TASKS)
    chosen_engine = _engine(engine, scheduler, data)
    flags = Flags(
        task=chosen,
        outliers=None if outliers is None else _flag(outliers, "outliers"),
        heavy_tails=_flag(heavy_tails, "heavy_tails"),
        imbalanced=_flag(imbalanced, "imbalanced"),
        max_margin=_flag(max_margin, "max_margin"),
        need_probabilities=_flag(need_probabilities, "need_probabilities"),
        interpretable=_flag(interpretable, "interpretable"),
        smooth=_flag(smooth, "smooth"),
    )
    # Flags and losses are checked before any data are read (usage errors first).
    if data is None:
        resolved = resolve_task(flags)
    else:
        check_flags(flags)
    planned: list[PlannedLoss] = []
    for text in _loss_texts(losses):
        for sel in parse_loss_list(text):
            planned.append(
                PlannedLoss(
                    sel.name,
                    sel.spec.task.value,
                    dict(sel.params),
                    evaluation_only=sel.spec.evaluation_only,
                )
            )

    profile = None
    notes: list[str] = []
    if data is None:
        task_reason = f"--task {chosen}" if chosen else "implied by " + " ".join(flags.given())
    else:
        opts = inputs.options(task=chosen if chosen in TASKS else "auto")
        with (
            _open(data, opts, progress, storage_options, on=on, join=join) as source,
            _runner(chosen_engine, scheduler) as run_plan,
        ):
            profiled = run_plan(profile_plan(ROWSUM_TOLERANCE), source)
        profile = profiled.profile
        resolved = resolve_task(flags, data_task=profiled.task)
        task_reason = profiled.task_reason
        if len(profiled.models) > 1 and profile.model:
            notes.append(
                f"{len(profiled.models)} models: the evidence about predictions is that of the "
                f"first, {profile.model} (put the model you train first with --pred-col)"
            )
        notes.extend(profiled.notes)
    facts, contradictions = reconcile(flags, resolved, profile, tuple(planned))
    report = run_recommend(
        facts, contradictions, task_reason=task_reason, flags=flags, notes=tuple(notes)
    )
    result: RecommendResult = _promote(report, RecommendResult)
    if profile is not None:  # its result has no warnings of its own to carry them
        from losscli.analysis.diagnostics import input_warnings

        _Messages(warnings=input_warnings(profile.n_dropped, profile.n_rows)).issue()
    return result


# --------------------------------------------------------------------------- explain


@_quiet_numpy
def explain(loss: str, *, link: str | None = None) -> ExplainResult:
    """Is a loss convex in the pre-activation z? ``loss explain`` as a function.

    ``link`` is ``"identity"``, ``"sigmoid"`` or ``"softmax"`` (default: the
    loss's task's usual output). The result lists the intervals of the link's
    output where the second derivative is negative.

    >>> import losscli as lc
    >>> r = lc.explain("mse", link="sigmoid")
    >>> r.convex
    False
    >>> [(i["y_true"], round(i["from"], 4), round(i["to"], 4)) for i in r.to_dict()["nonconvex"]]
    [(0, 0.6667, 1.0), (1, 0.0, 0.3333)]
    """
    from losscli.analysis.convexity import DEFAULT_LINK, analyse
    from losscli.core.registry import parse_loss_list
    from losscli.results import ExplainResult

    selections = parse_loss_list(loss)
    if len(selections) != 1:
        raise UsageError("explain takes one loss, e.g. loss explain mse --link sigmoid")
    selection = selections[0]
    if link is None:
        chosen = DEFAULT_LINK.get(selection.spec.task, "identity")
    else:
        chosen = _choice(link, "link", ("identity", "sigmoid", "softmax"))
    result: ExplainResult = _promote(analyse(selection, chosen), ExplainResult)
    return result


# --------------------------------------------------------------------------- catalogue


def list_losses(task: str | None = None) -> list[dict[str, Any]]:
    """The catalogue as data: name, aliases, task, parameters and summary of every loss.

    The same objects as ``loss list --format json`` (which renders them): with
    ``task``, the losses that score that task (``rows["tasks"]`` holds it).

    >>> import losscli as lc
    >>> [row["name"] for row in lc.list_losses("binary")][:3]
    ['bce', 'brier', 'hinge']
    """
    from losscli.report.catalogue import list_row, losses_for

    return [list_row(s) for s in losses_for(task)]


def loss_info(name: str) -> dict[str, Any]:
    """Everything about one loss, as ``loss info NAME --format json`` gives it.

    >>> import losscli as lc
    >>> info = lc.loss_info("l2")
    >>> info["name"], info["properties"]["convex"]
    ('mse', True)
    """
    from losscli.core.registry import get_loss
    from losscli.report.catalogue import info_dict

    if ":" in name:
        raise UsageError(
            f"loss info takes a loss name without parameters (got {name!r}); "
            f"try: loss info {name.split(':', 1)[0]}"
        )
    return info_dict(get_loss(name))


# --------------------------------------------------------------------------- losses


class _LossFunctions:
    """``lc.losses.<name>(y_true, y_pred, *, sample_weight=None, per_sample=False, **params)``.

    One function per registered loss and alias, in scikit-learn's argument
    order, returning the value ``loss compute`` reports (a float), or the
    per-row losses with ``per_sample=True``.

    >>> import losscli as lc
    >>> lc.losses.mse([1.0, 2.0], [1.5, 2.5])
    0.25
    >>> lc.losses.huber([0.0, 0.0], [0.5, 3.0], delta=1.0, per_sample=True).tolist()
    [0.125, 2.5]
    """

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        from losscli.core.registry import all_losses

        wanted = name.lower()
        for spec in all_losses():
            if wanted == spec.name or wanted in spec.aliases:
                function = _loss_function(spec)
                setattr(self, name, function)
                return function
        raise AttributeError(
            f"losscli.losses has no loss {name!r}; lc.list_losses() gives the catalogue"
        )

    def __dir__(self) -> list[str]:
        from losscli.core.registry import all_losses

        return sorted({n for s in all_losses() for n in (s.name, *s.aliases)})

    def __repr__(self) -> str:
        return "<losscli.losses: one function per registered loss>"


losses = _LossFunctions()

# The columns a structured family reads from keyword arrays (see losscli.io.families).
_FAMILY_ARRAYS: dict[str, tuple[str, ...]] = {
    "detection": (),
    "similarity": ("label", "a", "b", "distance", "anchor", "positive", "negative"),
    "generative": ("d_real", "d_fake"),
    "vae": ("mu", "logvar"),
    "interval": ("interval_level",),
    "quantile": ("levels",),
}


def _loss_function(spec: LossSpec) -> Callable[..., Any]:
    """The sklearn-style function of one registered loss."""

    @_quiet_numpy
    def function(
        y_true: Any = None,
        y_pred: Any = None,
        *,
        sample_weight: Any = None,
        per_sample: bool = False,
        from_logits: bool = False,
        **params: Any,
    ) -> Any:
        arrays = {
            k: params.pop(k) for k in list(params) if k in _FAMILY_ARRAYS.get(spec.task.value, ())
        }
        result, texts = _evaluate(
            spec, y_true, y_pred, sample_weight, per_sample, from_logits, arrays, params
        )
        _Messages(warnings=texts).issue()
        return result

    function.__name__ = spec.name
    function.__qualname__ = f"losses.{spec.name}"
    function.__doc__ = _loss_doc(spec)
    return function


def _loss_doc(spec: LossSpec) -> str:
    params = "".join(
        f"\n    {p.name}={p.default!r}: {p.help or p.requirement}" for p in spec.params
    )
    family = {
        "multiclass": "y_true: class indices (n,) or target rows (n, K); y_pred: (n, K).",
        "detection": "y_true, y_pred: (n, 4) boxes x1, y1, x2, y2.",
        "similarity": (
            "pairs: y_true (or label=...) = label (0 similar, 1 dissimilar), y_pred = distance, or "
            "a=..., b=... embeddings; triplets: anchor=..., positive=..., negative=..."
        ),
        "generative": (
            "d_real=..., d_fake=... discriminator outputs (lengths may differ; the "
            "generator losses read d_fake alone), or y_true = 1 real / 0 generated "
            "and y_pred = D's output on each."
        ),
        "vae": "mu=..., logvar=... (n, k); y_true/y_pred the reconstruction (optional).",
        "interval": "y_true: (n,); y_pred: (n, 2) lower and upper ends; interval_level=0.9.",
        "quantile": "y_true: (n,); y_pred: (n, m) quantiles; levels=[tau_1, ..., tau_m].",
    }.get(spec.task.value, "y_true, y_pred: arrays of shape (n,).")
    aliases = f" (aliases: {', '.join(spec.aliases)})" if spec.aliases else ""
    return (
        f"{spec.summary}\n\n"
        f"{spec.name}{aliases}, {spec.task.value}: {spec.formula}\n"
        f"Inputs: {family}\n"
        f"Returns the value `loss compute` reports (float), or the per-row losses "
        f"with per_sample=True; sample_weight weights the rows.\n"
        + (f"Parameters:{params}\n" if params else "")
        + f"Reference: {spec.reference}"
    )


def _evaluate(
    spec: LossSpec,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    per_sample: bool,
    from_logits: bool,
    arrays: dict[str, Any],
    params: dict[str, Any],
) -> tuple[Any, list[str]]:
    """The value (or per-row losses) and the warnings ``loss compute`` gives of the values
    themselves (losses past float64)."""
    import numpy as np

    from losscli.analysis.diagnostics import value_warnings
    from losscli.analysis.evaluate import per_sample_losses
    from losscli.core.reduction import reduce_values
    from losscli.core.registry import LossSelection
    from losscli.io.columns import InputOptions
    from losscli.io.frames import FrameSource

    level = _interval_level(arrays.pop("interval_level", 0.9))
    task = spec.task.value
    if any(t.value == "multiclass" for t in spec.also_tasks) and np.ndim(y_pred) == 2:
        task = "multiclass"  # accuracy, zero_one, ece, mce: (n, K) class probabilities
    columns = _loss_columns(task, spec.name, y_true, y_pred, sample_weight, arrays)
    opts = InputOptions(
        task=task,
        from_logits=_flag(from_logits, "from_logits"),
        weight_col="sample_weight" if "sample_weight" in columns else None,
        pred_prefix="y_pred_",
        interval_level=level,
    )
    dataset = FrameSource(columns, opts, source="<arrays>").dataset()
    selection = LossSelection(spec, spec.resolve_params(params))
    (item,) = per_sample_losses(dataset, [selection])[:1]
    texts = value_warnings([item])
    if _flag(per_sample, "per_sample"):
        return np.asarray(item.values), texts
    # The reducer carries the parameters a figure's reduction reads (ece's n_bins,
    # d2_pinball's alpha), as the commands' plans do.
    return reduce_values(item.values, dataset.weights, selection.reducer), texts


def _loss_columns(
    task: str, name: str, y_true: Any, y_pred: Any, sample_weight: Any, arrays: dict[str, Any]
) -> dict[str, Any]:
    """The arrays as the columns of a file of this task (see losscli.io), for loss ``name``."""
    import numpy as np

    columns: dict[str, Any] = {}
    if task == "detection":
        t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
        for j, corner in enumerate(("x1", "y1", "x2", "y2")):
            columns[f"true_{corner}"] = t[:, j]
            columns[f"pred_{corner}"] = p[:, j]
    elif task == "generative":
        given = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in arrays.items()}
        if y_true is not None or y_pred is not None:
            given = _gan_labelled(name, y_true, y_pred, given)
        # Only the columns given, as in a file: gan_generator reads d_fake alone.
        n = max((v.size for v in given.values()), default=0)
        for key, values in given.items():
            columns[key] = _padded(values, n)
        if sample_weight is not None:
            raise UsageError(
                f"{name} weighs d_real and d_fake by their own counts; sample_weight does not apply"
            )
        return columns
    elif task == "similarity":
        if any(k in arrays for k in ("anchor", "positive", "negative")):
            for key in ("anchor", "positive", "negative"):
                columns[key] = np.asarray(arrays[key], dtype=np.float64)
        else:
            columns["label"] = np.asarray(_pair_labels(name, y_true, arrays), dtype=np.float64)
            if "a" in arrays:
                columns["a"] = np.asarray(arrays["a"], dtype=np.float64)
                columns["b"] = np.asarray(arrays["b"], dtype=np.float64)
            else:
                given = arrays.get("distance", y_pred)
                columns["distance"] = np.asarray(given, dtype=np.float64)
    elif task == "interval":  # y_pred: (n, 2) lower and upper ends
        bounds = np.asarray(y_pred, dtype=np.float64).reshape(-1, 2)
        columns["y_true"] = np.asarray(y_true, dtype=np.float64)
        columns["y_lower"], columns["y_upper"] = bounds[:, 0], bounds[:, 1]
    elif task == "quantile":  # y_pred: (n, m) quantiles at levels=[tau_1, ..., tau_m]
        if "levels" not in arrays:
            raise UsageError(f"{name} needs levels=[...], the quantile level of each y_pred column")
        levels = [float(v) for v in np.asarray(arrays["levels"], dtype=np.float64).reshape(-1)]
        q = np.asarray(y_pred, dtype=np.float64).reshape(len(np.asarray(y_true)), -1)
        if q.shape[1] != len(levels):
            raise UsageError(
                f"{name}: y_pred has {plural(q.shape[1], 'column')} but levels gives {len(levels)}"
            )
        columns["y_true"] = np.asarray(y_true, dtype=np.float64)
        for j, tau in enumerate(levels):
            columns[f"y_pred_q{tau!r}"] = q[:, j]
    elif task == "vae":
        columns["mu"] = np.asarray(arrays["mu"], dtype=np.float64)
        columns["logvar"] = np.asarray(arrays["logvar"], dtype=np.float64)
        if y_true is not None:
            t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
            if t.ndim == 1:
                columns["y_true"], columns["y_pred"] = t, p
            else:
                columns["y_true"], columns["y_pred"] = t, p  # spread as y_true_j / y_pred_j
    elif task == "multiclass":
        t = np.asarray(y_true)
        p = np.asarray(y_pred, dtype=np.float64)
        if p.ndim != 2:
            raise UsageError(f"{name} needs y_pred of shape (n, K): one column per class")
        if t.ndim == 2:
            columns["y_true"] = t.astype(np.float64)  # soft or one-hot targets: y_true_j
        else:
            if np.issubdtype(t.dtype, np.floating) and np.all(np.mod(t, 1) == 0):
                t = t.astype(np.int64)  # class indices; they name the columns y_pred_<j>
            columns["y_true"] = t
        columns["y_pred"] = p
    else:
        t, p = np.asarray(y_true), np.asarray(y_pred)
        if t.ndim != 1 or p.ndim != 1:
            raise InputError(
                f"{name} takes y_true and y_pred as 1-D arrays of the same length; "
                f"got shapes {t.shape} and {p.shape}"
            )
        columns["y_true"] = y_true
        columns["y_pred"] = y_pred
    if sample_weight is not None:
        columns["sample_weight"] = np.asarray(sample_weight, dtype=np.float64)
    return columns


def _gan_labelled(name: str, y_true: Any, y_pred: Any, given: dict[str, Any]) -> dict[str, Any]:
    """d_real and d_fake from the positional form: y_true = 1 for a real sample and 0 for
    a generated one, y_pred = the discriminator's output on each (the registry's view)."""
    import numpy as np

    from losscli.core.registry import get_loss

    if "d_real" in get_loss(name).panel_requires:
        named = "d_real=... and d_fake=... by name (each its own length)"
    else:
        named = "d_fake=... by name"
    how = (
        f"{name} takes {named}, or y_true = 1 for a real sample and 0 for a generated one "
        f"with y_pred = D's output on it"
    )
    if given:
        raise UsageError(f"{how}, not both")
    if y_true is None or y_pred is None:
        raise UsageError(f"{how}; got only {'y_pred' if y_true is None else 'y_true'}")
    labels = np.asarray(y_true, dtype=np.float64).reshape(-1)
    values = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if labels.size != values.size:
        raise UsageError(
            f"{how}; got {plural(labels.size, 'label')} in y_true and "
            f"{plural(values.size, 'output')} in y_pred"
        )
    if not np.all((labels == 0) | (labels == 1)):
        raise UsageError(f"{how}; y_true holds values other than 0 and 1")
    is_real = labels == 1
    out = {"d_fake": values[~is_real]}
    if is_real.any():  # no real rows: as a file without d_real
        out["d_real"] = values[is_real]
    return out


def _pair_labels(name: str, y_true: Any, arrays: dict[str, Any]) -> Any:
    """A pair loss's labels (0 similar, 1 dissimilar): y_true, or label=... (the column's name)."""
    label = arrays.get("label")
    if label is not None and y_true is not None:
        raise UsageError(f"{name}: give the pair labels as y_true or as label=..., not both")
    if label is None and y_true is None:
        raise UsageError(
            f"{name} needs the pair labels (0 similar, 1 dissimilar) as y_true or label=..."
        )
    return y_true if label is None else label


def _padded(values: Any, n: int) -> Any:
    import numpy as np

    from losscli.io.frames import numeric_array

    full = np.zeros(n)
    full[: values.size] = values
    return numeric_array(full, valid=np.arange(n) < values.size)


# --------------------------------------------------------------------------- accumulator


class Accumulator:
    """Losses over data that arrive in pieces: a training loop, shards, a pipeline.

    ``update()`` each piece (validated like a file), ``merge()`` accumulators
    built elsewhere, and ``result()`` gives the same
    :class:`~losscli.results.ComputeResult` as one :func:`compute` on all
    the rows together, medians included (median losses keep their per-row
    values; every other loss only partial sums).

    ``losses`` as in :func:`compute` (default: the panel of ``task``);
    ``task`` is required unless the named losses all belong to one task.
    Other keyword arguments are :func:`compute`'s input options
    (``from_logits``, ``nan``).

    >>> import losscli as lc
    >>> acc = lc.Accumulator(losses="mse,median_ae")
    >>> acc.update([1.0, 2.0], [1.5, 2.0])
    >>> other = lc.Accumulator(losses="mse,median_ae")
    >>> other.update([3.0, 4.0], [2.0, 4.0])
    >>> r = acc.merge(other).result()
    >>> r.value("mse"), r.value("median_ae"), r.n_rows
    (0.3125, 0.25, 4)
    """

    def __init__(
        self,
        losses: Losses = None,
        *,
        task: str | None = None,
        from_logits: bool = False,
        nan: str = "error",
    ) -> None:
        from losscli.core.registry import Task, select_losses

        self._texts = _loss_texts(losses)
        self._from_logits = _flag(from_logits, "from_logits")
        self._nan = _choice(nan, "nan", ("error", "drop"))
        if self._texts:
            parsed = select_losses(list(self._texts), Task.REGRESSION)
            tasks = {s.spec.task.value for s in parsed}
        else:
            tasks = set()
        if task is None:
            if len(tasks) != 1:
                raise UsageError(
                    "Accumulator needs task=... (regression, binary or multiclass) unless "
                    "the losses named all belong to one task"
                )
            task = tasks.pop()
        self.task = _choice(task, "task", ("regression", "binary", "multiclass"))
        self._selections: list[LossSelection] | None = None
        self._states: list[Any] = []
        self._models: list[str] = ["y_pred"]
        self.n_rows = 0
        self.n_dropped = 0
        self._notes: list[str] = []
        self._classes: int | None = None  # multiclass: the columns of y_pred

    def _dataset(self, y_true: Any, y_pred: Any, sample_weight: Any) -> Dataset:
        from losscli.io.columns import InputOptions
        from losscli.io.frames import FrameSource

        columns = _loss_columns(self.task, "Accumulator", y_true, y_pred, sample_weight, {})
        opts = InputOptions(
            task=self.task,
            from_logits=self._from_logits,
            nan=self._nan,
            weight_col="sample_weight" if sample_weight is not None else None,
        )
        source = FrameSource(columns, opts, source="<Accumulator>")
        from losscli.io.columns import build_dataset

        return build_dataset(source.table, opts, source.path, chunk=True)

    @_quiet_numpy
    def update(self, y_true: ArrayLike, y_pred: ArrayLike, sample_weight: Any = None) -> None:
        """Add a piece of the data: targets, predictions and optional sample weights."""
        from losscli.analysis.evaluate import per_sample_losses
        from losscli.core.reduction import MedianAccumulator, new_accumulator
        from losscli.core.registry import Reduction, Task, panel_omissions, select_losses

        dataset = self._dataset(y_true, y_pred, sample_weight)
        width = _class_count(dataset)
        if self._classes is not None and width != self._classes:
            raise UsageError(
                f"this piece has {width} classes (columns of y_pred); the accumulator's "
                f"earlier pieces had {self._classes}: every piece needs the same classes"
            )
        selections = self._selections
        notes = list(dataset.notes)
        if selections is None:
            # The default panel for what these data provide, as lc.compute chooses it.
            selections = select_losses(list(self._texts), Task(self.task), dataset.features)
            if not self._texts:
                notes += panel_omissions(Task(self.task), dataset.features)
        # Every loss of the piece first: a piece that fails changes nothing.
        items = per_sample_losses(dataset, selections) if dataset.n_rows else []
        if self._selections is None:
            self._selections = selections
            self._states = [
                MedianAccumulator(cap=2**62)
                if s.spec.reduction is Reduction.MEDIAN
                else new_accumulator(s.reducer)
                for s in selections
            ]
        self._classes = width
        self.n_rows += dataset.n_rows
        self.n_dropped += dataset.n_dropped
        for line in notes:
            if line not in self._notes:
                self._notes.append(line)
        for state, item in zip(self._states, items):
            state.add(item.values, dataset.weights)

    @_quiet_numpy
    def merge(self, other: Accumulator) -> Accumulator:
        """A new accumulator holding both (neither is changed); order does not matter."""
        if (other._texts, other.task, other._from_logits) != (
            self._texts,
            self.task,
            self._from_logits,
        ):
            raise UsageError("only accumulators of the same losses, task and options merge")
        if None not in (self._classes, other._classes) and self._classes != other._classes:
            raise UsageError(
                f"only accumulators of the same classes merge ({self._classes} and "
                f"{other._classes} columns of y_pred)"
            )
        if None not in (self._selections, other._selections) and [
            s.label for s in self._selections or ()
        ] != [s.label for s in other._selections or ()]:
            raise UsageError(
                "only accumulators of the same losses merge: their default panels differ "
                "(the data of one allow losses the other's do not); name the losses"
            )
        out = Accumulator(
            list(self._texts) or None, task=self.task, from_logits=self._from_logits, nan=self._nan
        )
        out._classes = self._classes if self._classes is not None else other._classes
        out.n_rows = self.n_rows + other.n_rows
        out.n_dropped = self.n_dropped + other.n_dropped
        out._notes = list(dict.fromkeys([*self._notes, *other._notes]))
        if self._selections is None:
            out._selections, out._states = other._selections, [_copy(s) for s in other._states]
        elif other._selections is None:
            out._selections, out._states = self._selections, [_copy(s) for s in self._states]
        else:
            out._selections = self._selections
            out._states = [a.merge(b) for a, b in zip(self._states, other._states)]
        return out

    @_quiet_numpy
    def result(self) -> ComputeResult:
        """The losses over every row added so far (a :class:`ComputeResult`)."""
        from losscli.analysis.results import LossResult
        from losscli.core.registry import EPS
        from losscli.results import ComputeResult

        if self.n_rows == 0 and self.n_dropped:
            raise InputError(
                f"every row added so far was dropped ({plural(self.n_dropped, 'row')} with "
                f"missing or non-numeric values, nan='drop'): there is no row to compute on"
            )
        if self._selections is None or self.n_rows == 0:
            raise UsageError("the accumulator has no rows yet: call update() first")
        results = [
            LossResult(
                loss=s.spec.name,
                label=s.label,
                params=s.params,
                model="y_pred",
                value=state.result(),
                percent=s.spec.percent,
                signed=s.spec.signed,
                n_rows=self.n_rows,
            )
            for s, state in zip(self._selections, self._states)
        ]
        eps = [float(s.params["eps"]) for s in self._selections if "eps" in s.params]
        return ComputeResult(
            source="<Accumulator>",
            task=self.task,
            task_reason="Accumulator(task=...)",
            n_rows=self.n_rows,
            n_dropped=self.n_dropped,
            models=list(self._models),
            results=results,
            eps=min(eps) if eps else EPS,
            from_logits=self._from_logits,
            notes=list(self._notes),
        )


def _class_count(dataset: Dataset) -> int | None:
    """A multiclass piece's number of classes (None for other tasks)."""
    values = dataset.y_true
    if getattr(values, "ndim", 1) == 2:
        return int(values.shape[1])
    return None


def _copy(state: Any) -> Any:
    import copy

    return copy.deepcopy(state)


# --------------------------------------------------------------------------- report and charts


def _report_inputs(
    data: Any,
    inputs: _InputArguments,
    custom: Sequence[str] | None,
    texts: tuple[str, ...],
    storage_options: Mapping[str, Any] | None = None,
) -> tuple[Dataset, list[LossSelection], _Messages]:
    """Every row of ``data`` in memory and the chosen losses (report and charts)."""
    opts = inputs.options()
    _prepare_losses(texts, custom or ())
    messages = _Messages()
    with _open(data, opts, None, storage_options) as source:
        dataset = _whole(source)
    return dataset, _choose(texts, dataset, messages), messages


@_quiet_numpy
def data_charts(
    data: Any,
    *,
    y_true: str = "y_true",
    y_pred: Columns = None,
    losses: Losses = None,
    weights: str | None = None,
    task: str = "auto",
    from_logits: bool = False,
    nan: str = "error",
    pred_prefix: str | Sequence[str] = "y_pred_",
    true_prefix: str = "y_true_",
    pos_label: str | float | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    storage_options: Mapping[str, Any] | None = None,
    interval_cols: Sequence[str] | str | None = None,
    interval_level: float = 0.9,
    custom: Sequence[str] | None = None,
    rule: str = "mad",
    threshold: float | None = None,
    groups: Any = None,
) -> Any:
    """The aggregates behind the data charts (``--plot``, ``loss report``): no raw rows.

    Residual histograms with the flagged rows (regression), reliability bins
    and P(true class) histograms (classification), per-sample loss histograms
    (structured families); ``groups`` (a compute result with ``group_by``)
    adds each group's values with their intervals. Returns a
    :class:`losscli.analysis.report.ChartData`; its ``notes`` say what cannot
    be drawn.
    """
    inputs = _InputArguments.of(locals())
    from losscli.analysis.report import chart_data

    dataset, selections, messages = _report_inputs(
        data,
        inputs,
        custom,
        _loss_texts(losses),
        storage_options,
    )
    import dataclasses

    rule = _choice(rule, "rule", ("mad", "iqr"))
    found, notes = chart_data(dataset, selections, rule=rule, threshold=threshold, groups=groups)
    # The warnings about the losses are those of the command the charts go with.
    return dataclasses.replace(found, notes=tuple(notes))


@_quiet_numpy
def report_data(
    data: Any,
    *,
    y_true: str = "y_true",
    y_pred: Columns = None,
    losses: Losses = None,
    weights: str | None = None,
    group_by: str | None = None,
    task: str = "auto",
    from_logits: bool = False,
    ci: float | None = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    nan: str = "error",
    pred_prefix: str | Sequence[str] = "y_pred_",
    true_prefix: str = "y_true_",
    pos_label: str | float | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    storage_options: Mapping[str, Any] | None = None,
    interval_cols: Sequence[str] | str | None = None,
    interval_level: float = 0.9,
    custom: Sequence[str] | None = None,
    rule: str = "mad",
    threshold: float | None = None,
    on: str | Sequence[str] | None = None,
    join: str = "exact",
    engine: str = "local",
    scheduler: Any = None,
) -> Any:
    """Every analysis of ``data`` in one result: what ``loss report`` shows.

    compute (with ``ci`` intervals, per group with ``group_by``), compare,
    the loss curves, sensitivity (``rule``, ``threshold``) and recommend
    (``losses`` rated as planned), plus the data charts' aggregates. Returns
    a :class:`losscli.analysis.report.ReportData`; render it with
    :func:`losscli.report.html.render_html`.
    """
    inputs = _InputArguments.of(locals())
    from losscli.analysis.report import build_report
    from losscli.analysis.report_plan import report_plan
    from losscli.analysis.rules import PlannedLoss
    from losscli.analysis.sensitivity_plan import NeedsMemory
    from losscli.core.registry import Task, custom_losses, parse_loss_list
    from losscli.engines.local import run_plan
    from losscli.io.stream import ValueSpool

    texts = _loss_texts(losses)
    if ci is not None:
        ci, n_boot, seed = _check_ci(ci, n_boot, seed)
    _in_memory_on_dask(_engine(engine, scheduler, data), "loss report")
    opts = inputs.options()
    _prepare_losses(texts, custom or ())
    messages = _Messages()
    if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
        raise UsageError(f"threshold must be a positive number (got {threshold:g})")
    chosen_rule = _choice(rule, "rule", ("mad", "iqr"))

    def check_threshold(head: Dataset) -> None:
        if head.task is not Task.REGRESSION and threshold is not None and threshold >= 1:
            raise UsageError(
                f"threshold for {head.task.value} data is a probability of the true class "
                f"in (0, 1), e.g. 0.01 (got {threshold:g})"
            )

    planned = tuple(
        PlannedLoss(sel.name, sel.spec.task.value, dict(sel.params))
        for text in texts
        for sel in parse_loss_list(text)
    )
    result = None
    with _open(data, opts, None, storage_options, on=on, join=join) as source:
        # --custom losses may return one number for all rows: they need every row at once.
        if not custom_losses():
            spool = ValueSpool()
            try:
                plan = report_plan(
                    lambda head: _choose(texts, head, messages),
                    spool=spool,
                    reread=source.batches,
                    ci_level=ci,
                    n_boot=n_boot,
                    seed=seed,
                    rule=chosen_rule,
                    threshold=threshold,
                    planned=planned,
                    check_head=check_threshold,
                )
                result = run_plan(plan, source)
            except NeedsMemory:
                result = None  # a weighted median whose neighbours were not kept
            finally:
                spool.close()
        if result is None:
            dataset = _whole(source)
            check_threshold(dataset)
            result = build_report(
                dataset,
                _choose(texts, dataset, messages),
                ci_level=ci,
                n_boot=n_boot,
                seed=seed,
                rule=chosen_rule,
                threshold=threshold,
                planned=planned,
            )
    import dataclasses

    messages.issue(result.compute.warnings)
    return dataclasses.replace(result, notes=[*messages.notes, *result.notes])
