"""--engine dask: the same plans on a Dask cluster give the local engine's numbers.

One LocalCluster (two single-threaded worker processes) serves the module;
inputs are split into several partitions (files), each read on a worker.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from plan_support import assert_same, split_rows

import losscli as lc
from losscli.analysis.compare_plan import compare_plan
from losscli.analysis.compute_plan import BootstrapScan, compute_plan, empty_like
from losscli.analysis.plan import ListSource
from losscli.analysis.profile_plan import profile_plan
from losscli.analysis.sensitivity_plan import sensitivity_plan
from losscli.analysis.streaming import compute_chunks
from losscli.core.reduction import MedianAccumulator
from losscli.core.registry import select_losses
from losscli.engines import dask as dask_engine
from losscli.engines.local import run_plan
from losscli.errors import DataError
from losscli.io import InputOptions
from losscli.io.source import Partition, open_source

distributed = pytest.importorskip("distributed")


@pytest.fixture
def client(dask_cluster: Any) -> Any:
    return dask_cluster  # one cluster for the session (tests/conftest.py)


@dataclasses.dataclass
class Files:
    """Several files read as one input, one partition each (a multi-file source).

    ``offsets``: the rows before each file, so that row numbers are those of
    the files concatenated (None: each file numbers its own rows from 1).
    """

    paths: list[str]
    opts: InputOptions
    offsets: list[int] | None = None

    @property
    def path(self) -> str:
        return self.paths[0]

    def partitions(self) -> list[Any]:
        offsets = self.offsets or [None] * len(self.paths)
        return [Partition(p, self.opts, row_offset=o) for p, o in zip(self.paths, offsets)]


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.normal(3.0, 2.0, n)
    return pd.DataFrame(
        {
            "y_true": y,
            "a": y + rng.normal(0, 1, n),
            "b": y + rng.standard_t(3, n),
            "w": rng.uniform(0.0, 2.0, n),
            "g": rng.choice(["north", "south", "east"], n),
        }
    )


def _write(frame: pd.DataFrame, path: str) -> str:
    if path.endswith(".parquet"):
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=500)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def split_input(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One input as a whole file and as three files (uneven sizes), CSV and Parquet."""
    folder = tmp_path_factory.mktemp("parts")
    frame = _frame(3000, seed=7)
    cuts = [0, 400, 1900, 3000]
    out: dict[str, Any] = {"frame": frame, "offsets": cuts[:-1]}
    for ext in ("csv", "parquet"):
        out[f"whole.{ext}"] = _write(frame, str(folder / f"whole.{ext}"))
        out[f"parts.{ext}"] = [
            _write(frame.iloc[a:b], str(folder / f"part-{i}.{ext}"))
            for i, (a, b) in enumerate(zip(cuts, cuts[1:]))
        ]
    return out


def _without_source(report: Any) -> dict[str, Any]:
    """The report without its input's name (a file, or the first of several)."""
    out = report.as_dict() if hasattr(report, "as_dict") else dataclasses.asdict(report)
    return _drop(out, {"source", "file"})


def _drop(value: Any, names: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _drop(v, names) for k, v in value.items() if k not in names}
    if isinstance(value, list):
        return [_drop(v, names) for v in value]
    return value


def _choose(losses: tuple[str, ...]) -> Any:
    return lambda head: select_losses(list(losses), head.task, head.features)


# --------------------------------------------------------------------------- compute as a plan


@pytest.mark.parametrize("cap", [1 << 18, 50], ids=["kept", "refined"])
@pytest.mark.parametrize(
    "options", [{}, {"weight_col": "w"}, {"group_by": "g"}, {"group_by": "g", "weight_col": "w"}]
)
def test_compute_plan_equals_the_streaming_compute(split_input, cap, options):
    """On the local engine, the compute plan gives compute_chunks' report, batches or not."""
    opts = InputOptions(pred_cols=("a", "b"), **options)
    dataset = open_source(split_input["whole.csv"], opts).dataset()
    batches = split_rows(dataset, [300, 301, 1700, 2950])
    losses = ("mae", "mse", "rmse", "max_error", "median_ae", "d2_absolute_error", "d2_tweedie")
    for parts in ([dataset], batches):
        want = compute_chunks(parts, _choose(losses), median_cap=cap)
        got = run_plan(compute_plan(_choose(losses), median_cap=cap), ListSource(parts))
        assert_same(dataclasses.asdict(got), dataclasses.asdict(want))


@pytest.mark.parametrize("options", [{}, {"weight_col": "w"}, {"group_by": "g"}])
def test_compute_plan_bootstrap_equals_the_streaming_compute(split_input, options):
    opts = InputOptions(pred_cols=("a", "b"), **options)
    dataset = open_source(split_input["whole.csv"], opts).dataset()
    batches = split_rows(dataset, [10, 1200, 2999])
    losses = ("mae", "mse", "rmse", "max_error", "median_ae")
    want = compute_chunks([dataset], _choose(losses), ci_level=0.9, n_boot=60, seed=3)
    got = run_plan(
        compute_plan(_choose(losses), ci_level=0.9, n_boot=60, seed=3), ListSource(batches)
    )
    assert_same(dataclasses.asdict(got), dataclasses.asdict(want))


def test_compute_states_merge_in_any_grouping(split_input):
    """merge(a, merge(b, c)) == merge(merge(a, b), c), groups first seen in different orders."""
    opts = InputOptions(pred_cols=("a",), group_by="g")
    dataset = open_source(split_input["whole.csv"], opts).dataset()
    parts = split_rows(dataset, [5, 2000])
    plan = compute_plan(_choose(("mae", "median_ae")), ci_level=0.9, n_boot=40)
    gen = plan(parts[0])
    step = next(gen)
    assert isinstance(step, BootstrapScan)
    states = []
    offset = 0
    for part in parts:
        state = step.at_row(step.new_state(), offset)
        states.append(step.update(state, part))
        offset += part.n_rows
    import copy

    left = step.merge(step.merge(copy.deepcopy(states[0]), copy.deepcopy(states[1])), states[2])
    right = step.merge(states[0], step.merge(states[1], states[2]))
    for merged in (left, right):
        assert merged.n_rows == dataset.n_rows
    boot_l, boot_r = left.boot, right.boot
    assert boot_l is not None and boot_r is not None
    for name in left.group_codes:
        np.testing.assert_allclose(
            boot_l.weight_sums[left.group_codes[name]],
            boot_r.weight_sums[right.group_codes[name]],
            rtol=1e-12,
        )


def test_histogram_states_pickle_their_filled_bins_only():
    import pickle

    acc = MedianAccumulator(cap=10, bits=16)
    acc.add(np.linspace(1.0, 2.0, 1000))
    assert acc.counts is not None
    size = len(pickle.dumps(acc))
    assert size < 0.1 * acc.counts.nbytes  # 2**16 bins, a few of them filled
    back = pickle.loads(pickle.dumps(acc))
    assert back.counts is not None and np.array_equal(back.counts, acc.counts)
    assert np.array_equal(back.bin_weights, acc.bin_weights)


def test_empty_like_keeps_the_facts_of_the_head(split_input):
    opts = InputOptions(pred_cols=("a",), group_by="g", weight_col="w")
    head = open_source(split_input["whole.csv"], opts).dataset()
    empty = empty_like(head)
    assert empty.n_rows == 0 and empty.groups is not None and empty.weights is not None
    assert (empty.task, empty.model_names, empty.group_column) == (
        head.task,
        head.model_names,
        "g",
    )


# --------------------------------------------------------------------------- dask vs local


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize(
    "options", [{}, {"weight_col": "w"}, {"group_by": "g"}, {"group_by": "g", "weight_col": "w"}]
)
def test_dask_compute_over_partitions_equals_local(client, split_input, ext, options):
    opts = InputOptions(pred_cols=("a", "b"), **options)
    losses = ("mae", "mse", "rmse", "max_error", "median_ae", "d2_absolute_error", "mape")
    plan = compute_plan(_choose(losses), median_cap=100)
    with open_source(split_input[f"whole.{ext}"], opts) as whole:
        want = run_plan(plan, whole)
    got = dask_engine.run_plan(
        plan, Files(split_input[f"parts.{ext}"], opts, split_input["offsets"]), client=client
    )
    assert_same(_without_source(got), _without_source(want))


@pytest.mark.parametrize("options", [{}, {"group_by": "g"}, {"weight_col": "w"}])
def test_dask_bootstrap_intervals_do_not_depend_on_partitions(client, split_input, options):
    """The draws are keyed by global row index: the local intervals, with any split."""
    opts = InputOptions(pred_cols=("a", "b"), **options)
    losses = ("mae", "mse", "rmse", "max_error", "median_ae")
    want = lc.compute(
        split_input["whole.csv"],
        y_pred=["a", "b"],
        ci=0.9,
        n_boot=80,
        seed=11,
        losses=losses,
        **_api(options),
    )
    plan = compute_plan(_choose(losses), ci_level=0.9, n_boot=80, seed=11)
    got = dask_engine.run_plan(
        plan, Files(split_input["parts.csv"], opts, split_input["offsets"]), client=client
    )
    assert any(r.ci_low is not None for r in got.results)
    want_dict = _without_source(want)
    got_dict = _without_source(got)
    for key in ("weight_column",):
        want_dict.pop(key, None)
        got_dict.pop(key, None)
    assert_same(got_dict["results"], want_dict["results"])


def _api(options: dict[str, str]) -> dict[str, str]:
    names = {"weight_col": "weights", "group_by": "group_by"}
    return {names[k]: v for k, v in options.items()}


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_dask_compare_sensitivity_recommend_over_partitions_equal_local(client, split_input, ext):
    opts = InputOptions(pred_cols=("a", "b"))
    plans = [
        compare_plan(_choose(())),
        sensitivity_plan(
            _choose(("mse", "mae")), rule="mad", threshold=None, bins_for=lambda n: 40
        ),
        profile_plan(1e-6),
    ]
    for plan in plans:
        with open_source(split_input[f"whole.{ext}"], opts) as whole:
            want = run_plan(plan, whole)
        got = dask_engine.run_plan(
            plan,
            Files(split_input[f"parts.{ext}"], opts, split_input["offsets"]),
            client=client,
            split_every=2,
        )
        assert_same(_without_source(got), _without_source(want))


@pytest.mark.parametrize("command", ["compute", "compare", "sensitivity", "recommend"])
@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_api_engine_dask_equals_local(client, split_input, command, ext):
    path = split_input[f"whole.{ext}"]
    function = getattr(lc, command)
    extra: dict[str, Any] = {"y_pred": ["a", "b"]}
    if command == "compute":
        extra.update(group_by="g", weights="w")
    local = function(path, **extra).to_dict()
    remote = function(path, engine="dask", scheduler=client, **extra).to_dict()
    assert_same(remote, local)


def test_api_compare_ci_on_dask_equals_local(client, split_input):
    """The paired bootstrap's draws are keyed by the rows' numbers: the same on the workers."""
    kwargs: dict[str, Any] = {"y_pred": ["a", "b"], "ci": 0.9, "n_boot": 50, "seed": 4}
    want = lc.compare(split_input["whole.parquet"], **kwargs).to_dict()
    got = lc.compare(split_input["whole.parquet"], engine="dask", scheduler=client, **kwargs)
    assert_same(got.to_dict(), want)


def test_api_in_memory_data_run_as_one_partition(client, split_input):
    frame = split_input["frame"]
    want = lc.compute(frame, y_pred=["a", "b"], group_by="g").to_dict()
    got = lc.compute(frame, y_pred=["a", "b"], group_by="g", engine="dask", scheduler=client)
    assert_same(got.to_dict(), want)


def test_cli_engine_dask_with_scheduler_address_equals_local(run, client, split_input):
    path = split_input["whole.parquet"]
    args = ["compute", path, "--pred-col", "a", "--pred-col", "b", "--group-by", "g"]
    local = run(*args, "--format", "json")
    remote = run(
        *args, "--format", "json", "--engine", "dask", "--scheduler", client.scheduler.address
    )
    assert local.exit_code == 0 and remote.exit_code == 0, remote.stderr
    assert_same(json.loads(remote.stdout), json.loads(local.stdout))
    assert remote.stderr == local.stderr


# --------------------------------------------------------------------------- whole-input facts


def test_task_is_decided_over_every_partition(client, tmp_path):
    """0/1 targets in the first file, continuous in the second: regression, as one file."""
    first = pd.DataFrame({"y_true": [0.0, 1.0] * 50, "y_pred": np.linspace(0.1, 0.9, 100)})
    second = pd.DataFrame({"y_true": np.linspace(0.0, 5.0, 100), "y_pred": np.linspace(0, 5, 100)})
    paths = [_write(first, str(tmp_path / "a.csv")), _write(second, str(tmp_path / "b.csv"))]
    _write(pd.concat([first, second]), str(tmp_path / "all.csv"))
    opts = InputOptions()
    plan = compute_plan(_choose(()))
    with open_source(str(tmp_path / "all.csv"), opts) as whole:
        want = run_plan(plan, whole)
    got = dask_engine.run_plan(plan, Files(paths, opts), client=client)
    assert got.task == want.task == "regression"
    # As a file read in several chunks whose first ones look binary says it.
    assert got.task_reason == "y_true holds continuous values beyond its first rows"
    assert_same(_without_source(got)["results"], _without_source(want)["results"])


def _count_reads_here(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every pass over a file opened in this process (the client), noted by its reader.

    The patches live in this process only: the worker processes import the
    readers afresh, so what they read is not counted.
    """
    from losscli.io import source as io_source
    from losscli.io import text as io_text

    opened: list[str] = []
    for owner, name in ((io_text, "TextPass"), (io_source, "_ParquetPass")):
        cls = getattr(owner, name)
        original = cls.__init__

        def counted(
            self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any
        ) -> None:
            opened.append(_name)
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counted)
    original_file = pq.ParquetFile.__init__

    def footer(self: Any, *args: Any, **kwargs: Any) -> None:
        opened.append("ParquetFile")
        original_file(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "__init__", footer)
    return opened


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize("layout", ["one-file", "three-files"])
@pytest.mark.parametrize("target", ["binary-then-continuous", "text-labels", "regression"])
def test_the_client_reads_no_row_of_the_input(client, tmp_path, monkeypatch, ext, layout, target):
    """Deciding the task (0/1 targets: y_true to the end; two text labels over every
    file) and every pass run on the workers: the client opens no file of the input."""
    rng = np.random.default_rng(3)
    n = 600
    if target == "binary-then-continuous":  # 0/1 in the first rows, then continuous
        y: Any = np.r_[rng.integers(0, 2, n - 100), rng.normal(0.5, 1.0, 100)]
    elif target == "text-labels":  # the first file holds one label only
        y = np.r_[["benign"] * 200, rng.choice(["benign", "malignant"], n - 200)]
    else:
        y = rng.normal(0.0, 1.0, n)
    frame = pd.DataFrame({"y_true": y, "y_pred": rng.uniform(0.05, 0.95, n)})
    folder = tmp_path / "in"
    folder.mkdir()
    if layout == "one-file":
        path = _write(frame, str(folder / f"all.{ext}"))
    else:
        for i, (a, b) in enumerate([(0, 200), (200, 450), (450, n)]):
            _write(frame.iloc[a:b], str(folder / f"part-{i}.{ext}"))
        path = str(folder)
    opened = _count_reads_here(monkeypatch)
    want = [lc.compute(path).to_dict(), lc.compare(path, ci=0.9, n_boot=20).to_dict()]
    assert opened  # the local engine reads on this process: the counter sees it
    opened.clear()
    got = [
        lc.compute(path, engine="dask", scheduler=client).to_dict(),
        lc.compare(path, ci=0.9, n_boot=20, engine="dask", scheduler=client).to_dict(),
    ]
    assert opened == []
    assert_same(got, want)
    task = {"binary-then-continuous": "regression", "text-labels": "binary"}
    assert got[0]["task"] == task.get(target, "regression")


def test_the_first_failing_partition_names_the_error(client, tmp_path):
    good = pd.DataFrame({"y_true": [1.0, 2.0], "y_pred": [1.0, 2.5]})
    bad = pd.DataFrame({"y_true": [1.0, 2.0], "y_pred": [1.0, -3.0]})
    worse = pd.DataFrame({"y_true": [1.0, 2.0], "y_pred": ["x", "y"]})
    paths = [
        _write(good, str(tmp_path / "0.csv")),
        _write(bad, str(tmp_path / "1.csv")),
        _write(worse, str(tmp_path / "2.csv")),
    ]
    plan = compute_plan(_choose(("msle",)))
    # Rows numbered over the input, as one file of the first two would number them.
    first_two = _write(pd.concat([good, bad]), str(tmp_path / "01.csv"))
    with pytest.raises(DataError) as local:
        with open_source(first_two, InputOptions()) as one:
            run_plan(plan, one)
    with pytest.raises(DataError) as remote:
        dask_engine.run_plan(plan, Files(paths, InputOptions()), client=client)
    assert str(remote.value) == str(local.value)


def test_group_cap_holds_over_all_partitions(client, tmp_path, monkeypatch):
    from losscli.analysis import compute_plan as module

    monkeypatch.setattr(module, "MAX_GROUPS", 3)
    parts = [
        _write(
            pd.DataFrame({"y_true": [1.0, 2.0], "y_pred": [1.0, 2.0], "g": [f"a{i}", f"b{i}"]}),
            str(tmp_path / f"{i}.csv"),
        )
        for i in range(2)
    ]
    opts = InputOptions(group_by="g")
    plan = compute_plan(_choose(("mae",)))
    # Each partition holds 2 groups (under the cap); together they hold 4.
    state_a = _scan(plan, parts[0], opts)
    state_b = _scan(plan, parts[1], opts)
    with pytest.raises(DataError, match="more than 3 distinct values"):
        module.merge_states(state_a, state_b)


def _scan(plan: Any, path: str, opts: InputOptions) -> Any:
    with open_source(path, opts) as source:
        batches = list(source.batches())
    step = next(plan(batches[0]))
    state = step.new_state()
    for batch in batches:
        state = step.update(state, batch)
    return state


def test_whole_input_checks_hold_over_all_partitions(client, tmp_path):
    """A partition with no positive weight, or no row left, is fine while another has some."""
    frames = [
        pd.DataFrame({"y_true": [1.0, 2.0], "y_pred": [np.nan, np.nan], "w": [0.0, 0.0]}),
        pd.DataFrame({"y_true": [1.0, 2.0, 3.0], "y_pred": [1.5, 2.0, 2.0], "w": [0.0, 1.0, 2.0]}),
    ]
    paths = [_write(f, str(tmp_path / f"{i}.csv")) for i, f in enumerate(frames)]
    whole = _write(pd.concat(frames), str(tmp_path / "whole.csv"))
    opts = InputOptions(weight_col="w", nan="drop")
    plan = compute_plan(_choose(("mae", "median_ae")))
    with open_source(whole, opts) as source:
        want = run_plan(plan, source)
    got = dask_engine.run_plan(plan, Files(paths, opts, [0, 2]), client=client)
    assert_same(_without_source(got), _without_source(want))


@pytest.mark.parametrize(
    ("frame", "options"),
    [
        (
            pd.DataFrame({"y_true": [1.0, 2.0], "y_pred": [1.0, 2.0], "w": [0.0, 0.0]}),
            {"weight_col": "w"},
        ),
        (pd.DataFrame({"y_true": [1.0, 2.0], "y_pred": [np.nan, np.nan]}), {"nan": "drop"}),
    ],
    ids=["zero-weights", "all-dropped"],
)
def test_whole_input_errors_are_those_of_one_machine(client, tmp_path, frame, options):
    paths = [_write(frame, str(tmp_path / f"{i}.csv")) for i in range(3)]
    whole = _write(pd.concat([frame] * 3), str(tmp_path / "whole.csv"))
    opts = InputOptions(**options)
    plan = compute_plan(_choose(("mae",)))
    with pytest.raises(DataError) as local:
        with open_source(whole, opts) as source:
            run_plan(plan, source)
    with pytest.raises(DataError) as remote:
        dask_engine.run_plan(plan, Files(paths, opts, [0, 2, 4]), client=client)
    assert str(remote.value) == str(local.value)


def test_input_checks_merge_the_group_cap_over_partitions(monkeypatch):
    from losscli.io import source as io_source

    monkeypatch.setattr(io_source, "MAX_GROUPS", 3)
    opts = InputOptions(group_by="g")
    a, b = io_source.WholeInputChecks(opts), io_source.WholeInputChecks(opts)
    a.groups, b.groups = {"x", "y"}, {"y", "z"}
    a.merge(b)  # three groups: at the cap
    c = io_source.WholeInputChecks(opts)
    c.groups = {"w"}
    with pytest.raises(DataError, match=r"column g \(--group-by\) has more than 3 distinct"):
        a.merge(c)


def test_dropped_rows_warning_is_the_same_in_one_chunk_or_several(tmp_path):
    frame = pd.DataFrame(
        {"y_true": [1.0, 2.0, 3.0, 4.0, 5.0], "y_pred": [1.0, np.nan, 3.5, 4.0, np.nan]}
    )
    path = _write(frame, str(tmp_path / "f.csv"))
    dataset = open_source(path, InputOptions(nan="drop")).dataset()
    one = compute_chunks([dataset], _choose(("mae",)))
    several = compute_chunks(split_rows(dataset, [1, 2]), _choose(("mae",)))
    assert one.warnings == several.warnings
    assert one.warnings[0].startswith("2 rows with missing or non-numeric values were dropped")


def test_custom_losses_run_on_the_workers(client):
    """A --custom loss travels to the workers with the plan (its module is not installed there)."""
    path = os.path.join(os.path.dirname(__file__), "..", "sample_data", "regression_clean.csv")
    custom = [os.path.join(os.path.dirname(path), "custom_losses.py") + ":huber_guide"]
    kwargs: dict[str, Any] = {"losses": "mae,huber_guide", "custom": custom}
    want = lc.compute(path, **kwargs).to_dict()
    got = lc.compute(path, engine="dask", scheduler=client, **kwargs).to_dict()
    assert_same(got, want)
    assert [r["loss"] for r in got["results"]] == ["mae", "huber_guide"]


# --------------------------------------------------------------------------- many files


@pytest.fixture(scope="module")
def hive_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One dataset as hive-partitioned folders (day=...), in Parquet and in CSV."""
    out = {}
    frame = _frame(2400, seed=21)
    days = ["2026-11-01", "2026-11-02", "2026-11-03"]
    for ext in ("parquet", "csv"):
        root = tmp_path_factory.mktemp(f"hive_{ext}")
        for i, day in enumerate(days):
            folder = root / f"day={day}"
            folder.mkdir()
            part = frame.iloc[i * 800 : (i + 1) * 800].drop(columns=["g"])
            # Two files per day, of different sizes.
            _write(part.iloc[:300], str(folder / f"part-0.{ext}"))
            _write(part.iloc[300:], str(folder / f"part-1.{ext}"))
        out[ext] = str(root)
    return out


@pytest.mark.parametrize("ext", ["parquet", "csv"])
@pytest.mark.parametrize(
    "args",
    [
        ["compute", "--group-by", "day", "-l", "mae,mse,median_ae,max_error"],
        ["compute", "--ci", "0.9", "--bootstrap", "60", "-l", "mae,rmse,median_ae"],
        ["compare"],
        ["compare", "--ci", "0.9", "--bootstrap", "60", "-l", "mae,mse"],
        ["sensitivity", "-l", "mse,mae"],
        ["recommend"],
    ],
    ids=["compute-groups", "compute-ci", "compare", "compare-ci", "sensitivity", "recommend"],
)
def test_cli_on_a_hive_directory_dask_equals_local(run, client, hive_dirs, ext, args):
    command, *rest = args
    base = [command, hive_dirs[ext], "--pred-col", "a", "--pred-col", "b", *rest]
    if command == "recommend":  # the evidence about predictions is the first model's
        base = [command, hive_dirs[ext], "--pred-col", "a", *rest]
    local = run(*base, "--format", "json")
    remote = run(
        *base, "--format", "json", "--engine", "dask", "--scheduler", client.scheduler.address
    )
    assert local.exit_code == 0, local.stderr
    assert remote.exit_code == 0, remote.stderr
    assert_same(json.loads(remote.stdout), json.loads(local.stdout))
    assert remote.stderr == local.stderr
