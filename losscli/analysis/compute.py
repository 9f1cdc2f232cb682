"""``loss compute``: every selected loss for every model, optionally per group and with CIs."""

from __future__ import annotations

import numpy as np

from losscli.analysis.bootstrap import bootstrap_replicates, percentile_interval
from losscli.analysis.diagnostics import warnings_for
from losscli.analysis.evaluate import PerSample, per_sample_losses
from losscli.analysis.results import ComputeReport, LossResult
from losscli.core.dataset import Dataset
from losscli.core.reduction import reduce_values
from losscli.core.registry import EPS, LossSelection


def _results_for(
    items: list[PerSample],
    weights: np.ndarray | None,
    mask: np.ndarray | None,
    group: str | None,
    ci_level: float | None,
    n_boot: int,
    seed: int,
    strata: np.ndarray | None = None,
) -> list[LossResult]:
    w = weights
    subset = items
    if mask is not None:
        w = None if weights is None else weights[mask]
        strata = None if strata is None else strata[mask]
        subset = [i.restricted(mask) for i in items]
    n = int(subset[0].values.shape[0]) if subset else 0
    intervals: list[tuple[float | None, float | None]] = [(None, None)] * len(subset)
    if ci_level is not None and n > 0:
        reps = bootstrap_replicates(
            [(i.values, i.selection.spec.reduction) for i in subset], w, n_boot, seed, strata
        )
        intervals = [percentile_interval(reps[:, j], ci_level) for j in range(len(subset))]
    out = []
    for item, (low, high) in zip(subset, intervals):
        spec = item.selection.spec
        out.append(
            LossResult(
                loss=spec.name,
                label=item.selection.label,
                params=item.selection.params,
                model=item.model,
                value=reduce_values(item.values, w, item.selection.reducer),
                ci_low=low,
                ci_high=high,
                group=group,
                percent=spec.percent,
                signed=spec.signed,
                n_rows=n,
            )
        )
    return out


def compute(
    dataset: Dataset,
    selections: list[LossSelection],
    *,
    ci_level: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[ComputeReport, list[PerSample]]:
    """The compute report and the per-sample losses behind it."""
    items = per_sample_losses(dataset, selections)
    results = _results_for(
        items, dataset.weights, None, None, ci_level, n_boot, seed, dataset.strata
    )
    if dataset.groups is not None:
        for group in sorted(set(dataset.groups.tolist()), key=str):
            mask = dataset.groups == group
            if dataset.weights is not None and not np.any(dataset.weights[mask] > 0):
                continue
            results.extend(
                _results_for(
                    items, dataset.weights, mask, group, ci_level, n_boot, seed, dataset.strata
                )
            )
    eps_values = {float(s.params["eps"]) for s in selections if "eps" in s.params}
    report = ComputeReport(
        source=dataset.source,
        task=dataset.task.value,
        task_reason=dataset.task_reason,
        n_rows=dataset.n_rows,
        n_dropped=dataset.n_dropped,
        models=dataset.model_names,
        results=results,
        ci_level=ci_level,
        n_boot=n_boot if ci_level is not None else 0,
        group_column=dataset.group_column,
        eps=min(eps_values) if eps_values else EPS,
        from_logits=dataset.from_logits,
        warnings=warnings_for(dataset, items),
        notes=list(dataset.notes),
        classes=list(dataset.classes),
    )
    return report, items
