"""Mapping table columns to a validated :class:`~losscli.core.dataset.Dataset`.

:func:`build_dataset` maps columns to targets/models/weights/groups, detects
the task, and converts values to float64 with row-level messages for missing
or non-numeric cells.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa

from losscli.core.dataset import MAX_GROUPS, Dataset
from losscli.core.registry import Task
from losscli.errors import DataError, InputError, UsageError
from losscli.io.arrow import (
    CAST_ERRORS,
    bool_array,
    bool_numpy,
    indices_numpy,
    null_strings,
    repeated_string,
)
from losscli.io.numbers import column_float64
from losscli.words import plural


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
    # SPEC 12 interval family: the LOWER,UPPER columns (None: y_lower/y_upper when
    # both are present) and the nominal level of the intervals.
    interval_cols: tuple[str, str] | None = None
    interval_level: float = 0.9
    # compare --time-col: rows are a time series in this column's order (HAC variance)
    time_col: str | None = None
    # Every --pred-prefix given (one multiclass model each); () means (pred_prefix,).
    pred_prefixes: tuple[str, ...] = ()
    # A model's name when it is not its column's (or its prefix's, without the
    # trailing _): (column or prefix, model name) pairs, e.g. from a join of files.
    model_names: tuple[tuple[str, str], ...] = ()
    # --pos-label: the y_true value of the positive class (binary targets given as text,
    # or numbers other than 0/1); y_true is then 1 where it equals this, else 0.
    pos_label: str | None = None
    # Set when the positive class was chosen (two text labels, no --pos-label): says which.
    pos_label_note: str | None = None
    # --id-col: input columns copied into the --per-sample output (as text), so rows join back.
    id_cols: tuple[str, ...] = ()
    # Set when --per-sample is written: a join of files then copies its key columns too.
    per_sample_ids: bool = False
    # A join of interval or quantile files (--on): (model, its columns in the joined
    # table) per file, (lower, upper) or the quantile columns by increasing level.
    family_models: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Set by the streaming reader once it has decided the task for the whole
    # file, so every chunk reports the detection's real reason.
    task_reason: str | None = None

    def prefixes(self) -> tuple[str, ...]:
        """The multiclass prefixes, one model each."""
        return self.pred_prefixes or (self.pred_prefix,)

    def model_name(self, column_or_prefix: str, *, prefix: bool = False) -> str:
        """The name of the model whose predictions are that column (or prefix)."""
        for key, name in self.model_names:
            if key == column_or_prefix:
                return name
        if prefix:
            return column_or_prefix.rstrip("_") or "y_pred"
        return column_or_prefix


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


def _class_columns(names: Sequence[str], prefix: str, others: Sequence[str] = ()) -> list[str]:
    """Columns named <prefix><class>; a column of a longer prefix among ``others`` is theirs."""
    longer = [o for o in others if len(o) > len(prefix) and o.startswith(prefix)]
    return [
        n
        for n in names
        if n.startswith(prefix)
        and len(n) > len(prefix)
        and not any(n.startswith(o) for o in longer)
    ]


def _looks_multiclass(names: Sequence[str], opts: InputOptions) -> bool:
    """Auto-detection: some prefix has >= 2 class columns (and no --pred-col was given)."""
    prefixes = opts.prefixes()
    return not opts.pred_cols and any(
        len(_class_columns(names, p, prefixes)) >= 2 for p in prefixes
    )


def needed_columns(names: Sequence[str], opts: InputOptions) -> list[str] | None:
    """The columns of a y_true/y_pred input that the options use, in file order.

    The reader converts only these (a CSV's other columns are split into
    fields, never parsed into values). None: read every column (structured,
    interval, quantile and multiclass inputs, which are told by their column
    names; a named column that is missing, so that its error lists every
    column; or nothing to leave out).
    """
    from losscli.io.families import detect_family
    from losscli.io.intervals import detect_interval_family

    def plain(columns: Sequence[str]) -> bool:
        return (
            detect_family(columns, opts.task) is None
            and detect_interval_family(columns, opts) is None
            and opts.task != "multiclass"
            and not (opts.task == "auto" and _looks_multiclass(columns, opts))
        )

    wanted = {
        opts.true_col,
        *(opts.pred_cols or ("y_pred",)),
        *opts.extra_columns,
        *opts.id_cols,
        *(c for c in (opts.weight_col, opts.group_by, opts.time_col) if c is not None),
    }
    try:
        if not wanted <= set(names) or not plain(names):
            return None
        columns = [n for n in names if n in wanted]
        if len(columns) == len(names) or not plain(columns):
            return None
    except InputError:
        return None  # the full read reports it
    return columns


def text_columns(names: Sequence[str], opts: InputOptions) -> list[str]:
    """Columns of a text file read as text, not numbers: their cells are names.

    --group-by and --id-col values ("007" and "7" are two stores; "TRUE" stays
    "TRUE"), and the class names in y_true of a multiclass input ("01" names
    the column y_pred_01). A column the options also read as numbers is not one.
    """
    from losscli.io.families import detect_family

    numeric = {*(opts.pred_cols or ()), *opts.extra_columns}
    numeric.update(c for c in (opts.weight_col, opts.time_col) if c is not None)
    wanted = [c for c in (opts.group_by, *opts.id_cols) if c is not None]
    try:
        multiclass = detect_family(names, opts.task) is None and (
            opts.task == "multiclass" or (opts.task == "auto" and _looks_multiclass(names, opts))
        )
    except InputError:
        multiclass = False  # the full read reports it
    if multiclass:
        soft = any(n.startswith(opts.true_prefix) for n in names if n != opts.true_col)
        if not soft:
            wanted.append(opts.true_col)
    else:
        numeric.add(opts.true_col)
    return [c for c in dict.fromkeys(wanted) if c in names and c not in numeric]


# --------------------------------------------------------------------------- missing values


def rows_text(rows: Sequence[int] | np.ndarray, count: int) -> str:
    """The first five of ``count`` row numbers for a message: "3, 9, 12, 40, 41, ..."."""
    shown = ", ".join(str(int(r)) for r in rows[:5])
    return shown + (", ..." if count > 5 else "")


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
        rows = rows_text(entry.rows, entry.count)
        if entry.group:
            raise DataError(
                f"column {entry.column} (--group-by): {plural(entry.count, 'empty cell')} "
                f"(rows {rows}); fill them or pass --nan drop to skip those rows"
            )
        if entry.text and entry.count == self.rows_seen:
            raise DataError(
                f"column {entry.column} holds text, not numbers (first: {entry.example}); "
                f"choose numeric columns with --true-col / --pred-col"
            )
        raise DataError(
            f"column {entry.column}: {plural(entry.count, 'missing or non-numeric value')} "
            f"(rows {rows}; first: {entry.example}); "
            f"fix them or pass --nan drop to skip those rows"
        )


# --------------------------------------------------------------------------- task detection


def _label_values(values: np.ndarray) -> set[float]:
    """The distinct values when every one is -1, 0 or 1 (binary labels), else those seen so far.

    Compares instead of sorting (np.unique): the first chunk of every regression
    input comes through here, and its first non-label value settles it.
    """
    if values.size == 0:
        return set()
    found = set()
    labels = np.zeros(values.shape, dtype=bool)
    for label in (0.0, 1.0, -1.0):
        hit = values == label
        if hit.any():
            found.add(label)
            labels |= hit
    if not labels.all():
        found.add(float(values[np.argmin(labels)]))  # a value that is no label
    return found


def _detect_task(
    opts: InputOptions, names: Sequence[str], y_true_values: np.ndarray | None
) -> tuple[Task, str]:
    if opts.task != "auto":
        return Task(opts.task), opts.task_reason or f"--task {opts.task}"
    if _looks_multiclass(names, opts):
        return Task.MULTICLASS, _multiclass_reason(names, opts)
    if y_true_values is not None:
        uniq = _label_values(y_true_values[np.isfinite(y_true_values)])
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
    row_offset: int | np.ndarray = 0,
    chunk: bool = False,
    tally: MissingTally | None = None,
) -> Dataset:
    """Validate and convert the table into a Dataset for the detected task.

    The reader (io/source.py) calls this once per chunk of the input:
    ``row_offset`` is the number of data rows before the chunk (so messages
    name the input's row numbers), ``chunk`` skips the checks that only hold
    for the whole input (some row left, some positive weight), and ``tally``
    collects missing values under --nan error so that they are reported for
    the whole input (see :class:`MissingTally`). ``row_offset`` may also be
    the rows' own numbers (a join of files numbers rows after the first file).
    """
    # --- structured column families (issue 6): they take precedence; see io/families.py ---
    from losscli.io.families import build_family_dataset, detect_family

    family = detect_family(table.column_names, opts.task)
    if family is not None:
        _refuse_for(opts, f"{family[0].value} files (their own column family)")
        return build_family_dataset(table, opts, source, family)
    # --- end structured column families ---
    # --- --time-col (SPEC 12 significance): the rows' time as extra["time"] ---
    if opts.time_col is not None:
        from losscli.io.timecol import with_time

        plain = replace(opts, time_col=None)
        dataset = build_dataset(
            table, plain, source, row_offset=row_offset, chunk=chunk, tally=tally
        )
        return with_time(dataset, table, opts, row_offset)
    # --- end --time-col ---
    names = table.column_names
    n = table.num_rows
    if isinstance(row_offset, np.ndarray):  # the rows' own numbers (a join of files)
        row_numbers = np.asarray(row_offset, dtype=np.int64)
    else:
        row_numbers = np.arange(1 + row_offset, n + 1 + row_offset, dtype=np.int64)
    # --- interval and quantile families (SPEC 12): chunked like y_true/y_pred ---
    from losscli.io.intervals import build_interval_dataset, detect_interval_family

    interval = detect_interval_family(names, opts)
    if interval is not None:
        _refuse_for(opts, f"{interval[0].value} predictions", ids=False)
        return build_interval_dataset(table, opts, source, interval, row_numbers, chunk, tally)
    # --- end interval and quantile families ---

    if opts.task == "multiclass" or (opts.task == "auto" and _looks_multiclass(names, opts)):
        if opts.pos_label is not None:
            raise UsageError(
                "--pos-label names the positive class of binary targets; these data are "
                "multiclass (one column per class), whose classes are named by the columns"
            )
        return _build_multiclass(table, opts, source, row_numbers, chunk, tally)

    _require(table, opts.true_col, "--true-col")
    pred_cols = list(opts.pred_cols) or ["y_pred"]
    for col in pred_cols:
        _require(table, col, "--pred-col")
    labels_found: tuple[str, ...] = ()
    if opts.pos_label is not None:
        y_true, labels_found = _positive_class(table, opts)
        task = Task.BINARY
        reason = opts.task_reason or f"--pos-label {opts.pos_label}"
        if not chunk:
            check_positive_class(opts, set(labels_found))
    else:
        y_true = _numeric(table, opts.true_col)
        task, reason = _detect_task(opts, names, y_true)
    if task not in (Task.REGRESSION, Task.BINARY):
        raise UsageError(f"--task {task.value} is not supported for y_true/y_pred columns")

    arrays: dict[str, np.ndarray] = {opts.true_col: y_true}
    for col in pred_cols:
        arrays[col] = _numeric(table, col)
    columns = {"y_true": opts.true_col, **{opts.model_name(c): c for c in pred_cols}}
    kept = _keep_rows(table, opts, arrays, row_numbers, chunk, tally)
    arrays, row_numbers = kept.arrays, kept.row_numbers

    notes: list[str] = []
    file_y_true: np.ndarray | None = None
    if task is Task.BINARY:
        y_true = _binary_labels(arrays[opts.true_col], opts.true_col, row_numbers)
        if opts.pos_label is not None:
            if opts.pos_label_note:
                notes.append(opts.pos_label_note)
        elif np.any(arrays[opts.true_col] == -1.0):
            file_y_true = arrays[opts.true_col]
            notes.append(f"{opts.true_col} labels -1/1 were mapped to 0/1 for the binary losses")
    else:
        y_true = arrays[opts.true_col]
    models = {opts.model_name(col): arrays[col] for col in pred_cols}
    features = frozenset(_prediction_features(models, opts))
    return Dataset(
        source=source,
        task=task,
        task_reason=reason,
        y_true=y_true,
        models=models,
        row_numbers=row_numbers,
        weights=kept.weights,
        groups=kept.groups,
        group_codes=kept.group_codes,
        ids=kept.ids,
        group_column=opts.group_by,
        n_dropped=kept.n_dropped,
        from_logits=opts.from_logits,
        columns=columns,
        notes=tuple(notes),
        features=features,
        file_y_true=file_y_true,
        binary_labels=labels_found,
    )


def _refuse_for(opts: InputOptions, what: str, *, ids: bool = True) -> None:
    """--pos-label (and, with ``ids``, --id-col) apply to y_true/y_pred columns only.

    Interval and quantile files are read row by row like y_true/y_pred files, so
    --id-col (and the key columns of a join) reach their --per-sample output too.
    """
    refused = [(opts.pos_label, "--pos-label")] + ([(opts.id_cols, "--id-col")] if ids else [])
    for given, option in refused:
        if given:
            raise UsageError(f"{option} applies to y_true and prediction columns, not to {what}")


def _id_columns(table: pa.Table, opts: InputOptions) -> dict[str, np.ndarray]:
    """The --id-col columns as text, one cell a row (empty where missing)."""
    ids: dict[str, np.ndarray] = {}
    for name in opts.id_cols:
        _require(table, name, "--id-col")
        column = table.column(name)
        try:
            text = column.cast(pa.string()) if column.type != pa.string() else column
        except CAST_ERRORS:
            raise DataError(
                f"column {name} (--id-col) holds values of type {column.type} that cannot "
                f"be written as text"
            ) from None
        ids[name] = np.array(["" if v is None else v for v in text.to_pylist()], dtype=object)
    return ids


def _probabilities(models: dict[str, np.ndarray], opts: InputOptions) -> bool:
    """Whether probability losses can read the predictions: logits, or values in [0, 1]."""
    if opts.from_logits:
        return True
    return all(_within_unit(values) for values in models.values())


def _within_unit(values: np.ndarray) -> bool:
    """Whether every finite value is in [0, 1] (NaN and infinities are not looked at)."""
    if values.size == 0:
        return True
    # Two passes that skip NaN decide most inputs; only infinities need the finite ones.
    low = float(np.fmin.reduce(values, axis=None))
    high = float(np.fmax.reduce(values, axis=None))
    if 0 <= low and high <= 1:
        return True
    if (math.isfinite(low) and low < 0) or (math.isfinite(high) and high > 1):
        return False
    finite = values[np.isfinite(values)]
    return not (finite.size and (finite.min() < 0 or finite.max() > 1))


def _prediction_features(models: dict[str, np.ndarray], opts: InputOptions) -> list[str]:
    """ "probabilities" when probability losses can read the predictions (logits, or
    values in [0, 1]); "scores" when margin losses (hinge) read raw scores (logits, or
    values outside [0, 1]). The predictions are looked at once."""
    probabilities = _probabilities(models, opts)
    return (["probabilities"] if probabilities else []) + (
        ["scores"] if opts.from_logits or not probabilities else []
    )


@dataclass
class _KeptRows:
    """The used columns after --nan, sample weights and groups split off and checked."""

    arrays: dict[str, np.ndarray]
    row_numbers: np.ndarray
    weights: np.ndarray | None
    groups: np.ndarray | None
    group_codes: tuple[np.ndarray, np.ndarray] | None
    ids: dict[str, np.ndarray]
    keep: np.ndarray | None  # the rows kept, None when all are
    n_dropped: int


def _keep_rows(
    table: pa.Table,
    opts: InputOptions,
    arrays: dict[str, np.ndarray],
    row_numbers: np.ndarray,
    chunk: bool,
    tally: MissingTally | None,
    *,
    ids: bool = True,
) -> _KeptRows:
    """--nan over ``arrays`` plus the weight and group columns, then the weights checked.

    The weight and group columns join ``arrays`` so that their missing cells are
    handled with the rest; ``ids`` reads the --id-col columns too (the rows they
    keep are the same).
    """
    weights, groups = _weights_and_groups(table, opts, arrays)
    keep, n_dropped = _missing_policy(table, opts, arrays, row_numbers, chunk, tally)
    id_arrays = _id_columns(table, opts) if ids else {}
    if keep is not None:
        arrays = {k: v[keep] for k, v in arrays.items()}
        row_numbers = row_numbers[keep]
        groups = None if groups is None else groups[keep]
        id_arrays = {k: v[keep] for k, v in id_arrays.items()}
    weights = arrays.pop("\0weights", None)
    arrays.pop("\0groups", None)
    group_codes = _group_codes(groups, arrays.pop("\0group_codes", None))
    _check_weights(weights, opts, row_numbers, chunk)
    return _KeptRows(arrays, row_numbers, weights, groups, group_codes, id_arrays, keep, n_dropped)


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
            raw = table.column(opts.group_by).cast(pa.string())
        except CAST_ERRORS:
            raise DataError(
                f"column {opts.group_by} (--group-by) holds values of type "
                f"{table.column(opts.group_by).type} that cannot be read as group names"
            ) from None
        import pyarrow.compute as pc

        # Vectorised: the distinct values are stripped in Python (few), the rows are
        # their codes; the groups are a fixed-width string array (no Python object per row).
        encoded = pc.dictionary_encode(raw.combine_chunks())
        stripped = [v.strip() for v in encoded.dictionary.to_pylist()]
        raw_codes = indices_numpy(encoded.indices, missing=len(stripped))
        stripped.append("")  # a missing cell (null)
        # Values equal once stripped (" a" and "a") are one group: one code each name.
        canonical: dict[str, int] = {}
        remap = np.array([canonical.setdefault(n, len(canonical)) for n in stripped])
        codes = remap[raw_codes]
        table_of_names = np.array(list(canonical), dtype=str)
        groups = table_of_names[codes]
        # An empty group cell is a missing value like any other (SPEC 2: --nan).
        arrays["\0groups"] = np.where(table_of_names == "", np.nan, 0.0)[codes]
        # The codes travel with the rows (sliced with them by --nan drop) into the Dataset.
        arrays["\0group_codes"] = codes.astype(np.int32)
        distinct = int(np.count_nonzero(np.bincount(codes, minlength=len(canonical))))
        if distinct > MAX_GROUPS:
            raise DataError(
                f"column {opts.group_by} (--group-by) has {distinct:,} distinct values; "
                f"--group-by expects a categorical column such as a segment or a split "
                f"(at most {MAX_GROUPS:,} groups)"
            )
    return weights, groups


def _group_codes(
    groups: np.ndarray | None, codes: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """The reader's codes of the groups, tied to the groups array they describe."""
    if groups is None or codes is None:
        return None
    return (groups, codes)


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
        finite = np.isfinite(values)
        if finite.all():  # the usual case: no second pass over the column
            continue
        bad = ~finite if values.ndim == 1 else ~finite.all(axis=1)
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
            rows = rows_text(row_numbers[idx[:5]], idx.size)
            if name == "\0groups":
                raise DataError(
                    f"column {column} (--group-by): {plural(idx.size, 'empty cell')} "
                    f"(rows {rows}); "
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
                f"column {column}: {plural(idx.size, 'missing or non-numeric value')} "
                f"(rows {rows}; first: {example}); "
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


# --------------------------------------------------------------------------- --pos-label


def _label_cells(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(numbers, trimmed text) of a y_true column: NaN / null where a cell is not one."""
    from losscli.io.numbers import is_numeric_type, is_text_type, text_to_float64

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if is_numeric_type(column.type) or pa.types.is_null(column.type):
        numbers = column_float64(column)
        assert numbers is not None
        return numbers, pa.nulls(len(column), pa.string())
    import pyarrow.compute as pc  # text cells only (a numeric column never imports it)

    if not is_text_type(column.type):
        column = column.cast(pa.string())
    text = pc.ascii_trim(column, characters=" \t")
    empty = repeated_string("", 1)[0]  # a scalar from an array: pa.scalar imports pandas
    text = pc.if_else(pc.equal(text, empty), null_strings(len(text)), text)
    numbers = text_to_float64(text)
    # Cells that are numbers compare as numbers ("2" and "2.0" are one label).
    text = pc.if_else(bool_array(np.isnan(numbers)), text, null_strings(len(text)))
    return numbers, text


def _label_names(numbers: np.ndarray, text: pa.Array) -> list[str]:
    """The distinct labels of a column (numbers shown as numbers), at most three."""
    import pyarrow.compute as pc

    found: list[str] = [_class_text(v) for v in np.unique(numbers[np.isfinite(numbers)])[:3]]
    if text.null_count < len(text):
        found += [str(v) for v in pc.unique(text.drop_null()).to_pylist()[:3]]
    return sorted(set(found))[:3]


def _positive_class(table: pa.Table, opts: InputOptions) -> tuple[np.ndarray, tuple[str, ...]]:
    """y_true as 1.0 (the --pos-label class), 0.0 (the other) or NaN (missing); its labels."""
    import pyarrow.compute as pc

    assert opts.pos_label is not None
    if opts.task not in ("auto", "binary"):
        raise UsageError(
            f"--pos-label names the positive class of binary targets; "
            f"it does not apply to --task {opts.task}"
        )
    numbers, text = _label_cells(table.column(opts.true_col))
    wanted = opts.pos_label.strip()
    try:
        target = float(wanted)
    except ValueError:
        target = None
    positive = np.zeros(len(numbers), dtype=bool)
    if target is not None:
        positive |= numbers == target
    if text.null_count < len(text):
        # Scalars taken from arrays: a Python value given to pyarrow.compute imports pandas.
        positive |= bool_numpy(pc.equal(text, repeated_string(wanted, 1)[0]))
    missing = np.isnan(numbers) & bool_numpy(text.is_null())
    labels = _label_names(numbers, text)
    if len(labels) > 2:
        raise DataError(
            f"column {opts.true_col} holds more than two labels ({', '.join(labels)}, ...); "
            f"--pos-label is for binary targets: for several classes give one "
            f"{opts.pred_prefix}<class> column per class"
        )
    values = np.where(missing, np.nan, positive.astype(np.float64))
    return values, tuple(labels)


def check_positive_class(opts: InputOptions, labels: set[str]) -> None:
    """The checks of --pos-label over the whole input: two labels at most, the positive among them."""
    if opts.pos_label is None:
        return
    shown = ", ".join(sorted(labels)[:3]) + (", ..." if len(labels) > 3 else "")
    if len(labels) > 2:
        raise DataError(
            f"column {opts.true_col} holds more than two labels ({shown}); --pos-label is for "
            f"binary targets: for several classes give one {opts.pred_prefix}<class> column "
            f"per class"
        )
    wanted = opts.pos_label.strip()
    try:
        target: float | None = float(wanted)
    except ValueError:
        target = None
    if wanted in labels or (target is not None and _class_text(target) in labels):
        return
    if labels:
        raise DataError(
            f"--pos-label {opts.pos_label} is not a value of column {opts.true_col} "
            f"(its labels: {shown}); name the positive class as it is written there"
        )


_NUMBER_LIKE = re.compile(r"^[+-]?\.?\d")


def choose_positive_class(
    opts: InputOptions,
    table: pa.Table,
    rest: Callable[[], Iterator[pa.ChunkedArray | pa.Array]] | None = None,
) -> InputOptions:
    """``opts`` with the positive class chosen when y_true holds exactly two text labels.

    Without --pos-label, binary targets written as text (``benign``/``malignant``)
    take the later label in sorted order as the positive class, as scikit-learn
    does; the note says which and how to change it. ``rest`` yields the y_true
    column of the whole input when ``table`` is only its first chunk (the scan
    stops at a third label). Anything else leaves ``opts`` as it is.
    """
    from losscli.io.families import detect_family

    names = table.column_names
    if (
        opts.pos_label is not None
        or opts.task not in ("auto", "binary")
        or opts.true_col not in names
        or detect_family(names, opts.task) is not None
        or (opts.task == "auto" and _looks_multiclass(names, opts))
    ):
        return opts
    numbers, text = _label_cells(table.column(opts.true_col))
    if np.isfinite(numbers).any() or text.null_count == len(text):
        return opts  # numbers (0/1 or continuous) or nothing: not text labels
    labels = set(_label_names(numbers, text))
    if rest is not None and len(labels) <= 2:
        try:
            for column in rest():
                numbers, text = _label_cells(column)
                if np.isfinite(numbers).any():
                    return opts
                labels.update(_label_names(numbers, text))
                if len(labels) > 2:
                    break
        except (InputError, DataError):
            return opts  # the main pass reports it with its row numbers
    if len(labels) != 2 or any(_NUMBER_LIKE.match(label) for label in labels):
        return opts  # "1,5" is a number written wrongly (its message says so), not a label
    negative, positive = sorted(labels)
    col = opts.true_col
    note = (
        f"{col} holds the labels {negative!r} and {positive!r}: y_pred is read as the "
        f"probability of {positive!r}, the later in sorted order (scikit-learn's convention); "
        f"pass --pos-label {negative} if it is the probability of {negative!r}"
    )
    reason = f"{col} holds two labels, {negative!r} and {positive!r}"
    return replace(
        opts,
        pos_label=positive,
        pos_label_note=note,
        task_reason=reason if opts.task == "auto" else opts.task_reason,
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
    model_columns = _model_class_columns(names, opts)
    classes = model_columns[0][2]
    pred_cols = [c for _, cols, _ in model_columns for c in cols]
    true_cols = [opts.true_prefix + c for c in classes]
    soft = all(c in names for c in true_cols)
    reason = (
        _multiclass_reason(names, opts)
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
    kept = _keep_rows(table, opts, arrays, row_numbers, chunk, tally)
    arrays, row_numbers = kept.arrays, kept.row_numbers
    if kept.keep is not None and labels_raw is not None:
        labels_raw = [v for v, k in zip(labels_raw, kept.keep) if k]
    qs = {model: np.column_stack([arrays[c] for c in cols]) for model, cols, _ in model_columns}
    q = next(iter(qs.values()))
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
        index = _class_index(classes, labels_raw)
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
    for model, cols, _ in model_columns:
        columns[model] = ",".join(cols)
    return Dataset(
        source=source,
        task=Task.MULTICLASS,
        task_reason=reason,
        y_true=t,
        models=qs,
        row_numbers=row_numbers,
        weights=kept.weights,
        groups=kept.groups,
        group_codes=kept.group_codes,
        ids=kept.ids,
        group_column=opts.group_by,
        n_dropped=kept.n_dropped,
        from_logits=opts.from_logits,
        labels=labels,
        classes=classes,
        soft_targets=soft,
        features=frozenset(
            (["hard_labels"] if labels is not None else [])
            + (["target_columns"] if soft else [])
            + _prediction_features(qs, opts)
        ),
        columns=columns,
    )


def _multiclass_reason(names: Sequence[str], opts: InputOptions) -> str:
    prefixes = opts.prefixes()
    found = [(p, len(_class_columns(names, p, prefixes))) for p in prefixes]
    return " and ".join(f"{n} columns named {p}<class>" for p, n in found if n)


def _model_class_columns(
    names: Sequence[str], opts: InputOptions
) -> list[tuple[str, list[str], tuple[str, ...]]]:
    """(model, its class columns in the first model's class order, classes) per prefix.

    The first prefix's columns give the classes and their order; every other
    prefix must have one column for each of those classes (in any order).
    """
    prefixes = opts.prefixes()
    found = []
    for prefix in prefixes:
        cols = _class_columns(names, prefix, prefixes)
        if len(cols) < 2:
            raise InputError(
                f"multiclass needs one column per class named {prefix}<class> "
                f"(at least 2); found {len(cols)} in: {', '.join(names[:20])}"
            )
        found.append((prefix, cols))
    first_prefix, first_cols = found[0]
    classes = tuple(c[len(first_prefix) :] for c in first_cols)
    out: list[tuple[str, list[str], tuple[str, ...]]] = []
    seen: dict[str, str] = {}
    for prefix, cols in found:
        mine = {c[len(prefix) :]: c for c in cols}
        if set(mine) != set(classes):
            detail = missing_and_extra(
                [prefix + c for c in classes if c not in mine],
                [mine[c] for c in mine if c not in classes],
            )
            raise InputError(
                f"--pred-prefix {prefix}: its classes differ from those of {first_prefix} "
                f"({', '.join(classes)}): {detail}; every model needs one column per class"
            )
        model = opts.model_name(prefix, prefix=True)
        if model in seen:
            raise UsageError(
                f"--pred-prefix {seen[model]} and {prefix} both name the model {model!r}; "
                f"give prefixes that differ by more than a trailing _"
            )
        seen[model] = prefix
        out.append((model, [mine[c] for c in classes], classes))
    return out


def missing_and_extra(missing: Sequence[str], extra: Sequence[str]) -> str:
    """ "missing a, b; extra c" (either part only when it has names; "" when neither)."""
    parts = (
        f"missing {', '.join(missing)}" if missing else "",
        f"extra {', '.join(extra)}" if extra else "",
    )
    return "; ".join(part for part in parts if part)


def _class_index(classes: Sequence[str], labels: Sequence[str | None] | None) -> dict[str, int]:
    """Each label's class position: by name, else by the same number ("1.0" is class 1,
    7 from a numeric column is class 07) when exactly one class has that number."""
    index = {c: i for i, c in enumerate(classes)}
    by_number: dict[float, list[int]] = {}
    for i, c in enumerate(classes):
        number = _as_number(c)
        if number is not None:
            by_number.setdefault(number, []).append(i)
    for label in set(labels or ()):
        if label is None or label in index:
            continue
        number = _as_number(label)
        matches = by_number.get(number, []) if number is not None else []
        if len(matches) == 1:
            index[label] = matches[0]
    return index


def _as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


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
