"""Reliability bins: predicted probability against observed frequency, in equal-width bins.

The aggregate behind a reliability diagram: 15 equal-width bins over [0, 1]
(torchmetrics' default for calibration error), each holding the weight of its
rows, the weighted sum of the confidence and the weighted sum of the outcome.
Mergeable: bins of two batches add, so a diagram never needs the raw rows.

- binary: the confidence is the predicted probability of class 1 and the
  outcome is y_true (the classic calibration curve);
- multiclass: the confidence is the top-label probability and the outcome
  whether the top label is the true class (torchmetrics' top-label definition).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RELIABILITY_BINS = 15


@dataclass
class ReliabilityBins:
    """Per-bin weight, confidence sum and outcome sum; ``update`` and ``merge`` add."""

    n_bins: int = RELIABILITY_BINS

    def __post_init__(self) -> None:
        self.weight = np.zeros(self.n_bins)
        self.confidence = np.zeros(self.n_bins)
        self.outcome = np.zeros(self.n_bins)

    def update(
        self, confidence: np.ndarray, outcome: np.ndarray, weights: np.ndarray | None = None
    ) -> None:
        conf = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
        w = np.ones_like(conf) if weights is None else np.asarray(weights, dtype=np.float64)
        # Bins are (lo, hi] as in torchmetrics, with 0 in the first bin.
        index = np.clip(np.ceil(conf * self.n_bins).astype(np.intp) - 1, 0, self.n_bins - 1)
        self.weight += np.bincount(index, weights=w, minlength=self.n_bins)
        self.confidence += np.bincount(index, weights=w * conf, minlength=self.n_bins)
        self.outcome += np.bincount(
            index, weights=w * np.asarray(outcome, dtype=np.float64), minlength=self.n_bins
        )

    def merge(self, other: ReliabilityBins) -> ReliabilityBins:
        self.weight += other.weight
        self.confidence += other.confidence
        self.outcome += other.outcome
        return self

    def finish(self, model: str, kind: str) -> Reliability:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_conf = np.where(self.weight > 0, self.confidence / self.weight, np.nan)
            freq = np.where(self.weight > 0, self.outcome / self.weight, np.nan)
        edges = np.linspace(0.0, 1.0, self.n_bins + 1)
        return Reliability(
            model=model,
            kind=kind,
            edges=[float(e) for e in edges],
            weight=[float(w) for w in self.weight],
            confidence=[None if np.isnan(c) else float(c) for c in mean_conf],
            frequency=[None if np.isnan(f) else float(f) for f in freq],
        )


@dataclass(frozen=True)
class Reliability:
    """A finished reliability diagram of one model (empty bins hold None)."""

    model: str
    kind: str  # "binary": P(class 1) vs frequency; "top-label": confidence vs accuracy
    edges: list[float]
    weight: list[float]
    confidence: list[float | None]
    frequency: list[float | None]

    @property
    def xlabel(self) -> str:
        return "Predicted P(class 1)" if self.kind == "binary" else "Top-label confidence"

    @property
    def ylabel(self) -> str:
        return "Observed frequency of class 1" if self.kind == "binary" else "Accuracy"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "kind": self.kind,
            "edges": self.edges,
            "weight": self.weight,
            "confidence": self.confidence,
            "frequency": self.frequency,
        }
