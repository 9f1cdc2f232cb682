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
    # The reader's integer codes of ``groups`` (equal codes, equal names), valid only for
    # the very array they came with: slicing or replacing ``groups`` leaves them unused.
    group_codes: tuple[np.ndarray, np.ndarray] | None = field(
        default=None, repr=False, compare=False
    )
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

    def group_index(self) -> tuple[np.ndarray, list[str]]:
        """Each row's code (intp) into the sorted distinct group names, and those names."""
        if self.groups is None:
            raise ValueError("these data have no groups")
        known = self.group_codes
        if known is not None and known[0] is self.groups and known[1].shape == self.groups.shape:
            return _ranked(self.groups, known[1])
        return factorize_groups(self.groups)

    def column_of(self, target: str, model: str) -> str:
        """The file column behind a kernel input name, for error messages."""
        if target == "y_pred":
            return self.columns.get(model, model)
        return self.columns.get(target, target)


_SLOTS = 1 << 16


def factorize_groups(groups: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each row's code (intp) into the sorted distinct group names, and those names.

    The reader gives groups as a fixed-width string array: their characters
    are hashed to 64 bits per row and the hashes sorted (integers, fast), the
    distinct values checked against every row (so a hash collision cannot
    merge two groups: it falls back to sorting the strings). Other arrays
    (Python strings) are sorted as strings.
    """
    values = np.asarray(groups)
    if values.dtype.kind == "U" and values.size and values.dtype.itemsize:
        width = values.dtype.itemsize // 4
        chars = np.ascontiguousarray(values).view(np.uint32).reshape(-1, width)
        hashed = np.zeros(values.shape[0], dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in range(width):
                hashed = hashed * np.uint64(0x100000001B3) + chars[:, k].astype(np.uint64)
        # Few groups: a row's slot (16 bits of its hash) and one representative row per
        # slot, no sort at all; accepted only if every row equals its slot's representative.
        slot = (hashed >> np.uint64(48)).astype(np.intp)
        representative = np.zeros(_SLOTS, dtype=np.intp)
        representative[slot] = np.arange(slot.size)
        if np.array_equal(values[representative[slot]], values):
            used = np.flatnonzero(np.bincount(slot, minlength=_SLOTS))
            distinct = values[representative[used]]
            order = np.argsort(distinct, kind="stable")
            rank = np.zeros(_SLOTS, dtype=np.intp)
            rank[used[order]] = np.arange(order.size)
            return rank[slot], [str(n) for n in distinct[order]]
        _, first, inverse = np.unique(hashed, return_index=True, return_inverse=True)
        distinct = values[first]
        if np.array_equal(distinct[inverse], values):
            order = np.argsort(distinct, kind="stable")
            rank = np.empty(order.size, dtype=np.intp)
            rank[order] = np.arange(order.size)
            return rank[inverse.reshape(-1)], [str(n) for n in distinct[order]]
    names, codes = np.unique(values.astype(str), return_inverse=True)
    return codes.reshape(-1), [str(n) for n in names]


def _ranked(groups: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes of any numbering made dense and ordered by name (one representative row each)."""
    if codes.size == 0:
        return np.zeros(0, dtype=np.intp), []
    codes = codes.astype(np.intp, copy=False)
    size = int(codes.max()) + 1
    representative = np.zeros(size, dtype=np.intp)
    representative[codes] = np.arange(codes.size)
    used = np.flatnonzero(np.bincount(codes, minlength=size))
    distinct = np.asarray(groups)[representative[used]].astype(str)
    order = np.argsort(distinct, kind="stable")
    rank = np.zeros(size, dtype=np.intp)
    rank[used[order]] = np.arange(order.size)
    return rank[codes], [str(n) for n in distinct[order]]
