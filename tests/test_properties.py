"""Property tests over the WHOLE loss registry with hypothesis (issue 7).

Inputs are finite floats of every magnitude (up to 1e300 and down to 1e-300),
mapped into each loss's declared domain, and go through the real path:
an Arrow table -> io.build_dataset -> analysis.compute (domain checks, kernels,
the one reduction, the warnings). For valid inputs no per-row loss and no
reported value may be NaN (an overflow may give inf, which is warned about).
Invariances (row order, weights = repeated rows) are checked at moderate
magnitudes, where floating-point summation order does not dominate.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from losscli.analysis.compute import compute
from losscli.analysis.evaluate import applies_to, per_sample_losses
from losscli.core.registry import (
    PLAIN_REDUCTIONS,
    LossSelection,
    LossSpec,
    Reduction,
    Task,
    all_losses,
)
from losscli.io.columns import InputOptions, build_dataset

SETTINGS = settings(
    # LOSSCLI_HYPOTHESIS_EXAMPLES=2000 for a deep run; CI keeps the default fast.
    max_examples=int(os.environ.get("LOSSCLI_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# Every magnitude: huge, ordinary, tiny, and the exact values where losses switch branches.
FLOATS = st.one_of(
    st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-300, max_value=1e-300, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 5e-324, 1e-16]),
)
MODERATE = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False).map(
    lambda v: round(v, 6)
)
TINY = 1e-300

# Parameter values worth covering besides the defaults (every branch of the kernels).
PARAM_VARIANTS: dict[str, list[dict[str, Any]]] = {
    "huber": [{"delta": 1e-3}, {"delta": 1e6}],
    "pinball": [{"alpha": 0.1}, {"alpha": 0.9}],
    "tweedie": [{"power": p} for p in (1.0, 1.5, 2.0, 3.0, -1.0)],
    "bce": [{"label_smoothing": 0.1}, {"eps": 1e-7}],
    "cce": [{"label_smoothing": 0.2}],
    "focal": [{"gamma": 0.0, "alpha": -1.0}, {"gamma": 5.0, "alpha": 0.9}],
    "categorical_focal": [{"gamma": 0.0}],
    "vae_kl": [{"kl_reduction": "sum"}],
}


def selections_for(spec: LossSpec) -> list[LossSelection]:
    variants = [{}] + PARAM_VARIANTS.get(spec.name, [])
    out = []
    for given_params in variants:
        try:
            out.append(LossSelection(spec, spec.resolve_params(given_params)))
        except Exception:  # a variant the loss does not take (registry changed): skip it
            continue
    return out


def into_domain(values: np.ndarray, rules: list[Any]) -> np.ndarray:
    """Map drawn values into every rule's domain, keeping magnitudes where possible."""
    if not rules:
        return values
    magnitude = np.abs(values)
    candidates = (
        values,
        magnitude,
        np.where(magnitude > 0, magnitude, TINY),
        magnitude / (1.0 + magnitude),  # [0, 1): probabilities, tiny ones included
        np.clip(np.where(magnitude > 0, magnitude, TINY) / (1.0 + magnitude), TINY, 1.0),
    )
    for candidate in candidates:
        with np.errstate(all="ignore"):
            if all(np.all(rule.valid(candidate)) for rule in rules):
                return candidate
    raise AssertionError(f"no mapping puts the values into {[r.requirement for r in rules]}")


def rules_for(selection: LossSelection, target: str, from_logits: bool) -> list[Any]:
    return [
        r
        for r in selection.spec.domain_for(selection.params)
        if r.target == target and not (r.skip_with_logits and from_logits)
    ]


def assert_no_nan(table: pa.Table, opts: InputOptions, selection: LossSelection) -> None:
    """The whole compute path on one table: no NaN per row, no NaN value."""
    dataset = build_dataset(table, opts, "hypothesis")
    if not applies_to(selection.spec.task, dataset.task):
        return
    report, items = compute(dataset, [selection])
    for item in items:
        bad = np.flatnonzero(np.isnan(item.values))
        assert bad.size == 0, (
            selection.label,
            {c: table.column(c).to_pylist() for c in table.column_names},
            item.values,
        )
    for result in report.results:
        if math.isnan(result.value) and nan_is_documented(selection, dataset):
            continue
        assert not math.isnan(result.value), (selection.label, table.to_pydict(), result)


def nan_is_documented(selection: LossSelection, dataset: Any) -> bool:
    """A SPEC 12 ratio of sums (r2, d2_*) is NaN exactly where scikit-learn's is.

    That is: fewer than two rows (not well-defined), sums that overflow float64
    (inf / inf), and d2_tweedie's 0 / 0 (no force_finite).
    """
    from sklearn import metrics

    if selection.spec.reduction in PLAIN_REDUCTIONS:
        return False
    reference = {
        "r2": metrics.r2_score,
        "explained_variance": metrics.explained_variance_score,
        "d2_absolute_error": metrics.d2_absolute_error_score,
        "d2_pinball": metrics.d2_pinball_score,
        "d2_tweedie": metrics.d2_tweedie_score,
    }[selection.spec.name]
    w = np.ones(dataset.n_rows) if dataset.weights is None else dataset.weights
    keep = w > 0
    y, p = dataset.y_true[keep], next(iter(dataset.models.values()))[keep]
    if y.size < 2:
        return True
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return bool(np.isnan(reference(y, p, sample_weight=w[keep], **selection.params)))
        except ZeroDivisionError:  # scikit-learn's d2_tweedie on 0 / 0
            return True


def losses_of(*tasks: Task) -> list[LossSpec]:
    return [s for s in all_losses() if s.task in tasks]


def ids(specs: list[LossSpec]) -> list[str]:
    return [s.name for s in specs]


def test_every_registered_loss_is_covered_by_a_property_test():
    covered = {Task.REGRESSION, Task.BINARY, Task.MULTICLASS} | set(FAMILY_BUILDERS)
    missing = [s.name for s in all_losses() if s.task not in covered]
    assert not missing, f"losses without a property test: {missing}"


# --------------------------------------------------------------------------- regression


def rows(n_min: int = 1, n_max: int = 8, elements: st.SearchStrategy = FLOATS) -> Any:
    return st.lists(st.tuples(elements, elements), min_size=n_min, max_size=n_max)


REGRESSION = losses_of(Task.REGRESSION)


@pytest.mark.parametrize("spec", REGRESSION, ids=ids(REGRESSION))
@SETTINGS
@given(data=rows(), weights=st.none() | st.lists(FLOATS, min_size=8, max_size=8))
def test_regression_losses_never_nan(spec, data, weights):
    y = np.array([r[0] for r in data])
    p = np.array([r[1] for r in data])
    for selection in selections_for(spec):
        columns = {
            "y_true": into_domain(y, rules_for(selection, "y_true", False)),
            "y_pred": into_domain(p, rules_for(selection, "y_pred", False)),
        }
        opts = InputOptions(task="regression")
        if weights is not None:
            w = np.abs(np.array(weights[: len(data)]))
            w = np.where(np.isfinite(w), w, 1.0)
            assume(w.sum() > 0 and np.isfinite(w.sum()))
            columns["w"] = w
            opts = InputOptions(task="regression", weight_col="w")
        assert_no_nan(pa.table(columns), opts, selection)


# --------------------------------------------------------------------------- binary

BINARY = losses_of(Task.BINARY)


@pytest.mark.parametrize("spec", BINARY, ids=ids(BINARY))
@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
@SETTINGS
@given(
    labels=st.lists(st.booleans(), min_size=1, max_size=8),
    scores=st.lists(FLOATS, min_size=8, max_size=8),
)
def test_binary_losses_never_nan(spec, from_logits, labels, scores):
    y = np.array(labels, dtype=np.float64)
    s = np.array(scores[: len(labels)])
    for selection in selections_for(spec):
        table = pa.table(
            {"y_true": y, "y_pred": into_domain(s, rules_for(selection, "y_pred", from_logits))}
        )
        assert_no_nan(table, InputOptions(task="binary", from_logits=from_logits), selection)


@pytest.mark.parametrize("spec", BINARY, ids=ids(BINARY))
def test_extreme_logits_stay_finite(spec):
    table = pa.table({"y_true": [1.0, 0.0, 1.0, 0.0], "y_pred": [-1e4, 1e4, 1e4, -1e4]})
    dataset = build_dataset(table, InputOptions(task="binary", from_logits=True), "logits")
    for selection in selections_for(spec):
        (item,) = per_sample_losses(dataset, [selection])
        assert np.all(np.isfinite(item.values)), (selection.label, item.values)


# --------------------------------------------------------------------------- multiclass

MULTICLASS = losses_of(Task.MULTICLASS)


@st.composite
def class_rows(draw: Callable[..., Any]) -> tuple[int, list[int], np.ndarray]:
    k = draw(st.integers(min_value=2, max_value=4))
    n = draw(st.integers(min_value=1, max_value=6))
    labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    scores = draw(st.lists(FLOATS, min_size=n * k, max_size=n * k))
    return k, labels, np.array(scores).reshape(n, k)


def multiclass_table(k: int, labels: list[int], q: np.ndarray, soft: np.ndarray | None) -> pa.Table:
    columns: dict[str, Any] = {}
    if soft is None:
        columns["y_true"] = [f"c{i}" for i in labels]
    else:
        for j in range(k):
            columns[f"y_true_c{j}"] = soft[:, j]
    for j in range(k):
        columns[f"y_pred_c{j}"] = q[:, j]
    return pa.table(columns)


@pytest.mark.parametrize("spec", MULTICLASS, ids=ids(MULTICLASS))
@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft"])
@SETTINGS
@given(drawn=class_rows(), mix=st.floats(min_value=0, max_value=1))
def test_multiclass_losses_never_nan(spec, from_logits, soft, drawn, mix):
    if soft and spec.name == "multiclass_hinge":  # needs hard labels (a clear DataError)
        return
    k, labels, scores = drawn
    targets = None
    if soft:
        one_hot = np.eye(k)[labels]
        targets = (1 - mix) * one_hot + mix / k
    for selection in selections_for(spec):
        q = into_domain(scores, rules_for(selection, "y_pred", from_logits))
        table = multiclass_table(k, labels, q, targets)
        opts = InputOptions(task="multiclass", from_logits=from_logits)
        assert_no_nan(table, opts, selection)


@pytest.mark.parametrize("spec", MULTICLASS, ids=ids(MULTICLASS))
def test_extreme_multiclass_logits_stay_finite(spec):
    q = np.array([[-1e4, 1e4, 0.0], [1e4, -1e4, -1e4], [0.0, 0.0, 1e4]])
    table = multiclass_table(3, [0, 1, 2], q, None)
    dataset = build_dataset(table, InputOptions(task="multiclass", from_logits=True), "logits")
    for selection in selections_for(spec):
        (item,) = per_sample_losses(dataset, [selection])
        assert np.all(np.isfinite(item.values)), (selection.label, item.values)


# --------------------------------------------------------------------------- structured families


def _probability(values: np.ndarray) -> np.ndarray:
    magnitude = np.abs(values)
    return magnitude / (1.0 + magnitude)


@st.composite
def detection_table(draw: Callable[..., Any]) -> pa.Table:
    n = draw(st.integers(1, 6))
    columns: dict[str, Any] = {}
    for side in ("true", "pred"):
        for axis in ("x", "y"):
            a = np.array(draw(st.lists(FLOATS, min_size=n, max_size=n)))
            b = np.array(draw(st.lists(FLOATS, min_size=n, max_size=n)))
            columns[f"{side}_{axis}1"] = np.minimum(a, b) / 4  # /4: box areas stay finite
            columns[f"{side}_{axis}2"] = np.maximum(a, b) / 4
    order = [f"{s}_{c}" for s in ("true", "pred") for c in ("x1", "y1", "x2", "y2")]
    return pa.table({c: columns[c] for c in order})


@st.composite
def similarity_table(draw: Callable[..., Any]) -> pa.Table:
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 3))
    vectors = st.lists(FLOATS.map(lambda v: v / 4), min_size=n, max_size=n)
    columns: dict[str, Any] = {}
    kind = draw(st.sampled_from(["pairs", "distance", "triplets"]))
    if kind == "triplets":
        for prefix in ("anchor", "positive", "negative"):
            for j in range(k):
                columns[f"{prefix}_{j}"] = draw(vectors)
        return pa.table(columns)
    columns["label"] = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), float)
    if kind == "distance":
        columns["distance"] = np.abs(np.array(draw(vectors)))
        return pa.table(columns)
    for prefix in ("a", "b"):
        for j in range(k):
            columns[f"{prefix}_{j}"] = draw(vectors)
    return pa.table(columns)


@st.composite
def gan_table(draw: Callable[..., Any]) -> pa.Table:
    n = draw(st.integers(1, 6))
    probabilities = st.lists(FLOATS, min_size=n, max_size=n).map(
        lambda v: _probability(np.array(v))
    )
    return pa.table({"d_real": draw(probabilities), "d_fake": draw(probabilities)})


@st.composite
def vae_table(draw: Callable[..., Any]) -> pa.Table:
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 3))
    # logvar is a log: beyond ~700 exp overflows to inf (allowed), never NaN.
    latent = st.lists(FLOATS.map(lambda v: float(np.clip(v, -1e3, 1e3))), min_size=n, max_size=n)
    columns: dict[str, Any] = {}
    for j in range(k):
        columns[f"mu_{j}"] = draw(st.lists(FLOATS.map(lambda v: v / 4), min_size=n, max_size=n))
        columns[f"logvar_{j}"] = draw(latent)
    columns["y_true"] = draw(st.lists(FLOATS.map(lambda v: v / 4), min_size=n, max_size=n))
    columns["y_pred"] = draw(st.lists(FLOATS.map(lambda v: v / 4), min_size=n, max_size=n))
    return pa.table(columns)


@st.composite
def interval_table(draw: Callable[..., Any]) -> pa.Table:
    n = draw(st.integers(1, 6))
    values = st.lists(FLOATS.map(lambda v: v / 4), min_size=n, max_size=n)
    a, b = np.array(draw(values)), np.array(draw(values))
    return pa.table(
        {"y_true": draw(values), "y_lower": np.minimum(a, b), "y_upper": np.maximum(a, b)}
    )


@st.composite
def quantile_table(draw: Callable[..., Any]) -> pa.Table:
    n = draw(st.integers(1, 6))
    values = st.lists(FLOATS.map(lambda v: v / 4), min_size=n, max_size=n)
    levels = draw(
        st.lists(st.sampled_from(["0.05", "0.5", "0.9", "0.99"]), min_size=1, unique=True)
    )
    columns = {"y_true": draw(values)}
    for level in levels:
        columns[f"y_pred_q{level}"] = draw(values)
    return pa.table(columns)


FAMILY_BUILDERS: dict[Task, st.SearchStrategy] = {
    Task.INTERVAL: interval_table(),
    Task.QUANTILE: quantile_table(),
    Task.DETECTION: detection_table(),
    Task.SIMILARITY: similarity_table(),
    Task.GENERATIVE: gan_table(),
    Task.VAE: vae_table(),
}
STRUCTURED = losses_of(*FAMILY_BUILDERS)


@pytest.mark.parametrize("spec", STRUCTURED, ids=ids(STRUCTURED))
@SETTINGS
@given(data=st.data())
def test_structured_losses_never_nan(spec, data):
    table = data.draw(FAMILY_BUILDERS[spec.task])
    for selection in selections_for(spec):
        dataset = build_dataset(table, InputOptions(), "hypothesis")
        if dataset.task is not spec.task:
            return
        try:
            report, items = compute(dataset, [selection])
        except Exception as exc:  # e.g. triplet on pairs: a clear DataError, never a crash
            from losscli.errors import LossCliError

            assert isinstance(exc, LossCliError), exc
            continue
        for item in items:
            assert not np.isnan(item.values).any(), (selection.label, table.to_pydict())
        for result in report.results:
            assert not math.isnan(result.value), (selection.label, table.to_pydict())


# --------------------------------------------------------------------------- invariances

CORE = [s for s in losses_of(Task.REGRESSION, Task.BINARY) if s.reduction is not Reduction.MAX]


def _core_table(spec: LossSpec, data: list[tuple[float, float]]) -> tuple[pa.Table, InputOptions]:
    selection = LossSelection(spec, spec.resolve_params({}))
    y = np.array([r[0] for r in data])
    p = np.array([r[1] for r in data])
    if spec.task is Task.BINARY:
        y = (y > 0).astype(np.float64)
        p = into_domain(p, rules_for(selection, "y_pred", False))
        return pa.table({"y_true": y, "y_pred": p}), InputOptions(task="binary")
    y = into_domain(y, rules_for(selection, "y_true", False))
    p = into_domain(p, rules_for(selection, "y_pred", False))
    return pa.table({"y_true": y, "y_pred": p}), InputOptions(task="regression")


def _value(table: pa.Table, opts: InputOptions, spec: LossSpec) -> float:
    dataset = build_dataset(table, opts, "hypothesis")
    report, _ = compute(dataset, [LossSelection(spec, spec.resolve_params({}))])
    return report.results[0].value


@pytest.mark.parametrize("spec", CORE, ids=ids(CORE))
@SETTINGS
@given(data=rows(2, 8, MODERATE), seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(spec, data, seed):
    table, opts = _core_table(spec, data)
    order = np.random.default_rng(seed).permutation(table.num_rows)
    shuffled = table.take(pa.array(order))
    # nan_ok: a ratio of sums (d2_tweedie's 0 / 0) is NaN in both orders.
    assert _value(shuffled, opts, spec) == pytest.approx(
        _value(table, opts, spec), rel=1e-9, abs=1e-12, nan_ok=True
    )


@pytest.mark.parametrize("spec", CORE, ids=ids(CORE))
@SETTINGS
@given(data=rows(1, 6, MODERATE), counts=st.lists(st.integers(0, 3), min_size=6, max_size=6))
def test_integer_weights_equal_repeated_rows(spec, data, counts):
    counts = counts[: len(data)]
    assume(sum(counts) > 0)
    if spec.reduction not in PLAIN_REDUCTIONS:
        # r2 and d2_* are NaN for fewer than two rows (scikit-learn counts rows, not
        # weights): one row of weight 2 is not two rows there.
        assume(np.count_nonzero(counts) >= 2)
    table, opts = _core_table(spec, data)
    if spec.reduction not in PLAIN_REDUCTIONS:
        # A constant y_true makes the denominator 0 (d2_tweedie: +-inf or NaN), where
        # the rounding of the weighted mean decides the result either way.
        y = np.asarray(table.column("y_true"))[np.array(counts) > 0]
        assume(np.ptp(y) > 1e-6 * max(1.0, float(np.max(np.abs(y)))))
    weighted = table.append_column("w", pa.array(np.array(counts, dtype=np.float64)))
    repeated = table.take(pa.array(np.repeat(np.arange(len(data)), counts)))
    w_opts = InputOptions(task=opts.task, weight_col="w")
    assert _value(weighted, w_opts, spec) == pytest.approx(
        _value(repeated, opts, spec), rel=1e-9, abs=1e-12, nan_ok=True
    )
