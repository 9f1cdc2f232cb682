"""The evidence behind recommend's P-CALIB: per model, proper scores and calibration.

For a binary or multiclass file every model gets, in one pass of mergeable
state (means and reliability bins, so chunks and shards combine exactly):

- its two proper scoring rules, the log loss (``bce`` / ``cce``) and the Brier
  score (``brier`` / ``multiclass_brier``), as ``loss compute`` reports them;
- its ``ece`` (15 equal-width bins of the top-label confidence, L1);
- ``ece_noise``: the ece a perfectly calibrated model with the same bins would
  show by chance, sum_b sqrt(2/pi n_b c_b (1 - c_b)) / n (the mean absolute
  deviation of a bin's accuracy from its confidence c_b under a binomial
  count, weighted by the bin's share), so that a small file is not called
  miscalibrated for its sampling noise alone.

Rows are unweighted, as the rest of recommend's profile. Files whose
predictions are not probabilities (values outside [0, 1] without
``--from-logits``) give no figures: P-NOTPROB speaks for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from losscli.core.calibration import DEFAULT_BINS, ReliabilityBins
from losscli.core.dataset import Dataset
from losscli.core.reduction import MeanAccumulator
from losscli.core.registry import LossSelection, get_loss

#: the proper scoring rules of each task: (figure name, registered loss).
PROPER_SCORES: dict[str, tuple[tuple[str, str], ...]] = {
    "binary": (("log_loss", "bce"), ("brier", "brier")),
    "multiclass": (("log_loss", "cce"), ("brier", "multiclass_brier")),
}


@dataclass
class ModelCalibration:
    """One model's mergeable sums: its proper scores and its reliability bins."""

    scores: dict[str, MeanAccumulator] = field(default_factory=dict)
    bins: ReliabilityBins = field(default_factory=lambda: ReliabilityBins(DEFAULT_BINS))

    def merge(self, other: ModelCalibration) -> ModelCalibration:
        names = dict.fromkeys([*self.scores, *other.scores])
        scores = {
            n: self.scores.get(n, MeanAccumulator()).merge(other.scores.get(n, MeanAccumulator()))
            for n in names
        }
        return ModelCalibration(scores, self.bins.merge(other.bins))

    def figures(self) -> dict[str, float]:
        out = {name: acc.result() for name, acc in self.scores.items()}
        out["ece"] = self.bins.ece()
        out["ece_noise"] = calibrated_ece_noise(self.bins)
        return out


def calibrated_ece_noise(bins: ReliabilityBins) -> float:
    """The ece a calibrated model with these bin counts and confidences shows by chance."""
    total = float(np.sum(bins.weight))
    if total <= 0:
        return math.nan
    filled = bins.weight > 0
    n_b = bins.weight[filled]
    c_b = bins.confidence[filled] / n_b
    spread = np.sqrt(2.0 / math.pi * n_b * np.clip(c_b * (1.0 - c_b), 0.0, None))
    return float(np.sum(spread)) / total


@dataclass
class CalibrationEvidence:
    """Every model's calibration state for one classification file (mergeable)."""

    task: str
    models: dict[str, ModelCalibration] = field(default_factory=dict)
    not_probabilities: bool = False

    def add(self, batch: Dataset) -> None:
        """Count one batch of rows in (every model of it)."""
        if self.task not in PROPER_SCORES or batch.n_rows == 0:
            return
        for model in batch.model_names:
            q = np.asarray(batch.models[model], dtype=np.float64)
            if self.task == "multiclass" and q.ndim != 2:
                continue
            if not batch.from_logits and bool(np.any((q < 0) | (q > 1))):
                self.not_probabilities = True
            if self.not_probabilities:
                continue
            inputs = batch.inputs(model)
            state = self.models.setdefault(model, ModelCalibration())
            for name, loss in PROPER_SCORES[self.task]:
                spec = get_loss(loss)
                values = LossSelection(spec, spec.resolve_params({})).per_sample(inputs)
                state.scores.setdefault(name, MeanAccumulator()).add(values)
            ece = get_loss("ece")
            parts = LossSelection(ece, ece.resolve_params({})).per_sample(inputs)
            state.bins.add(parts[:, 0], parts[:, 1])

    def merge(self, other: CalibrationEvidence) -> CalibrationEvidence:
        models = dict(self.models)
        for name, state in other.models.items():
            models[name] = models[name].merge(state) if name in models else state
        return CalibrationEvidence(
            self.task, models, self.not_probabilities or other.not_probabilities
        )

    def figures(self) -> dict[str, dict[str, float]] | None:
        """{model: {log_loss, brier, ece, ece_noise}}, or None when nothing applies."""
        if self.not_probabilities or not self.models:
            return None
        return {name: state.figures() for name, state in self.models.items()}
