"""Prediction intervals and quantile forecasts as column families (SPEC 12).

==========  ===========================================================  ==========
family      columns                                                      ``task``
==========  ===========================================================  ==========
interval    y_true + y_lower, y_upper (``--interval-cols LOWER,UPPER``)   interval
quantile    y_true + y_pred_q<level> for levels in (0, 1), e.g.           quantile
            y_pred_q0.1, y_pred_q0.5, y_pred_q0.9
==========  ===========================================================  ==========

Unlike the structured families of :mod:`losscli.io.families` they are read in
chunks like y_true/y_pred files (same --nan, weight and group handling), so
they stream. One interval (or one set of quantiles) is one model, named
``interval`` (``quantiles``); its ``y_pred`` is the (n, 2) array [lower,
upper] (the (n, L) quantile predictions, columns in increasing level). The
nominal level (``--interval-level``) and the quantile levels ride along each
row in ``extra`` ("level": (n,), "levels": (n, L)), so that any slice of the
rows carries them and the kernels stay pure. Several such files joined on a
key (``--on``, :mod:`losscli.io.join`) are one model per file, named after the
file, all in one Dataset (``InputOptions.family_models``).

Validation: lower <= upper on every row (an Error names the first row that
breaks it); quantile column suffixes must be numbers strictly between 0 and
1, each level once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from losscli.core.dataset import Dataset
from losscli.core.registry import Task
from losscli.errors import DataError, InputError
from losscli.words import plural

DEFAULT_INTERVAL_COLS = ("y_lower", "y_upper")
QUANTILE_PREFIX = "y_pred_q"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def quantile_columns(names: Sequence[str]) -> list[tuple[float, str]]:
    """(level, column) of every y_pred_q<level> column, by increasing level.

    Returns [] when no column's suffix is a number (y_pred_queen is a class of a
    multiclass file). Once one is, every y_pred_q* column must be a quantile
    column of a level in (0, 1), each level once: InputError otherwise.
    """
    found = [n for n in names if n.startswith(QUANTILE_PREFIX) and len(n) > len(QUANTILE_PREFIX)]
    numeric = [n for n in found if _NUMBER.fullmatch(n[len(QUANTILE_PREFIX) :])]
    if not numeric:
        return []
    levels: dict[float, str] = {}
    for name in found:
        suffix = name[len(QUANTILE_PREFIX) :]
        if not _NUMBER.fullmatch(suffix):
            raise InputError(
                f"column {name}: quantile columns are named {QUANTILE_PREFIX}<level> with a "
                f"number 0 < level < 1 (e.g. {QUANTILE_PREFIX}0.9); rename or drop {name}"
            )
        level = float(suffix)
        if not 0.0 < level < 1.0:
            raise InputError(
                f"column {name}: quantile level {suffix} is outside (0, 1); name quantile "
                f"columns {QUANTILE_PREFIX}<level> with 0 < level < 1 (e.g. {QUANTILE_PREFIX}0.9)"
            )
        if level in levels:
            raise InputError(
                f"columns {levels[level]} and {name} give the same quantile level {level:g}; "
                f"keep one of them"
            )
        levels[level] = name
    return sorted(levels.items())


def detect_interval_family(names: Sequence[str], opts: Any) -> tuple[Task, str] | None:
    """The interval or quantile family of a table (``opts``: io.columns.InputOptions)."""
    if opts.task not in ("auto", Task.INTERVAL.value, Task.QUANTILE.value):
        return None
    reason = opts.task_reason
    if opts.interval_cols is not None or opts.task == Task.INTERVAL.value:
        if opts.task == Task.QUANTILE.value:
            return Task.QUANTILE, reason or "--task quantile"
        lower, upper = opts.interval_cols or DEFAULT_INTERVAL_COLS
        how = "--interval-cols" if opts.interval_cols else "interval columns"
        return Task.INTERVAL, reason or f"{how} {lower}, {upper}"
    if opts.task == Task.QUANTILE.value or (not opts.pred_cols and quantile_columns(names)):
        return Task.QUANTILE, reason or f"quantile columns {QUANTILE_PREFIX}<level>"
    if not opts.pred_cols and all(c in names for c in DEFAULT_INTERVAL_COLS):
        return Task.INTERVAL, reason or "interval columns y_lower, y_upper"
    return None


def build_interval_dataset(
    table: pa.Table,
    opts: Any,
    source: str,
    family: tuple[Task, str],
    row_numbers: np.ndarray,
    chunk: bool,
    tally: Any,
) -> Dataset:
    """A chunk of an interval or quantile file as a Dataset (the y_true/y_pred checks)."""
    from losscli.io.columns import _keep_rows, _numeric, _require

    task, reason = family
    names = table.column_names
    _require(table, opts.true_col, "--true-col")
    option = "--interval-cols" if task is Task.INTERVAL else "--task quantile"
    levels_of: list[float] = []
    if opts.family_models:  # a join of files (--on): one model per file, named after it
        models = [(name, list(cols)) for name, cols in opts.family_models]
        if task is Task.QUANTILE:  # every file has these levels (checked by the join)
            levels_of = [float(c.rpartition(QUANTILE_PREFIX)[2]) for c in models[0][1]]
    elif task is Task.INTERVAL:
        models = [("interval", list(opts.interval_cols or DEFAULT_INTERVAL_COLS))]
    else:
        quantiles = quantile_columns(names)
        if not quantiles:
            raise InputError(
                f"--task quantile needs columns {QUANTILE_PREFIX}<level> (e.g. "
                f"{QUANTILE_PREFIX}0.1, {QUANTILE_PREFIX}0.9); the file has: {', '.join(names[:20])}"
            )
        models = [("quantiles", [name for _, name in quantiles])]
        levels_of = [level for level, _ in quantiles]
    pred_cols = [col for _, cols in models for col in cols]
    for col in pred_cols:
        _require(table, col, option)
    arrays: dict[str, np.ndarray] = {opts.true_col: _numeric(table, opts.true_col)}
    for col in pred_cols:
        arrays[col] = _numeric(table, col)
    kept = _keep_rows(table, opts, arrays, row_numbers, chunk, tally)
    arrays, row_numbers = kept.arrays, kept.row_numbers
    y_true = arrays[opts.true_col]
    predictions = {
        model: np.column_stack([arrays[c] for c in cols]) if cols else np.zeros((0, 0))
        for model, cols in models
    }
    n = y_true.shape[0]
    if task is Task.INTERVAL:
        for model, (lower, upper) in models:
            y_pred = predictions[model]
            crossed = np.flatnonzero(y_pred[:, 0] > y_pred[:, 1])
            if crossed.size:
                i = int(crossed[0])
                raise DataError(
                    f"column {lower}: {y_pred[i, 0]:g} at row {int(row_numbers[i])} is above "
                    f"{upper} = {y_pred[i, 1]:g} ({plural(crossed.size, 'row')} in this part of the "
                    f"input); an interval needs lower <= upper - check the order of "
                    f"--interval-cols"
                )
        level = float(opts.interval_level)
        extra = {"level": np.full(n, level)}
        notes: tuple[str, ...] = (
            f"intervals of nominal level {level:g} (--interval-level): coverage is best near "
            f"{level:g}, interval_score uses alpha = {1 - level:g}",
        )
        features: frozenset[str] = frozenset()
    else:
        levels = np.array(levels_of, dtype=np.float64)
        extra = {"levels": np.broadcast_to(levels, (n, levels.size)).copy()}
        notes = ()
        features = frozenset(f"level={level}" for level in levels_of)
    return Dataset(
        source=source,
        task=task,
        task_reason=reason,
        y_true=y_true,
        models=predictions,
        row_numbers=row_numbers,
        weights=kept.weights,
        groups=kept.groups,
        ids=kept.ids,
        group_column=opts.group_by,
        n_dropped=kept.n_dropped,
        columns={"y_true": opts.true_col, **{m: ",".join(cols) for m, cols in models}},
        extra=extra,
        notes=notes,
        features=features,
    )
