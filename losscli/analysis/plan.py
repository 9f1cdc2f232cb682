"""A command as a plan: passes of mergeable accumulators over a stream of batches.

A plan is a generator function ``plan(head) -> Generator[Step, result, Report]``
given the first batch (``head``: task, models, columns, for choosing the
losses). It yields one :class:`Step` per pass over the data; the engine runs
that step over every batch of the input and sends back what the step's
``finish`` returned, so a later pass can use the figures of earlier ones (the
median and MAD of the residuals before rows are flagged). When the generator
returns, its value is the command's report.

A step is the same code on one process or many (Dask's
``reduction(chunk, combine, aggregate)``, torchmetrics' ``update`` /
``merge_state`` / ``compute``): ``new_state()`` an empty state,
``update(state, batch)`` one batch in, ``merge(a, b)`` two partitions' states
(any order, any tree), ``finish(state)`` the pass's result. States are small
(bounded by construction, never one value per row of the input) and picklable.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from losscli.analysis.evaluate import sharing
from losscli.core.dataset import Dataset

S = TypeVar("S")
R = TypeVar("R", covariant=True)


class Step(Protocol[S, R]):
    """One pass over the data: mergeable state in, one result out."""

    def new_state(self) -> S: ...

    def update(self, state: S, batch: Dataset) -> S: ...

    def merge(self, a: S, b: S) -> S: ...

    def finish(self, state: S) -> R: ...


def rows_before(step: Any) -> Callable[[Any, int], Any] | None:
    """A step's optional ``at_row(state, rows)`` hook, else None.

    A step whose figures depend on the global position of each row (the
    bootstrap's draws are keyed by row index) defines ``at_row``: an engine
    that runs one state per partition calls it on each partition's new state
    with the number of rows (``Dataset.n_rows`` summed) of the partitions
    before it. The local engine, one state over the whole input, never needs it.
    """
    hook = getattr(step, "at_row", None)
    return hook if callable(hook) else None


def more_passes(step: Any) -> bool:
    """Whether another pass is expected after ``step`` (its optional ``more_passes``).

    An engine may then keep this pass's batches for the next (the local
    engine's :class:`~losscli.engines.local.BatchSpool`) instead of reading the
    input again. A step that cannot tell says nothing (False).
    """
    return bool(getattr(step, "more_passes", False))


class BatchSource(Protocol):
    """What an engine reads: each call of ``batches()`` is one full pass over the input."""

    def batches(self) -> Iterator[Dataset]: ...


Plan = Callable[[Dataset], Generator[Any, Any, Any]]


@dataclass
class InputTally:
    """What every report says about its input: rows used and dropped, notes (mergeable)."""

    n_rows: int = 0  # entries (GAN: d_real plus d_fake values)
    n_file_rows: int = 0
    n_dropped: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, batch: Dataset) -> None:
        self.n_rows += batch.n_rows
        self.n_file_rows += batch.n_file_rows
        self.n_dropped += batch.n_dropped
        for line in batch.notes:
            if line not in self.notes:
                self.notes.append(line)

    def merge(self, other: InputTally) -> InputTally:
        out = InputTally(
            self.n_rows + other.n_rows,
            self.n_file_rows + other.n_file_rows,
            self.n_dropped + other.n_dropped,
            list(self.notes),
        )
        for line in other.notes:
            if line not in out.notes:
                out.notes.append(line)
        return out


T = TypeVar("T")


@dataclass
class ListSource(Generic[T]):
    """Batches already in memory (one Dataset, or a file split into row ranges)."""

    items: list[Dataset]

    def batches(self) -> Iterator[Dataset]:
        return iter(self.items)


def run_passes(
    plan: Plan,
    head: Dataset,
    reduce: Callable[[Any, int], Any],
    on_pass: Callable[[int], None] | None = None,
    after_pass: Callable[[], None] | None = None,
) -> Any:
    """Drive ``plan`` pass by pass and return its report: what every engine shares.

    ``reduce(step, n)`` is pass n (1-based) of ``step`` over the whole input,
    one state; its ``finish`` is sent back to the plan for the next step.
    ``on_pass(n)`` is called before pass n, e.g. to restart a progress bar, and
    ``after_pass()`` after each pass's finish, once its state is dropped.
    """
    passes = plan(head)
    step = next(passes)
    number = 1
    while True:
        if on_pass is not None:
            on_pass(number)
        state = reduce(step, number)
        result = step.finish(state)
        del state
        if after_pass is not None:
            after_pass()
        try:
            step = passes.send(result)
        except StopIteration as done:
            return done.value
        number += 1


def run_in_memory(plan: Plan, dataset: Dataset) -> Any:
    """Every pass of ``plan`` over one Dataset held in memory (the input as one batch)."""
    return run_passes(plan, dataset, lambda step, _: step.update(step.new_state(), dataset))


@dataclass
class Together:
    """The current steps of several plans as one pass: every batch goes to each of them."""

    steps: dict[str, Any]

    @property
    def more_passes(self) -> bool:
        return any(more_passes(step) for step in self.steps.values())

    def new_state(self) -> dict[str, Any]:
        return {name: step.new_state() for name, step in self.steps.items()}

    def update(self, state: dict[str, Any], batch: Dataset) -> dict[str, Any]:
        # The plans share one computation of each per-sample loss of the batch.
        with sharing(batch):
            for name, step in self.steps.items():
                state[name] = step.update(state[name], batch)
        return state

    def merge(self, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        return {name: step.merge(a[name], b[name]) for name, step in self.steps.items()}

    def finish(self, state: dict[str, Any]) -> dict[str, Any]:
        return {name: step.finish(state[name]) for name, step in self.steps.items()}


def together(plans: dict[str, Plan]) -> Callable[[Dataset], Generator[Any, Any, dict[str, Any]]]:
    """One plan running several side by side: pass k of each shares one read of the input.

    Returns each plan's report by name. A plan with fewer passes drops out
    while the others go on, so the input is read as often as the longest
    plan needs, not once per plan.
    """

    def plan(head: Dataset) -> Generator[Any, Any, dict[str, Any]]:
        running = {name: make(head) for name, make in plans.items()}
        done: dict[str, Any] = {}
        steps: dict[str, Any] = {}
        for name, generator in running.items():
            try:
                steps[name] = next(generator)
            except StopIteration as stop:
                done[name] = stop.value
        while steps:
            results = yield Together(steps)
            following: dict[str, Any] = {}
            for name, result in results.items():
                try:
                    following[name] = running[name].send(result)
                except StopIteration as stop:
                    done[name] = stop.value
            steps = following
        return done

    return plan
