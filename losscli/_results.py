"""The result objects of every command but compute (see :mod:`losscli.results`).

Kept apart so that ``loss compute`` does not import the other analyses; they are
reached as ``losscli.results.CompareResult`` etc. (their ``__module__`` says so).
"""

from __future__ import annotations

import math
from typing import Any

from losscli.analysis.compare import CompareReport
from losscli.analysis.convexity import ConvexityReport
from losscli.analysis.curves import CurvesReport
from losscli.analysis.recommend import RecommendReport
from losscli.analysis.sensitivity import SensitivityReport
from losscli.errors import UsageError
from losscli.results import _Result, _rows_text, _value_of

__all__ = [
    "CompareResult",
    "CurvesResult",
    "ExplainResult",
    "RecommendResult",
    "SensitivityResult",
]


class CompareResult(CompareReport, _Result):
    """What :func:`losscli.compare` (``loss compare FILE``) found."""

    _title = "Models compared"

    def _table(self) -> tuple[list[dict[str, Any]], list[str]]:
        from losscli.report.compare import models_csv_table

        return models_csv_table(self)

    def _draw(self, console: Any) -> None:
        from losscli.report.compare import render_models

        render_models(self, "table", console)

    def _facts(self) -> list[str]:
        return [self.source, f"task {self.task}", f"{_rows_text(self.n_rows)} used"]

    def value(self, loss: str, model: str | None = None, group: str | None = None) -> float:
        """One loss's value for one model (needed with several)."""
        if group is not None:
            raise UsageError("compare has no groups; use lc.compute(..., group_by=...)")
        return _value_of(self.results, self.models, loss, model)


class CurvesResult(CurvesReport, _Result):
    """Losses compared as functions (:func:`losscli.compare_losses`)."""

    _title = "Loss curves"

    def _payload(self) -> dict[str, Any]:
        from losscli.report.compare import curves_dict

        return curves_dict(self)

    def _table(self) -> tuple[list[dict[str, Any]], list[str]]:
        from losscli.report.compare import curves_csv_table

        return curves_csv_table(self)

    def _draw(self, console: Any) -> None:
        from losscli.report.compare import render_curves

        render_curves(self, "table", console, color=console.is_terminal and not console.no_color)

    def _facts(self) -> list[str]:
        return [f"errors {self.errors.text()}"]


class SensitivityResult(SensitivityReport, _Result):
    """What :func:`losscli.sensitivity` (``loss sensitivity``) found."""

    _title = "Outlier sensitivity"

    def _table(self) -> tuple[list[dict[str, Any]], list[str]]:
        from losscli.report.sensitivity import csv_table

        return csv_table(self)

    def _draw(self, console: Any) -> None:
        from losscli.report.sensitivity import render

        render(self, "table", console)

    def _facts(self) -> list[str]:
        facts = [self.source, f"task {self.task}", f"{_rows_text(self.n_rows)} used"]
        if self.outliers:
            first = self.outliers[0]
            facts.append(f"{first.count:,} flagged in {first.model} ({first.rule})")
        return facts

    def value(self, loss: str, model: str | None = None, group: str | None = None) -> float:
        """One loss's value (with every row) for one model (needed with several)."""
        if group is not None:
            raise UsageError("sensitivity has no groups; use lc.compute(..., group_by=...)")
        return _value_of(self.results, self.models, loss, model)


class RecommendResult(RecommendReport, _Result):
    """What :func:`losscli.recommend` (``loss recommend``) concluded."""

    _title = "Recommendation"

    def _table(self) -> tuple[list[dict[str, Any]], list[str]]:
        from losscli.report.recommend import csv_table

        return csv_table(self)

    def _draw(self, console: Any) -> None:
        from losscli.report.recommend import render

        render(self, "table", console)

    def _facts(self) -> list[str]:
        return [f"task {self.task} ({self.task_reason})"]

    def value(self, loss: str, model: str | None = None, group: str | None = None) -> float:
        """The score (0 to 1) of a recommended loss; NaN when it is not recommended."""
        from losscli.core.registry import get_loss

        name = get_loss(loss.split(":", 1)[0]).name
        for rec in self.recommendations:
            if rec.loss == name:
                return float(rec.score)
        return math.nan


class ExplainResult(ConvexityReport, _Result):
    """The convexity analysis of one loss (:func:`losscli.explain`)."""

    _title = "Convexity"

    def _payload(self) -> dict[str, Any]:
        from losscli.report.explain import explain_dict

        return explain_dict(self)

    def _table(self) -> tuple[list[dict[str, Any]], list[str]]:
        from losscli.report.explain import csv_table

        return csv_table(self)

    def _draw(self, console: Any) -> None:
        from losscli.report.explain import render

        render(self, "table", console, color=console.is_terminal and not console.no_color)

    def _facts(self) -> list[str]:
        return [f"{self.loss} with link {self.link}: {'convex' if self.convex else 'not convex'}"]


for _class in (CompareResult, CurvesResult, SensitivityResult, RecommendResult, ExplainResult):
    _class.__module__ = "losscli.results"
