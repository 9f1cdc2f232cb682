"""``loss compute`` as a plan: the streaming accumulators as mergeable states, then passes.

Pass 1 (:class:`ComputeScan`) is :class:`~losscli.analysis.streaming.StreamingCompute`'s
own per-chunk work (``add``), one state per stream of batches; two states
merge by merging every accumulator (overall and per group), the bootstrap
state (group cells renumbered to one order) and the counts behind the
warnings. Exact medians and the d2_* denominators then take refinement
passes (:class:`RefineScan`) over the input itself: each pass reads the
batches again, recomputes the per-row losses of the figures still open and
feeds them to copies of their accumulators, whose pass states merge too.

Every figure is the one :func:`~losscli.analysis.streaming.compute_chunks`
gives on the same input (which spools values to avoid re-reading the input
on one machine): the sums, maxima and exact order statistics do not depend
on how the rows are split. The "worst 1% of rows" estimate behind a
warning uses the threshold of the input's first batch (the plan's head),
as on one machine, so it does not depend on the split either. The
bootstrap draws are keyed by the global row index (engines that split the
input call ``at_row``). With d2_pinball / d2_absolute_error and ``--ci``, a
last pass (:class:`NullScan`) sums each bootstrap block's null deviance about
the quantiles of y_true found by then.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from losscli.analysis.evaluate import per_sample_losses
from losscli.analysis.results import ComputeReport
from losscli.analysis.streaming import (
    MEDIAN_CAP,
    REFINABLE,
    NullState,
    StreamingCompute,
    TopShareEstimate,
    check_ci_state,
    null_quantiles,
)
from losscli.core.dataset import MAX_GROUPS, Dataset
from losscli.core.registry import LossSelection, Reduction
from losscli.errors import DataError


class _Discard:
    """No spool: the plan reads the input again for its refinement passes."""

    def append(self, arrays: dict[str, np.ndarray]) -> None:
        pass

    def __iter__(self) -> Any:
        return iter(())


def empty_like(head: Dataset) -> Dataset:
    """``head`` with no rows: the facts about the input (task, models, columns) only."""

    def none(x: Any) -> Any:
        return None if x is None else x[:0]

    return dataclasses.replace(
        head,
        y_true=head.y_true[:0],
        models={k: v[:0] for k, v in head.models.items()},
        row_numbers=head.row_numbers[:0],
        weights=none(head.weights),
        groups=none(head.groups),
        labels=none(head.labels),
        file_y_true=none(head.file_y_true),
        extra={k: v[:0] for k, v in head.extra.items()},
        strata=none(head.strata),
        n_dropped=0,
        notes=(),
    )


class ComputeState(StreamingCompute):
    """Pass-1 state of compute over some batches (picklable, no rows of the input)."""

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(first_items=None, reread=None, on_items=None, spool=_Discard())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def _template(
    head: Dataset,
    selections: list[LossSelection],
    *,
    median_cap: int,
    ci_level: float | None,
    n_boot: int,
    seed: int,
) -> ComputeState:
    """An empty state shaped by the head: its items, bootstrap and top-share thresholds."""
    state = ComputeState(
        selections, _Discard(), median_cap=median_cap, ci_level=ci_level, n_boot=n_boot, seed=seed
    )
    items = per_sample_losses(head, selections)
    state.start(empty_like(head), items)  # the items and the bootstrap, no rows yet
    # The share of the worst 1% is estimated above the 95th percentile of the first
    # batch of the input, wherever a state starts (as one pass over the input does).
    for st, item in zip(state.items, items):
        spec = st.selection.spec
        if spec.reduction is Reduction.MEAN and not spec.signed:
            probe = TopShareEstimate()
            with np.errstate(all="ignore"):
                probe.add(item.values, head.weights)
            if probe.threshold is not None:
                st.top_share = TopShareEstimate(threshold=probe.threshold)
    return state


def merge_states(a: ComputeState, b: ComputeState) -> ComputeState:
    """The state of a's batches followed by b's (a is updated and returned)."""
    if a.n_chunks == 0:
        return b
    if b.n_chunks == 0:
        return a
    # Group cells: b's codes renumbered into a's order (new groups appended).
    remap = []
    for name in sorted(b.group_codes, key=b.group_codes.__getitem__):
        a.group_codes.setdefault(name, len(a.group_codes))
        remap.append(a.group_codes[name])
    if len(a.group_codes) > MAX_GROUPS:
        assert a.first is not None
        raise DataError(
            f"column {a.first.group_column} (--group-by) has more than {MAX_GROUPS:,} "
            f"distinct values; --group-by expects a categorical column such as a "
            f"segment or a split (at most {MAX_GROUPS:,} groups)"
        )
    for mine, theirs in zip(a.items, b.items):
        mine.overall = mine.overall.merge(theirs.overall)  # type: ignore[arg-type]
        for name, acc in theirs.groups.items():
            have = mine.groups.get(name)
            mine.groups[name] = acc if have is None else have.merge(acc)  # type: ignore[arg-type]
        if mine.top_share is None:
            mine.top_share = theirs.top_share
        elif theirs.top_share is not None:
            mine.top_share = mine.top_share.merge(theirs.top_share)
        mine.finite = mine.finite and theirs.finite
        mine.scalar = mine.scalar or theirs.scalar
        mine.certain_wrong += theirs.certain_wrong
        mine.certain_wrong_loss += theirs.certain_wrong_loss
        mine.loss_total += theirs.loss_total
    if a.boot is not None and b.boot is not None:
        other = b.boot
        target = np.asarray(remap, dtype=np.intp)
        if target.size and not np.array_equal(target, np.arange(target.size)):
            other = _renumbered(b.boot, target, len(a.group_codes))
        a.boot = a.boot.merge(other)
        if a.first is not None and a.first.groups is not None:
            check_ci_state(
                a.boot, len(a.group_codes), len(a.items), a.first.group_column, a.command
            )
    a.n_chunks += b.n_chunks
    a.n_rows += b.n_rows
    a.file_rows += b.file_rows
    a.n_dropped += b.n_dropped
    a.notes = a.notes + [line for line in b.notes if line not in a.notes]
    for name, count in b.group_rows.items():
        a.group_rows[name] = a.group_rows.get(name, 0) + count
    a.group_positive |= b.group_positive
    for model, (count, row, value) in b.row_sums.items():
        known = a.row_sums.get(model, (0, 0, 0.0))
        a.row_sums[model] = (
            (known[0] + count, known[1], known[2]) if known[0] else (count, row, value)
        )
    a.not_hard |= b.not_hard
    a.has_weights = a.has_weights or b.has_weights
    return a


def _renumbered(boot: Any, target: np.ndarray, n_cells: int) -> Any:
    """A copy of a bootstrap state with cell ``i`` moved to ``target[i]`` (of ``n_cells``)."""
    return boot.renumbered(target, n_cells)


class ComputeScan:
    """Pass 1 of compute: every loss of every model (and group), batch by batch."""

    def __init__(self, template: ComputeState) -> None:
        self.template = template

    def new_state(self) -> ComputeState:
        return copy.deepcopy(self.template)

    def update(self, state: ComputeState, batch: Dataset) -> ComputeState:
        state.add(batch)
        return state

    def merge(self, a: ComputeState, b: ComputeState) -> ComputeState:
        return merge_states(a, b)

    def finish(self, state: ComputeState) -> ComputeState:
        return state


class BootstrapScan(ComputeScan):
    """Pass 1 with bootstrap intervals: draws keyed by the global row index."""

    def at_row(self, state: ComputeState, rows: int) -> ComputeState:
        state.row_base = rows
        return state


Key = tuple[int, str | None]  # (item index, group or None for all rows)


class RefineScan:
    """One refinement pass: the per-row losses of the open figures, fed to their copies."""

    def __init__(self, template: dict[Key, Any], selections: list[LossSelection]) -> None:
        self.template = template
        self.selections = selections

    def new_state(self) -> dict[Key, Any]:
        return copy.deepcopy(self.template)

    def update(self, state: dict[Key, Any], batch: Dataset) -> dict[Key, Any]:
        if batch.n_rows == 0:
            return state
        items = per_sample_losses(batch, self.selections)
        names: list[str] = []
        codes: np.ndarray | None = None
        if batch.groups is not None and any(group is not None for _, group in state):
            unique, codes = np.unique(batch.groups.astype(str), return_inverse=True)
            names = [str(n) for n in unique]
        for (j, group), acc in state.items():
            values, weights = items[j].values, batch.weights
            if group is not None:
                if group not in names:
                    continue
                assert codes is not None
                rows = codes == names.index(group)
                values = values[rows]
                weights = None if weights is None else weights[rows]
            acc.refine_add(values, weights)
        return state

    def merge(self, a: dict[Key, Any], b: dict[Key, Any]) -> dict[Key, Any]:
        for key, acc in a.items():
            acc.refine_merge(b[key])
        return a

    def finish(self, state: dict[Key, Any]) -> dict[Key, Any]:
        return state


def compute_plan(
    selections_for: Callable[[Dataset], list[LossSelection]],
    *,
    median_cap: int = MEDIAN_CAP,
    ci_level: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Callable[[Dataset], Generator[Any, Any, ComputeReport]]:
    """The plan of ``loss compute FILE`` (losses chosen from the first batch)."""

    def plan(head: Dataset) -> Generator[Any, Any, ComputeReport]:
        selections = selections_for(head)
        template = _template(
            head, selections, median_cap=median_cap, ci_level=ci_level, n_boot=n_boot, seed=seed
        )
        scan = ComputeScan(template) if template.boot is None else BootstrapScan(template)
        state: ComputeState = yield scan
        if state.n_chunks == 0:  # every partition was empty
            state = template
        pending = _pending(state)
        while pending:
            for acc in pending.values():
                acc.refine_plan()
            done: dict[Key, Any] = yield RefineScan(pending, selections)
            for key, acc in done.items():
                acc.refine_finish()
                _replace(state, key, acc)
            pending = {key: acc for key, acc in done.items() if acc.needs_pass}
        if state.boot is not None and not state.boot.null_ready:
            # d2_pinball's intervals: the null deviances about the quantiles now known.
            own, pooled = null_quantiles(state)
            null: NullState = yield NullScan(NullState(state.boot, own, pooled, state.group_codes))
            state.boot = null.boot
            state.boot.null_done()
        state.first = head
        if state.n_chunks == 1:  # the head was the whole input: exact warnings
            state.first_items = per_sample_losses(head, selections)
        report: ComputeReport = state.finish()
        return report

    return plan


class NullScan:
    """One pass: every row's null deviance about its quantile, into the bootstrap blocks."""

    def __init__(self, template: NullState) -> None:
        boot = copy.copy(template.boot)
        boot.quantile = template.boot.quantile.copy()
        boot.quantile[:, :, 1:, :] = 0.0
        self.template = dataclasses.replace(template, boot=boot)

    def new_state(self) -> NullState:
        t = self.template
        boot = copy.copy(t.boot)
        boot.quantile = np.zeros_like(t.boot.quantile)
        return dataclasses.replace(t, boot=boot)

    def at_row(self, state: NullState, rows: int) -> NullState:
        state.row = rows
        return state

    def update(self, state: NullState, batch: Dataset) -> NullState:
        state.add(batch)
        return state

    def merge(self, a: NullState, b: NullState) -> NullState:
        a.boot.quantile = a.boot.quantile + b.boot.quantile
        return a

    def finish(self, state: NullState) -> NullState:
        # The model sums of pass 1 back beside the null deviances.
        state.boot.quantile = state.boot.quantile + self.template.boot.quantile
        return state


def _pending(state: ComputeState) -> dict[Key, Any]:
    out: dict[Key, Any] = {}
    for j, item in enumerate(state.items):
        for group, acc in [(None, item.overall), *item.groups.items()]:
            if isinstance(acc, REFINABLE) and acc.needs_pass:
                out[j, group] = acc
    return out


def _replace(state: ComputeState, key: Key, acc: Any) -> None:
    j, group = key
    if group is None:
        state.items[j].overall = acc
    else:
        state.items[j].groups[group] = acc
