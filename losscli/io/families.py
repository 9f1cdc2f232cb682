"""Fixed column families of the structured losses (SPEC 2 and 4.4), mapped to a Dataset.

Families take precedence over y_true/y_pred in auto-detection:

==========  ====================================================  ================
family      columns                                               JSON ``task``
==========  ====================================================  ================
boxes       true_x1, true_y1, true_x2, true_y2, pred_x1..pred_y2  detection
pairs       label + a_0..a_{k-1}, b_0..b_{k-1} (or distance)      similarity
triplets    anchor_*, positive_*, negative_*                      similarity
GAN         d_real, d_fake (each may have its own length)         generative
VAE         mu_*, logvar_* (+ y_true_*/y_pred_* or y_true/y_pred) vae
==========  ====================================================  ================

How each family fills :class:`~losscli.core.registry.LossInputs` is described
in :mod:`losscli.core.losses.structured`. The default panel depends on which
optional columns are present, told by the Dataset's ``features``: "pairs" or
"triplets" select contrastive or triplet, "reconstruction" adds vae to vae_kl,
"d_real" adds gan_discriminator.

Validation (each error names the column, the row and the value): boxes need
x2 >= x1 and y2 >= y1; zero-area boxes are accepted (the formula's 1e-7 makes
their IoU 0 when the union is 0) and counted in a note; a_*/b_* (and anchor/
positive/negative) need the same dimensions; labels are 0/1; distances >= 0;
GAN outputs lie in [0, 1] unless --from-logits. GAN columns: trailing empty
cells are the end of a shorter column, not missing values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pyarrow as pa

from losscli.core.dataset import Dataset
from losscli.core.losses.structured import euclidean_distance, gan_term_weights
from losscli.core.registry import Task
from losscli.errors import DataError, InputError, UsageError
from losscli.io.arrow import CAST_ERRORS
from losscli.words import plural, verb

FAMILY_TASKS = (Task.DETECTION, Task.SIMILARITY, Task.GENERATIVE, Task.VAE)
BOX_TRUE = ("true_x1", "true_y1", "true_x2", "true_y2")
BOX_PRED = ("pred_x1", "pred_y1", "pred_x2", "pred_y2")


# --------------------------------------------------------------------------- detection


def _prefixed(names: Sequence[str], prefix: str) -> list[str]:
    """Columns ``<prefix><suffix>`` in index order (numeric suffixes sorted as numbers)."""
    found = [n for n in names if n.startswith(prefix) and len(n) > len(prefix)]
    if all(re.fullmatch(r"\d+", n[len(prefix) :]) for n in found):
        found.sort(key=lambda n: int(n[len(prefix) :]))
    return found


def detect_family(names: Sequence[str], task: str) -> tuple[Task, str] | None:
    """The column family of a table and the reason, or None for y_true/y_pred data."""
    if task != "auto" and task not in {t.value for t in FAMILY_TASKS}:
        return None
    found: list[tuple[Task, str]] = []
    if "true_x1" in names or "pred_x1" in names:
        found.append((Task.DETECTION, "box columns true_x1..pred_y2"))
    pairs = bool(_prefixed(names, "a_")) and bool(_prefixed(names, "b_"))
    if _prefixed(names, "anchor_"):
        found.append((Task.SIMILARITY, "embedding columns anchor_*, positive_*, negative_*"))
    elif pairs and ("label" in names or "distance" in names):
        found.append((Task.SIMILARITY, "embedding columns a_*, b_* and a label column"))
    elif "distance" in names and "label" in names:
        found.append((Task.SIMILARITY, "columns label and distance"))
    if "d_real" in names or "d_fake" in names:
        found.append((Task.GENERATIVE, "discriminator columns d_real/d_fake"))
    if _prefixed(names, "mu_") and _prefixed(names, "logvar_"):
        found.append((Task.VAE, "latent columns mu_* and logvar_*"))
    if task != "auto":
        wanted = Task(task)
        for family, reason in found:
            if family is wanted:
                return family, f"--task {task}: {reason}"
        raise InputError(_missing_family_message(wanted, names))
    return found[0] if found else None


def _missing_family_message(task: Task, names: Sequence[str]) -> str:
    needs = {
        Task.DETECTION: "true_x1, true_y1, true_x2, true_y2, pred_x1, pred_y1, pred_x2, pred_y2",
        Task.SIMILARITY: (
            "label with a_0.., b_0.. (or distance), or anchor_*, positive_*, negative_*"
        ),
        Task.GENERATIVE: "d_real and/or d_fake",
        Task.VAE: "mu_0.., logvar_0.. (and y_true_*/y_pred_* for the vae loss)",
    }[task]
    shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
    return f"--task {task.value} needs the columns {needs}; the file has: {shown}"


# --------------------------------------------------------------------------- values


def _empty_and_values(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(empty-cell mask, float64 values with NaN for anything not a number)."""
    if name not in table.column_names:
        shown = ", ".join(table.column_names[:20])
        raise InputError(f"column {name!r} not found; the file has: {shown}")
    from losscli.io.numbers import column_float64, is_text_type

    column = table.column(name)
    kind = column.type
    n = table.num_rows
    if pa.types.is_null(kind):
        return np.ones(n, dtype=bool), np.full(n, np.nan)
    try:
        values = column_float64(column)
    except CAST_ERRORS:
        values = None
    if values is None:
        raise DataError(f"column {name} holds values of type {kind}, not numbers; check the file")
    empty = np.asarray(column.is_null().to_pylist(), dtype=bool)
    if is_text_type(kind):
        import pyarrow.compute as pc

        blank = pc.equal(pc.utf8_trim_whitespace(column), "").fill_null(False)
        empty |= np.asarray(blank.to_pylist(), dtype=bool)
    return empty, values


def _cell_text(table: pa.Table, name: str, i: int) -> str:
    value = table.column(name)[i].as_py()
    if value is None or value == "":
        return "an empty cell"
    text = str(value)
    if "," in text:
        try:
            float(text.replace(",", "."))
            return f"{text!r} (a decimal comma? losscli expects a decimal point)"
        except ValueError:
            pass
    return repr(text)


class _Columns:
    """Row-aligned numeric columns with the --nan policy applied once to all of them."""

    def __init__(self, table: pa.Table, nan: str) -> None:
        self.table = table
        self.nan = nan
        self.values: dict[str, np.ndarray] = {}

    def add(self, names: Sequence[str]) -> np.ndarray:
        for name in names:
            self.values[name] = _empty_and_values(self.table, name)[1]
        return np.column_stack([self.values[n] for n in names])

    def keep_mask(self) -> tuple[np.ndarray, int]:
        n = self.table.num_rows
        bad_any = np.zeros(n, dtype=bool)
        for name, values in self.values.items():
            bad = ~np.isfinite(values)
            if not bad.any():
                continue
            if self.nan == "error":
                from losscli.io.columns import rows_text

                idx = np.flatnonzero(bad)
                rows = rows_text(idx[:5] + 1, idx.size)
                raise DataError(
                    f"column {name}: {plural(idx.size, 'missing or non-numeric value')} "
                    f"(rows {rows}; "
                    f"first: {_cell_text(self.table, name, int(idx[0]))}); fix them or pass "
                    f"--nan drop to skip those rows"
                )
            bad_any |= bad
        if bad_any.all() and n:
            raise DataError("every row has a missing or non-numeric value; nothing is left")
        return ~bad_any, int(bad_any.sum())


def _first_bad(mask: np.ndarray, rows: np.ndarray) -> tuple[int, int]:
    i = int(np.flatnonzero(mask)[0])
    return i, int(rows[i])


# --------------------------------------------------------------------------- building


def build_family_dataset(
    table: pa.Table, opts: Any, source: str, family: tuple[Task, str]
) -> Dataset:
    """The Dataset of a structured family (``opts`` is io.columns.InputOptions)."""
    task, reason = family
    if task is Task.GENERATIVE:
        return _gan(table, opts, source, reason)
    names = table.column_names
    cols = _Columns(table, opts.nan)
    if opts.weight_col:
        cols.add([opts.weight_col])
    if task is Task.DETECTION:
        parts = _boxes(cols, names)
    elif task is Task.SIMILARITY:
        parts = _similarity(cols, names)
    else:
        parts = _vae(cols, names, opts)
    keep, n_dropped = cols.keep_mask()
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)[keep]
    y_true, y_pred, extra = (
        parts["y_true"][keep],
        parts["y_pred"][keep],
        {k: v[keep] for k, v in parts["extra"].items()},
    )
    weights = None
    if opts.weight_col:
        from losscli.io.columns import _check_weights

        weights = cols.values[opts.weight_col][keep]
        _check_weights(weights, opts, rows)
    groups = None
    if opts.group_by:
        if opts.group_by not in names:
            raise InputError(f"column {opts.group_by!r} not found (--group-by)")
        raw = table.column(opts.group_by).cast(pa.string()).to_pylist()
        groups = np.array(["" if g is None else g for g in raw], dtype=object)[keep]
    notes = list(parts["notes"])
    if task is Task.DETECTION:
        notes += _check_boxes(y_true, y_pred, rows)
    elif task is Task.SIMILARITY:
        y_pred = _check_similarity(y_true, y_pred, extra, rows, parts["columns"])
    model = parts["model"]
    return Dataset(
        source=source,
        task=task,
        task_reason=reason,
        y_true=y_true,
        models={model: y_pred},
        row_numbers=rows,
        weights=weights,
        groups=groups,
        group_column=opts.group_by,
        n_dropped=n_dropped,
        from_logits=opts.from_logits,
        features=frozenset(parts["features"]),
        columns=parts["columns"],
        extra=extra,
        notes=tuple(notes),
    )


def _boxes(cols: _Columns, names: Sequence[str]) -> dict[str, Any]:
    missing = [c for c in BOX_TRUE + BOX_PRED if c not in names]
    if missing:
        raise InputError(
            f"box columns missing: {', '.join(missing)}; detection needs "
            f"{', '.join(BOX_TRUE + BOX_PRED)} (corners x1, y1, x2, y2)"
        )
    return {
        "y_true": cols.add(BOX_TRUE),
        "y_pred": cols.add(BOX_PRED),
        "extra": {},
        "model": "pred",
        "columns": {"y_true": ",".join(BOX_TRUE), "pred": ",".join(BOX_PRED)},
        "features": (),
        "notes": [],
    }


def _check_boxes(t: np.ndarray, p: np.ndarray, rows: np.ndarray) -> list[str]:
    for boxes, names in ((t, BOX_TRUE), (p, BOX_PRED)):
        for lo, hi in ((0, 2), (1, 3)):
            bad = boxes[:, hi] < boxes[:, lo]
            if bad.any():
                i, row = _first_bad(bad, rows)
                raise DataError(
                    f"column {names[hi]}: {boxes[i, hi]:g} at row {row} is less than "
                    f"{names[lo]} = {boxes[i, lo]:g} ({plural(int(bad.sum()), 'row')} in all); boxes "
                    f"are corners (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1 - convert "
                    f"(x, y, w, h) boxes to corners first"
                )
    notes = []
    for boxes, label in ((t, "true"), (p, "predicted")):
        flat = (boxes[:, 2] == boxes[:, 0]) | (boxes[:, 3] == boxes[:, 1])
        if flat.any():
            notes.append(
                f"{plural(int(flat.sum()), f'{label} box')} "
                f"{verb(int(flat.sum()), 'has', 'have')} zero area (first at row "
                f"{_first_bad(flat, rows)[1]}); their IoU is 0 unless the other box overlaps "
                f"nothing either, so their iou loss is 1"
            )
    return notes


def _matched(names: Sequence[str], prefixes: Sequence[str]) -> list[list[str]]:
    groups = [_prefixed(names, p) for p in prefixes]
    counts = [len(g) for g in groups]
    if len(set(counts)) > 1 or not counts[0]:
        shown = ", ".join(plural(c, f"{p}* column") for p, c in zip(prefixes, counts))
        raise DataError(f"embedding dimension mismatch: {shown}; each needs the same k columns")
    suffixes = [[n[len(p) :] for n in g] for p, g in zip(prefixes, groups)]
    for p, s in zip(prefixes[1:], suffixes[1:]):
        if s != suffixes[0]:
            raise DataError(
                f"embedding columns do not line up: {prefixes[0]}* has suffixes "
                f"{', '.join(suffixes[0])} but {p}* has {', '.join(s)}"
            )
    return groups


def _similarity(cols: _Columns, names: Sequence[str]) -> dict[str, Any]:
    if _prefixed(names, "anchor_"):
        anchor, positive, negative = _matched(names, ("anchor_", "positive_", "negative_"))
        a, p, n = cols.add(anchor), cols.add(positive), cols.add(negative)
        return {
            "y_true": np.zeros(a.shape[0]),
            "y_pred": np.zeros(a.shape[0]),  # d(a, p) - d(a, n), filled after validation
            "extra": {"anchor": a, "positive": p, "negative": n},
            "model": "embeddings",
            "columns": {"y_true": "anchor_*", "embeddings": "anchor_*,positive_*,negative_*"},
            "features": ("triplets",),
            "notes": [],
        }
    if "label" not in names:
        raise InputError("similarity pairs need a label column (0 = similar, 1 = dissimilar)")
    label = cols.add(["label"])[:, 0]
    if _prefixed(names, "a_") or _prefixed(names, "b_"):
        a_cols, b_cols = _matched(names, ("a_", "b_"))
        a, b = cols.add(a_cols), cols.add(b_cols)
        return {
            "y_true": label,
            "y_pred": np.zeros(a.shape[0]),  # the distance, filled after validation
            "extra": {"a": a, "b": b},
            "model": "embeddings",
            "columns": {"y_true": "label", "embeddings": "a_*,b_*"},
            "features": ("pairs",),
            "notes": [],
        }
    distance = cols.add(["distance"])[:, 0]
    return {
        "y_true": label,
        "y_pred": distance,
        "extra": {"distance": distance},
        "model": "distance",
        "columns": {"y_true": "label", "distance": "distance"},
        "features": ("pairs",),
        "notes": [],
    }


def _check_similarity(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    extra: dict[str, np.ndarray],
    rows: np.ndarray,
    columns: dict[str, str],
) -> np.ndarray:
    if "anchor" in extra:
        from losscli.core.losses.structured import PAIRWISE_EPS

        d_ap = euclidean_distance(extra["anchor"], extra["positive"], PAIRWISE_EPS)
        d_an = euclidean_distance(extra["anchor"], extra["negative"], PAIRWISE_EPS)
        return cast(np.ndarray, d_ap - d_an)
    bad = ~np.isin(y_true, (0.0, 1.0))
    if bad.any():
        i, row = _first_bad(bad, rows)
        raise DataError(
            f"column label: {y_true[i]:g} at row {row} is not a pair label; use 0 for a "
            f"similar pair and 1 for a dissimilar one (the guide's convention)"
        )
    if "a" in extra:
        return euclidean_distance(extra["a"], extra["b"])
    negative = y_pred < 0
    if negative.any():
        i, row = _first_bad(negative, rows)
        raise DataError(f"column distance: {y_pred[i]:g} at row {row}; distances must be >= 0")
    return y_pred


def _vae(cols: _Columns, names: Sequence[str], opts: Any) -> dict[str, Any]:
    mu_cols, logvar_cols = _matched(names, ("mu_", "logvar_"))
    mu, logvar = cols.add(mu_cols), cols.add(logvar_cols)
    n = mu.shape[0]
    true_cols = _prefixed(names, opts.true_prefix)
    pred_cols = _prefixed(names, opts.pred_prefix)
    notes: list[str] = []
    if true_cols or pred_cols:
        true_sfx = [c[len(opts.true_prefix) :] for c in true_cols]
        pred_sfx = [c[len(opts.pred_prefix) :] for c in pred_cols]
        if true_sfx != pred_sfx:
            raise DataError(
                f"reconstruction columns do not line up: {len(true_cols)} "
                f"{opts.true_prefix}* and {len(pred_cols)} {opts.pred_prefix}* columns "
                f"need the same suffixes"
            )
        y_true, y_pred = cols.add(true_cols), cols.add(pred_cols)
        columns = {"y_true": ",".join(true_cols), "vae": ",".join(pred_cols)}
        features: tuple[str, ...] = ("reconstruction",)
    elif opts.true_col in names and "y_pred" in names:
        y_true, y_pred = cols.add([opts.true_col]), cols.add(["y_pred"])
        columns = {"y_true": opts.true_col, "vae": "y_pred"}
        features = ("reconstruction",)
    else:
        y_true, y_pred = np.zeros((n, 0)), np.zeros((n, 0))
        columns = {"y_true": "", "vae": ""}
        features = ()
        notes.append("no reconstruction columns (y_true_*/y_pred_*): only vae_kl is computed")
    return {
        "y_true": y_true,
        "y_pred": y_pred,
        "extra": {"mu": mu, "logvar": logvar},
        "model": "vae",
        "columns": columns,
        "features": features,
        "notes": notes,
    }


# --------------------------------------------------------------------------- GAN


def _gan_column(table: pa.Table, name: str, opts: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """(values, 1-based rows, n dropped) of one GAN column; trailing empty cells end it."""
    empty, values = _empty_and_values(table, name)
    filled = np.flatnonzero(~empty)
    length = int(filled[-1]) + 1 if filled.size else 0
    values = values[:length]
    rows = np.arange(1, length + 1, dtype=np.int64)
    bad = ~np.isfinite(values)
    if bad.any() and opts.nan == "error":
        from losscli.io.columns import rows_text

        idx = np.flatnonzero(bad)
        shown = rows_text(rows[idx[:5]], idx.size)
        raise DataError(
            f"column {name}: {plural(idx.size, 'missing or non-numeric value')} "
            f"(rows {shown}; first: "
            f"{_cell_text(table, name, int(idx[0]))}); only trailing empty cells may end a "
            f"shorter column - fix them or pass --nan drop"
        )
    if bad.any():
        values, rows = values[~bad], rows[~bad]
    if not opts.from_logits:
        outside = (values < 0) | (values > 1)
        if outside.any():
            i, row = _first_bad(outside, rows)
            raise DataError(
                f"column {name}: {values[i]:g} at row {row} is not a probability in [0, 1] "
                f"({plural(int(outside.sum()), 'value')} in all); if these are raw discriminator "
                f"scores (logits), add --from-logits"
            )
    return values, rows, int(bad.sum())


def _gan(table: pa.Table, opts: Any, source: str, reason: str) -> Dataset:
    if opts.weight_col or opts.group_by:
        raise UsageError(
            "--weight-col and --group-by do not apply to GAN columns: d_real and d_fake are "
            "separate samples, not rows of one"
        )
    names = table.column_names
    if "d_fake" not in names:
        raise InputError("GAN losses need a d_fake column (D(G(z))); d_real (D(x)) is optional")
    real, real_rows, dropped = np.zeros(0), np.zeros(0, dtype=np.int64), 0
    if "d_real" in names:
        real, real_rows, dropped = _gan_column(table, "d_real", opts)
    fake, fake_rows, dropped_fake = _gan_column(table, "d_fake", opts)
    dropped += dropped_fake
    if fake.size == 0:
        raise DataError("column d_fake has no values")
    if "d_real" in names and real.size == 0:
        raise DataError("column d_real has no values")
    is_real = np.concatenate([np.ones(real.size), np.zeros(fake.size)])
    notes = [
        f"d_real: {plural(real.size, 'value')}, d_fake: {plural(fake.size, 'value')} "
        f"(each mean is its own)"
    ]
    return Dataset(
        source=source,
        task=Task.GENERATIVE,
        task_reason=reason,
        y_true=is_real,
        models={"discriminator": np.concatenate([real, fake])},
        row_numbers=np.concatenate([real_rows, fake_rows]),
        weights=gan_term_weights(is_real),
        n_dropped=dropped,
        from_logits=opts.from_logits,
        features=frozenset({"d_real"} if "d_real" in names else ()),
        columns={"y_true": "d_real/d_fake", "discriminator": "d_real/d_fake"},
        notes=tuple(notes),
        strata=is_real.astype(np.int8),  # d_real and d_fake are separate samples
    )
