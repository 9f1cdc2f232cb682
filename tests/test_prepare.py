"""Per-sample losses computed in the reading thread (Source.prepare_with).

``loss compute`` has the thread that reads and validates a batch also
compute its per-sample losses, while the main thread accumulates the batch
before. The results are the very figures of computing them in the main
thread; a batch whose losses fail there is computed again by the consumer,
which raises the error it always raised; --custom losses (user code) stay in
the caller's thread.
"""

from __future__ import annotations

import dataclasses
import json
import threading

import numpy as np
import pytest

import losscli.analysis.streaming as streaming
import losscli.io.text as text_module
from losscli.analysis.evaluate import per_sample_losses, prepare_per_sample
from losscli.core.registry import select_losses
from losscli.io.columns import InputOptions, load_dataset
from losscli.io.source import open_source


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 1)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 4096)


def _write(tmp_path, y, p, name="data.csv"):
    path = tmp_path / name
    lines = ["y_true,y_pred"] + [f"{float(a)!r},{float(b)!r}" for a, b in zip(y, p)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _regression(tmp_path, n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, n)
    return _write(tmp_path, y, y + rng.standard_t(3, n))


def test_prepared_losses_are_the_callers_own(tmp_path):
    dataset = load_dataset(str(_regression(tmp_path, 500)), InputOptions())
    selections = select_losses([], dataset.task, dataset.features)
    fresh = per_sample_losses(dataset, selections)
    prepare_per_sample(dataset, selections)
    kept = per_sample_losses(dataset, selections)
    assert [(k.selection, k.model) for k in kept] == [(f.selection, f.model) for f in fresh]
    for k, f in zip(kept, fresh):
        np.testing.assert_array_equal(k.values, f.values)
    # Another list of selections (even an equal one) computes its own.
    again = per_sample_losses(dataset, list(selections))
    assert all(a.values is not k.values for a, k in zip(again, kept))
    # A copy of the batch with other rows never sees them.
    copy = dataclasses.replace(dataset, row_numbers=dataset.row_numbers[:0])
    assert copy.prepared == {}


def test_the_reading_thread_computes_them_for_compute(tmp_path, small_blocks, monkeypatch):
    path = _regression(tmp_path)
    threads: list[str] = []
    real = streaming.prepare_per_sample

    def recorded(batch, selections):
        threads.append(threading.current_thread().name)
        real(batch, selections)

    monkeypatch.setattr(streaming, "prepare_per_sample", recorded)
    import losscli as lc

    streamed = lc.compute(str(path)).to_dict()
    assert len(threads) > 3
    assert all(name.startswith("losscli-read") for name in threads)
    monkeypatch.setattr(streaming, "prepare_per_sample", lambda batch, selections: None)
    plain = lc.compute(str(path)).to_dict()
    assert json.dumps(streamed, sort_keys=True) == json.dumps(plain, sort_keys=True)


def test_a_failing_batch_fails_in_the_consumer_as_before(run, tmp_path, small_blocks, monkeypatch):
    rng = np.random.default_rng(1)
    y = rng.uniform(1, 5, 20_000)
    p = y * rng.uniform(0.8, 1.2, y.size)
    p[15_000] = -2.0  # msle is undefined here, in a late batch
    path = _write(tmp_path, y, p)
    result = run("compute", path, "--losses", "msle")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "row 15001" in lines[0]
    monkeypatch.setattr(streaming, "prepare_per_sample", lambda batch, selections: None)
    plain = run("compute", path, "--losses", "msle")
    assert (plain.exit_code, plain.stderr) == (result.exit_code, result.stderr)


def test_custom_losses_are_not_computed_in_the_reading_thread(run, tmp_path, small_blocks):
    seen = tmp_path / "threads.txt"
    module = tmp_path / "mine.py"
    module.write_text(
        "import threading\n"
        "def double_abs(y_true, y_pred):\n"
        f"    with open({str(seen)!r}, 'a') as out:\n"
        "        out.write(threading.current_thread().name + '\\n')\n"
        "    return 2 * abs(y_true - y_pred)\n"
    )
    path = _regression(tmp_path)
    result = run(
        "compute", path, "--losses", "mae", "--custom", f"{module}:double_abs", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    names = set(seen.read_text().split())
    assert names == {threading.current_thread().name}
    values = {row["loss"]: row["value"] for row in json.loads(result.stdout)["results"]}
    assert values["double_abs"] == pytest.approx(2 * values["mae"], rel=1e-12)


def test_the_hook_is_cleared_after_the_pass(tmp_path, small_blocks):
    source = open_source(str(_regression(tmp_path)), InputOptions())
    called: list[int] = []
    source.prepare_with(lambda batch: called.append(batch.n_rows))
    first = sum(1 for _ in source.batches())
    assert len(called) == first
    source.prepare_with(None)
    for _ in source.batches():
        pass
    assert len(called) == first
    source.close()


@pytest.mark.parametrize("command", ["compare", "sensitivity", "report"])
def test_the_local_engine_has_plans_prepare_in_the_reading_thread(
    tmp_path, small_blocks, monkeypatch, command
):
    """compare, sensitivity and the report's plans (run together, sharing the losses):
    the per-sample losses come from the reading thread, and every figure is the same."""
    import losscli as lc
    import losscli.analysis.compare_plan as compare_plan
    import losscli.analysis.sensitivity_plan as sensitivity_plan

    rng = np.random.default_rng(3)
    n = 20_000
    y = rng.normal(10, 3, n)
    path = tmp_path / "two.csv"
    lines = ["y_true,y_pred,y_pred_b"] + [
        f"{float(a)!r},{float(b)!r},{float(c)!r}"
        for a, b, c in zip(y, y + rng.standard_t(3, n), y + rng.normal(0, 1, n))
    ]
    path.write_text("\n".join(lines) + "\n")
    threads: list[str] = []
    real = prepare_per_sample

    def recorded(batch, selections):
        threads.append(threading.current_thread().name)
        real(batch, selections)

    modules = (streaming, compare_plan, sensitivity_plan)

    def run_it():
        models = ["y_pred", "y_pred_b"]
        if command == "compare":
            return lc.compare(str(path), y_pred=models).to_dict()
        if command == "sensitivity":
            return lc.sensitivity(str(path), y_pred=models).to_dict()
        data = lc.report_data(str(path), y_pred=models)
        parts = (data.compute, data.compare, data.sensitivity, data.recommend)
        return [dataclasses.asdict(part) for part in parts]

    for module in modules:
        monkeypatch.setattr(module, "prepare_per_sample", recorded)
    ahead = run_it()
    assert len(threads) > 3
    assert all(name.startswith("losscli-read") for name in threads)
    for module in modules:
        monkeypatch.setattr(module, "prepare_per_sample", lambda batch, selections: None)
    plain = run_it()
    assert json.dumps(ahead, sort_keys=True, default=str) == json.dumps(
        plain, sort_keys=True, default=str
    )
