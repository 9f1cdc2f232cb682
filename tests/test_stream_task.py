"""Task auto-detection holds for the whole y_true column, also when the file is streamed."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from stream_support import small_chunks


@pytest.fixture
def chunked():
    with small_chunks(4096):
        yield


def _write(path, y_true, y_pred):
    lines = ["y_true,y_pred"] + [f"{a!r},{b!r}" for a, b in zip(y_true.tolist(), y_pred.tolist())]
    data = ("\n".join(lines) + "\n").encode()
    if str(path).endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["late.csv", "late.csv.gz"])
def test_labels_binary_only_in_first_chunk_means_regression(run_json, tmp_path, chunked, name):
    y = np.concatenate([np.tile([0.0, 1.0], 1500), np.linspace(0.0, 4.0, 500)])
    p = y + 0.25
    path = _write(tmp_path / name, y, p)
    out = run_json("compute", path, "-l", "mae")
    assert out["task"] == "regression"
    assert "beyond its first rows" in out["task_reason"]
    assert out["results"][0]["value"] == pytest.approx(0.25, rel=1e-12)


def test_binary_file_stays_binary_when_streamed(run_json, tmp_path, chunked):
    y = np.tile([0.0, 1.0, 1.0, 0.0], 1000)
    p = np.where(y == 1, 0.8, 0.3)
    out = run_json("compute", _write(tmp_path / "b.csv", y, p), "-l", "brier")
    assert out["task"] == "binary"
    assert out["results"][0]["value"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-12)


def test_minus_one_labels_later_in_file_are_not_binary(run_json, tmp_path, chunked):
    # {0, 1} first and -1 later: {-1, 0, 1} is not a binary label set.
    y = np.concatenate([np.tile([0.0, 1.0], 1500), np.tile([-1.0, 1.0], 500)])
    out = run_json("compute", _write(tmp_path / "m.csv", y, y), "-l", "mse")
    assert out["task"] == "regression"
