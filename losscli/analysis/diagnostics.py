"""Warnings a careful user wants next to the numbers: clipping, dominant rows, row sums."""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from losscli.analysis.evaluate import PerSample
from losscli.core.dataset import Dataset
from losscli.core.registry import EPS, LossSelection, Reduction, Task
from losscli.words import plural, verb

DOMINANT_SHARE = 0.5  # warn when the worst 1% of rows carry more than half of a loss
ROWSUM_TOLERANCE = 1e-6


def top_share(values: np.ndarray, weights: np.ndarray | None, fraction: float = 0.01) -> float:
    """Share of the total (weighted) loss carried by the worst ``fraction`` of rows."""
    w = np.ones_like(values) if weights is None else weights
    contrib = np.where(w > 0, w * values, 0.0)
    total = float(np.sum(contrib))
    if not np.isfinite(total) or total <= 0:
        return float("nan")
    k = max(1, int(np.ceil(fraction * values.size)))
    worst = np.partition(contrib, values.size - k)[values.size - k :]
    return float(np.sum(worst) / total)


def warnings_for(dataset: Dataset, items: list[PerSample]) -> list[str]:
    """Human-readable warnings about what dominates or distorts the computed values."""
    out = input_warnings(dataset.n_dropped, dataset.n_rows)
    out.extend(_hard_labels(dataset, items))
    out.extend(_clipping(dataset, items))
    out.extend(_row_sums(dataset, items))
    out.extend(_mape_zeros(dataset, items))
    for item in items:
        spec = item.selection.spec
        if spec.reduction is not Reduction.MEAN or spec.signed or item.values.size < 100:
            continue
        if item.warnings:  # +-inf rows (--custom): no meaningful share
            continue
        share = top_share(item.values, dataset.weights)
        if share > DOMINANT_SHARE:
            out.append(dominant_text(item.selection.label, item.model, share))
    out.extend(value_warnings(items))
    return out


def value_warnings(items: list[PerSample]) -> list[str]:
    """The per-row losses that are not finite: a --custom loss's +-inf rows (named), or
    losses past float64 (overflow). Part of :func:`warnings_for`; ``lc.losses`` issues
    these alone."""
    out: list[str] = []
    for item in items:
        if item.warnings:  # a --custom loss's +-inf rows, named (not an overflow)
            out.extend(item.warnings)
        elif not np.all(np.isfinite(item.values)):
            out.append(overflow_text(item.selection.label, item.model))
    return out


# The texts, apart from the measuring, so that streamed plans say exactly the same.


def input_warnings(n_dropped: int, n_rows: int) -> list[str]:
    """The first warnings of every data command (compute, compare, sensitivity,
    recommend, report), whatever reads the rows: those --nan drop skipped."""
    if not n_dropped:
        return []
    return [
        f"{plural(n_dropped, 'row')} with missing or non-numeric values "
        f"{verb(n_dropped, 'was', 'were')} dropped (--nan drop); {plural(n_rows, 'row')} used"
    ]


def dominant_text(label: str, model: str, share: float) -> str:
    return (
        f"{label} ({model}): the worst 1% of rows carry "
        f"{100 * share:.0f}% of the loss; see `loss sensitivity`"
    )


def overflow_text(label: str, model: str) -> str:
    return (
        f"{label} ({model}): some per-row losses overflow float64 "
        f"(inf); the value is not meaningful at this scale - rescale the targets"
    )


def undefined_text(label: str, model: str, reason: str) -> str:
    """Why a score has no value (-): ``reason`` "rows" (fewer than two), "constant"
    (0/0) or "overflow"; or why it is -inf: "constant_inexact" (x/0)."""
    if reason == "rows":
        return f"{label} ({model}): no value (-): a score needs at least two rows"
    if reason == "constant":
        return (
            f"{label} ({model}): no value (-): y_true is constant and predicted exactly "
            f"(0/0, as scikit-learn's d2_tweedie_score gives it)"
        )
    if reason == "constant_inexact":
        return (
            f"{label} ({model}): -inf: y_true is constant, so predicting its mean has "
            f"deviance 0 and any error scores -inf (x/0; scikit-learn's d2_tweedie_score "
            f"divides by zero)"
        )
    return (
        f"{label} ({model}): no value (-): the sums behind it overflow float64 at this "
        f"scale - rescale the targets"
    )


def undefined_warnings(figures: list[tuple[str, str, Any]], said: list[str]) -> list[str]:
    """:func:`undefined_text` for each (label, model, accumulator) of a ratio-of-sums
    figure (r2, explained_variance, d2_*) without a value, unless ``said`` (the
    warnings so far) already has its per-row overflow."""
    out = []
    for label, model, acc in figures:
        reason = acc.undefined_reason() if hasattr(acc, "undefined_reason") else None
        if reason is not None and overflow_text(label, model) not in said:
            out.append(undefined_text(label, model, reason))
    return out


def rows_text(rows: list[int], count: int) -> str:
    """The first five row numbers, and "..." when there are more."""
    return ", ".join(str(r) for r in rows[:5]) + (", ..." if count > 5 else "")


def mape_zero_text(count: int, rows: list[int]) -> str:
    return (
        f"P-MAPE0 mape: {plural(count, 'row')} {verb(count, 'has', 'have')} y_true = 0 "
        f"(rows {rows_text(rows, count)}); each is "
        f"divided by eps ({EPS:.3g}) instead, so these rows dominate mape - use smape or mae there"
    )


def share_text(share: float) -> str:
    """A share of a total as a percentage people read: 100%, 82%, 3.5%, 0.12%."""
    pct = 100 * share
    if pct >= 99.95:
        return "100%" if pct <= 100.05 else f"{pct:.0f}%"
    return f"{pct:.2g}%" if pct < 10 else f"{pct:.0f}%"


def true_class_zero(q: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Rows whose predicted probability of what happened is exactly 0 (binary: 0 for a
    1, or 1 for a 0; multiclass: 0 for a class with target mass): their log loss would
    be infinite, so the clipping eps, not the model, sets it. The rows P-LOG0 counts."""
    q = np.asarray(q, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if q.ndim == 1:
        return cast(np.ndarray, ((q == 0) & (t == 1)) | ((q == 1) & (t == 0)))
    return cast(np.ndarray, ((q == 0) & (t > 0)).any(axis=1))


def hard_labels(q: np.ndarray) -> bool:
    """Every prediction exactly 0 or 1 (multiclass: one-hot rows): predict() output."""
    q = np.asarray(q, dtype=np.float64)
    return bool(q.size) and bool(np.all((q == 0) | (q == 1)))


def clipping_text(model: str, count: int, eps: float, loss: str, share: float) -> str:
    return (
        f"P-LOG0 {model}: {plural(count, 'row')} {verb(count, 'predicts', 'predict')} "
        f"probability exactly 0 for the true "
        f"class; clipping (eps={eps:.3g}) decides their "
        f"{loss} ({share_text(share)} of the total)"
    )


def hard_labels_text(model: str) -> str:
    return (
        f"P-HARD {model}: every prediction is exactly 0 or 1, so these look like hard "
        f"labels (predict()) rather than probabilities (predict_proba()); probability "
        f"losses then only count mistakes, each at the clipping constant - give the "
        f"predicted probabilities"
    )


def rowsum_text(model: str, count: int, row: int, value: float) -> str:
    return (
        f"P-ROWSUM {model}: {plural(count, 'row')} of class probabilities "
        f"{verb(count, 'does', 'do')} not sum to 1 "
        f"(row {row} sums to {value:.6g}); they are used as "
        f"given, not renormalised - logits? use --from-logits"
    )


def selection_warnings(
    dataset: Dataset, selections: list[LossSelection], explicit: bool = True
) -> list[str]:
    """Warnings about the choice of losses for these data, before any value is computed.

    P-HINGE-PROB fires for margin losses the user chose (``explicit``), not for
    the hinge of SPEC's default binary panel, which would warn on every run.
    """
    out: list[str] = []
    if dataset.from_logits and dataset.task is Task.REGRESSION:
        out.append("--from-logits has no effect on regression data (it applies to classification)")
    probabilities = "probabilities" in dataset.features and not dataset.from_logits
    if explicit and probabilities and dataset.task in (Task.BINARY, Task.MULTICLASS):
        margin = [s.label for s in selections if s.spec.properties.margin_based]
        if margin:
            out.append(
                f"P-HINGE-PROB {', '.join(margin)}: margin losses read y_pred as raw scores, "
                f"but these predictions are probabilities in [0, 1] (every row sits inside the "
                f"margin); score probabilities with bce/cce, or give raw scores"
            )
    return out


def _mape_zeros(dataset: Dataset, items: list[PerSample]) -> list[str]:
    """P-MAPE0: y_true = 0 is valid for mape (sklearn's eps floor) but decides its value."""
    if not any(i.selection.name == "mape" for i in items) or dataset.y_true.ndim != 1:
        return []
    zeros = np.flatnonzero(np.abs(dataset.y_true) < EPS)
    if not zeros.size:
        return []
    return [mape_zero_text(int(zeros.size), [int(dataset.row_numbers[i]) for i in zeros[:5]])]


def _clipping(dataset: Dataset, items: list[PerSample]) -> list[str]:
    if dataset.from_logits or dataset.task not in (Task.BINARY, Task.MULTICLASS):
        return []
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        spec = item.selection.spec
        if "eps" not in item.selection.params or item.model in seen:
            continue
        # A prediction of exactly 0 for something that happened (or 1 for what did not):
        # the loss of that row is -log(eps), set by the clipping constant, not the model.
        certain_wrong = true_class_zero(dataset.models[item.model], dataset.y_true)
        count = int(np.count_nonzero(certain_wrong))
        if count:
            seen.add(item.model)
            share = float(np.sum(item.values[certain_wrong]) / max(np.sum(item.values), 1e-300))
            out.append(
                clipping_text(item.model, count, item.selection.params["eps"], spec.name, share)
            )
    return out


def _hard_labels(dataset: Dataset, items: list[PerSample]) -> list[str]:
    """P-HARD: predictions that are all exactly 0 or 1, scored by probability losses."""
    if dataset.from_logits or dataset.task not in (Task.BINARY, Task.MULTICLASS):
        return []
    scored = {i.model for i in items if i.selection.spec.properties.probabilistic}
    return [
        hard_labels_text(m)
        for m in dataset.model_names
        if m in scored and hard_labels(dataset.models[m])
    ]


def rowsum_applies(dataset: Dataset, selections: list[LossSelection]) -> bool:
    """P-ROWSUM matters only when a probability loss reads the rows as probabilities."""
    return (
        dataset.task is Task.MULTICLASS
        and not dataset.from_logits
        and any(s.spec.properties.probabilistic for s in selections)
    )


def _row_sums(dataset: Dataset, items: list[PerSample]) -> list[str]:
    if not rowsum_applies(dataset, [i.selection for i in items]):
        return []
    out = []
    for model in dataset.model_names:
        sums = dataset.models[model].sum(axis=1)
        off = np.flatnonzero(np.abs(sums - 1.0) > ROWSUM_TOLERANCE)
        if off.size:
            i = int(off[0])
            out.append(
                rowsum_text(model, int(off.size), int(dataset.row_numbers[i]), float(sums[i]))
            )
    return out
