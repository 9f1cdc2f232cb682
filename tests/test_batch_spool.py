"""The local engine keeps pass 1's batches for the later passes (engines/local.BatchSpool).

A plan whose first step says another pass follows (sensitivity, recommend on
regression data, compare --ci with a median-type loss, the report) reads the
input once; the later passes read the batches back from an anonymous
temporary file. The batches read back are the same Datasets, so the figures
are those of reading the input again; when the spool cannot be written, the
input is read again.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import threading

import numpy as np
import pytest
from plan_support import assert_same

import losscli.io.text as text_module
from losscli.analysis.compare_plan import compare_plan
from losscli.analysis.plan import ListSource, more_passes
from losscli.analysis.profile_plan import ProfileScan
from losscli.analysis.sensitivity_plan import sensitivity_plan
from losscli.cli.common import choose_losses
from losscli.core.dataset import Dataset
from losscli.engines import local
from losscli.engines.local import BatchSpool, run_plan
from losscli.errors import InputError
from losscli.io import InputOptions
from losscli.io.frames import FrameSource
from losscli.io.source import open_source


def _write(path, n=3000, bad_row=None):
    rng = np.random.default_rng(7)
    y = rng.normal(0, 3, n)
    lines = ["y_true,a,b,w,g"]
    for i in range(n):
        a = y[i] + rng.standard_t(2)
        b = y[i] + rng.normal(0.3, 1.0)
        cell = "oops" if i == bad_row else f"{a:.6f}"
        lines.append(f"{y[i]:.6f},{cell},{b:.6f},{1 + i % 3},g{i % 4}")
    path.write_text("\n".join(lines) + "\n")
    return path


OPTS = InputOptions(pred_cols=("a", "b"), weight_col="w", group_by="g", id_cols=("g",))


@pytest.fixture
def small_chunks(monkeypatch):
    """Many batches: the file is read in chunks of a few kilobytes."""
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 1000)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 7000)


class _Counted:
    """A source that counts its passes over the input."""

    def __init__(self, source):
        self.source = source
        self.reads = 0

    def batches(self):
        self.reads += 1
        return self.source.batches()


def _run(plan, path):
    source = open_source(str(path), OPTS)
    counted = _Counted(source)
    try:
        return run_plan(plan, counted), counted.reads
    finally:
        source.close()


def _sensitivity():
    return sensitivity_plan(lambda head: choose_losses((), head))


def _compare_ci():
    return compare_plan(lambda head: choose_losses((), head), ci_level=0.9, n_boot=50, seed=3)


def test_a_batch_read_back_is_the_same_dataset(tmp_path, small_chunks):
    path = _write(tmp_path / "d.csv")
    source = open_source(str(path), OPTS)
    try:
        batches = list(source.batches())
    finally:
        source.close()
    assert len(batches) > 3
    first = batches[0]
    # Values that pickle in band and out of band: strings, labels, notes, extra columns.
    batches[0] = dataclasses.replace(
        first,
        labels=np.arange(first.n_rows) % 2,
        notes=("a note",),
        extra={"t": np.linspace(0, 1, first.n_rows)[::2].repeat(2)[: first.n_rows]},
        ids={"id": np.array([f"r{i}" for i in range(first.n_rows)], dtype=object)},
    )
    spool = BatchSpool.start()
    assert spool is not None
    try:
        for batch in batches:
            spool.add(batch)
        spool.finish_writing()
        assert spool.complete
        again = list(spool.batches())
        assert len(again) == len(batches)
        for want, got in zip(batches, again):
            _assert_same_dataset(want, got)
        # A third pass reads them again from the start.
        assert len(list(spool.batches())) == len(batches)
    finally:
        spool.close()


def _assert_same_dataset(want: Dataset, got: Dataset) -> None:
    for f in dataclasses.fields(Dataset):
        a, b = getattr(want, f.name), getattr(got, f.name)
        if isinstance(a, dict):
            assert a.keys() == b.keys(), f.name
            for key in a:
                _assert_same_value(a[key], b[key], f"{f.name}[{key}]")
        elif isinstance(a, tuple) and a and isinstance(a[0], np.ndarray):
            for x, y in zip(a, b):
                _assert_same_value(x, y, f.name)
        else:
            _assert_same_value(a, b, f.name)


def _assert_same_value(a, b, name):
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, name
        if a.dtype.kind == "f":
            assert a.view(np.uint64).tobytes() == b.view(np.uint64).tobytes(), name
        else:
            assert np.array_equal(a, b), name
    else:
        assert a == b, name


@pytest.mark.parametrize("make", [_sensitivity, _compare_ci], ids=["sensitivity", "compare-ci"])
def test_later_passes_read_the_spool_with_the_same_figures(
    tmp_path, small_chunks, monkeypatch, make
):
    path = _write(tmp_path / "d.csv")
    got, reads = _run(make(), path)
    assert reads == 1  # the input was read once; pass 2 came from the spool
    monkeypatch.setattr(BatchSpool, "start", classmethod(lambda cls: None))
    want, reads_again = _run(make(), path)
    assert reads_again >= 2
    assert_same(got.as_dict(), want.as_dict())
    assert json.dumps(got.as_dict(), sort_keys=True, default=str) == json.dumps(
        want.as_dict(), sort_keys=True, default=str
    )


def test_a_spool_that_cannot_be_written_reads_the_input_again(tmp_path, small_chunks, monkeypatch):
    path = _write(tmp_path / "d.csv")
    want, _ = _run(_sensitivity(), path)
    written = []

    def full(self, batch):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(batch)

    monkeypatch.setattr(BatchSpool, "_write", full)
    got, reads = _run(_sensitivity(), path)
    assert written and reads == 2
    assert_same(got.as_dict(), want.as_dict())


def test_no_temporary_folder_reads_the_input_again(tmp_path, small_chunks, monkeypatch):
    path = _write(tmp_path / "d.csv")
    want, _ = _run(_sensitivity(), path)

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(local.tempfile, "TemporaryFile", refused)
    got, reads = _run(_sensitivity(), path)
    assert reads == 2
    assert_same(got.as_dict(), want.as_dict())


def test_an_error_in_pass_1_stops_the_spool(tmp_path, small_chunks):
    path = _write(tmp_path / "d.csv", bad_row=2500)
    with pytest.raises(InputError, match="oops"):
        _run(_sensitivity(), path)
    alive = [t.name for t in threading.enumerate() if t.name.startswith("losscli-spool")]
    assert alive == []


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux: /proc/self/fd")
@pytest.mark.parametrize("bad_row", [None, 2500], ids=["done", "error in pass 1"])
def test_the_spool_is_closed_when_the_command_ends(tmp_path, small_chunks, monkeypatch, bad_row):
    """The file is anonymous (never in the folder); what must not outlive the command
    is the open file (its space) and the writer thread."""
    path = _write(tmp_path / "d.csv", bad_row=bad_row)
    made: list[BatchSpool] = []
    start = BatchSpool.start.__func__

    def recorded(cls):
        spool = start(cls)
        made.append(spool)
        return spool

    monkeypatch.setattr(BatchSpool, "start", classmethod(recorded))
    before = _open_fds()
    if bad_row is None:
        _, reads = _run(_sensitivity(), path)
        assert reads == 1
    else:
        with pytest.raises(InputError):
            _run(_sensitivity(), path)
    assert len(made) == 1 and made[0]._file.closed
    assert _open_fds() <= before
    assert not [t for t in threading.enumerate() if t.name == "losscli-spool"]


def test_a_spool_beyond_its_share_of_the_folder_gives_its_space_back(
    tmp_path, small_chunks, monkeypatch
):
    """A bound on the spool (half the free space at its start): past it, the file is
    truncated at once, so the temporary files a command needs still find room, and
    the input is read again."""
    path = _write(tmp_path / "d.csv")
    want, _ = _run(_sensitivity(), path)
    made: list[BatchSpool] = []

    def small(cls):
        spool = cls(local.tempfile.TemporaryFile(), budget=20_000)
        made.append(spool)
        return spool

    sizes_after_drop: list[int] = []
    drop = BatchSpool._drop

    def watched(self):
        drop(self)
        sizes_after_drop.append(os.fstat(self._fd).st_size)

    monkeypatch.setattr(BatchSpool, "start", classmethod(small))
    monkeypatch.setattr(BatchSpool, "_drop", watched)
    got, reads = _run(_sensitivity(), path)
    assert reads == 2
    assert_same(got.as_dict(), want.as_dict())
    assert made[0]._size <= 20_000 and made[0]._index == []
    assert sizes_after_drop == [0]  # the space went back when the bound was reached


def test_without_positional_reads_there_is_no_spool(monkeypatch):
    monkeypatch.delattr(local.os, "pread")
    assert BatchSpool.start() is None


def test_stdin_and_fifos_are_not_spooled_twice(tmp_path):
    """They are copied to a temporary file as they are read already."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    step = next(_compare_ci()(next(iter(ListSource([_head(tmp_path)]).batches()))))
    for name in ("-", str(fifo)):
        source = open_source(name, OPTS)
        try:
            assert source.keeps_a_copy
            assert not local._worth_keeping(step, source)
        finally:
            source.close()
    regular = open_source(str(_write(tmp_path / "r.csv", n=20)), OPTS)
    assert not regular.keeps_a_copy and local._worth_keeping(step, regular)
    regular.close()


def _head(tmp_path):
    source = open_source(str(_write(tmp_path / "h.csv", n=50)), OPTS)
    try:
        return next(iter(source.batches()))
    finally:
        source.close()


def test_which_steps_keep_their_batches(tmp_path):
    assert more_passes(ProfileScan("regression", "y_pred", 1e-6))
    assert not more_passes(ProfileScan("binary", "y_pred", 1e-6))
    assert not more_passes(object())
    # One pass only (compute, compare without --ci): no spool.
    source = open_source(str(_write(tmp_path / "d.csv", n=50)), OPTS)
    try:
        head = next(iter(source.batches()))
    finally:
        source.close()
    plain = next(compare_plan(lambda h: choose_losses((), h))(head))
    assert not more_passes(plain)
    with_ci = next(_compare_ci()(head))
    assert more_passes(with_ci)
    only_means = next(
        compare_plan(lambda h: choose_losses(("mse", "mae"), h), ci_level=0.9, n_boot=50)(head)
    )
    assert not more_passes(only_means)
    # Batches already in memory are not spooled (a list of batches, a DataFrame).
    assert not local._worth_keeping(with_ci, ListSource([head]))
    frame = FrameSource({"y_true": [1.0, 2.0], "y_pred": [1.5, 2.5]}, InputOptions())
    assert not local._worth_keeping(with_ci, frame)
    assert local._worth_keeping(with_ci, source)
