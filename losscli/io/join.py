"""Several models' files joined on a key, read as one input (``loss compute a.csv b.csv --on id``).

:func:`open_join` returns an ordinary :class:`~losscli.io.source.Source`
whose passes yield *joined* Arrow tables: the first file's targets, weights,
groups and key columns, and every file's prediction columns renamed after
the file (``a:y_pred``). Those tables go through the same
:func:`~losscli.io.columns.build_dataset` as any file, so every command and
the Python API read a join like one pre-joined file.

Models are named by the file's stem when it has one prediction column (or
one multiclass prefix), ``stem:column`` (``stem:prefix``) otherwise. Files
of interval or quantile forecasts (the first file decides; every file needs
the family's columns, quantile files the first file's levels) are one model
each, named by the stem (``InputOptions.family_models``). y_true
comes from the first file; a later file that has the column too must agree
with it key by key. Row numbers in messages are the first file's data rows.

How rows are matched (decided on the first pass, :attr:`JoinPlan.method`):

* ``merge``: one key column by which every file is sorted (checked by a
  scan of the key columns first). Every file is streamed side by side; the
  rows up to the smallest of the batches' last keys are matched at a time,
  so memory is that of streaming the files.
* ``hash`` (unsorted files, composite keys): every file but the largest is
  read into memory (its key and used columns only) and indexed by key; the
  largest file is streamed batch by batch and each batch looks its keys up
  in the others. Memory is about the key and value columns of all but the
  largest file (:attr:`JoinPlan.held_bytes` after a pass), never the largest.
* ``row`` (``--on row``): the files are streamed side by side and rows are
  matched by position (the files must have equally many data rows).

With ``--per-sample``, the key columns (and any ``--id-col``, from the first
file) are copied into the per-row output so that its rows join back.

``--join exact`` (default) requires every key in every file exactly once;
``--join inner`` keeps the keys every file has and warns how many rows each
file lost. A key repeated within a file is an error either way (its rows
could not be paired). Errors give the count per file and the first keys.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa

from losscli.core.registry import Task
from losscli.errors import DataError, InputError, LossWarning, UsageError
from losscli.io.arrow import bool_array, index_array
from losscli.io.columns import InputOptions, _class_columns, _missing_column
from losscli.io.source import Progress, Source, concat_tables, open_source
from losscli.words import plural

JOIN_KINDS = ("exact", "inner")
# A hash join keeping more than this in memory says so (the streaming memory bound).
HELD_WARNING_BYTES = 256 << 20
ROW = "row"

SEVERAL_FILES = (
    "several FILE arguments: to read one dataset split over several files, quote a glob "
    "('data/*.csv') or pass their directory; to compare models stored in separate files, "
    "join them on a key column with --on KEY (or --on row to match rows by position)"
)


def parse_on(values: str | Sequence[str] | None) -> tuple[str, ...]:
    """``--on`` values (repeatable, or comma lists) as key column names; ``("row",)`` by position."""
    if values is None:
        return ()
    texts = [values] if isinstance(values, str) else list(values)
    keys: list[str] = []
    for text in texts:
        for part in str(text).split(","):
            name = part.strip()
            if not name:
                raise UsageError(
                    f"--on {text!r} has an empty key name; give column names separated by "
                    f"commas, e.g. --on id or --on user,day"
                )
            if name not in keys:
                keys.append(name)
    if ROW in keys and len(keys) > 1:
        raise UsageError(
            "--on row matches rows by position; it cannot be combined with key columns"
        )
    return tuple(keys)


@dataclass
class _Member:
    """One file of the join: where it is, what it contributes and under which names."""

    path: str
    label: str  # the stem the models are named after
    source: Source
    names: list[str]
    size: int
    renames: dict[str, str] = field(default_factory=dict)  # file column -> joined column
    true_check: str | None = None  # joined name of a later file's own y_true

    def read_columns(self, keys: Sequence[str]) -> list[str]:
        return list(dict.fromkeys([*keys, *self.renames]))


@dataclass
class JoinPlan:
    """What each file contributes to the joined table, and how rows are matched."""

    members: list[_Member]
    keys: tuple[str, ...]  # () with --on row
    how: str
    opts: InputOptions  # the options of the joined table
    names: list[str]  # the joined table's columns
    held_bytes: int = 0  # memory held by the last hash join's in-memory files
    warned: bool = False
    method: str | None = None  # "row", "merge" or "hash", decided on the first pass
    # The hash join's in-memory files (table, index, key arrays, counts), kept for later passes.
    held: dict[int, tuple[pa.Table, Any, list[Any], _Tally]] | None = None
    memory_told: bool = False


def _labels(paths: Sequence[str]) -> list[str]:
    """Short distinct names for the files: the stem, with parent folders where stems repeat."""

    def stem(path: str, depth: int) -> str:
        parts = os.path.normpath(path).split(os.sep)
        base = parts[-1]
        for ext in (".gz", ".bz2", ".xz"):
            base = base.removesuffix(ext)
        base = os.path.splitext(base)[0] or base
        return "/".join([*parts[-depth - 1 : -1], base]) if depth else base

    labels = [stem(p, 0) for p in paths]
    depth = 0
    while len(set(labels)) < len(labels) and depth < 8:
        depth += 1
        labels = [
            stem(p, depth) if labels.count(label) > 1 else label for p, label in zip(paths, labels)
        ]
    if len(set(labels)) < len(labels):
        seen: dict[str, int] = {}
        for i, label in enumerate(labels):
            seen[label] = seen.get(label, 0) + 1
            if seen[label] > 1:
                labels[i] = f"{label}#{seen[label]}"
    return labels


def _header(source: Source) -> list[str]:
    reading = source._open_pass(None)
    try:
        return list(reading.names)
    finally:
        reading.close()


def _require(member: _Member, column: str, option: str) -> None:
    if column not in member.names:
        error = _missing_column(column, member.names, option)
        raise InputError(f"{member.path}: {error.message}")


def open_join(
    paths: Sequence[str],
    opts: InputOptions,
    on: str | Sequence[str],
    how: str = "exact",
    *,
    progress: Progress | None = None,
) -> Source:
    """Several models' files as one :class:`Source` of joined tables (see the module text)."""
    keys = parse_on(on)
    if not keys:
        raise UsageError(SEVERAL_FILES)
    if how not in JOIN_KINDS:
        raise UsageError(f"--join must be exact or inner (got {how!r})")
    if len(paths) < 2:
        raise UsageError(
            "--on joins several models' files on a key; give two FILE arguments or more "
            "(one file already pairs its columns row by row)"
        )
    if "-" in paths:
        raise UsageError(
            "stdin (-) cannot be one of the files joined with --on; write it to a file first"
        )
    by_row = keys == (ROW,)
    sources: list[Source] = []
    try:
        for path in paths:
            sources.append(open_source(path, opts))
        members = []
        for path, label, source in zip(paths, _labels(paths), sources):
            try:
                size = os.stat(path).st_size
            except OSError:
                size = 0
            members.append(_Member(path, label, source, _header(source), size))
        plan = _plan(members, () if by_row else keys, how, opts)
    except BaseException:
        for source in sources:
            source.close()
        raise

    def close() -> None:
        plan.held = None
        for source in sources:
            source.close()

    name = " + ".join(paths)
    driver = _driver(plan)
    return JoinSource(
        plan,
        name,
        plan.opts,
        lambda columns: _JoinPass(plan, columns, driver),
        progress=progress,
        total_bytes=plan.members[driver].size or None,
        closer=close,
        unsplittable="a join of several files (--on)",
    )


class JoinSource(Source):
    """A :class:`Source` whose passes are the join of several files (see :func:`open_join`)."""

    def __init__(self, plan: JoinPlan, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan


def _driver(plan: JoinPlan) -> int:
    """The file streamed by a hash join: the largest (the first among equals)."""
    if not plan.keys:
        return 0
    sizes = [m.size for m in plan.members]
    return sizes.index(max(sizes))


def _plan(members: list[_Member], keys: tuple[str, ...], how: str, opts: InputOptions) -> JoinPlan:
    from losscli.io.families import detect_family

    first = members[0]
    for member in members:
        if detect_family(member.names, opts.task) is not None:
            raise UsageError(
                f"{member.path} holds a structured column family (boxes, pairs, GAN or VAE "
                f"columns); --on joins files of y_true and prediction columns"
            )
        for key in keys:
            _require(member, key, "--on")
    prefixes = opts.prefixes()
    family = _forecast_family(first, opts)  # interval or quantile files: the first decides
    multiclass = family is None and (
        opts.task == "multiclass"
        or (
            opts.task == "auto"
            and not opts.pred_cols
            and any(len(_class_columns(first.names, p, prefixes)) >= 2 for p in prefixes)
        )
    )
    kept: list[str] = list(keys)
    model_names: list[tuple[str, str]] = []
    family_models: list[tuple[str, tuple[str, ...]]] = []
    joined_prefixes: list[str] = []
    joined_cols: list[str] = []
    true_cols = [opts.true_col]  # the first file's targets: y_true, or soft y_true_<class>
    if multiclass:
        classes = [
            c[len(prefixes[0]) :] for c in _class_columns(first.names, prefixes[0], prefixes)
        ]
        soft = [opts.true_prefix + c for c in classes]
        if classes and all(c in first.names for c in soft):
            true_cols = soft
    if true_cols == [opts.true_col] and opts.true_col not in first.names:
        error = _missing_column(opts.true_col, first.names, "--true-col")
        raise InputError(f"{first.path}: {error.message} (y_true comes from the first file)")
    id_cols = tuple(dict.fromkeys([*keys, *opts.id_cols])) if opts.per_sample_ids else ()
    for column, option in [
        *[(c, "--id-col") for c in opts.id_cols],
        (opts.weight_col, "--weight-col"),
        (opts.group_by, "--group-by"),
    ]:
        if column is not None:  # these come from the first file
            _require(first, column, option)
    extra = [
        c
        for c in (*true_cols, opts.weight_col, opts.group_by, *opts.extra_columns, *id_cols)
        if c is not None and c in first.names
    ]
    for column in extra:
        if column not in kept:
            kept.append(column)
    for column in kept:
        first.renames[column] = column
    for member in members:
        if family is not None:
            columns = _forecast_columns(member, family[0], opts, first, family_models)
            renamed = tuple(f"{member.label}:{col}" for col in columns)
            member.renames.update(zip(columns, renamed))
            family_models.append((member.label, renamed))
        elif multiclass:
            if member is not first:
                _same_kind(member, first, opts)
            found = []
            for prefix in prefixes:
                cols = _class_columns(member.names, prefix, prefixes)
                if len(cols) < 2:
                    raise InputError(
                        f"{member.path}: multiclass needs one column per class named "
                        f"{prefix}<class> (at least 2); found {len(cols)} in: "
                        f"{', '.join(member.names[:20])}"
                    )
                found.append((prefix, cols))
            for prefix, cols in found:
                joined_prefix = f"{member.label}:{prefix}"
                for col in cols:
                    member.renames[col] = f"{member.label}:{col}"
                model = member.label
                if len(found) > 1:
                    model = f"{member.label}:{prefix.rstrip('_') or 'y_pred'}"
                joined_prefixes.append(joined_prefix)
                model_names.append((joined_prefix, model))
        else:
            pred_cols = list(opts.pred_cols) or ["y_pred"]
            if member is not first and not set(pred_cols) <= set(member.names):
                _same_kind(member, first, opts)
            for col in pred_cols:
                _require(member, col, "--pred-col")
            for col in pred_cols:
                joined = f"{member.label}:{col}"
                member.renames[col] = joined
                joined_cols.append(joined)
                model = member.label if len(pred_cols) == 1 else joined
                model_names.append((joined, model))
        if member is not first and opts.true_col in member.names and opts.true_col not in keys:
            member.true_check = f"{member.label}:{opts.true_col}"
            member.renames[opts.true_col] = member.true_check
    names = list(kept)
    for member in members:
        names += [
            joined
            for joined in member.renames.values()
            if joined not in names and joined != member.true_check
        ]
    if family is not None:  # one model per file, read by io/intervals.py
        joined_opts = replace(
            opts,
            task=family[0].value,
            task_reason=family[1],
            interval_cols=None,
            family_models=tuple(family_models),
            id_cols=id_cols,
        )
        return JoinPlan(members, keys, how, joined_opts, names)
    joined_opts = replace(
        opts,
        pred_cols=tuple(joined_cols),
        pred_prefix=joined_prefixes[0] if joined_prefixes else opts.pred_prefix,
        pred_prefixes=tuple(joined_prefixes) if len(joined_prefixes) > 1 else (),
        model_names=tuple(model_names),
        id_cols=id_cols,
    )
    return JoinPlan(members, keys, how, joined_opts, names)


def _forecast_family(member: _Member, opts: InputOptions) -> tuple[Task, str] | None:
    """The interval or quantile family of one file's columns (None: y_pred or classes)."""
    from losscli.io.intervals import detect_interval_family

    try:
        return detect_interval_family(member.names, opts)
    except InputError as error:  # a y_pred_q column whose level is not one
        raise InputError(f"{member.path}: {error.message}") from None


def _forecast_columns(
    member: _Member,
    task: Task,
    opts: InputOptions,
    first: _Member,
    found: Sequence[tuple[str, tuple[str, ...]]],
) -> list[str]:
    """One file's interval columns (lower, upper) or quantile columns (by level).

    Every file needs the family's columns (the first file decided the family),
    and quantile files need the first file's levels, so that the same
    pinball_q<level> and crps_quantile compare them.
    """
    from losscli.io.intervals import DEFAULT_INTERVAL_COLS, QUANTILE_PREFIX, quantile_columns

    has = ", ".join(member.names[:20]) + (" ..." if len(member.names) > 20 else "")
    if task is Task.INTERVAL:
        lower, upper = opts.interval_cols or DEFAULT_INTERVAL_COLS
        if lower not in member.names or upper not in member.names:
            raise InputError(
                f"{member.path}: prediction intervals need the columns {lower} and {upper} "
                f"(name them with --interval-cols LOWER,UPPER; every file joined with --on "
                f"holds one model's intervals); the file has: {has}"
            )
        return [lower, upper]
    try:
        quantiles = quantile_columns(member.names)
    except InputError as error:
        raise InputError(f"{member.path}: {error.message}") from None
    if not quantiles:
        raise InputError(
            f"{member.path}: quantile forecasts need columns {QUANTILE_PREFIX}<level> (e.g. "
            f"{QUANTILE_PREFIX}0.1, {QUANTILE_PREFIX}0.9; every file joined with --on holds one "
            f"model's quantiles); the file has: {has}"
        )
    if found:
        theirs = [float(c.rpartition(QUANTILE_PREFIX)[2]) for c in found[0][1]]
        mine = [level for level, _ in quantiles]
        if mine != theirs:
            raise InputError(
                f"{member.path}: quantile levels {', '.join(f'{v:g}' for v in mine)} differ "
                f"from {first.path}'s ({', '.join(f'{v:g}' for v in theirs)}); the files "
                f"joined with --on are compared level by level, so each needs the same levels"
            )
    return [name for _, name in quantiles]


def _same_kind(member: _Member, first: _Member, opts: InputOptions) -> None:
    """A later file of intervals or quantiles joined to a first file of y_pred or classes."""
    family = _forecast_family(member, opts)
    if family is None:
        return
    kind = "prediction intervals" if family[0] is Task.INTERVAL else "quantile forecasts"
    raise InputError(
        f"{member.path} holds {kind} ({family[1]}) but the first file, {first.path}, does "
        f"not; the files joined with --on must hold the same kind of predictions"
    )


# --------------------------------------------------------------------------- keys


def _key_values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A key column as NumPy values that compare across files (integers as int64, else text)."""
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_integer(kind):
        return np.asarray(column.cast(pa.int64()).to_numpy(zero_copy_only=False))
    if pa.types.is_floating(kind):
        values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        whole = np.isfinite(values) & (np.mod(values, 1) == 0) & (np.abs(values) < 2.0**53)
        if whole.all():
            return values.astype(np.int64)
        return values
    text = pc.ascii_trim(column.cast(pa.string()), characters=" \t")
    try:
        if pc.all(pc.match_substring_regex(text, r"^[+-]?\d{1,18}$")).as_py():
            return np.asarray(text.cast(pa.int64()).to_numpy(zero_copy_only=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    return np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)


def _keys_of(table: pa.Table, keys: Sequence[str], member: _Member, rows: np.ndarray) -> list[Any]:
    arrays = []
    for key in keys:
        column = table.column(key)
        if column.null_count:
            nulls = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
            shown = ", ".join(str(int(rows[i])) for i in nulls[:5])
            raise DataError(
                f"{member.path}: key column {key} (--on) has {plural(nulls.size, 'empty cell')} "
                f"(rows {shown}{', ...' if nulls.size > 5 else ''}); every row needs a key"
            )
        arrays.append(_key_values(column))
    return arrays


def _index(arrays: list[Any]) -> Any:
    import pandas as pd

    if len(arrays) == 1:
        return pd.Index(arrays[0])
    return pd.MultiIndex.from_arrays(arrays)


def _show_key(keys: Sequence[str], arrays: list[Any], i: int) -> str:
    values = [arrays[k][i] for k in range(len(keys))]
    shown = [str(v.item() if isinstance(v, np.generic) else v) for v in values]
    if len(keys) == 1:
        return shown[0]
    return "(" + ", ".join(f"{k}={v}" for k, v in zip(keys, shown)) + ")"


@dataclass
class _Tally:
    """Rows of one file that did not join (key absent elsewhere) or repeat a key."""

    rows: int = 0
    unmatched: int = 0
    first_unmatched: list[str] = field(default_factory=list)
    repeated: int = 0
    first_repeated: list[str] = field(default_factory=list)

    def add(self, kind: str, count: int, shown: list[str]) -> None:
        if count <= 0:
            return
        if kind == "unmatched":
            self.unmatched += count
            self.first_unmatched += shown[: 3 - len(self.first_unmatched)]
        else:
            self.repeated += count
            self.first_repeated += shown[: 3 - len(self.first_repeated)]


def _keys_text(plan: JoinPlan) -> str:
    return "--on " + ",".join(plan.keys)


def _raise_repeated(plan: JoinPlan, tallies: list[_Tally]) -> None:
    parts = [
        f"{m.path} has {plural(t.repeated, 'row')} whose key repeats "
        f"(first: {', '.join(t.first_repeated)})"
        for m, t in zip(plan.members, tallies)
        if t.repeated
    ]
    if parts:
        raise DataError(
            f"keys repeat within a file ({_keys_text(plan)}): {'; '.join(parts)}; each key "
            f"must name one row per file (add a column to the key, e.g. --on id,fold)"
        )


def _finish(plan: JoinPlan, tallies: list[_Tally], joined: int) -> None:
    _raise_repeated(plan, tallies)
    lost = [(m, t) for m, t in zip(plan.members, tallies) if t.unmatched]
    if lost and plan.how == "exact":
        parts = [
            f"{m.path} has {plural(t.unmatched, 'row')} whose key is missing from another file "
            f"(first: {', '.join(t.first_unmatched)})"
            for m, t in lost
        ]
        raise DataError(
            f"the files do not have the same keys ({_keys_text(plan)}): {'; '.join(parts)}; "
            f"pass --join inner to keep only the keys every file has"
        )
    if joined == 0:
        raise DataError(
            f"no key is in every file ({_keys_text(plan)}): the join has no rows; check that "
            f"the key columns hold the same values in every file"
        )
    if lost and not plan.warned:  # once, whatever the passes
        plan.warned = True
        shown = ", ".join(
            f"{m.path} lost {t.unmatched:,} of {plural(t.rows, 'row')}" for m, t in lost
        )
        warnings.warn(
            f"--join inner kept the {plural(joined, 'row')} whose key is in every file: {shown}",
            LossWarning,
            stacklevel=2,
        )


# --------------------------------------------------------------------------- passes


class _JoinPass:
    """One pass over the joined input: ``names``, then joined tables (with row numbers)."""

    def __init__(self, plan: JoinPlan, columns: list[str] | None, driver: int) -> None:
        self.plan = plan
        self.names = list(plan.names)
        self._columns = columns
        self._driver = driver
        self._passes: list[Any] = []
        self._position: int | None = None

    def position(self) -> int | None:
        return self._position

    def close(self) -> None:
        for reading in self._passes:
            reading.close()
        self._passes = []

    def _open(self, member: _Member) -> Any:
        reading = member.source._open_pass(member.read_columns(self.plan.keys))
        self._passes.append(reading)
        return reading

    def tables(self) -> Iterator[tuple[pa.Table, Any]]:
        plan = self.plan
        if plan.method is None:
            plan.method = "row" if not plan.keys else ("merge" if self._sorted() else "hash")
        if plan.method == "row":
            produce = self._by_row()
        elif plan.method == "merge":
            produce = self._by_merge()
        else:
            produce = self._by_key()
        for table, rows in produce:
            self._check_targets(table, rows)
            table = table.select([n for n in self.plan.names if n in table.column_names])
            if self._columns is not None:
                table = table.select(self._columns)
            yield table, rows

    # ---- assembling

    def _assemble(self, parts: list[dict[str, Any]]) -> pa.Table:
        columns: dict[str, Any] = {}
        for part in parts:
            for name, values in part.items():
                columns.setdefault(name, values)
        return pa.table(columns)

    def _renamed(self, member: _Member, table: pa.Table) -> dict[str, Any]:
        return {joined: table.column(col) for col, joined in member.renames.items()}

    def _check_targets(self, table: pa.Table, rows: Any) -> None:
        """A later file's own y_true must be the first file's, key by key."""
        import pyarrow.compute as pc

        from losscli.io.columns import _label_cells

        opts = self.plan.opts
        checks = [m for m in self.plan.members if m.true_check]
        if not checks or opts.true_col not in table.column_names:
            return
        numbers, text = _label_cells(table.column(opts.true_col))
        text_missing = text.is_null().to_numpy(zero_copy_only=False)
        for member in checks:
            assert member.true_check is not None
            theirs_numbers, theirs_text = _label_cells(table.column(member.true_check))
            same = (numbers == theirs_numbers) | (np.isnan(numbers) & np.isnan(theirs_numbers))
            same_text = pc.fill_null(pc.equal(text, theirs_text), False)
            same &= same_text.to_numpy(zero_copy_only=False) | (
                text_missing & theirs_text.is_null().to_numpy(zero_copy_only=False)
            )
            differ = np.flatnonzero(~same)
            if not differ.size:
                continue
            i = int(differ[0])
            if self.plan.keys:
                arrays = [_key_values(table.column(k)) for k in self.plan.keys]
                where = f"at key {_show_key(self.plan.keys, arrays, i)}"
            else:
                where = f"at row {int(rows) + i + 1}"
            mine = table.column(opts.true_col)[i].as_py()
            other = table.column(member.true_check)[i].as_py()
            first = self.plan.members[0]
            raise DataError(
                f"column {opts.true_col} of {member.path} differs from {first.path}'s {where} "
                f"({other!r} vs {mine!r}); y_true comes from the first file, so every file "
                f"that has it must hold the same targets (or leave it out of the later files)"
            )

    # ---- --on row

    def _by_row(self) -> Iterator[tuple[pa.Table, Any]]:
        members = self.plan.members
        iterators = [self._open(m).tables() for m in members]
        buffers: list[pa.Table | None] = [None] * len(members)
        counts = [0] * len(members)
        done = 0
        while True:
            ended = []
            for i, iterator in enumerate(iterators):
                while buffers[i] is None or buffers[i].num_rows == 0:  # type: ignore[union-attr]
                    item = next(iterator, None)
                    if item is None:
                        buffers[i] = None
                        break
                    buffers[i] = item[0]
                    counts[i] += item[0].num_rows
                ended.append(buffers[i] is None)
            if all(ended):
                return
            if any(ended):
                for i, iterator in enumerate(iterators):
                    for table, _ in iterator:
                        counts[i] += table.num_rows
                shown = ", ".join(f"{m.path} has {n:,}" for m, n in zip(members, counts))
                raise DataError(
                    f"--on row matches rows by position, so the files need equally many data "
                    f"rows: {shown}; join them on a key column with --on KEY instead"
                )
            n = min(b.num_rows for b in buffers if b is not None)
            parts = []
            for i, member in enumerate(members):
                buffer = buffers[i]
                assert buffer is not None
                parts.append(self._renamed(member, buffer.slice(0, n)))
                buffers[i] = buffer.slice(n)
            yield self._assemble(parts), done
            done += n

    # ---- --on KEY (hash join: the largest file streamed, the others in memory)

    def _by_key(self) -> Iterator[tuple[pa.Table, Any]]:
        plan, keys = self.plan, self.plan.keys
        members = plan.members
        tallies = [_Tally() for _ in members]
        held: dict[int, tuple[pa.Table, Any, np.ndarray, list[Any]]] = {}
        if plan.held is not None:  # a later pass: the files kept by the first one, as they are
            for i, (table, index, arrays, tally) in plan.held.items():
                held[i] = (table, index, np.zeros(table.num_rows, dtype=np.int32), arrays)
                tallies[i] = dataclasses.replace(tally, first_repeated=list(tally.first_repeated))
        for i, member in enumerate(members):
            if i == self._driver or plan.held is not None:
                continue
            reading = self._open(member)
            table = concat_tables([t for t, _ in reading.tables()])
            arrays = _keys_of(table, keys, member, np.arange(1, table.num_rows + 1))
            index = _index(arrays)
            tallies[i].rows = table.num_rows
            if not index.is_unique:
                repeated = np.flatnonzero(np.asarray(index.duplicated(keep=False)))
                tallies[i].add(
                    "repeated",
                    repeated.size,
                    [_show_key(keys, arrays, int(r)) for r in repeated[:3]],
                )
                # The rest of the pass only counts (an error follows): one row per key.
                first = np.flatnonzero(~np.asarray(index.duplicated(keep="first")))
                index, arrays = index[first], [a[first] for a in arrays]
                table = table.take(index_array(np.asarray(first)))
            if i != 0:  # only the first file's key columns go on (the index has the rest)
                table = table.drop_columns([k for k in keys if k not in member.renames])
            held[i] = (table, index, np.zeros(table.num_rows, dtype=np.int32), arrays)
        if plan.held is None:  # kept for the next passes (the memory stays what one pass needs)
            plan.held = {
                i: (table, index, arrays, dataclasses.replace(tallies[i]))
                for i, (table, index, _, arrays) in held.items()
            }
        driver = members[self._driver]
        reading = self._open(driver)
        joined = 0
        failed = any(t.repeated for t in tallies)
        before = 0
        for table, _ in reading.tables():
            rows = np.arange(before + 1, before + table.num_rows + 1)
            before += table.num_rows
            tallies[self._driver].rows += table.num_rows
            arrays = _keys_of(table, keys, driver, rows)
            probe = _index(arrays)
            positions = {i: np.asarray(h[1].get_indexer(probe)) for i, h in held.items()}
            if not plan.memory_told:  # the indexes are built by now: say what they hold
                plan.memory_told = True
                self._tell_memory(held)
            keep = np.ones(table.num_rows, dtype=bool)
            for found in positions.values():
                keep &= found >= 0
            lost = np.flatnonzero(~keep)
            tallies[self._driver].add(
                "unmatched", lost.size, [_show_key(keys, arrays, int(r)) for r in lost[:3]]
            )
            for i, found in positions.items():
                np.add.at(held[i][2], found[keep], 1)
            self._position = reading.position()
            if (lost.size and plan.how == "exact") or failed:
                failed = True
                continue
            if not keep.any():
                continue
            parts = []
            for i, member in enumerate(members):
                if i == self._driver:
                    parts.append(self._renamed(member, table.filter(bool_array(np.asarray(keep)))))
                else:
                    take = index_array(positions[i][keep])
                    parts.append(self._renamed(member, held[i][0].take(take)))
            if self._driver == 0:
                row_numbers = rows[keep]
            else:
                row_numbers = positions[0][keep] + 1
            joined += int(keep.sum())
            yield self._assemble(parts), row_numbers
        # What the kept files held: their columns, key arrays and hash index (built by now).
        plan.held_bytes = sum(
            table.nbytes + int(index.memory_usage(deep=True)) + matched.nbytes
            for table, index, matched, _ in held.values()
        )
        for i, (_, _, matched, arrays) in held.items():
            repeated = np.flatnonzero(matched > 1)
            if repeated.size and i == min(held):  # the driver's repeats, counted once
                tallies[self._driver].add(
                    "repeated",
                    int(matched[repeated].sum()),
                    [_show_key(keys, arrays, int(r)) for r in repeated[:3]],
                )
            unmatched = np.flatnonzero(matched == 0)
            tallies[i].add(
                "unmatched",
                unmatched.size,
                [_show_key(keys, arrays, int(r)) for r in unmatched[:3]],
            )
        _finish(plan, tallies, joined)

    def _tell_memory(self, held: dict[int, tuple[pa.Table, Any, np.ndarray, list[Any]]]) -> None:
        """A warning when the files a hash join keeps take more than the streaming bound."""
        plan = self.plan
        size = sum(
            table.nbytes + int(index.memory_usage(deep=True)) + matched.nbytes
            for table, index, matched, _ in held.values()
        )
        if size <= HELD_WARNING_BYTES:
            return
        kept = ", ".join(plan.members[i].path for i in held)
        how = (
            "sort every file by it to join them in one streamed pass"
            if len(plan.keys) == 1
            else "a single key column by which every file is sorted joins them in one streamed pass"
        )
        warnings.warn(
            f"the files are not all sorted by {','.join(plan.keys)}: the join keeps "
            f"{kept} in memory ({size / 2**20:,.0f} MiB with its key index); {how}",
            LossWarning,
            stacklevel=2,
        )

    # ---- --on KEY, every file sorted by a single key (merge join: every file streamed)

    def _sorted(self) -> bool:
        """Whether every file is sorted by the one key column (a scan of the keys only).

        A file whose first batch is not sorted is not scanned further (hash join);
        keys repeated within sorted files are reported here, with their counts.
        """
        plan = self.plan
        if len(plan.keys) != 1:
            return False
        key = plan.keys[0]
        firsts = []
        for member in plan.members:
            reading = member.source._open_pass([key])
            try:
                first = next(reading.tables(), None)
            finally:
                reading.close()
            if first is None:
                return False
            values = _keys_of(first[0], [key], member, np.arange(1, first[0].num_rows + 1))[0]
            if not _ascending(values):
                return False
            firsts.append(values.dtype.kind)
        if len(set(firsts)) != 1:
            return False  # integer keys in one file, text in another
        tallies = [_Tally() for _ in plan.members]
        for member, tally in zip(plan.members, tallies):
            reading = member.source._open_pass([key])
            try:
                last: Any = None
                before = 0
                for table, _ in reading.tables():
                    rows = np.arange(before + 1, before + table.num_rows + 1)
                    before += table.num_rows
                    values = _keys_of(table, [key], member, rows)[0]
                    if values.dtype.kind != firsts[0]:
                        return False
                    joined = values if last is None else np.concatenate([[last], values])
                    if not _ascending(joined):
                        return False
                    same = np.flatnonzero(joined[1:] == joined[:-1])
                    tally.add("repeated", same.size, [str(joined[i + 1]) for i in same[:3]])
                    last = values[-1] if values.size else last
            finally:
                reading.close()
        _raise_repeated(plan, tallies)
        return True

    def _by_merge(self) -> Iterator[tuple[pa.Table, Any]]:
        plan, key = self.plan, self.plan.keys[0]
        members = plan.members
        k = len(members)
        streams = [self._open(m).tables() for m in members]
        buffers: list[pa.Table | None] = [None] * k
        keys: list[Any] = [None] * k
        consumed = [0] * k  # rows of each file before its buffer
        read = [0] * k
        ended = [False] * k
        tallies = [_Tally() for _ in members]
        joined = 0
        failed = False

        def fill(i: int) -> None:
            while not ended[i] and (buffers[i] is None or buffers[i].num_rows == 0):  # type: ignore[union-attr]
                item = next(streams[i], None)
                if item is None:
                    ended[i] = True
                    buffers[i] = None
                    return
                table = item[0]
                rows = np.arange(read[i] + 1, read[i] + table.num_rows + 1)
                read[i] += table.num_rows
                tallies[i].rows += table.num_rows
                buffers[i] = table
                keys[i] = _keys_of(table, [key], members[i], rows)[0]

        while True:
            for i in range(k):
                fill(i)
            live = [i for i in range(k) if not ended[i]]
            if not live:
                break
            if len(live) < k:
                # A file has ended: the rest of every other file has no partner.
                for i in live:
                    tallies[i].add("unmatched", len(keys[i]), [str(v) for v in keys[i][:3]])
                    for table, _ in streams[i]:
                        tail = _keys_of(table, [key], members[i], np.arange(table.num_rows))[0]
                        tallies[i].rows += table.num_rows
                        tallies[i].add("unmatched", tail.size, [str(v) for v in tail[:3]])
                    ended[i] = True
                break
            bound = min(keys[i][-1] for i in live)
            takes = [int(np.searchsorted(keys[i], bound, side="right")) for i in range(k)]
            prefixes = [keys[i][: takes[i]] for i in range(k)]
            common = prefixes[0]
            for other in prefixes[1:]:
                common = np.intersect1d(common, other, assume_unique=True)
            positions = [np.searchsorted(prefix, common) for prefix in prefixes]
            for i, prefix in enumerate(prefixes):
                if prefix.size != common.size:
                    alone = prefix[~np.isin(prefix, common, assume_unique=True)]
                    tallies[i].add("unmatched", alone.size, [str(v) for v in alone[:3]])
                    failed = failed or plan.how == "exact"
            if common.size and not failed:
                parts = []
                for i, member in enumerate(members):
                    buffer = buffers[i]
                    assert buffer is not None
                    parts.append(self._renamed(member, buffer.take(index_array(positions[i]))))
                joined += int(common.size)
                yield self._assemble(parts), consumed[0] + positions[0] + 1
            for i in range(k):
                buffer = buffers[i]
                assert buffer is not None
                buffers[i] = buffer.slice(takes[i])
                keys[i] = keys[i][takes[i] :]
                consumed[i] += takes[i]
            self._position = self._passes[self._driver].position()  # the bar follows it
        _finish(plan, tallies, joined)


def _ascending(values: np.ndarray) -> bool:
    """Sorted ascending (equal neighbours allowed: repeated keys are reported apart)."""
    if values.size < 2:
        return True
    try:
        return bool(np.all(values[1:] >= values[:-1]))
    except TypeError:  # text mixed with numbers
        return False
