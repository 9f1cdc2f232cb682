"""Mapping table columns to a validated :class:`~losscli.core.dataset.Dataset`.

:func:`build_dataset` maps columns to targets/models/weights/groups, detects
the task, and converts values to float64 with row-level messages for missing
or non-numeric cells.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from losscli.core.dataset import MAX_GROUPS, Dataset
from losscli.core.registry import Task
from losscli.errors import DataError, InputError, UsageError
from losscli.io.arrow import CAST_ERRORS
from losscli.io.numbers import column_float64


@dataclass(frozen=True)
class InputOptions:
    """The input options shared by every data command (SPEC section 2)."""

    true_col: str = "y_true"
    pred_cols: tuple[str, ...] = ()
    weight_col: str | None = None
    pred_prefix: str = "y_pred_"
    true_prefix: str = "y_true_"
    task: str = "auto"
    from_logits: bool = False
    nan: str = "error"
    delimiter: str | None = None
    encoding: str = "utf-8"
    group_by: str | None = None
    extra_columns: tuple[str, ...] = field(default_factory=tuple)
    # Set by the streaming reader once it has decided the task for the whole
    # file, so every chunk reports the detection's real reason.
    task_reason: str | None = None


# --group-by is for categorical columns; more distinct values than this is a mistake
# (a continuous column), not a report anyone can read.

# --------------------------------------------------------------------------- columns


def _missing_column(name: str, available: Sequence[str], option: str) -> InputError:
    close = difflib.get_close_matches(name, list(available), n=3, cutoff=0.5)
    if close:
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}? (pass {option} NAME)"
    else:
        hint = f"; name the right column with {option} NAME"
    found = ", ".join(available[:20]) + (" ..." if len(available) > 20 else "")
    return InputError(f"column {name!r} not found ({option}); the file has: {found}{hint}")


def _require(table: pa.Table, name: str, option: str) -> None:
    if name not in table.column_names:
        raise _missing_column(name, table.column_names, option)


def _numeric(table: pa.Table, name: str) -> np.ndarray:
    """A column as float64 (io/numbers.py grammar); NaN where missing or not a number."""
    column = table.column(name)
    try:
        values = column_float64(column)
    except CAST_ERRORS:
        values = None
    if values is None:
        raise DataError(
            f"column {name} holds values of type {column.type}, not numbers; "
            f"choose a numeric column"
        )
    return values


def _is_text(table: pa.Table, name: str) -> bool:
    kind = table.column(name).type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _first_bad_text(table: pa.Table, name: str, index: int) -> str:
    value = table.column(name)[index].as_py()
    if value is None or value == "":
        return "an empty or NA cell"
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return f"{value} (infinite, or a literal beyond float64 such as 1e400)"
    text = str(value)
    if isinstance(value, str):
        try:
            if abs(float(value.strip())) == float("inf") and "inf" not in value.lower():
                return f"{text!r} (too large for float64)"
        except ValueError:
            pass
    if isinstance(value, str) and "," in value:
        try:
            float(value.replace(",", "."))
            return f"{text!r} (a decimal comma? losscli expects a decimal point)"
        except ValueError:
            pass
    return repr(text)


def _class_columns(names: Sequence[str], prefix: str) -> list[str]:
    return [n for n in names if n.startswith(prefix) and len(n) > len(prefix)]


# --------------------------------------------------------------------------- missing values


@dataclass
class _Missing:
    order: int
    column: str
    group: bool
    count: int = 0
    rows: list[int] = field(default_factory=list)
    example: str = ""
    text: bool = False


@dataclass
class MissingTally:
    """Missing or non-numeric cells under ``--nan error``, counted over every chunk.

    Chunks record what they find here instead of raising; :meth:`raise_pending`
    then reports the first column (in the order one table reports them) with
    the count and first rows of the whole input.
    """

    columns: dict[str, _Missing] = field(default_factory=dict)
    rows_seen: int = 0

    def record(
        self,
        order: int,
        column: str,
        group: bool,
        rows: np.ndarray,
        example: str,
        text: bool,
    ) -> None:
        entry = self.columns.get(column)
        if entry is None:
            entry = self.columns[column] = _Missing(order, column, group, example=example)
            entry.text = text
        entry.count += int(rows.size)
        if len(entry.rows) < 6:
            entry.rows.extend(int(r) for r in rows[: 6 - len(entry.rows)])
        entry.text = entry.text and text

    def raise_pending(self) -> None:
        if not self.columns:
            return
        entry = min(self.columns.values(), key=lambda e: e.order)
        first = ", ".join(str(r) for r in entry.rows[:5])
        more = ", ..." if entry.count > 5 else ""
        if entry.group:
            raise DataError(
                f"column {entry.column} (--group-by): {entry.count} empty cell(s) "
                f"(rows {first}{more}); fill them or pass --nan drop to skip those rows"
            )
        if entry.text and entry.count == self.rows_seen:
            raise DataError(
                f"column {entry.column} holds text, not numbers (first: {entry.example}); "
                f"choose numeric columns with --true-col / --pred-col"
            )
        raise DataError(
            f"column {entry.column}: {entry.count} missing or non-numeric value(s) "
            f"(rows {first}{more}; first: {entry.example}); "
            f"fix them or pass --nan drop to skip those rows"
        )


# --------------------------------------------------------------------------- task detection


def _detect_task(
    opts: InputOptions, names: Sequence[str], y_true_values: np.ndarray | None
) -> tuple[Task, str]:
    if opts.task != "auto":
        return Task(opts.task), opts.task_reason or f"--task {opts.task}"
    class_cols = _class_columns(names, opts.pred_prefix)
    if not opts.pred_cols and len(class_cols) >= 2:
        return Task.MULTICLASS, f"{len(class_cols)} columns named {opts.pred_prefix}<class>"
    if y_true_values is not None:
        finite = y_true_values[np.isfinite(y_true_values)]
        uniq = set(np.unique(finite).tolist()) if finite.size else set()
        if uniq and (uniq <= {0.0, 1.0} or uniq <= {-1.0, 1.0}):
            shown = "{" + ", ".join(f"{v:g}" for v in sorted(uniq)) + "}"
            return Task.BINARY, f"{opts.true_col} holds only the values {shown}"
    return Task.REGRESSION, f"{opts.true_col} holds continuous values"


# --------------------------------------------------------------------------- building


def build_dataset(
    table: pa.Table,
    opts: InputOptions,
    source: str,
    *,
    row_offset: int = 0,
    chunk: bool = False,
    tally: MissingTally | None = None,
) -> Dataset:
    """Validate and convert the table into a Dataset for the detected task.

    The reader (io/source.py) calls this once per chunk of the input:
    ``row_offset`` is the number of data rows before the chunk (so messages
    name the input's row numbers), ``chunk`` skips the checks that only hold
    for the whole input (some row left, some positive weight), and ``tally``
    collects missing values under --nan error so that they are reported for
    the whole input (see :class:`MissingTally`).
    """
    # --- structured column families (issue 6): they take precedence; see io/families.py ---
    from losscli.io.families import build_family_dataset, detect_family

    family = detect_family(table.column_names, opts.task)
    if family is not None:
        return build_family_dataset(table, opts, source, family)
    # --- end structured column families ---
    names = table.column_names
    n = table.num_rows
    row_numbers = np.arange(1 + row_offset, n + 1 + row_offset, dtype=np.int64)

    if opts.task == "multiclass" or (
        opts.task == "auto"
        and not opts.pred_cols
        and len(_class_columns(names, opts.pred_prefix)) >= 2
    ):
        return _build_multiclass(table, opts, source, row_numbers, chunk, tally)

    _require(table, opts.true_col, "--true-col")
    pred_cols = list(opts.pred_cols) or ["y_pred"]
    for col in pred_cols:
        _require(table, col, "--pred-col")
    y_true = _numeric(table, opts.true_col)
    task, reason = _detect_task(opts, names, y_true)
    if task not in (Task.REGRESSION, Task.BINARY):
        raise UsageError(f"--task {task.value} is not supported for y_true/y_pred columns")

    arrays: dict[str, np.ndarray] = {opts.true_col: y_true}
    for col in pred_cols:
        arrays[col] = _numeric(table, col)
    columns = {"y_true": opts.true_col, **{c: c for c in pred_cols}}
    weights, groups = _weights_and_groups(table, opts, arrays)

    keep, n_dropped = _missing_policy(table, opts, arrays, row_numbers, chunk, tally)
    if keep is not None:
        y_true = y_true[keep]
        arrays = {k: v[keep] for k, v in arrays.items()}
        row_numbers = row_numbers[keep]
        groups = None if groups is None else groups[keep]
    weights = arrays.pop("\0weights", None)
    _check_weights(weights, opts, row_numbers, chunk)

    notes: list[str] = []
    file_y_true: np.ndarray | None = None
    if task is Task.BINARY:
        y_true = _binary_labels(arrays[opts.true_col], opts.true_col, row_numbers)
        if np.any(arrays[opts.true_col] == -1.0):
            file_y_true = arrays[opts.true_col]
            notes.append(f"{opts.true_col} labels -1/1 were mapped to 0/1 for the binary losses")
    else:
        y_true = arrays[opts.true_col]
    models = {col: arrays[col] for col in pred_cols}
    features = frozenset(
        (["probabilities"] if _probabilities(models, opts) else [])
        + (["scores"] if _scores(models, opts) else [])
    )
    return Dataset(
        source=source,
        task=task,
        task_reason=reason,
        y_true=y_true,
        models=models,
        row_numbers=row_numbers,
        weights=weights,
        groups=groups,
        group_column=opts.group_by,
        n_dropped=n_dropped,
        from_logits=opts.from_logits,
        columns=columns,
        notes=tuple(notes),
        features=features,
        file_y_true=file_y_true,
    )


def _probabilities(models: dict[str, np.ndarray], opts: InputOptions) -> bool:
    """Whether probability losses can read the predictions: logits, or values in [0, 1]."""
    if opts.from_logits:
        return True
    for values in models.values():
        finite = values[np.isfinite(values)]
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            return False
    return True


def _scores(models: dict[str, np.ndarray], opts: InputOptions) -> bool:
    """Whether margin losses (hinge) read raw scores: logits, or values outside [0, 1]."""
    return opts.from_logits or not _probabilities(models, opts)


def _weights_and_groups(
    table: pa.Table, opts: InputOptions, arrays: dict[str, np.ndarray]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Adds the weight column to ``arrays`` (so missing values are handled with the rest)."""
    weights = None
    if opts.weight_col:
        _require(table, opts.weight_col, "--weight-col")
        weights = _numeric(table, opts.weight_col)
        arrays["\0weights"] = weights
    groups = None
    if opts.group_by:
        _require(table, opts.group_by, "--group-by")
        try:
            raw = table.column(opts.group_by).cast(pa.string()).to_pylist()
        except CAST_ERRORS:
            raise DataError(
                f"column {opts.group_by} (--group-by) holds values of type "
                f"{table.column(opts.group_by).type} that cannot be read as group names"
            ) from None
        groups = np.array(["" if g is None else g.strip() for g in raw], dtype=object)
        # An empty group cell is a missing value like any other (SPEC 2: --nan).
        arrays["\0groups"] = np.where(groups == "", np.nan, 0.0)
        distinct = len(set(groups.tolist()))
        if distinct > MAX_GROUPS:
            raise DataError(
                f"column {opts.group_by} (--group-by) has {distinct:,} distinct values; "
                f"--group-by expects a categorical column such as a segment or a split "
                f"(at most {MAX_GROUPS:,} groups)"
            )
    return weights, groups


def _label(name: str, opts: InputOptions) -> str:
    """The file's column behind an internal array name, for messages."""
    if name == "\0weights" and opts.weight_col:
        return opts.weight_col
    if name == "\0labels":
        return opts.true_col
    if name == "\0groups" and opts.group_by:
        return opts.group_by
    return name


def _missing_policy(
    table: pa.Table,
    opts: InputOptions,
    arrays: dict[str, np.ndarray],
    row_numbers: np.ndarray,
    chunk: bool = False,
    tally: MissingTally | None = None,
) -> tuple[np.ndarray | None, int]:
    """Apply --nan error|drop to every used column. Returns (rows to keep or None, dropped)."""
    bad_any = np.zeros(row_numbers.shape[0], dtype=bool)
    if tally is not None:
        tally.rows_seen += int(row_numbers.shape[0])
    for order, (name, values) in enumerate(arrays.items()):
        bad = ~np.isfinite(values) if values.ndim == 1 else ~np.isfinite(values).all(axis=1)
        if not bad.any():
            continue
        if opts.nan == "error" and tally is not None:
            idx = np.flatnonzero(bad)
            column = _label(name, opts)
            in_table = column in table.column_names
            tally.record(
                order,
                column,
                name == "\0groups",
                row_numbers[idx],
                _first_bad_text(table, column, int(idx[0])) if in_table else "a missing value",
                bool(bad.all() and in_table and _is_text(table, column)),
            )
        elif opts.nan == "error":
            idx = np.flatnonzero(bad)
            column = _label(name, opts)
            first = ", ".join(str(int(row_numbers[i])) for i in idx[:5])
            more = ", ..." if idx.size > 5 else ""
            if name == "\0groups":
                raise DataError(
                    f"column {column} (--group-by): {idx.size} empty cell(s) (rows {first}{more}); "
                    f"fill them or pass --nan drop to skip those rows"
                )
            if bad.all() and column in table.column_names and _is_text(table, column):
                raise DataError(
                    f"column {column} holds text, not numbers "
                    f"(first: {_first_bad_text(table, column, 0)}); "
                    f"choose numeric columns with --true-col / --pred-col"
                )
            example = (
                _first_bad_text(table, column, int(idx[0]))
                if column in table.column_names
                else "a missing value"
            )
            raise DataError(
                f"column {column}: {idx.size} missing or non-numeric value(s) "
                f"(rows {first}{more}; first: {example}); "
                f"fix them or pass --nan drop to skip those rows"
            )
        bad_any |= bad
    if not bad_any.any():
        return None, 0
    keep = ~bad_any
    if not keep.any() and not chunk:
        raise DataError("every row has a missing or non-numeric value; nothing is left to compute")
    return keep, int(bad_any.sum())


def _check_weights(
    weights: np.ndarray | None, opts: InputOptions, rows: np.ndarray, chunk: bool = False
) -> None:
    if weights is None:
        return
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        i = int(negative[0])
        raise DataError(
            f"column {opts.weight_col}: sample weights must be >= 0, "
            f"found {weights[i]:g} at row {int(rows[i])}"
        )
    if not chunk and not np.any(weights > 0):
        raise DataError(
            f"column {opts.weight_col}: all sample weights are zero; "
            f"at least one row needs a positive weight"
        )
    with np.errstate(over="ignore"):
        total = float(np.sum(weights))
    if not np.isfinite(total):
        raise DataError(
            f"column {opts.weight_col}: the sample weights sum to more than float64 can hold; "
            f"rescale them (only their ratios matter)"
        )


def _binary_labels(values: np.ndarray, column: str, rows: np.ndarray) -> np.ndarray:
    uniq = set(np.unique(values).tolist())
    if uniq <= {0.0, 1.0}:
        return values.astype(np.float64)
    if uniq <= {-1.0, 1.0}:
        return (values > 0).astype(np.float64)
    bad = np.flatnonzero(~np.isin(values, (0.0, 1.0)))
    i = int(bad[0])
    raise DataError(
        f"column {column}: binary labels must be 0/1 (or -1/1), "
        f"found {values[i]:g} at row {int(rows[i])}; use --task regression for continuous targets"
    )


def _build_multiclass(
    table: pa.Table,
    opts: InputOptions,
    source: str,
    row_numbers: np.ndarray,
    chunk: bool = False,
    tally: MissingTally | None = None,
) -> Dataset:
    names = table.column_names
    pred_cols = _class_columns(names, opts.pred_prefix)
    if len(pred_cols) < 2:
        raise InputError(
            f"multiclass needs one column per class named {opts.pred_prefix}<class> "
            f"(at least 2); found {len(pred_cols)} in: {', '.join(names[:20])}"
        )
    classes = tuple(c[len(opts.pred_prefix) :] for c in pred_cols)
    true_cols = [opts.true_prefix + c for c in classes]
    soft = all(c in names for c in true_cols)
    reason = (
        f"{len(pred_cols)} columns named {opts.pred_prefix}<class>"
        if opts.task == "auto"
        else opts.task_reason or "--task multiclass"
    )
    arrays: dict[str, np.ndarray] = {c: _numeric(table, c) for c in pred_cols}
    labels_raw: list[Any] | None = None
    if soft:
        for c in true_cols:
            arrays[c] = _numeric(table, c)
    else:
        if any(c in names for c in true_cols):
            missing = [c for c in true_cols if c not in names]
            raise InputError(
                f"soft targets need one {opts.true_prefix}<class> column per class; "
                f"missing: {', '.join(missing)}"
            )
        _require(table, opts.true_col, "--true-col")
        labels_raw = [
            None if v is None else _class_text(v) for v in table.column(opts.true_col).to_pylist()
        ]
        arrays["\0labels"] = np.array([np.nan if v is None or v == "" else 0.0 for v in labels_raw])
    weights, groups = _weights_and_groups(table, opts, arrays)
    keep, n_dropped = _missing_policy(table, opts, arrays, row_numbers, chunk, tally)
    if keep is not None:
        arrays = {k: v[keep] for k, v in arrays.items()}
        row_numbers = row_numbers[keep]
        groups = None if groups is None else groups[keep]
        if labels_raw is not None:
            labels_raw = [v for v, k in zip(labels_raw, keep) if k]
    weights = arrays.pop("\0weights", None)
    _check_weights(weights, opts, row_numbers, chunk)
    q = np.column_stack([arrays[c] for c in pred_cols])
    labels = None
    if soft:
        t = np.column_stack([arrays[c] for c in true_cols])
        bad = np.flatnonzero(((t < 0) | (t > 1)).any(axis=1))
        if bad.size:
            raise DataError(
                f"soft targets ({opts.true_prefix}*) must lie in [0, 1]; "
                f"row {int(row_numbers[bad[0]])} has {t[bad[0]].tolist()}"
            )
        hard = np.isin(t, (0.0, 1.0)).all(axis=1) & (t.sum(axis=1) == 1)
        if hard.all():
            labels = np.argmax(t, axis=1)
        columns = {"y_true": ",".join(true_cols)}
    else:
        index = {c: i for i, c in enumerate(classes)}
        assert labels_raw is not None
        unknown = [(i, v) for i, v in enumerate(labels_raw) if v not in index]
        if unknown:
            i, v = unknown[0]
            raise DataError(
                f"column {opts.true_col}: class {v!r} at row {int(row_numbers[i])} has no "
                f"prediction column {opts.pred_prefix}{v}; classes from the columns: "
                f"{', '.join(classes)}"
            )
        labels = np.array([index[v] for v in labels_raw], dtype=np.int64)
        t = np.zeros_like(q)
        t[np.arange(q.shape[0]), labels] = 1.0
        columns = {"y_true": opts.true_col}
    model = opts.pred_prefix.rstrip("_") or "y_pred"
    columns[model] = ",".join(pred_cols)
    return Dataset(
        source=source,
        task=Task.MULTICLASS,
        task_reason=reason,
        y_true=t,
        models={model: q},
        row_numbers=row_numbers,
        weights=weights,
        groups=groups,
        group_column=opts.group_by,
        n_dropped=n_dropped,
        from_logits=opts.from_logits,
        labels=labels,
        classes=classes,
        soft_targets=soft,
        features=frozenset(
            (["hard_labels"] if labels is not None else [])
            + (["target_columns"] if soft else [])
            + (["probabilities"] if _probabilities({model: q}, opts) else [])
            + (["scores"] if _scores({model: q}, opts) else [])
        ),
        columns=columns,
    )


def _class_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def load_dataset(path: str, opts: InputOptions) -> Dataset:
    """The whole input at ``path`` as one Dataset, read by the one reader (io/source.py).

    For the commands that still work in memory; streamed commands use
    :func:`losscli.io.source.open_source` and its chunks.
    """
    from losscli.io.source import open_source

    with open_source(path, opts) as source:
        return source.dataset()
