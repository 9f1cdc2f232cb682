"""The result objects of the Python API: the command's frozen reports, with public methods.

Each class is the report dataclass the command line renders (same fields,
still frozen, ``isinstance`` of it), plus:

- ``to_dict()``: the object ``--format json`` prints (same keys, same numbers;
  NaN and infinities as None, as in the JSON);
- ``to_pandas()``: the rows of ``--format csv`` as a DataFrame;
- ``value(loss, model=None, group=None)``: one number;
- ``_repr_html_()`` for Jupyter and ``__rich__`` for rich (the terminal table).

The numbers all come from the analysis; this module only selects and formats.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from losscli.analysis.results import ComputeReport
from losscli.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from losscli._results import CompareResult as CompareResult
    from losscli._results import CurvesResult as CurvesResult
    from losscli._results import ExplainResult as ExplainResult
    from losscli._results import RecommendResult as RecommendResult
    from losscli._results import SensitivityResult as SensitivityResult
    from losscli.analysis.gates import Gate
    from losscli.report.notebook import RichView

__all__ = [
    "CompareResult",
    "ComputeResult",
    "CurvesResult",
    "ExplainResult",
    "RecommendResult",
    "SensitivityResult",
]


class _Result(ABC):
    """What every result object offers on top of its report's fields."""

    _title = "losscli result"

    def _payload(self) -> dict[str, Any]:
        return self.as_dict()  # type: ignore[attr-defined, no-any-return]

    @abstractmethod
    def _table(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The rows and column order of ``--format csv`` (each result defines its own)."""

    @abstractmethod
    def _draw(self, console: Any) -> None:
        """Print the terminal table of this result (each result defines its own)."""

    def _facts(self) -> list[str]:
        return []

    def to_dict(self) -> dict[str, Any]:
        """The object ``--format json`` prints for this result (a fresh copy)."""
        from losscli.report.format import json_safe

        return json_safe(self._payload())  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """The text ``--format json`` prints (without the final newline)."""
        from losscli.report.format import to_json

        return to_json(self._payload())

    def to_pandas(self) -> pd.DataFrame:
        """The rows of ``--format csv`` as a pandas DataFrame (parameters as ``k=v`` text)."""
        import pandas as pd

        from losscli.report.format import fmt_params

        rows, columns = self._table()
        cells = [
            {c: fmt_params(v) if isinstance(v, dict) else v for c, v in row.items()} for row in rows
        ]
        return pd.DataFrame(cells, columns=columns)

    def _repr_html_(self) -> str:
        from losscli.report.notebook import html_table

        rows, columns = self._table()
        notes = [*getattr(self, "notes", ()), *getattr(self, "warnings", ())]
        return html_table(self._title, self._facts(), rows, columns, notes)

    def __rich__(self) -> RichView:
        from losscli.report.notebook import RichView

        return RichView(self._draw)


def _resolve_label(
    rows: Sequence[Any], loss: str, candidates: Callable[[Any], bool] = lambda r: True
) -> str:
    """The label of the loss a user names: a label, a name, an alias or ``huber:delta=2``."""
    labels = list(dict.fromkeys(r.label for r in rows if candidates(r)))
    if loss in labels:
        return loss
    from losscli.core.registry import parse_loss_list

    selections = parse_loss_list(loss)
    if len(selections) != 1:
        raise UsageError(f"name one loss (got {loss!r})")
    selection = selections[0]
    if ":" in loss:
        if selection.label in labels:
            return selection.label
        raise UsageError(f"{loss!r} is not in this result; it has: {', '.join(labels)}")
    matching = [
        label
        for label in labels
        if any(r.label == label and r.loss == selection.name for r in rows)
    ]
    if not matching:
        raise UsageError(f"loss {loss!r} is not in this result; it has: {', '.join(labels)}")
    if len(matching) > 1:
        raise UsageError(
            f"{loss!r} is in this result with several parameters ({', '.join(matching)}); "
            f"name one of them"
        )
    return str(matching[0])


def _resolve_model(models: Sequence[str], model: str | None) -> str:
    if model is None:
        if len(models) != 1:
            raise UsageError(
                f"this result has several models ({', '.join(models)}); name one with model=..."
            )
        return models[0]
    if model not in models:
        raise UsageError(f"no model {model!r} in this result; it has: {', '.join(models)}")
    return model


def _value_of(rows: Sequence[Any], models: Sequence[str], loss: str, model: str | None) -> float:
    chosen_model = _resolve_model(models, model)
    label = _resolve_label(rows, loss)
    for row in rows:
        if row.label == label and row.model == chosen_model:
            return float(row.value)
    raise UsageError(f"no value of {label} for model {chosen_model!r}")  # pragma: no cover


def _group_names(value: Any) -> set[str]:
    """The names the reader may give a group of ``value`` (empty: none).

    The reader writes a column's values as Arrow casts them to text, so a date-time's
    name depends on the column's unit (pandas 2 stores nanoseconds, pandas 3 often
    microseconds): every unit's spelling is a candidate.
    """
    import pyarrow as pa

    try:
        array = pa.array([value])
    except (pa.ArrowException, TypeError, ValueError):
        return set()
    arrays = [array]
    kind = array.type
    if pa.types.is_timestamp(kind) or pa.types.is_duration(kind):
        for unit in ("s", "ms", "us", "ns"):
            typed = (
                pa.timestamp(unit, kind.tz) if pa.types.is_timestamp(kind) else pa.duration(unit)
            )
            try:
                arrays.append(array.cast(typed))
            except (pa.ArrowException, TypeError, ValueError):
                continue  # a unit too coarse to hold the value names no group of it
    names = set()
    for each in arrays:
        try:
            text = each.cast(pa.string())[0].as_py()
        except (pa.ArrowException, TypeError, ValueError):
            continue
        if text is not None:
            names.add(str(text).strip())
    return names


def _rows_text(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


class ComputeResult(ComputeReport, _Result):
    """What :func:`losscli.compute` (``loss compute``) found."""

    _title = "Losses"

    def _table(self) -> tuple[list[dict[str, Any]], list[str]]:
        from losscli.report.compute import csv_table

        return csv_table(self)

    def _draw(self, console: Any) -> None:
        from losscli.report.compute import render_table

        render_table(self, console)

    def _facts(self) -> list[str]:
        return [
            self.source,
            f"task {self.task} ({self.task_reason})",
            f"{_rows_text(self.n_rows)} used, {self.n_dropped:,} dropped",
        ]

    def value(self, loss: str, model: str | None = None, group: str | None = None) -> float:
        """One loss's value for one model (needed with several), overall or for one group.

        ``loss`` is a name or alias (``"l2"``), or with parameters when the
        result holds the loss more than once (``"huber:delta=2"``).
        """
        if group is not None and self.group_column is None:
            raise UsageError("this result has no groups: compute with group_by=COLUMN")
        rows = [r for r in self.results if r.group == (None if group is None else str(group))]
        if group is not None and not rows and not isinstance(group, str):
            # A DataFrame's groups are named as the reader writes the column's values
            # as text (True -> "true", 1.0 -> "1"): the same rule finds them.
            named = _group_names(group)
            rows = [r for r in self.results if r.group in named]
        if group is not None and not rows:
            groups = sorted({str(r.group) for r in self.results if r.group is not None})
            raise UsageError(f"no group {group!r} in this result; it has: {', '.join(groups)}")
        return _value_of(rows, self.models, loss, model)

    def gate_failures(self) -> list[str]:
        """The ``fail_above`` bounds this result exceeds, one sentence each (empty: passed)."""
        from losscli.analysis.gates import gate_failures

        gates: tuple[Gate, ...] = getattr(self, "_gates", ())
        return gate_failures(self.results, list(gates))


# The other commands' results live in losscli._results, imported on first use: their
# analyses (compare, sensitivity, recommend...) are not needed by `loss compute`.
_ELSEWHERE = frozenset(__all__) - {"ComputeResult"}


def __getattr__(name: str) -> Any:
    if name in _ELSEWHERE:
        from losscli import _results

        value = getattr(_results, name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
