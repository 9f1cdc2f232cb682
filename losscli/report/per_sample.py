"""``--per-sample``: the per-row losses behind a compute report, as CSV."""

from __future__ import annotations

from typing import IO, Any


def write_per_sample(handle: IO[str], dataset: Any, items: list[Any]) -> None:
    """One row per (data row, model): row number, group, model, one column per loss.

    GAN files stack d_real and d_fake, whose row numbers both start at 1: a
    ``column`` column says which one a row comes from. A loss's cell is empty
    on rows where it is not defined (its support, e.g. d_real for gan_generator).
    """
    import csv

    writer = csv.writer(handle, lineterminator="\n")
    labels: list[str] = []
    for item in items:
        if item.selection.label not in labels:
            labels.append(item.selection.label)
    gan = dataset.task.value == "generative"
    header = ["row"] + (["column"] if gan else [])
    header += (["group"] if dataset.groups is not None else []) + ["model"] + labels
    writer.writerow(header)
    for model in dataset.model_names:
        columns = [(i.values, i.support) for i in items if i.model == model]
        for r, row_number in enumerate(dataset.row_numbers):
            prefix: list[Any] = [int(row_number)]
            if gan:
                prefix.append("d_real" if dataset.y_true[r] == 1 else "d_fake")
            if dataset.groups is not None:
                prefix.append(dataset.groups[r])
            # A figure that is a ratio of sums (r2, ece: per-row components) has no
            # per-row value: its cell stays empty.
            cells = [
                ""
                if values.ndim != 1 or (support is not None and not support[r])
                else repr(float(values[r]))
                for values, support in columns
            ]
            writer.writerow(prefix + [model] + cells)
