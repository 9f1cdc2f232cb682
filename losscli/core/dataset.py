"""The validated data every command works on: NumPy arrays plus where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from losscli.core.registry import LossInputs, Task

# Distinct --group-by values allowed over the whole input (bounds the per-group state).
MAX_GROUPS = 1000


@dataclass(frozen=True)
class Dataset:
    """Targets, one prediction array per model, optional weights and groups.

    ``row_numbers`` are the 1-based data-row numbers in the input file of the
    rows kept (after --nan drop), so every message can point back to the file.
    ``columns`` maps a logical input ("y_true", a model name) to the file's
    column name(s), for messages. ``strata`` labels rows that come from separate
    samples (GAN: 1 for d_real rows, 0 for d_fake rows); the bootstrap resamples
    each stratum within itself, keeping its size.
    """

    source: str
    task: Task
    task_reason: str
    y_true: np.ndarray
    models: dict[str, np.ndarray]
    row_numbers: np.ndarray
    weights: np.ndarray | None = None
    groups: np.ndarray | None = None
    group_column: str | None = None
    n_dropped: int = 0
    from_logits: bool = False
    labels: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    soft_targets: bool = False  # multiclass: targets came as y_true_<class> columns
    # What the data provide beyond the task, for default panels: "hard_labels",
    # "target_columns", "probabilities", "scores" (raw scores for margin losses: logits or
    # values outside [0, 1]), "pairs", "triplets", "d_real", "reconstruction".
    features: frozenset[str] = frozenset()
    # The file's targets when the task mapped them (binary labels -1/1 -> 0/1).
    file_y_true: np.ndarray | None = None
    columns: dict[str, str] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    strata: np.ndarray | None = None
    # Binary targets read with --pos-label: the distinct labels of y_true in these rows
    # (at most three), for the checks over the whole input.
    binary_labels: tuple[str, ...] = ()
    # --id-col: input columns (as text) copied into the per-sample output, by column name.
    ids: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Entries in the arrays (for GAN files: values of d_real plus d_fake)."""
        return int(self.row_numbers.shape[0])

    @property
    def n_file_rows(self) -> int:
        """Data rows of the file that were used: what reports call n_rows (SPEC 2).

        The same as ``n_rows`` except for GAN files, whose two columns are
        stacked and share row numbers.
        """
        if self.task is Task.GENERATIVE:
            return int(np.unique(self.row_numbers).size)
        return self.n_rows

    @property
    def model_names(self) -> list[str]:
        return list(self.models)

    def inputs(self, model: str, loss_task: Task | None = None) -> LossInputs:
        """The kernel inputs for one model (for a loss of ``loss_task``).

        Regression losses scoring binary data see the file's own targets: the
        -1 -> 0 mapping is for the binary losses only.
        """
        y_true = self.y_true
        if loss_task is Task.REGRESSION and self.file_y_true is not None:
            y_true = self.file_y_true
        return LossInputs(
            y_true=y_true,
            y_pred=self.models[model],
            from_logits=self.from_logits,
            labels=self.labels,
            extra=self.extra,
        )

    def column_of(self, target: str, model: str) -> str:
        """The file column behind a kernel input name, for error messages."""
        if target == "y_pred":
            return self.columns.get(model, model)
        return self.columns.get(target, target)
