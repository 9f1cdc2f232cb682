"""open_source / Source.batches(): every call is one full pass over the input.

Files are opened again; stdin (a real pipe here) is spooled to a temporary
file by the first pass, so later passes, even after a pass that stopped
early, see the same rows.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import losscli.io.text as text_module
from losscli.io.columns import InputOptions, load_dataset
from losscli.io.source import open_source


def _rows(n: int) -> bytes:
    rng = np.random.default_rng(3)
    lines = ["y_true,y_pred"] + [f"{rng.normal():.6f},{rng.normal():.6f}" for _ in range(n)]
    return ("\n".join(lines) + "\n").encode()


def _concat(chunks):
    chunks = list(chunks)
    return (
        np.concatenate([c.y_true for c in chunks]),
        np.concatenate([c.models["y_pred"] for c in chunks]),
        np.concatenate([c.row_numbers for c in chunks]),
        len(chunks),
    )


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 2048)


def test_file_passes_repeat(tmp_path, small_chunks):
    path = tmp_path / "d.csv"
    path.write_bytes(_rows(900))
    source = open_source(str(path), InputOptions())
    assert source.source == str(path)
    assert source.total_bytes == path.stat().st_size
    first, second = _concat(source.batches()), _concat(source.batches())
    assert first[3] > 3  # several chunks
    whole = load_dataset(str(path), InputOptions())
    for a, b in zip(first[:3], second[:3]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first[0], whole.y_true)
    np.testing.assert_array_equal(first[2], np.arange(1, 901))


def _pipe_stdin(monkeypatch, data: bytes) -> threading.Thread:
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as w:
            w.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(os.fdopen(read_fd, "rb")))
    return writer


def test_stdin_is_spooled_for_later_passes(tmp_path, monkeypatch, small_chunks):
    data = _rows(900)
    writer = _pipe_stdin(monkeypatch, data)
    source = open_source("-", InputOptions())
    assert source.source == "-"
    # A first pass that stops after one chunk; the next passes still see every row.
    partial = source.batches()
    head = next(partial)
    partial.close()
    assert head.n_rows < 900
    second, third = _concat(source.batches()), _concat(source.batches())
    writer.join()
    source.close()
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    whole = load_dataset(str(path), InputOptions())
    np.testing.assert_array_equal(second[0], whole.y_true)
    np.testing.assert_array_equal(third[1], whole.models["y_pred"])
    np.testing.assert_array_equal(third[2], np.arange(1, 901))


def test_small_stdin_read_twice(monkeypatch):
    writer = _pipe_stdin(monkeypatch, b"y_true,y_pred\n1,2\n3,5\n")
    source = open_source("-", InputOptions())
    a, b = _concat(source.batches()), _concat(source.batches())
    writer.join()
    assert a[3] == b[3] == 1
    np.testing.assert_array_equal(a[1], [2.0, 5.0])
    np.testing.assert_array_equal(b[1], [2.0, 5.0])


def test_cli_stdin_median_with_second_pass(tmp_path):
    """median_ae over streamed stdin equals the file's (the engine may read stdin again)."""
    data = _rows(3000)
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    env = dict(os.environ, LOSSCLI_STREAM_MIN_BYTES="1000", LOSSCLI_CHUNK_BYTES="4000")
    cmd = [sys.executable, "-m", "losscli", "compute", "-l", "mse,median_ae", "--format", "json"]
    from_file = subprocess.run(cmd[:4] + [str(path)] + cmd[4:], env=env, capture_output=True)
    from_stdin = subprocess.run(cmd[:4] + ["-"] + cmd[4:], env=env, input=data, capture_output=True)
    assert from_file.returncode == 0, from_file.stderr
    assert from_stdin.returncode == 0, from_stdin.stderr
    a, b = json.loads(from_file.stdout), json.loads(from_stdin.stdout)
    assert [r["loss"] for r in a["results"]] == [r["loss"] for r in b["results"]]
    for x, y in zip(a["results"], b["results"]):
        assert x["value"] == pytest.approx(y["value"], rel=1e-12)
