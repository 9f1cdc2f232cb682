"""The Dask engine: the same plans, one state per partition on the workers, a tree merge.

A plan (:mod:`losscli.analysis.plan`) is run pass by pass as on the local
engine, but each pass is a graph of tasks on a Dask cluster:

* one task per partition of the input (:meth:`Source.partitions`): the
  worker opens the partition itself (a file or URL, from its description:
  path, input options, storage options), runs the step's ``new_state`` /
  ``update`` over the partition's batches and keeps the state; no data pass
  through the client;
* the states are merged by a tree reduction, ``split_every`` states per
  merge task, in partition order (so anything order-dependent, such as the
  first rows named in a warning, comes out as on one machine);
* ``finish`` runs on the client, which sends the step of the next pass
  (carrying the ranges or figures of earlier passes) to the workers again.

The input is split into partitions on a worker too (its files listed, the
task decided from its first rows as on one machine): the client reads no
row of the input. The plan's ``head`` (the first batch, from which it
chooses the losses) is read on a worker and sent back. The task the head decides is then fixed for
every partition (as the local reader fixes it after its first chunk); when
the head looks binary and other partitions follow, their labels are checked
first, so that a continuous target anywhere makes the whole input a
regression, exactly as on one machine.

Errors: a data error in any partition is the error of the first partition
(in input order) that failed, as the local engine would meet it first.
Lost workers: Dask recomputes the tasks of a worker that died (each task
is a pure function of its partition description), so the result is exact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from losscli.analysis.plan import Plan, rows_before, run_passes
from losscli.core.dataset import Dataset
from losscli.core.registry import Task
from losscli.errors import InputError, LossCliError, UsageError, require_modules
from losscli.io.source import WholeInputChecks

DASK_EXTRA_HINT = "pip install 'losscli[dask]'"
# Seconds to wait for --scheduler ADDRESS to answer before giving up.
CONNECT_TIMEOUT = 10.0
# States merged by one task of the tree reduction.
SPLIT_EVERY = 8


def require_dask() -> None:
    """One clear error naming the extra when dask or distributed is missing."""
    require_modules(("dask", "distributed"), "--engine dask", DASK_EXTRA_HINT)


@contextlib.contextmanager
def dask_client(scheduler: Any = None, *, timeout: float = CONNECT_TIMEOUT) -> Iterator[Any]:
    """A ``distributed.Client``: to ``scheduler`` (an address, or a Client used as is).

    Without ``scheduler`` a ``LocalCluster`` is started with one single-threaded
    worker process per core, no dashboard and quiet logs, and closed on the
    way out (also on Ctrl-C or an error).
    """
    require_dask()
    import importlib

    # Any: distributed's own functions are untyped (a user's mypy --strict reaches here).
    distributed: Any = importlib.import_module("distributed")

    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler  # a Client the caller owns
        return
    cluster = client = None
    try:
        with _quiet_logs():
            if scheduler is None:
                # The workers ignore SIGINT: a Ctrl-C in the terminal (sent to the whole
                # process group) reaches only this process. One while they start (a
                # second or two) is not seen.
                dask: Any = importlib.import_module("dask")
                # No statistical profiler (it feeds the dashboard, which this cluster has
                # not): a thread sampling every 10 ms in this process and in each worker.
                with (
                    _sigint_ignored(),
                    dask.config.set({"distributed.worker.profile.enabled": False}),
                ):
                    cluster = distributed.LocalCluster(
                        n_workers=max(1, os.cpu_count() or 1),
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        # The scheduler's HTTP server (health, metrics) on a free port: its
                        # default 8787 may be taken (another cluster), which Dask warns about.
                        scheduler_kwargs={"dashboard_address": ":0"},
                        silence_logs=logging.CRITICAL,
                    )
                    client = distributed.Client(cluster, set_as_default=False)
            else:
                try:
                    client = distributed.Client(scheduler, timeout=timeout, set_as_default=False)
                except (OSError, TimeoutError) as exc:
                    raise InputError(
                        f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s "
                        f"({_first_line(exc)}); check the address (tcp://HOST:8786), start "
                        f"one with `dask scheduler`, or leave out --scheduler to use this "
                        f"machine's cores"
                    ) from None
        yield client
    finally:
        with _quiet_logs(), _sigint_ignored():
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored inside (in the main thread; elsewhere nothing changes).

    Worker processes started meanwhile inherit SIGINT ignored (Python keeps an
    inherited SIG_IGN), so a Ctrl-C in a terminal, sent to the whole process
    group, reaches only this process, which then closes the cluster; while the
    cluster closes, a second Ctrl-C cannot cut that short.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Dask's informational logging (cluster start, worker restarts) off stderr."""
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado", "asyncio")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --------------------------------------------------------------------------- partitions


def partitions_of(source: Any, client: Any = None) -> list[Any]:
    """The partitions (:class:`~losscli.io.source.Partition`) the workers read.

    A file is one partition, a multi-file input one per file; in-memory data
    (a DataFrame given to the Python API) is one partition that carries its
    table. Standard input cannot be read on another machine: a usage error.
    An input a worker can open again (a path, directory, glob or URL: the
    source's ``reopen``) is split on a worker, so the client reads none of
    its rows (not even the first ones that decide the task).
    """
    if getattr(source, "path", None) == "-":
        raise UsageError(
            "--engine dask reads the input on the workers, and standard input cannot be "
            "read there; give a FILE (a path, directory, glob or URL) or use --engine local"
        )
    reopen = getattr(source, "reopen", None)
    split = getattr(source, "partitions", None)
    if split is None:
        raise UsageError(
            f"{source.path}: this input cannot be split into partitions read on the "
            f"workers (for --engine dask); use --engine local"
        )
    if client is not None and reopen is not None:
        parts = list(_gather(client.submit(_split_there, reopen, pure=False)))
    else:
        parts = list(split())
    if not parts:
        raise InputError(f"{source.path}: the input has no files to read")
    return parts


# --------------------------------------------------------------------------- tasks (workers)


@dataclass
class _Failure:
    """A partition's data error, carried through the merges (the first partition's wins)."""

    index: int
    error: BaseException


@dataclass
class _Part:
    """A step's state over some partitions, with the input checks that need them all."""

    first: int  # the first partition it covers
    state: Any
    checks: WholeInputChecks


def _partition_state(step: Any, part: Any, index: int, offset: int | None) -> Any:
    try:
        state = step.new_state()
        if offset is not None:
            state = step.at_row(state, offset)
        checks = WholeInputChecks(part.opts)
        for batch in part.batches():
            checks.add(batch)
            state = step.update(state, batch)
        return _Part(index, state, checks)
    except LossCliError as exc:
        return _Failure(index, exc)


def _merge_states(step: Any, *parts: Any) -> Any:
    failures = [p for p in parts if isinstance(p, _Failure)]
    if failures:
        return min(failures, key=lambda f: f.index)
    out = parts[0]
    try:
        for part in parts[1:]:
            out.checks.merge(part.checks)
            out.state = step.merge(out.state, part.state)
    except LossCliError as exc:
        return _Failure(out.first, exc)
    return out


def _split_there(reopen: Any) -> Any:
    """The input's partitions, found on a worker (or the error met doing so)."""
    try:
        return reopen.partitions()
    except LossCliError as exc:
        return _Failure(0, exc)


def _head(part: Any) -> Any:
    batches = part.batches()
    try:
        head = next(iter(batches), None)
    except LossCliError as exc:
        return _Failure(0, exc)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    return head


def _count_rows(part: Any, index: int) -> Any:
    """(rows used, data rows of the file) of a partition, or its error."""
    try:
        used = file_rows = 0
        for batch in part.batches():
            used += batch.n_rows
            file_rows += batch.n_file_rows
        return used, file_rows
    except LossCliError as exc:
        return _Failure(index, exc)


def _labels_continuous(part: Any, index: int) -> Any:
    """Whether the partition's targets are not binary (read as regression), or its error."""
    import numpy as np

    labels: set[float] = set()
    binary = (frozenset({0.0, 1.0}), frozenset({-1.0, 1.0}))
    try:
        for batch in part.batches():
            y = np.asarray(batch.y_true, dtype=np.float64)
            labels.update(np.unique(y[np.isfinite(y)]).tolist())
            if not any(labels <= allowed for allowed in binary):
                return labels
        return labels
    except LossCliError:
        return None  # reported by the main pass, with its row numbers


# --------------------------------------------------------------------------- the engine


def run_plan(
    plan: Plan,
    source: Any,
    *,
    client: Any,
    split_every: int = SPLIT_EVERY,
    on_pass: Callable[[int], None] | None = None,
) -> Any:
    """Run every pass of ``plan`` over the partitions of ``source`` on ``client``'s cluster."""
    parts = partitions_of(source, client)
    head = _gather(client.submit(_head, parts[0], pure=False))
    if head is None:
        raise ValueError("the input yielded no batch")
    parts, head = _settle_task(client, parts, head)
    # Reports name the input (a directory, glob or URL), not the partition read first.
    head = dataclasses.replace(head, source=getattr(source, "source", head.source))
    counts: _Counts | None = None
    if len(parts) > 1 and any(p.row_offset is None for p in parts):
        # Row numbers (in messages, outlier lists, the paired bootstrap's draws) count
        # over the whole input, as on one machine: each partition needs its first.
        counts = _count(client, parts)
        parts = _numbered(parts, counts)
    _note_starts(source, parts)

    def one_pass(step: Any, number: int) -> Any:
        nonlocal counts
        offsets = None
        if rows_before(step) is not None:
            if counts is None:
                counts = _count(client, parts) if len(parts) > 1 else _Counts([0], [None])
            offsets = counts.used_before
        return _reduce(client, step, parts, offsets, split_every)

    return run_passes(plan, head, one_pass, on_pass)


def _gather(future: Any) -> Any:
    value = future.result()
    if isinstance(value, _Failure):
        raise value.error
    return value


def _reduce(
    client: Any, step: Any, parts: Sequence[Any], offsets: list[int] | None, split_every: int
) -> Any:
    level = [
        client.submit(
            _partition_state, step, part, i, None if offsets is None else offsets[i], pure=False
        )
        for i, part in enumerate(parts)
    ]
    width = max(2, split_every)
    while len(level) > 1:
        level = [
            client.submit(_merge_states, step, *level[i : i + width], pure=False)
            for i in range(0, len(level), width)
        ]
    merged: _Part = _gather(level[0])
    merged.checks.finish()  # some row left, some positive weight: over every partition
    return merged.state


@dataclass
class _Counts:
    """What a counting pass found: rows used before each partition, and each's file rows."""

    used_before: list[int]
    file_rows: list[int | None]


def _count(client: Any, parts: Sequence[Any]) -> _Counts:
    """One pass that counts each partition's rows (a partition that fails counts 0 here:
    the pass that follows meets its error again, in input order with the others')."""
    futures = [client.submit(_count_rows, p, i, pure=False) for i, p in enumerate(parts)]
    used_before = [0]
    file_rows: list[int | None] = []
    for future in futures:
        found = future.result()
        used, rows = (0, None) if isinstance(found, _Failure) else found
        used_before.append(used_before[-1] + used)
        file_rows.append(rows)
    return _Counts(used_before[:-1], file_rows)


def _numbered(parts: list[Any], counts: _Counts) -> list[Any]:
    """Partitions whose first row number was unknown get it from the counts before them."""
    out = []
    before: int | None = 0
    for part, rows in zip(parts, counts.file_rows):
        if part.row_offset is None and before is not None:
            part = dataclasses.replace(part, row_offset=before)
        start = part.row_offset
        before = None if start is None or rows is None else start + rows
        out.append(part)
    return out


def _note_starts(source: Any, parts: Sequence[Any]) -> None:
    """Tell a multi-file source where each file's rows start, so that an error about
    row N names the right file ("row N is row k of FILE"), as after a local pass."""
    note = getattr(source, "note_start", None)
    if note is None or len(parts) < 2:
        return
    for index, part in enumerate(parts):
        if part.row_offset is not None:
            note(index, part.row_offset)


def _settle_task(client: Any, parts: list[Any], head: Dataset) -> tuple[list[Any], Dataset]:
    """Fix the task the head decided for every partition (binary: after checking the labels)."""
    opts = parts[0].opts
    if opts.task == "auto" and head.task is Task.BINARY and len(parts) > 1:
        regression = dataclasses.replace(opts, task="regression")
        futures = [
            client.submit(_labels_continuous, _with_opts(p, regression), i, pure=False)
            for i, p in enumerate(parts)
        ]
        labels: set[float] = set()
        for future in futures:
            found = future.result()
            if found is not None:
                labels |= found
        if not (labels <= {0.0, 1.0} or labels <= {-1.0, 1.0}):
            reason = f"{opts.true_col} holds continuous values beyond its first rows"
            fixed = dataclasses.replace(opts, task="regression", task_reason=reason)
            parts = [_with_opts(p, fixed) for p in parts]
            head = _gather(client.submit(_head, parts[0], pure=False))
            return parts, head
    if opts.task == "auto":
        fixed = dataclasses.replace(opts, task=head.task.value, task_reason=head.task_reason)
        parts = [_with_opts(p, fixed) for p in parts]
    return parts, head


def _with_opts(part: Any, opts: Any) -> Any:
    return dataclasses.replace(part, opts=opts)
