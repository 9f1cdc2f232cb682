"""``--per-sample``: the per-row losses behind a compute report, as CSV, batch by batch.

One row per (data row, model): row number, GAN column, group, model, one
column per loss. Rows come model by model (every row of the first model,
then every row of the next), each in file order. Each batch is written as
one Arrow table by pyarrow's vectorised CSV writer, so the output is never
held whole: the first model's rows go straight to the output, later models'
rows to anonymous temporary files appended at the end.

Numbers are written in Arrow's shortest round-trip form (``0.25``, ``2``,
``1e-05``, ``inf``, ``nan``): reading the file back gives exactly the
float64 values computed. A loss's cell is empty on rows where it is not
defined (its support, e.g. d_real rows for gan_generator).
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import numpy as np

# Rows formatted at once: bounds the text held in memory (~170 bytes a row for 8 losses).
SLICE_ROWS = 1 << 16


class PerSampleWriter:
    """Writes the per-row losses of each batch to ``sink`` (a binary or text file)."""

    def __init__(self, sink: IO[Any]) -> None:
        self.sink = sink
        self.text = isinstance(sink, io.TextIOBase)
        self.models: list[str] = []
        self.labels: list[str] = []
        self.spills: dict[str, IO[bytes]] = {}
        self.started = False

    def _emit(self, target: IO[Any], data: bytes) -> None:
        if target is self.sink and self.text:
            target.write(data.decode("utf-8"))
        else:
            target.write(data)

    def _header(self, chunk: Any, items: list[Any]) -> None:
        for item in items:
            if item.selection.label not in self.labels:
                self.labels.append(item.selection.label)
        self.models = list(chunk.model_names)
        self.gan = chunk.task.value == "generative"
        self.grouped = chunk.groups is not None
        self.ids = list(getattr(chunk, "ids", None) or {})
        header = ["row"] + (["column"] if self.gan else [])
        header += (["group"] if self.grouped else []) + self.ids + ["model"] + self.labels
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(header)
        self._emit(self.sink, line.getvalue().encode("utf-8"))
        self.started = True

    def add(self, chunk: Any, items: list[Any]) -> None:
        """Write one batch's rows (every model)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv

        if not self.started:
            self._header(chunk, items)
        if chunk.n_rows == 0:
            return
        prefix: dict[str, Any] = {"row": pa.array(np.asarray(chunk.row_numbers, dtype=np.int64))}
        if self.gan:
            prefix["column"] = pa.array(np.where(chunk.y_true == 1, "d_real", "d_fake"))
        if self.grouped:
            prefix["group"] = pa.array(np.asarray(chunk.groups).astype(str))
        for position, name in enumerate(self.ids):
            prefix[f"id{position}"] = pa.array(chunk.ids[name], pa.string())
        # Quote strings only when some cell needs it (as the csv module does), so a
        # plain file reads exactly like before; "needed" quotes every string.
        special = any(_needs_quotes(m) for m in self.models)
        for name in ["group"] * self.grouped + [f"id{i}" for i in range(len(self.ids))]:
            if not special:
                found = pc.match_substring_regex(prefix[name], '[,"\r\n]')
                special = bool(pc.any(found).as_py())
        options = pacsv.WriteOptions(
            include_header=False, quoting_style="needed" if special else "none"
        )
        for index, model in enumerate(self.models):
            columns = dict(prefix)
            columns["model"] = pa.repeat(pa.scalar(model, pa.string()), chunk.n_rows)
            by_label = {i.selection.label: i for i in items if i.model == model}
            for position, label in enumerate(self.labels):
                item = by_label[label]
                values = np.asarray(item.values, dtype=np.float64)
                if values.ndim != 1:
                    # A ratio of sums (r2, ece: per-row components) has no per-row
                    # value: its cells stay empty.
                    columns[f"c{position}"] = pa.nulls(chunk.n_rows, pa.float64())
                    continue
                mask = None if item.support is None else ~np.asarray(item.support, dtype=bool)
                columns[f"c{position}"] = pa.array(values, mask=mask)
            table = pa.table(columns)
            target: IO[Any] = self.sink
            if index > 0:
                spill = self.spills.get(model)
                if spill is None:
                    spill = self.spills[model] = tempfile.TemporaryFile()
                target = spill

            def render(start: int, table: pa.Table = table) -> bytes:
                buffer = io.BytesIO()
                pacsv.write_csv(table.slice(start, SLICE_ROWS), buffer, options)
                return buffer.getvalue()

            # Slices formatted on two threads (Arrow releases the GIL), written in order.
            starts = range(0, table.num_rows, SLICE_ROWS)
            if len(starts) == 1:
                self._emit(target, render(0))
                continue
            with ThreadPoolExecutor(max_workers=2) as pool:
                for data in pool.map(render, starts):
                    self._emit(target, data)

    def close(self) -> None:
        """Append the later models' rows; removes the temporary files."""
        try:
            for model in self.models[1:]:
                spill = self.spills.get(model)
                if spill is None:
                    continue
                spill.seek(0)
                if self.text:
                    text = io.TextIOWrapper(spill, encoding="utf-8", newline="")
                    shutil.copyfileobj(text, self.sink, 1 << 20)
                    text.detach()
                else:
                    shutil.copyfileobj(spill, self.sink, 1 << 20)
        finally:
            self.discard()

    def discard(self) -> None:
        for spill in self.spills.values():
            spill.close()
        self.spills = {}


def _needs_quotes(text: str) -> bool:
    return any(c in text for c in ',"\r\n')


def write_per_sample(handle: IO[Any], dataset: Any, items: list[Any]) -> None:
    """The per-row losses of a dataset in memory (one batch) to ``handle``."""
    writer = PerSampleWriter(handle)
    try:
        writer.add(dataset, items)
        writer.close()
    finally:
        writer.discard()
