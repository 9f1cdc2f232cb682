"""Per-sample losses for a dataset, after checking each loss applies and its domain holds."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np

from losscli.core.dataset import Dataset
from losscli.core.registry import LossInputs, LossSelection, Task, is_custom
from losscli.errors import CustomLossError, DataError, DomainError
from losscli.words import article, plural

T = TypeVar("T")


def applies_to(loss_task: Task, data_task: Task) -> bool:
    """Whether a loss of ``loss_task`` can score data of ``data_task``.

    Regression losses also score binary data (0/1 targets against predicted
    probabilities), which is how the Brier score and the P-ACT pitfall arise.
    """
    return loss_task == data_task or (loss_task is Task.REGRESSION and data_task is Task.BINARY)


def check_applicable(selection: LossSelection, dataset: Dataset) -> None:
    spec = selection.spec
    if not any(applies_to(task, dataset.task) for task in spec.tasks):
        raise DataError(
            f"loss {spec.name} is {article(spec.tasks[0].value)} "
            f"{'/'.join(t.value for t in spec.tasks)} loss but the data "
            f"are {dataset.task.value} "
            f"({dataset.task_reason}); choose {dataset.task.value} losses (see `loss list`) "
            f"or set --task"
        )
    if spec.name == "multiclass_hinge" and dataset.labels is None:
        raise DataError(
            "multiclass_hinge needs hard class labels; the soft targets given "
            "(y_true_* columns) are not one-hot"
        )


def check_domain(selection: LossSelection, dataset: Dataset, model: str) -> None:
    """Raise DomainError naming the loss, column, bad value and row when the domain fails."""
    inputs = dataset.inputs(model, selection.spec.task)
    for rule in selection.spec.domain_for(selection.params):
        if rule.skip_with_logits and dataset.from_logits:
            continue
        if rule.target == "y_true":
            values = inputs.y_true
        elif rule.target == "y_pred":
            values = inputs.y_pred
        else:
            values = inputs.extra[rule.target]
        ok = np.asarray(rule.valid(values), dtype=bool)
        if ok.all():
            continue
        flat_bad = np.flatnonzero(~ok.all(axis=1) if ok.ndim == 2 else ~ok)
        i = int(flat_bad[0])
        column = dataset.column_of(rule.target, model)
        if ok.ndim == 2:
            j = int(np.flatnonzero(~ok[i])[0])
            names = column.split(",")
            column = names[j] if j < len(names) else column
            shown = f"{float(values[i, j]):g}"
        else:
            shown = f"{float(values[i]):g}"
        hint = f"; {rule.hint}" if rule.hint else ""
        raise DomainError(
            f"loss {selection.spec.name}: column {column} has {shown} at row "
            f"{int(dataset.row_numbers[i])} ({plural(flat_bad.size, 'row')} in all), but "
            f"{rule.target} must be {rule.requirement}{hint}"
        )


@dataclass(frozen=True)
class PerSample:
    """Per-sample losses of one (loss, model) pair.

    ``support`` marks the rows where the loss is defined (None: every row; see
    ``LossSpec.support``). ``values`` keeps every row, so reductions are unchanged;
    per-row statistics use :meth:`defined` instead.
    """

    selection: LossSelection
    model: str
    values: np.ndarray
    support: np.ndarray | None = None
    # Messages about these values for the report's warnings (a --custom loss's +-inf rows).
    warnings: tuple[str, ...] = ()
    # A --custom loss returned one number, broadcast to every row: the values
    # have no per-row breakdown (shares of rows mean nothing).
    scalar: bool = False

    def defined(self, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(values, weights) of the rows where the loss is defined."""
        if self.support is None:
            return self.values, weights
        return self.values[self.support], None if weights is None else weights[self.support]

    def restricted(self, mask: np.ndarray) -> PerSample:
        """The same losses for some rows (a boolean mask or an index)."""
        support = None if self.support is None else self.support[mask]
        return PerSample(
            self.selection, self.model, self.values[mask], support, self.warnings, self.scalar
        )


@dataclass
class _Shared:
    """The per-sample losses computed so far for one batch (see :func:`sharing`)."""

    batch: Dataset
    # (selection, its items in model order): plans may hold equal selections, not the same.
    items: list[tuple[LossSelection, list[PerSample]]] = field(default_factory=list)
    inputs: dict[tuple[str, Task], LossInputs] = field(default_factory=dict)
    # batch_memo's results, with the objects whose ids their keys hold.
    memo: dict[Hashable, tuple[Any, tuple[object, ...]]] = field(default_factory=dict)

    def get(self, selection: LossSelection) -> list[PerSample] | None:
        for known, items in self.items:
            if known is selection or known == selection:
                return items
        return None


_SHARED: ContextVar[_Shared | None] = ContextVar("losscli_shared_per_sample", default=None)


@contextmanager
def sharing(batch: Dataset) -> Iterator[None]:
    """Within the block, each (loss, model) of ``batch`` is computed once.

    Several plans run side by side over one batch (``loss report``: compute,
    compare, sensitivity) each ask :func:`per_sample_losses` for the same
    losses; inside this block they get the very same arrays (plans only read
    them), and the shared intermediates (the residual) are made once. Nothing
    is kept after the block.
    """
    token = _SHARED.set(_Shared(batch))
    try:
        yield
    finally:
        _SHARED.reset(token)


def batch_memo(key: Hashable, make: Callable[[], T], *alive: object) -> T:
    """``make()``, computed once per ``key`` while plans share one batch (see :func:`sharing`).

    For a figure of the batch that several plans derive alike (the bootstrap's
    block of each row, its per-block sums of a shared per-sample loss). ``key``
    must determine the result; ``alive`` are the objects whose ``id()`` it
    holds, kept until the block ends so that no id is reused meanwhile. The
    result is shared: callers only read it. Outside the block, ``make()``.
    """
    shared = _SHARED.get()
    if shared is None:
        return make()
    known = shared.memo.get(key)
    if known is None:
        known = (make(), alive)
        shared.memo[key] = known
    return cast(T, known[0])


def same_bits(a: np.ndarray | None, b: np.ndarray) -> bool:
    """Whether ``a`` holds exactly the float64 values of ``b``, bit for bit (-0.0 is not
    0.0; NaNs alike only with the same bits); the first 64 values are compared first,
    so most unequal arrays cost almost nothing. Per-sample arrays of different losses
    with the same terms (mse and rmse, mae and median_ae) are equal this way."""
    if a is None or a.shape != b.shape or a.dtype != np.float64 or b.dtype != np.float64:
        return False
    if a is b:
        return True
    x, y = a.view(np.uint64), b.view(np.uint64)
    return bool(x[:64].tobytes() == y[:64].tobytes() and np.array_equal(x, y))


def per_sample_losses(dataset: Dataset, selections: list[LossSelection]) -> list[PerSample]:
    """Every selected loss for every model, as per-row arrays, in (loss, model) order."""
    shared = _SHARED.get()
    if shared is not None and shared.batch is not dataset:
        shared = None
    out: list[PerSample] = []
    # One LossInputs per model, so that shared intermediates (the residual) are
    # computed once for all losses.
    inputs_of: dict[tuple[str, Task], LossInputs] = {} if shared is None else shared.inputs
    for selection in selections:
        known = None if shared is None else shared.get(selection)
        if known is not None:
            out.extend(known)
            continue
        check_applicable(selection, dataset)
        task = selection.spec.task
        first = len(out)
        for model in dataset.model_names:
            check_domain(selection, dataset, model)
            if (model, task) not in inputs_of:
                inputs_of[model, task] = dataset.inputs(model, task)
            inputs = inputs_of[model, task]
            with np.errstate(all="ignore"):
                values = selection.per_sample(inputs)
            support = selection.spec.support
            mask = None if support is None else np.asarray(support(inputs), dtype=bool)
            notes = check_custom_values(selection, dataset, model, values)
            # losscli.custom broadcasts a scalar result as a stride-0 view.
            scalar = is_custom(selection.spec) and values.size > 1 and values.strides[0] == 0
            if scalar:
                values = np.array(values)
            out.append(PerSample(selection, model, values, mask, notes, scalar))
        if shared is not None:
            shared.items.append((selection, out[first:]))
    return out


def _rows_text(dataset: Dataset, index: np.ndarray) -> str:
    rows = ", ".join(str(int(dataset.row_numbers[i])) for i in index[:5])
    return rows + (", ..." if index.size > 5 else "")


def check_custom_values(
    selection: LossSelection, dataset: Dataset, model: str, values: np.ndarray
) -> tuple[str, ...]:
    """A --custom loss's NaN is an error (exit 1); +-inf is a warning naming the rows.

    Built-in losses never return NaN for valid inputs; user code may, and a NaN
    would silently make the value '-' (and trip the overflow warning).
    """
    if not is_custom(selection.spec):
        return ()
    name = selection.spec.name
    where = f" for model {model}" if len(dataset.models) > 1 else ""
    nan = np.flatnonzero(np.isnan(values))
    if nan.size:
        raise CustomLossError(
            f"custom loss {name} returned NaN{where} on {nan.size:,} of "
            f"{plural(values.size, 'row')} "
            f"(rows {_rows_text(dataset, nan)}); it must return a number for every row - "
            f"check {selection.spec.reference} on those rows"
        )
    infinite = np.flatnonzero(np.isinf(values))
    if not infinite.size:
        return ()
    rows = [int(dataset.row_numbers[i]) for i in infinite[:5]]
    return (custom_inf_text(name, where, int(infinite.size), rows),)


def custom_inf_text(name: str, where: str, count: int, rows: list[int]) -> str:
    """The warning about a --custom loss's +-inf rows (first five row numbers)."""
    shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if count > 5 else "")
    return (
        f"custom loss {name}{where} returned +-inf on {plural(count, 'row')} (rows "
        f"{shown}); its value is then inf (or undefined when both signs occur)"
    )
