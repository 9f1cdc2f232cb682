"""``--per-sample``: the per-row losses behind a compute report, as CSV, batch by batch.

One row per (data row, model): row number, GAN column, group, model, one
column per loss. Rows come model by model (every row of the first model,
then every row of the next), each in file order. Each batch is written as
one Arrow table by pyarrow's vectorised CSV writer, so the output is never
held whole: the first model's rows go straight to the output; a later model's
rows wait in an anonymous temporary file until the end, as the numbers
themselves (Arrow's binary IPC format: eight bytes a distinct loss value, half
the size of their text), and are turned into text when they are appended.

Numbers are written in Arrow's shortest round-trip form (``0.25``, ``2``,
``inf``, ``nan``; exponent notation as the installed pyarrow spells it:
``1.5e-7`` with pyarrow 26): reading the file back gives exactly the float64
values computed. A loss's cell is empty on rows where it is not
defined (its support, e.g. d_real rows for gan_generator).
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import tempfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

import numpy as np

# Rows formatted at once (~170 bytes of text a row for 8 losses: ~2.8 MB a slice).
SLICE_ROWS = 1 << 14
# Slices handed to the formatting threads and not yet written, at most: bounds the
# text (and the batches' losses) held in memory. Slices of one batch are still being
# formatted while the next batch is read and its figures computed. More in flight
# (8) was no faster and kept more batches' losses alive at once, which made glibc's
# heap grow with the input (100M rows: 1.12x the 10M-row peak, 3 slices: 1.03-1.05x).
IN_FLIGHT = 3
# Bytes of output between two requests that the kernel drop what it has written back.
DROP_WINDOW = 32 << 20


class PerSampleWriter:
    """Writes the per-row losses of each batch to ``sink`` (a binary or text file)."""

    def __init__(self, sink: IO[Any], *, drop_written: bool = False) -> None:
        """``drop_written``: ``sink`` is the output file, read by nobody before the end.

        Its pages then leave the page cache once the kernel has written them back
        (``posix_fadvise(DONTNEED)``, what ``dd oflag=nocache`` does), a window
        behind the writing, without waiting for the disk: gigabytes of per-row
        losses do not push the user's other files out of the cache, and the
        pages freed are reused for the next text instead of fresh memory (the
        kernel's time for a 1.7 GB output: 2.2-2.9 s -> 0.65 s on the benchmark
        machine, benchmarks/README.md).
        """
        self.sink = sink
        self.text = isinstance(sink, io.TextIOBase)
        self.drop_fd = _regular_file(sink) if drop_written else None
        self.dropped = 0
        self.models: list[str] = []
        self.labels: list[str] = []
        self.spills: dict[str, IO[bytes]] = {}
        self.started = False
        self.pool: ThreadPoolExecutor | None = None
        self.pending: deque[Future[Any]] = deque()

    def _emit(self, data: Any) -> None:
        """Write ``data`` (bytes or an Arrow buffer of UTF-8 text) to the output."""
        if self.text:
            self.sink.write(str(memoryview(data), "utf-8"))
        else:
            self.sink.write(memoryview(data))
        if self.drop_fd is not None:
            self._drop_written()

    def _drop_written(self) -> None:
        """Ask the kernel to drop the output's pages two windows behind the writing.

        Each window is asked twice: first it starts its writeback (dirty pages
        are kept), a window later its pages, written back by then, are dropped.
        """
        assert self.drop_fd is not None
        try:
            written = self.sink.tell()
            while written - self.dropped >= 3 * DROP_WINDOW:
                os.posix_fadvise(
                    self.drop_fd, self.dropped, 2 * DROP_WINDOW, os.POSIX_FADV_DONTNEED
                )
                self.dropped += DROP_WINDOW
        except (OSError, ValueError, AttributeError):
            self.drop_fd = None  # only advice: the output is written all the same

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
        self._emit(line.getvalue().encode("utf-8"))
        self.started = True

    def add(self, chunk: Any, items: list[Any]) -> None:
        """Write one batch's rows (every model)."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        from losscli.io.frames import numeric_array

        if not self.started:
            self._header(chunk, items)
        n = chunk.n_rows
        if n == 0:
            return
        # Every column is built from NumPy buffers (pa.array would import pandas, about
        # 40 MiB and a third of a second, only to ask whether its input is a pandas object);
        # text columns are dictionaries of their distinct values, written as plain text.
        prefix: dict[str, Any] = {
            "row": numeric_array(np.asarray(chunk.row_numbers, dtype=np.int64))
        }
        texts: list[str] = list(self.models)
        if self.gan:
            real = np.asarray(chunk.y_true == 1, dtype=np.int8)
            prefix["column"] = _coded(numeric_array(real), ["d_fake", "d_real"])
        if self.grouped:
            codes, names = chunk.group_index()
            prefix["group"] = _coded(numeric_array(np.asarray(codes, dtype=np.int64)), names)
            texts += names
        for position, name in enumerate(self.ids):
            cells = [str(v) for v in chunk.ids[name]]
            prefix[f"id{position}"] = _strings(cells)
            texts += cells
        # Quote strings only when some cell needs it (as the csv module does), so a
        # plain file reads exactly like before; "needed" quotes every string.
        special = any(_needs_quotes(t) for t in texts)
        options = pacsv.WriteOptions(
            include_header=False, quoting_style="needed" if special else "none"
        )
        zeros = numeric_array(np.zeros(n, dtype=np.int8))
        for index, model in enumerate(self.models):
            columns = dict(prefix)
            columns["model"] = _coded(zeros, [model])
            by_label = {i.selection.label: i for i in items if i.model == model}
            seen: list[tuple[str, np.ndarray, np.ndarray | None]] = []
            same: dict[str, str] = {}
            signed: dict[str, tuple[str, np.ndarray]] = {}
            for position, label in enumerate(self.labels):
                item = by_label[label]
                values = np.asarray(item.values, dtype=np.float64)
                name = f"c{position}"
                if values.ndim != 1:
                    # A ratio of sums (r2, ece: per-row components) has no per-row
                    # value: its cells stay empty.
                    columns[name] = pa.nulls(n, pa.float64())
                    continue
                valid = None if item.support is None else np.asarray(item.support, dtype=bool)
                columns[name] = numeric_array(values, valid)
                if not special:
                    twin = _twin(seen, values, valid)
                    if twin is not None:
                        same[name] = twin
                        continue
                    # mbe's e against mae's |e|: the text of -x is "-" and that of x
                    # (NaN, whatever its sign bit, is "nan").
                    mirror = None
                    if _starts_alike(seen, np.abs(values[:_PREFIX])):
                        mirror = _twin(seen, np.abs(values), valid)
                    if mirror is not None:
                        signed[name] = (mirror, np.signbit(values) & ~np.isnan(values))
                    else:
                        seen.append((name, values, valid))
            if index == 0:
                self._write_slices(pa.table(columns), options, same, signed)
            else:
                spill = self.spills.get(model)
                if spill is None:
                    spill = self.spills[model] = tempfile.TemporaryFile()
                _spill(spill, columns, special, same, signed)
            del columns

    def _write_slices(
        self,
        table: Any,
        options: Any,
        same: dict[str, str],
        signed: dict[str, tuple[str, np.ndarray]] | None = None,
    ) -> None:
        """``table`` as CSV text to the output, slice by slice, in order.

        Slices are formatted on two threads (Arrow's writer releases the GIL) into
        Arrow buffers, with at most ``IN_FLIGHT`` slices formatted and not yet
        written: the text held at once is bounded by the slice size, not the batch.
        It returns with the last slices still being formatted (written by the next
        call, or ``_drain``), so they overlap the main thread's work on the next batch.
        ``same`` maps a column to an earlier one with the same values (mse and
        rmse, mae and median_ae per row): that column's text is made once, by
        Arrow's own number-to-text cast (what its writer uses), and written twice.
        ``signed`` maps a column to an earlier one holding its absolute values and
        the rows where it is negative: its text is that text with a "-" before it
        there (what the cast writes for a negative number, -0 included).
        """
        import pyarrow as pa
        import pyarrow.csv as pacsv

        def render(start: int) -> Any:
            part = table.slice(start, SLICE_ROWS)
            if same or signed:
                import pyarrow.compute as pc

                from losscli.io.arrow import repeated_string

                columns = dict(zip(part.column_names, part.columns))
                texts: dict[str, Any] = {}

                def text_of(name: str) -> Any:
                    if name not in texts:
                        texts[name] = columns[name] = pc.cast(columns[name], pa.string())
                    return texts[name]

                for name, twin in same.items():
                    columns[name] = text_of(twin)
                for name, (twin, negative) in (signed or {}).items():
                    minus = _minus_signs(negative[start : start + part.num_rows])
                    no_separator = repeated_string("", 1)[0]
                    columns[name] = pc.binary_join_element_wise(
                        pa.chunked_array([minus]), text_of(twin), no_separator
                    )
                part = pa.table(columns)
            sink = pa.BufferOutputStream()
            pacsv.write_csv(part, sink, options)
            return sink.getvalue()

        starts = range(0, table.num_rows, SLICE_ROWS)
        if len(starts) == 1 and self.pool is None:
            self._emit(render(0))
            return
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=2)
        for start in starts:
            if len(self.pending) == IN_FLIGHT:
                self._emit(self.pending.popleft().result())
            self.pending.append(self.pool.submit(render, start))

    def _drain(self) -> None:
        """Write every slice still being formatted, in order."""
        while self.pending:
            self._emit(self.pending.popleft().result())

    def close(self) -> None:
        """Append the later models' rows; removes the temporary files."""
        import pyarrow.csv as pacsv

        try:
            self._drain()
            for model in self.models[1:]:
                spill = self.spills.get(model)
                if spill is None:
                    continue
                spill.seek(0)
                while True:
                    batch = _unspill(spill)
                    if batch is None:
                        break
                    table, special, same, signed = batch
                    options = pacsv.WriteOptions(
                        include_header=False, quoting_style="needed" if special else "none"
                    )
                    self._write_slices(table, options, same, signed)
            self._drain()
        finally:
            self.discard()

    def discard(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None
        self.pending.clear()
        for spill in self.spills.values():
            spill.close()
        self.spills = {}


_SIGN = "negative:"
# Values compared first when looking for a column's twin.
_PREFIX = 64


def _spill(
    spill: IO[bytes],
    columns: dict[str, Any],
    special: bool,
    same: dict[str, str],
    signed: dict[str, tuple[str, np.ndarray]],
) -> None:
    """One batch of a later model's rows to ``spill``, as numbers (read by ``_unspill``).

    A column that shares its text with another (``same``) is not stored; a
    signed one (``signed``) is stored as its rows' signs, one bit a row. The
    record: its length (8 bytes, little-endian), then an Arrow IPC stream.
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    from losscli.io.frames import numeric_array

    kept: dict[str, Any] = {}
    for name, column in columns.items():
        if name in signed:
            kept[_SIGN + name] = numeric_array(np.asarray(signed[name][1], dtype=bool))
        elif name not in same:
            kept[name] = column
    meta = {
        "order": list(columns),
        "special": special,
        "same": same,
        "signed": {name: twin for name, (twin, _) in signed.items()},
    }
    table = pa.table(kept).replace_schema_metadata({"losscli": json.dumps(meta)})
    out = pa.BufferOutputStream()
    with ipc.new_stream(out, table.schema) as stream:
        stream.write_table(table)
    data = out.getvalue()
    spill.write(len(data).to_bytes(8, "little"))
    spill.write(memoryview(data))


def _unspill(
    spill: IO[bytes],
) -> tuple[Any, bool, dict[str, str], dict[str, tuple[str, np.ndarray]]] | None:
    """The next batch ``_spill`` wrote (None at the end): the table to write and its
    quoting, shared and signed columns, as ``_write_slices`` takes them."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    head = spill.read(8)
    if not head:
        return None
    size = int.from_bytes(head, "little")
    table = ipc.open_stream(pa.py_buffer(spill.read(size))).read_all()
    meta = json.loads(table.schema.metadata[b"losscli"])
    same: dict[str, str] = meta["same"]
    signed: dict[str, tuple[str, np.ndarray]] = {}
    columns: dict[str, Any] = {}
    for name in meta["order"]:
        if name in same:
            columns[name] = table[same[name]]  # its text is its twin's
        elif name in meta["signed"]:
            twin = meta["signed"][name]
            columns[name] = table[twin]  # its text is its twin's, signed
            negative = table[_SIGN + name].to_numpy(zero_copy_only=False)
            signed[name] = (twin, np.asarray(negative, dtype=bool))
        else:
            columns[name] = table[name]
    return pa.table(columns), bool(meta["special"]), same, signed


def _regular_file(sink: IO[Any]) -> int | None:
    """The file descriptor of ``sink`` if it is a regular file the kernel takes advice on."""
    if not hasattr(os, "posix_fadvise"):
        return None
    try:
        fd = sink.fileno()
        return fd if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None


def _twin(
    seen: list[tuple[str, np.ndarray, np.ndarray | None]],
    values: np.ndarray,
    valid: np.ndarray | None,
) -> str | None:
    """The column in ``seen`` with bit-identical values and the same empty cells, if any.

    Bits, not ==: -0.0 and 0.0 (or two NaNs) are written differently or alike by
    their bits, so only an exact copy may share its text.
    """
    from losscli.analysis.evaluate import same_bits

    for name, other, other_valid in seen:
        if valid is None or other_valid is None:
            if (valid is None) != (other_valid is None):
                continue
        elif not np.array_equal(valid, other_valid):
            continue
        if same_bits(other, values):
            return name
    return None


def _starts_alike(seen: list[tuple[str, np.ndarray, np.ndarray | None]], head: np.ndarray) -> bool:
    """Whether some column in ``seen`` begins with the bits of ``head``: a cheap test
    before a whole column is compared (or its absolute values computed)."""
    bits = head.view(np.uint64).tobytes()
    return any(other.view(np.uint64)[: head.size].tobytes() == bits for _, other, _ in seen)


def _minus_signs(negative: np.ndarray) -> Any:
    """A string array: "-" where ``negative``, "" elsewhere (built from its buffers)."""
    import pyarrow as pa

    offsets = np.zeros(negative.size + 1, dtype=np.int32)
    np.cumsum(negative, out=offsets[1:])
    data = b"-" * int(offsets[-1])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), int(negative.size), buffers)


def _needs_quotes(text: str) -> bool:
    return any(c in text for c in ',"\r\n')


def _strings(texts: list[str]) -> Any:
    """An Arrow string array of ``texts``, built from its buffers."""
    import pyarrow as pa

    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.large_string(), len(encoded), buffers)


def _coded(indices: Any, names: list[str]) -> Any:
    """Row ``i`` is ``names[indices[i]]``: a dictionary array, written as its text."""
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(indices, _strings(names))


def write_per_sample(handle: IO[Any], dataset: Any, items: list[Any]) -> None:
    """The per-row losses of a dataset in memory (one batch) to ``handle``."""
    writer = PerSampleWriter(handle)
    try:
        writer.add(dataset, items)
        writer.close()
    finally:
        writer.discard()
