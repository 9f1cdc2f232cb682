"""Reliability bins: the mergeable state behind ece, mce and the reliability diagram.

Each row contributes its top-label confidence c (the probability the model gives
to the class it predicts: max(p, 1-p) for binary, max_c q_c for multiclass), whether
that predicted class is right, and its weight. Bins are torchmetrics' equal-width
bins over [0, 1]: ``n_bins`` left-closed bins [k/n, (k+1)/n) from
``np.linspace(0, 1, n_bins + 1)`` and one more bin of their own for confidences of
exactly 1 (torchmetrics' ``bucketize(..., right=True) - 1`` over ``n_bins + 1``
boundaries). Per bin the state is three sums -- weight, weight x confidence and
weight x correctness -- so chunks of a file (or shards on other workers) merge by
addition, exactly.

From the bins (W = total weight, W_b, C_b, A_b the sums of bin b):

- ece = sum_b |A_b - C_b| / W, i.e. sum_b (W_b / W) |acc_b - conf_b| (L1)
- mce = max over non-empty bins of |acc_b - conf_b| (the maximum gap)

with acc_b = A_b / W_b and conf_b = C_b / W_b, the points of the reliability
diagram. Unit weights give torchmetrics' values exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: torchmetrics' default number of bins.
DEFAULT_BINS = 15


def top_label(y_true: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) per row: the top-label confidence and whether it is right.

    Binary: ``probabilities`` is P(class 1) of shape (n,), ``y_true`` 0/1; the
    predicted class is 1 when p > 0.5 (a tie predicts 0) and the confidence
    max(p, 1 - p). Multiclass: ``probabilities`` is (n, K), ``y_true`` the class
    index per row; the predicted class is the first argmax and the confidence its
    probability.
    """
    q = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(y_true)
    if q.ndim == 1:
        predicted = (q > 0.5).astype(np.float64)
        confidence = np.maximum(q, 1.0 - q)
    else:
        index = np.argmax(q, axis=1)
        predicted = index.astype(np.float64)
        confidence = q[np.arange(q.shape[0]), index]
    correct = (predicted == y).astype(np.float64)
    return confidence, correct


def bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """The bin of each confidence: [k/n, (k+1)/n) -> k, exactly 1 -> n (its own bin)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.searchsorted(edges, confidence, side="right") - 1
    # Confidences are probabilities in [0, 1]; clip guards rounding at the ends.
    return np.clip(index, 0, n_bins)


@dataclass
class ReliabilityBins:
    """Weighted sums per confidence bin: mergeable, exact across chunk boundaries."""

    n_bins: int = DEFAULT_BINS
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0))
    correct: np.ndarray = field(default_factory=lambda: np.zeros(0))
    count: int = 0  # rows of positive weight

    def __post_init__(self) -> None:
        size = self.n_bins + 1
        if self.weight.size != size:
            self.weight = np.zeros(size)
            self.confidence = np.zeros(size)
            self.correct = np.zeros(size)

    def add(
        self, confidence: np.ndarray, correct: np.ndarray, weights: np.ndarray | None = None
    ) -> None:
        """Count rows in: their top-label confidence, correctness (0/1) and weights."""
        c = np.asarray(confidence, dtype=np.float64)
        a = np.asarray(correct, dtype=np.float64)
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            keep = w > 0
            c, a, w = c[keep], a[keep], w[keep]
        else:
            w = None
        if c.size == 0:
            return
        index = bin_index(c, self.n_bins)
        size = self.n_bins + 1
        if w is None:
            self.weight += np.bincount(index, minlength=size)
            self.confidence += np.bincount(index, weights=c, minlength=size)
            self.correct += np.bincount(index, weights=a, minlength=size)
        else:
            self.weight += np.bincount(index, weights=w, minlength=size)
            self.confidence += np.bincount(index, weights=w * c, minlength=size)
            self.correct += np.bincount(index, weights=w * a, minlength=size)
        self.count += int(c.size)

    def merge(self, other: ReliabilityBins) -> ReliabilityBins:
        if other.n_bins != self.n_bins:
            raise ValueError("cannot merge reliability bins of different sizes")
        return ReliabilityBins(
            self.n_bins,
            self.weight + other.weight,
            self.confidence + other.confidence,
            self.correct + other.correct,
            self.count + other.count,
        )

    def ece(self) -> float:
        """Expected calibration error: the weighted L1 gap between accuracy and confidence."""
        total = float(np.sum(self.weight))
        if self.count == 0 or total <= 0:
            return math.nan
        return float(np.sum(np.abs(self.correct - self.confidence))) / total

    def mce(self) -> float:
        """Maximum calibration error: the largest gap of a non-empty bin."""
        filled = self.weight > 0
        if self.count == 0 or not filled.any():
            return math.nan
        gaps = np.abs(self.correct[filled] - self.confidence[filled]) / self.weight[filled]
        return float(np.max(gaps))

    def diagram(self) -> list[dict[str, float]]:
        """The reliability diagram: one point per non-empty bin.

        Each point: the bin's range (``low``, ``high``; the extra bin of
        confidence 1 is [1, 1]), its mean confidence, its accuracy and its
        share of the total weight.
        """
        total = float(np.sum(self.weight))
        points = []
        for b in np.flatnonzero(self.weight > 0):
            w = float(self.weight[b])
            low = b / self.n_bins
            high = 1.0 if b == self.n_bins else (b + 1) / self.n_bins
            points.append(
                {
                    "low": float(low),
                    "high": float(high),
                    "confidence": float(self.confidence[b]) / w,
                    "accuracy": float(self.correct[b]) / w,
                    "share": w / total,
                }
            )
        return points
