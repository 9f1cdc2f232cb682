"""``loss report`` runs the streaming plans: its figures equal the in-memory report's.

Every sample file (every task family) through :func:`report_plan` in one
batch and cut into many batches, against :func:`build_report` on the data in
memory; and the CLI's report data with tiny chunks against the same.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os

import pytest
from plan_support import assert_same, split_rows, with_weights
from stream_support import small_chunks

from losscli.analysis.plan import ListSource
from losscli.analysis.report import ReportData, build_report
from losscli.analysis.report_plan import report_plan
from losscli.cli.common import choose_losses
from losscli.engines.local import run_plan
from losscli.io import InputOptions, load_dataset
from losscli.report.format import to_json

SAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "sample_data", "*.csv")))


def _as_dict(report: ReportData, compute_warnings: bool = True) -> dict:
    out = {
        "compute": report.compute.as_dict(),
        "compare": report.compare.as_dict(),
        "curves": report.curves is None,  # from the losses alone, no data
        "sensitivity": None if report.sensitivity is None else report.sensitivity.as_dict(),
        "recommend": report.recommend.as_dict(),
        "charts": {
            "task": report.charts.task,
            "residuals": [h.as_dict() for h in report.charts.residuals],
            "reliability": [dataclasses.asdict(r) for r in report.charts.reliability],
            "p_true": [h.as_dict() for h in report.charts.p_true],
            "values": [h.as_dict() for h in report.charts.values],
            "groups": report.charts.groups is not None,
        },
        "notes": list(report.notes),
    }
    if not compute_warnings:
        # Over several batches compute estimates the "worst 1% of rows" share (documented).
        out["compute"].pop("warnings", None)
    return json.loads(to_json(out))


def _both(dataset, batches, **options):
    selections = choose_losses((), dataset)
    want = build_report(dataset, selections, n_boot=50, **options)
    plan = report_plan(lambda head: selections, n_boot=50, **options)
    got = run_plan(plan, ListSource(batches))
    return got, want


@pytest.mark.parametrize("path", SAMPLES, ids=os.path.basename)
def test_report_plan_equals_in_memory_for_every_family(path):
    from losscli.custom import load_custom_losses

    load_custom_losses(())
    dataset = load_dataset(path, InputOptions())
    got, want = _both(dataset, [dataset])
    assert_same(_as_dict(got), _as_dict(want))
    if dataset.task.value in ("regression", "binary", "multiclass"):
        batches = split_rows(dataset, list(range(41, dataset.n_rows, 97)))
        got, want = _both(dataset, batches)
        assert_same(_as_dict(got, False), _as_dict(want, False))


@pytest.mark.parametrize("name", ["regression_outliers.csv", "binary_imbalanced.csv"])
def test_report_plan_weights_groups_and_threshold(name):
    from losscli.custom import load_custom_losses

    load_custom_losses(())
    path = next(p for p in SAMPLES if os.path.basename(p) == name)
    group = "segment" if name.startswith("regression") else None
    dataset = with_weights(load_dataset(path, InputOptions(group_by=group)))
    threshold = 3.0 if name.startswith("regression") else 0.05
    batches = split_rows(dataset, [10, 11, 150, 151, 300])
    got, want = _both(dataset, batches, threshold=threshold, rule="iqr")
    assert_same(_as_dict(got, False), _as_dict(want, False))


def test_api_report_small_chunks_equals_in_memory(tmp_path):
    """The API reads a file in many chunks and still shows the in-memory figures."""
    from losscli import api

    path = next(p for p in SAMPLES if os.path.basename(p) == "regression_outliers.csv")
    want = api.report_data(path, y_pred=["y_pred", "model_b"], n_boot=50)
    with small_chunks(2000, whole_bytes=1000):
        got = api.report_data(path, y_pred=["y_pred", "model_b"], n_boot=50)
    assert_same(_as_dict(got, False), _as_dict(want, False))
