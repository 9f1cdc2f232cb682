"""Number formatting for people, and the machine formats (JSON, CSV, markdown)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from losscli.report.console import for_people, safe
from losscli.words import plural as plural  # re-exported: the report's modules use it

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_DIGITS = 5
_digits: ContextVar[int] = ContextVar("losscli_digits", default=DEFAULT_DIGITS)


def set_digits(digits: int | None) -> None:
    """The significant digits of numbers in tables and markdown (``--digits``)."""
    _digits.set(DEFAULT_DIGITS if digits is None else int(digits))


def fmt_number(value: float | None, *, percent: bool = False, digits: int | None = None) -> str:
    """A value with sensible precision: 5 significant digits (``--digits``), scientific
    when tiny or huge. JSON and CSV never go through it: they keep full precision."""
    if digits is None:
        digits = _digits.get()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if percent:
        return fmt_number(100.0 * value, digits=digits) + "%"
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 10 ** max(digits, DEFAULT_DIGITS) * 10 or magnitude < 1e-4:
        return f"{value:.{max(digits - 1, 0)}e}"  # digits significant: 1.5241e-06
    text = f"{value:.{digits}g}"
    if "e" in text and digits < DEFAULT_DIGITS:
        # fewer digits than the value's integer part (1828.7 at 3 digits): 1830, as the
        # default precision would print it, not 1.83e+03
        text = f"{float(text):.0f}"
    return text


#: The label of the whole-data rows of a --group-by table.
TOTAL_GROUP = "(all)"


def group_label(group: str | None) -> str:
    """A --group-by value as tables show it; None (the whole data) is ``(all)``.

    A real group whose value is ``(all)``, or is itself written in double quotes, is
    shown in double quotes (``"(all)"``), so the total row is never mistaken for it.
    JSON and CSV keep the value as it is (the total's group is null / empty there).
    """
    if group is None:
        return TOTAL_GROUP
    if group == TOTAL_GROUP or (len(group) >= 2 and group[0] == group[-1] == '"'):
        return json.dumps(group, ensure_ascii=False)
    return group


_DIGIT_RUNS = re.compile(r"([0-9]+)")


def group_order(group: str) -> tuple[Any, ...]:
    """The sort key of --group-by values on the page: numbers by value (2 before 10, -1
    before 0.5), then the other names with their digit runs compared as numbers (g2 before
    g10), the text as it is breaking ties."""
    try:
        value = float(group)
    except ValueError:
        value = math.nan
    if math.isfinite(value):
        return (0, value, (), group)
    parts = tuple(
        (0, int(p), "") if p.isascii() and p.isdigit() else (1, 0, p)
        for p in _DIGIT_RUNS.split(group)
        if p
    )
    return (1, 0.0, parts, group)


#: The most --group-by values the report's tables and charts show (with all losses and
#: models); more are left out, and the page says which and how to get them all.
MAX_SHOWN_GROUPS = 20
#: ... and fewer with many losses x models: at most this many values in the per-group
#: rows of the compute table, and this many points per per-group chart. With them the
#: page stays the same size, below 1 MB, whatever the number of groups.
GROUP_TABLE_CELLS = 480
GROUP_CHART_POINTS = 60


@dataclass(frozen=True)
class GroupChoice:
    """The groups a report shows: the ``len(shown)`` with the most rows, in
    :func:`group_order`; ``total`` groups in all."""

    column: str
    shown: list[str]
    total: int
    rows_shown: int
    rows_total: int

    @property
    def hidden(self) -> int:
        return self.total - len(self.shown)


def choose_groups(report: Any, shown: ModelChoice | None = None) -> GroupChoice | None:
    """Which groups of a grouped compute report the page shows (None: not grouped).

    All of them up to :data:`MAX_SHOWN_GROUPS` (fewer with many losses x models, see
    :data:`GROUP_TABLE_CELLS`); beyond, those with the most rows (ties: in name order).
    ``shown``: the losses and models the page shows (:func:`choose_models`), default all.
    """
    if report.group_column is None:
        return None
    rows: dict[str, int] = {}
    for r in report.results:
        if r.group is not None:
            rows.setdefault(r.group, r.n_rows)
    labels = len({r.label for r in report.results}) if shown is None else len(shown.losses)
    models = max(1, len(report.models) if shown is None else len(shown.models))
    limit = min(
        MAX_SHOWN_GROUPS,
        GROUP_TABLE_CELLS // max(1, labels * models),
        GROUP_CHART_POINTS // models,
    )
    limit = max(1, limit)
    biggest = sorted(rows, key=lambda g: (-rows[g], group_order(g)))[:limit]
    return GroupChoice(
        column=report.group_column,
        shown=sorted(biggest, key=group_order),
        total=len(rows),
        rows_shown=sum(rows[g] for g in biggest),
        rows_total=sum(rows.values()),
    )


#: The most models the report's tables show (with all their shown losses), and the most
#: losses (the first given); more are left out, and the page says which and how to get
#: them all.
MAX_SHOWN_MODELS = 8
MAX_SHOWN_LOSSES = 16
#: ... and fewer models with many losses: at most this many (loss, model) rows in the
#: comparison and sensitivity tables (and values in the compute table's whole-data rows).
SHOWN_PAIRS = 48
#: The per-model data charts (residual histograms, reliability diagrams, P(true class)
#: and per-sample loss histograms) of at most this many of the shown models: with these
#: bounds the page stays below 1 MB whatever the number of models and losses.
MAX_CHART_MODELS = 4


@dataclass(frozen=True)
class ModelChoice:
    """The models and losses a report shows: ``models`` (in the report's order) are those
    with the best average rank over the shown ``losses`` (the first ones given);
    ``charted``, the best of them, get data charts. ``total_*`` of each in all."""

    models: list[str]
    charted: list[str]
    losses: list[str]
    total_models: int
    total_losses: int

    @property
    def hidden_models(self) -> int:
        return self.total_models - len(self.models)

    @property
    def hidden_losses(self) -> int:
        return self.total_losses - len(self.losses)

    @property
    def hidden(self) -> bool:
        """Whether the tables leave out models or losses."""
        return bool(self.hidden_models or self.hidden_losses)

    def shows(self, label: str, model: str) -> bool:
        """Whether the tables show this loss of this model."""
        return label in self._losses and model in self._models

    @cached_property
    def _losses(self) -> frozenset[str]:
        return frozenset(self.losses)

    @cached_property
    def _models(self) -> frozenset[str]:
        return frozenset(self.models)


def choose_models(compute: Any, compare: Any) -> ModelChoice:
    """Which models and losses the report's tables and charts show.

    The losses: the first :data:`MAX_SHOWN_LOSSES`, in the order given. The models: all
    of them up to :data:`MAX_SHOWN_MODELS` and :data:`SHOWN_PAIRS` (loss, model) rows;
    beyond, those with the best average rank over the shown losses in ``compare`` (a
    loss that ranks no model counts as last; ties: in the order given). The data charts
    are those of the :data:`MAX_CHART_MODELS` best of them.
    """
    models = list(compute.models)
    labels = list(dict.fromkeys(r.label for r in compute.results))
    losses = labels[:MAX_SHOWN_LOSSES]
    shown_losses = frozenset(losses)
    ranks: dict[str, dict[str, int]] = {}
    for r in compare.results:
        if r.label in shown_losses and r.rank is not None:
            ranks.setdefault(r.model, {})[r.label] = r.rank
    last = len(models) + 1

    def average_rank(model: str) -> float:
        found = ranks.get(model, {})
        return sum(found.get(label, last) for label in losses) / max(1, len(losses))

    place = {model: i for i, model in enumerate(models)}
    best = sorted(models, key=lambda m: (average_rank(m), place[m]))
    limit = max(1, min(MAX_SHOWN_MODELS, SHOWN_PAIRS // max(1, len(losses))))
    shown = frozenset(best[:limit])
    charted = frozenset(best[: min(limit, MAX_CHART_MODELS)])
    return ModelChoice(
        models=[m for m in models if m in shown],
        charted=[m for m in models if m in charted],
        losses=losses,
        total_models=len(models),
        total_losses=len(labels),
    )


def fmt_params(params: Mapping[str, Any]) -> str:
    """``delta=1`` style, for tables and CSV cells."""
    parts = []
    for key, value in params.items():
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    return " ".join(parts)


def json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: they become null (a warning says why)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def to_json(payload: Mapping[str, Any]) -> str:
    return json.dumps(json_safe(dict(payload)), indent=2, allow_nan=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return (
            repr(value)
            if math.isfinite(value)
            else ("inf" if value > 0 else "-inf" if value < 0 else "nan")
        )
    if isinstance(value, dict):
        return fmt_params(value)
    return str(value)


def rows_to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Tidy CSV of result rows; numbers at full precision, identical to JSON."""
    if not rows:
        return ""
    cols = list(columns) if columns else list(rows[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(cols)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in cols])
    return buffer.getvalue()


def rows_to_markdown(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> str:
    """A GitHub-flavoured markdown table of result rows."""
    if not rows:
        return ""
    cols = list(columns) if columns else list(rows[0])

    def esc(text: str) -> str:
        # One table row per result: control characters (a newline in a group value)
        # shown as escapes, pipes escaped.
        return safe(text).replace("|", "\\|")

    lines = [
        "| " + " | ".join(esc(c) for c in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(esc(_cell(row.get(c))) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def cells_to_markdown(header: Sequence[str], rows: Sequence[Sequence[str]], right: int) -> str:
    """A markdown table of text cells as the table shows them; columns from ``right`` on
    are right-aligned (the numbers)."""

    def esc(text: str) -> str:
        return safe(text).replace("|", "\\|")

    align = ["---" if i < right else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(esc(c) for c in header) + " |", "|" + "|".join(align) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(esc(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def union_columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    cols: list[str] = []
    for row in rows:
        for key in row:
            if key not in cols:
                cols.append(key)
    return cols


R = TypeVar("R")


def write_report(
    report: R,
    fmt: str,
    console: Console,
    *,
    payload: Callable[[R], Mapping[str, Any]],
    csv_table: Callable[[R], tuple[Sequence[Mapping[str, Any]], Sequence[str]]],
    table: Callable[[R], None],
    markdown: Callable[[R], str] | None = None,
) -> None:
    """Write a report to ``console`` as json, csv, markdown or (any other ``fmt``) a table.

    Tables and markdown are text for people: they get the report with every user
    string shown escaped (:func:`for_people`). Markdown is ``markdown(report)``,
    else the csv rows as a markdown table.
    """
    if fmt in ("table", "markdown"):
        report = for_people(report)
    if fmt == "json":
        console.file.write(to_json(payload(report)) + "\n")
    elif fmt == "csv":
        console.file.write(rows_to_csv(*csv_table(report)))
    elif fmt == "markdown":
        text = markdown(report) if markdown is not None else rows_to_markdown(*csv_table(report))
        console.file.write(text)
    else:
        table(report)
