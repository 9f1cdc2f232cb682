"""Plans (compare, sensitivity, recommend) equal the in-memory reference across batches."""

from __future__ import annotations

import dataclasses
import glob
import os

import numpy as np
import pytest
from plan_support import assert_same, split_rows, with_weights

from losscli.analysis.compare import compare_models
from losscli.analysis.compare_plan import compare_plan
from losscli.analysis.plan import ListSource
from losscli.cli.common import choose_losses
from losscli.core import quantiles
from losscli.engines.local import run_plan
from losscli.io import InputOptions, load_dataset

SAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "sample_data", "*.csv")))


def _load(name: str, **opts: object) -> object:
    path = next(p for p in SAMPLES if os.path.basename(p) == name)
    return load_dataset(path, InputOptions(**opts))  # type: ignore[arg-type]


def _cuts(n: int, seed: int = 0, parts: int = 5) -> list[int]:
    rng = np.random.default_rng(seed)
    return sorted(set(rng.integers(1, max(2, n), parts).tolist()))


@pytest.fixture(params=[1 << 16, 64], ids=["kept", "tiny-cap"])
def cap(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """The default cap, and a tiny one that forces narrowing and refinement passes."""
    monkeypatch.setattr(quantiles, "KEPT_CAP", request.param)
    return int(request.param)


def _compare_both(dataset, losses=()):
    selections = choose_losses(tuple(losses), dataset)
    want = compare_models(dataset, selections).as_dict()
    batches = (
        [dataset]
        if dataset.task.value == "generative"
        else split_rows(dataset, _cuts(dataset.n_rows))
    )
    got = run_plan(
        compare_plan(lambda head: choose_losses(tuple(losses), head)), ListSource(batches)
    ).as_dict()
    return got, want


@pytest.mark.parametrize("path", SAMPLES, ids=os.path.basename)
def test_compare_plan_equals_in_memory_for_every_sample(path, cap):
    dataset = load_dataset(path, InputOptions())
    if dataset.task.value == "generative" and cap < 1 << 16:
        # GAN weights are 1/n: with the values not all kept, sums of them in another
        # order round differently and p95's cumulative weight lands exactly on its
        # target (190 x 1/200 = 0.95). Documented in core/quantiles.py.
        pytest.skip("non-dyadic weights on an exact tie")
    got, want = _compare_both(dataset)
    assert_same(got, want)


@pytest.mark.parametrize(
    "name", ["regression_outliers.csv", "binary_imbalanced.csv", "multiclass_probs.csv"]
)
def test_compare_plan_with_weights(name, cap):
    dataset = with_weights(_load(name))
    got, want = _compare_both(dataset)
    assert_same(got, want)


def test_compare_plan_two_models_every_regression_loss(cap):
    dataset = _load("regression_outliers.csv")
    rng = np.random.default_rng(3)
    second = dataset.models["y_pred"] + rng.normal(0, 2, dataset.n_rows)
    dataset = dataclasses.replace(dataset, models={"a": dataset.models["y_pred"], "b": second})
    losses = ("mse,rmse,mae,mbe,huber,log_cosh,median_ae,max_error,pinball,smape",)
    got, want = _compare_both(with_weights(dataset, 5), losses)
    assert_same(got, want)
    got, want = _compare_both(dataset, losses)
    assert_same(got, want)


# --------------------------------------------------------------------------- recommend


def _profile_both(dataset, cuts=None):
    from losscli.analysis.diagnostics import ROWSUM_TOLERANCE
    from losscli.analysis.profile import profile_dataset
    from losscli.analysis.profile_plan import profile_plan

    want = profile_dataset(dataset, ROWSUM_TOLERANCE)
    batches = split_rows(dataset, _cuts(dataset.n_rows) if cuts is None else cuts)
    got = run_plan(profile_plan(ROWSUM_TOLERANCE), ListSource(batches)).profile
    return got, want


@pytest.mark.parametrize("path", SAMPLES, ids=os.path.basename)
def test_profile_plan_equals_in_memory_for_every_sample(path, cap):
    got, want = _profile_both(load_dataset(path, InputOptions()))
    assert_same(got.evidence(), want.evidence())
    assert (got.task, got.n_rows, got.model, got.models) == (
        want.task,
        want.n_rows,
        want.model,
        want.models,
    )


@pytest.mark.parametrize("seed", range(6))
def test_profile_plan_regression_shapes(seed, cap):
    """Skewed, heavy-tailed, tied (MAD 0: the fallback) and sorted residuals."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 4000))
    y = rng.normal(100, 25, n)
    noise = [
        rng.normal(0, 1.5, n),
        rng.standard_t(2, n),
        rng.exponential(2.0, n),
        np.where(rng.random(n) < 0.7, 0.0, rng.normal(0, 3, n)),  # MAD 0
        np.sort(rng.normal(0, 1, n)),  # sorted: the kept ranges miss, passes find it
        np.round(rng.normal(0, 2, n)),  # many ties
    ][seed]
    dataset = _load("regression_clean.csv")
    dataset = dataclasses.replace(
        dataset,
        y_true=y,
        models={"y_pred": y - noise},
        row_numbers=np.arange(1, n + 1),
    )
    got, want = _profile_both(dataset, _cuts(n, seed, 8))
    assert_same(got.evidence(), want.evidence())


# --------------------------------------------------------------------------- sensitivity


def _sensitivity_both(dataset, losses=(), rule="mad", threshold=None, cuts=None):
    from losscli.analysis.sensitivity import sensitivity
    from losscli.analysis.sensitivity_plan import sensitivity_plan

    selections = choose_losses(tuple(losses), dataset)
    want = sensitivity(dataset, selections, rule=rule, threshold=threshold).as_dict()
    batches = split_rows(dataset, _cuts(dataset.n_rows) if cuts is None else cuts)
    plan = sensitivity_plan(
        lambda head: choose_losses(tuple(losses), head), rule=rule, threshold=threshold
    )
    got = run_plan(plan, ListSource(batches)).as_dict()
    return got, want


SENSITIVITY_SAMPLES = [
    "regression_outliers.csv",
    "regression_clean.csv",
    "binary_balanced.csv",
    "binary_imbalanced.csv",
    "binary_logits.csv",
    "hinge_labels.csv",
    "multiclass_probs.csv",
    "multiclass_logits.csv",
    "multiclass_soft.csv",
]


@pytest.mark.parametrize("name", SENSITIVITY_SAMPLES)
def test_sensitivity_plan_equals_in_memory(name, cap):
    opts = {"from_logits": True} if "logits" in name else {}
    dataset = _load(name, **opts)
    got, want = _sensitivity_both(dataset)
    assert_same(got, want)


@pytest.mark.parametrize("rule", ["mad", "iqr"])
def test_sensitivity_plan_rules_weights_and_every_regression_loss(rule, cap):
    dataset = _load("regression_outliers.csv")
    losses = ("mse,rmse,mae,mbe,huber,log_cosh,median_ae,max_error",)
    got, want = _sensitivity_both(dataset, losses, rule=rule)
    assert_same(got, want)
    got, want = _sensitivity_both(with_weights(dataset, 2, zeros=False), losses, rule=rule)
    assert_same(got, want)


def test_sensitivity_plan_hinge_on_raw_scores(cap):
    dataset = _load("hinge_labels.csv")
    got, want = _sensitivity_both(dataset, ("hinge,squared_hinge",))
    assert_same(got, want)


# --------------------------------------------------------------------------- the CLI, end to end


def _write_models(path, n=3000, seed=0, holes=True):
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, n)
    a = y + rng.standard_t(3, n)
    b = y + rng.normal(0.2, 1.0, n)
    w = rng.integers(1, 4, n)
    lines = ["y_true,a,b,w"]
    for i in range(n):
        cells = [f"{y[i]:.6f}", f"{a[i]:.6f}", f"{b[i]:.6f}", str(w[i])]
        if holes and i % 397 == 5:
            cells[1 + i % 2] = ""
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("command", ["compare", "sensitivity", "recommend"])
def test_cli_plans_stream_files_and_stdin_like_the_in_memory_reference(
    command, tmp_path, monkeypatch, run
):
    """Small chunks (many batches), weights, --nan drop, two models; a file and stdin."""
    import json

    import losscli.io.text as text_module
    from losscli.analysis.compare import compare_models
    from losscli.analysis.diagnostics import ROWSUM_TOLERANCE
    from losscli.analysis.profile import profile_dataset
    from losscli.analysis.sensitivity import sensitivity
    from losscli.report.format import to_json

    path = _write_models(tmp_path / "models.csv")
    args = ["--pred-col", "a", "--pred-col", "b", "--weight-col", "w", "--nan", "drop"]
    if command == "recommend":
        args = ["--pred-col", "a", "--nan", "drop"]
    dataset = load_dataset(
        str(path),
        InputOptions(
            pred_cols=("a", "b") if command != "recommend" else ("a",),
            weight_col="w" if command != "recommend" else None,
            nan="drop",
        ),
    )
    if command == "compare":
        want = compare_models(dataset, choose_losses((), dataset)).as_dict()
    elif command == "sensitivity":
        want = sensitivity(dataset, choose_losses((), dataset)).as_dict()
    else:
        want = profile_dataset(dataset, ROWSUM_TOLERANCE).evidence()
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 1000)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 7000)
    for source, data in ((str(path), None), ("-", path.read_bytes())):
        result = run(command, source, *args, "--format", "json", input=data)
        assert result.exit_code == 0, result.stderr
        got = json.loads(result.stdout)
        if command == "recommend":  # the measured evidence (recommend adds its judgement)
            got = {k: v for k, v in got["evidence"].items() if k in want}
        else:
            want["source"] = source
        assert_same(got, json.loads(to_json(want)))


def test_cli_sensitivity_probabilities_error_counts_every_batch(tmp_path, monkeypatch, run):
    """The error names the first bad row and counts the bad rows of the whole file."""
    import losscli.io.text as text_module

    rows = ["y_true,y_pred"] + [f"{i % 2},0.{(i * 7) % 10}" for i in range(2000)]
    rows[1500] = "1,3.5"
    rows[1800] = "0,-2"
    path = tmp_path / "p.csv"
    path.write_text("\n".join(rows) + "\n")
    monkeypatch.setattr(text_module, "WHOLE_BYTES", 1000)
    monkeypatch.setattr(text_module, "CHUNK_BYTES", 3000)
    result = run("sensitivity", str(path), "-l", "bce")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: loss sensitivity reads the predictions of y_pred")
    assert "row 1500 has 3.5 (2 rows outside [0, 1])" in result.stderr


@pytest.mark.parametrize("name", ["regression_outliers.csv", "binary_imbalanced.csv"])
def test_sensitivity_plan_zero_weights_are_never_flagged(name, cap):
    dataset = with_weights(_load(name), 7, zeros=True)
    got, want = _sensitivity_both(dataset)
    assert_same(got, want)


# --------------------------------------------------------------------------- partitions


def _run_partitioned(plan, batches, parts=3):
    """Run a plan as a partitioned engine would: states per partition, pickled, merged."""
    import pickle

    head = batches[0]
    passes = plan(head)
    step = next(passes)
    bounds = np.linspace(0, len(batches), parts + 1).astype(int)
    while True:
        states = []
        for a, b in zip(bounds, bounds[1:]):
            state = step.new_state()
            for batch in batches[a:b]:
                state = step.update(state, batch)
            states.append(pickle.loads(pickle.dumps(state)))
        merged = states[0]
        for other in states[1:]:
            merged = step.merge(merged, other)
        try:
            step = passes.send(step.finish(merged))
        except StopIteration as done:
            return done.value


@pytest.mark.parametrize(
    "name", ["regression_outliers.csv", "binary_imbalanced.csv", "multiclass_probs.csv"]
)
def test_plans_merge_partitions_like_one_pass(name, cap):
    from losscli.analysis.diagnostics import ROWSUM_TOLERANCE
    from losscli.analysis.profile import profile_dataset
    from losscli.analysis.profile_plan import profile_plan
    from losscli.analysis.sensitivity import sensitivity
    from losscli.analysis.sensitivity_plan import sensitivity_plan

    dataset = with_weights(_load(name), 4, zeros=False)
    batches = split_rows(dataset, list(range(37, dataset.n_rows, 53)))
    choose = lambda head: choose_losses((), head)  # noqa: E731
    got = _run_partitioned(compare_plan(choose), batches).as_dict()
    assert_same(got, compare_models(dataset, choose(dataset)).as_dict())
    got = _run_partitioned(sensitivity_plan(choose), batches).as_dict()
    assert_same(got, sensitivity(dataset, choose(dataset)).as_dict())
    unweighted = split_rows(dataclasses.replace(dataset, weights=None), [100, 250, 301])
    got = _run_partitioned(profile_plan(ROWSUM_TOLERANCE), unweighted).profile.evidence()
    want = profile_dataset(dataclasses.replace(dataset, weights=None), ROWSUM_TOLERANCE)
    assert_same(got, want.evidence())


@pytest.mark.parametrize("name", ["regression_outliers.csv", "binary_imbalanced.csv"])
def test_plans_together_share_each_per_sample_loss_of_a_batch(name, cap, monkeypatch):
    """compute, compare and sensitivity run together (as in loss report): pass 1 computes
    each loss of each batch once, and every figure is the one each plan gives alone."""
    import contextlib

    import losscli.analysis.plan as plan_module
    from losscli.analysis.plan import together
    from losscli.analysis.sensitivity_plan import sensitivity_plan
    from losscli.analysis.streaming import compute_plan
    from losscli.core.registry import LossSelection

    dataset = with_weights(_load(name, pred_cols=("y_pred", "model_b")))
    batches = split_rows(dataset, _cuts(dataset.n_rows, seed=4))

    def chosen(head):
        return choose_losses((), head)

    plans = {"compute": compute_plan, "compare": compare_plan, "sensitivity": sensitivity_plan}
    alone = {
        key: run_plan(make(chosen), ListSource(batches)).as_dict() for key, make in plans.items()
    }
    calls: list[str] = []
    kernel = LossSelection.per_sample

    def counted(self, inputs):
        calls.append(self.label)
        return kernel(self, inputs)

    monkeypatch.setattr(LossSelection, "per_sample", counted)
    counts = {}
    for shared in (True, False):
        if not shared:  # each plan computes its own, as before
            monkeypatch.setattr(plan_module, "sharing", lambda batch: contextlib.nullcontext())
        calls.clear()
        both = run_plan(
            together({key: make(chosen) for key, make in plans.items()}), ListSource(batches)
        )
        for key in alone:
            assert_same(both[key].as_dict(), alone[key], key)
        counts[shared] = len(calls)
    # Pass 1 of compute and compare computes every loss of every batch: once, not twice.
    per_pass = len(chosen(dataset)) * len(dataset.model_names) * len(batches)
    assert counts[False] - counts[True] >= per_pass
