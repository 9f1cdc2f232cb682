"""Result dataclasses shared by every output format (table, JSON, CSV, markdown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LossResult:
    """One loss value for one model (and group)."""

    loss: str
    label: str
    params: dict[str, Any]
    model: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    group: str | None = None
    percent: bool = False
    signed: bool = False
    n_rows: int = 0

    def as_dict(self, with_ci: bool, with_group: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "loss": self.loss,
            "params": dict(self.params),
            "model": self.model,
            "value": self.value,
        }
        if with_ci:
            row["ci_low"] = self.ci_low
            row["ci_high"] = self.ci_high
        if with_group:
            row["group"] = self.group
            row["n_rows"] = self.n_rows  # the group's rows (the whole file's for group null)
        return row


@dataclass(frozen=True)
class ComputeReport:
    """What ``loss compute`` found."""

    source: str
    task: str
    task_reason: str
    n_rows: int
    n_dropped: int
    models: list[str]
    results: list[LossResult]
    ci_level: float | None = None
    n_boot: int = 0
    group_column: str | None = None
    eps: float = 0.0
    from_logits: bool = False
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    weight_column: str | None = None  # the footer says "weighted by COL"

    def as_dict(self) -> dict[str, Any]:
        with_ci = self.ci_level is not None
        with_group = self.group_column is not None
        out: dict[str, Any] = {
            "command": "compute",
            "source": self.source,
            "task": self.task,
            "n_rows": self.n_rows,
            "n_dropped": self.n_dropped,
            "results": [r.as_dict(with_ci, with_group) for r in self.results],
        }
        if with_ci:
            out["ci_level"] = self.ci_level
            out["bootstrap"] = self.n_boot
        if with_group:
            out["group_by"] = self.group_column
        out["task_reason"] = self.task_reason
        out["warnings"] = list(self.warnings)
        return out
