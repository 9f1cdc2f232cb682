"""The Python API (SPEC 10): the same results as the command line, as objects.

``lc.compute(df)`` on a DataFrame equals ``loss compute`` on the same data
written as CSV (``to_dict()`` == the JSON), for every task family, with
weights, groups and intervals; the other data commands likewise; errors are
ValueErrors with the CLI's messages and warnings are LossWarnings.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

import losscli as lc
from losscli.cli import cli

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"


def cli_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def without_source(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k != "source"}


def with_weights_and_groups(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    n = len(out)
    out["w"] = [1.0 + (i % 3) for i in range(n)]
    out["seg"] = ["north" if i % 4 else "south" for i in range(n)]
    return out


# (sample file, API keyword arguments, the same as CLI options, whether weights/groups apply)
CASES = {
    "regression": (
        "regression_outliers.csv",
        {"y_pred": ["y_pred", "model_b"]},
        ["--pred-col", "y_pred", "--pred-col", "model_b"],
        True,
    ),
    "binary": ("binary_imbalanced.csv", {}, [], True),
    "binary_logits": ("binary_logits.csv", {"from_logits": True}, ["--from-logits"], True),
    "hinge": (
        "hinge_labels.csv",
        {"losses": "hinge,squared_hinge"},
        ["-l", "hinge,squared_hinge"],
        True,
    ),
    "multiclass": ("multiclass_probs.csv", {}, [], True),
    "multiclass_logits": ("multiclass_logits.csv", {"from_logits": True}, ["--from-logits"], True),
    "multiclass_soft": ("multiclass_soft.csv", {}, [], True),
    "detection": ("detection_boxes.csv", {}, [], False),
    "similarity_pairs": ("similarity_pairs.csv", {}, [], False),
    "similarity_triplets": ("similarity_triplets.csv", {}, [], False),
    "generative": ("gan_outputs.csv", {}, [], False),
    "vae": ("vae_latents.csv", {}, [], False),
}


@pytest.mark.parametrize("case", CASES)
def test_compute_on_a_dataframe_equals_the_cli_on_the_csv(case, tmp_path):
    name, kwargs, args, _ = CASES[case]
    df = pd.read_csv(SAMPLES / name)
    path = tmp_path / name
    df.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LossWarning)
        got = lc.compute(df, **kwargs).to_dict()
    want = cli_json("compute", str(path), *args)
    assert got["source"] == "<pandas.DataFrame>"
    assert without_source(got) == without_source(want)


@pytest.mark.parametrize("case", [c for c, v in CASES.items() if v[3]])
def test_compute_with_weights_groups_and_ci_equals_the_cli(case, tmp_path):
    name, kwargs, args, _ = CASES[case]
    df = with_weights_and_groups(pd.read_csv(SAMPLES / name))
    path = tmp_path / name
    df.to_csv(path, index=False)
    options = {"weights": "w", "group_by": "seg", "ci": 0.9, "n_boot": 50, "seed": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LossWarning)
        got = lc.compute(df, **kwargs, **options).to_dict()
    want = cli_json(
        "compute",
        str(path),
        *args,
        "--weight-col",
        "w",
        "--group-by",
        "seg",
        "--ci",
        "0.9",
        "--bootstrap",
        "50",
        "--seed",
        "3",
    )
    assert without_source(got) == without_source(want)
    assert {r["group"] for r in got["results"]} == {None, "north", "south"}


def test_every_kind_of_in_memory_data_gives_the_same_result():
    df = pd.read_csv(SAMPLES / "regression_clean.csv")
    expected = lc.compute(df, weights="weight").to_dict()["results"]
    table = pa.Table.from_pandas(df, preserve_index=False)
    inputs = {
        "dict of arrays": {c: df[c].to_numpy() for c in df.columns},
        "dict of lists": {c: df[c].tolist() for c in df.columns},
        "pyarrow Table": table,
        "RecordBatchReader": pa.RecordBatchReader.from_batches(
            table.schema, table.to_batches(max_chunksize=64)
        ),
        "path": SAMPLES / "regression_clean.csv",
        "path text": str(SAMPLES / "regression_clean.csv"),
    }
    for label, data in inputs.items():
        assert lc.compute(data, weights="weight").to_dict()["results"] == expected, label


def test_polars_dataframe_when_installed():
    pl = pytest.importorskip("polars")
    df = pd.read_csv(SAMPLES / "regression_clean.csv")
    got = lc.compute(pl.from_pandas(df), group_by="segment").to_dict()
    want = lc.compute(df, group_by="segment").to_dict()
    assert without_source(got) == without_source(want)


def test_categorical_group_column_reads_as_its_values():
    df = pd.read_csv(SAMPLES / "regression_clean.csv")
    categorical = df.assign(segment=df["segment"].astype("category"))
    got = lc.compute(categorical, group_by="segment").to_dict()
    assert got == lc.compute(df, group_by="segment").to_dict()


@pytest.mark.parametrize(
    ("command", "kwargs", "args"),
    [
        (
            "compare",
            {"y_pred": ["y_pred", "model_b"], "ci": 0.9, "n_boot": 50},
            ["--pred-col", "y_pred", "--pred-col", "model_b", "--ci", "0.9", "--bootstrap", "50"],
        ),
        (
            "sensitivity",
            {"y_pred": ["y_pred", "model_b"], "losses": "mse,mae,huber"},
            ["--pred-col", "y_pred", "--pred-col", "model_b", "-l", "mse,mae,huber"],
        ),
        ("sensitivity", {"rule": "iqr", "threshold": 2.0}, ["--rule", "iqr", "--threshold", "2"]),
        ("recommend", {"outliers": False, "losses": "mse,mbe"}, ["--no-outliers", "-l", "mse,mbe"]),
    ],
)
def test_other_data_commands_equal_the_cli(command, kwargs, args, tmp_path):
    df = pd.read_csv(SAMPLES / "regression_outliers.csv")
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.LossWarning)
        got = getattr(lc, command)(df, **kwargs).to_dict()
    want = cli_json(command, str(path), *args)
    assert without_source(got) == without_source(want)


def test_functions_without_data_equal_the_cli():
    assert lc.compare_losses("mse,huber:delta=2,bce", errors="-2:2:9").to_dict() == cli_json(
        "compare", "-l", "mse,huber:delta=2,bce", "--errors", "-2:2:9"
    )
    assert lc.explain("mse", link="sigmoid").to_dict() == cli_json(
        "explain", "mse", "--link", "sigmoid"
    )
    assert lc.recommend(task="multiclass", imbalanced=True).to_dict() == cli_json(
        "recommend", "--task", "multiclass", "--imbalanced"
    )
    assert lc.list_losses() == cli_json("list")["losses"]
    assert lc.loss_info("huber") == cli_json("info", "huber")


def test_to_pandas_is_the_csv_output(tmp_path):
    path = SAMPLES / "regression_outliers.csv"
    result = lc.compute(path, y_pred=["y_pred", "model_b"], group_by="segment", ci=0.9, n_boot=30)
    csv_text = (
        CliRunner()
        .invoke(
            cli,
            [
                "compute",
                str(path),
                "--pred-col",
                "y_pred",
                "--pred-col",
                "model_b",
                "--group-by",
                "segment",
                "--ci",
                "0.9",
                "--bootstrap",
                "30",
                "--format",
                "csv",
            ],
        )
        .stdout
    )
    frame = result.to_pandas()
    from_csv = pd.read_csv(io.StringIO(csv_text), keep_default_na=False, na_values=[""])
    assert list(frame.columns) == list(from_csv.columns)
    frame = frame.assign(group=frame["group"].fillna(np.nan), params=frame["params"])
    pd.testing.assert_frame_equal(
        frame.fillna({"params": ""}).reset_index(drop=True),
        from_csv.fillna({"params": ""}).astype({"group": object}),
        check_dtype=False,
    )
    for command, data in (
        (lc.sensitivity, path),
        (lc.compare, path),
    ):
        table = command(data).to_pandas()
        assert {"loss", "params", "model", "value"} <= set(table.columns)
    assert list(lc.recommend(outliers=True).to_pandas().columns)[:3] == ["kind", "rank", "loss"]
    assert len(lc.compare_losses("mse", errors="-1:1:5").to_pandas()) == 5
    assert lc.explain("bce", link="sigmoid").to_pandas()["convex"].tolist() == [True]


def test_value_selects_one_number():
    path = SAMPLES / "regression_outliers.csv"
    result = lc.compute(
        path, y_pred=["y_pred", "model_b"], losses="mse,huber,huber:delta=5", group_by="segment"
    )
    by_row = {(r.label, r.model, r.group): r.value for r in result.results}
    assert result.value("mse", model="model_b") == by_row["mse", "model_b", None]
    assert result.value("l2", model="y_pred", group="north") == by_row["mse", "y_pred", "north"]
    assert result.value("huber", model="y_pred") == by_row["huber", "y_pred", None]
    assert result.value("huber:delta=5", model="y_pred") == by_row["huber(delta=5)", "y_pred", None]
    with pytest.raises(lc.UsageError, match="several models"):
        result.value("mse")
    with pytest.raises(lc.UsageError, match="not in this result"):
        result.value("mae", model="y_pred")
    with pytest.raises(lc.UsageError, match="no group 'nowhere'"):
        result.value("mse", model="y_pred", group="nowhere")
    compared = lc.compare(path, y_pred=["y_pred", "model_b"], losses="mae")
    assert compared.value("mae", model="model_b") == compared.results[1].value
    recommended = lc.recommend(outliers=True)
    assert recommended.value("huber") == recommended.recommendations[0].score
    assert np.isnan(recommended.value("mse"))


def test_results_are_the_frozen_reports_the_cli_renders():
    import dataclasses

    from losscli.analysis.results import ComputeReport

    result = lc.compute(SAMPLES / "regression_clean.csv")
    assert isinstance(result, ComputeReport) and isinstance(result, lc.ComputeResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.task = "binary"  # type: ignore[misc]


def test_html_and_rich_views_show_the_table():
    from rich.console import Console

    result = lc.compute({"y_true": [1.0, 2.0], "<b>model</b>": [1.5, 2.5]}, y_pred="<b>model</b>")
    html = result._repr_html_()
    assert "<table>" in html and "&lt;b&gt;model&lt;/b&gt;" in html and "<b>model" not in html
    assert "0.25" in html
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(result)
    text = console.file.getvalue()
    assert "mse" in text and "0.25" in text and "<b>model</b>" in text
    for other in (
        lc.compare_losses("mse,mae"),
        lc.explain("mse", link="sigmoid"),
        lc.recommend(outliers=True),
        lc.sensitivity(SAMPLES / "regression_outliers.csv"),
        lc.compare(SAMPLES / "regression_outliers.csv", y_pred=["y_pred", "model_b"]),
    ):
        assert "<table>" in other._repr_html_()
        console = Console(file=io.StringIO(), width=80, color_system=None)
        console.print(other)
        assert console.file.getvalue().strip()


def test_html_view_shows_controls_and_bidi_as_escapes():
    """In Jupyter a model named m<U+202E>evil showed as 'mlive' (the raw override reached
    the table), and ESC and newlines in names and groups were passed through. The HTML
    table now shows them as the terminal and the report page do, and still HTML-escapes."""
    import re

    rlo, esc, tag = "m\u202eevil", "a\x1b[2Jb", "<b>x\x07</b>"
    data = {
        "y_true": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        rlo: [1.5, 2.25, 3.0, 4.75, 4.0, 6.5],
        esc: [1.0, 2.5, 3.75, 4.5, 5.25, 5.0],
        tag: [0.5, 2.25, 2.0, 4.5, 5.75, 6.25],
        "g": ["line\nbreak"] * 3 + ["x\u2066y"] * 3,
    }
    raw = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
    for result in (
        lc.compute(data, y_pred=[rlo, esc, tag], group_by="g"),
        lc.compare(data, y_pred=[rlo, esc, tag]),
        lc.sensitivity(data, y_pred=[rlo, esc, tag]),
    ):
        html = result._repr_html_()
        assert raw.search(html) is None, repr(raw.search(html))
        assert "m\\u202eevil" in html and "a\\x1b[2Jb" in html
        assert "&lt;b&gt;x\\x07&lt;/b&gt;" in html and "<b>" not in html
    html = lc.compute(data, y_pred=[rlo, esc, tag], group_by="g")._repr_html_()
    assert "line\\nbreak" in html and "x\\u2066y" in html


def test_errors_are_value_errors_with_the_cli_messages():
    with pytest.raises(lc.InputError, match=r"column 'y_prd' not found .*did you mean 'y_pred'"):
        lc.compute({"y_true": [1.0], "y_pred": [1.0]}, y_pred="y_prd")
    with pytest.raises(lc.InputError, match="file not found"):
        lc.compute("no/such/file.csv")
    with pytest.raises(lc.UsageError, match="unknown loss 'msee'; did you mean mse"):
        lc.compute({"y_true": [1.0], "y_pred": [1.0]}, losses="msee")
    with pytest.raises(lc.UsageError, match="nan must be one of error, drop"):
        lc.compute({"y_true": [1.0], "y_pred": [1.0]}, nan="skip")
    with pytest.raises(lc.UsageError, match="ci must be a level"):
        lc.compute({"y_true": [1.0], "y_pred": [1.0]}, ci=95)
    with pytest.raises(lc.UsageError, match="not supported"):
        lc.compute([1, 2, 3])
    with pytest.raises(lc.InputError, match="different lengths"):
        lc.compute({"y_true": [1.0, 2.0], "y_pred": [1.0]})
    with pytest.raises(lc.InputError, match="no rows"):
        lc.compute({"y_true": [], "y_pred": []})
    with pytest.raises(lc.UsageError, match="--outliers"):
        lc.recommend(outliers=True, max_margin=True)
    assert issubclass(lc.InputError, ValueError) and issubclass(lc.UsageError, ValueError)


def test_missing_values_follow_nan_and_count_dropped_rows():
    data = {"y_true": [1.0, 2.0, None, 4.0], "y_pred": [1.0, float("nan"), 3.0, 5.0]}
    with pytest.raises(lc.InputError, match=r"column y_true: 1 missing .*rows 3"):
        lc.compute(data, losses="mae")
    with pytest.warns(lc.LossWarning, match="2 row"):
        result = lc.compute(data, losses="mae", nan="drop")
    assert (result.n_rows, result.n_dropped, result.value("mae")) == (2, 2, 0.5)


def test_warnings_are_loss_warnings_and_nothing_is_printed(capsys):
    data = {"y_true": [0.0, 1.0, 1.0], "y_pred": [0.0, 0.0, 0.5]}
    with pytest.warns(lc.LossWarning, match="P-LOG0"):
        result = lc.compute(data, losses="bce")
    assert any("P-LOG0" in w for w in result.warnings)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_fail_above_computes_the_gated_loss_and_names_failures():
    data = {"y_true": [1.0, 2.0, 3.0], "y_pred": [1.0, 2.0, 6.0]}
    result = lc.compute(data, losses="mse", fail_above=["mae=0.5"])
    assert [r.loss for r in result.results] == ["mse", "mae"]
    assert result.gate_failures() and "mae" in result.gate_failures()[0]
    assert lc.compute(data, losses="mse", fail_above=["mae=5"]).gate_failures() == []


def test_per_sample_to_a_handle_and_a_path(tmp_path):
    data = {"y_true": [1.0, 2.0], "y_pred": [1.5, 2.0]}
    handle = io.StringIO()
    lc.compute(data, losses="mse", per_sample=handle)
    assert handle.getvalue().splitlines() == ["row,model,mse", "1,y_pred,0.25", "2,y_pred,0"]
    target = tmp_path / "rows.csv"
    lc.compute(data, losses="mse", per_sample=str(target))
    assert target.read_text() == handle.getvalue()


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("which", ["data", "absolute", "link", "list", "joined", "custom"])
def test_per_sample_never_overwrites_an_input(tmp_path, which):
    """The command line refused this; the API wrote the per-row CSV over the input."""
    (tmp_path / "a.csv").write_text("id,y_true,y_pred\n1,1.0,1.5\n2,2.0,2.5\n")
    (tmp_path / "b.csv").write_text("id,y_true,model_b\n1,1.0,1.2\n2,2.0,2.1\n")
    (tmp_path / "sq.py").write_text("def sq(y_true, y_pred):\n    return (y_true - y_pred) ** 2\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "a.csv")
    before = _tree(tmp_path)
    data, target, extra = {
        "data": ("a.csv", "a.csv", {}),
        "absolute": ("a.csv", str(tmp_path / "a.csv"), {}),
        "link": ("link.csv", "a.csv", {}),
        "list": (["a.csv"], "a.csv", {}),
        "joined": (["a.csv", "b.csv"], "b.csv", {"on": "id", "y_pred": ["y_pred", "model_b"]}),
        "custom": ("a.csv", "sq.py", {"custom": "sq.py:sq"}),
    }[which]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        with pytest.raises(lc.UsageError, match="is the input file: writing it would overwrite"):
            lc.compute(data, losses="mse", per_sample=target, **extra)
    assert _tree(tmp_path) == before


def test_custom_may_be_one_text_and_per_sample_dash_is_stdout(tmp_path, capsys):
    (tmp_path / "sq.py").write_text("def sq(y_true, y_pred):\n    return (y_true - y_pred) ** 2\n")
    data = {"y_true": [1.0, 2.0], "y_pred": [1.5, 2.0]}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        result = lc.compute(data, losses="sq", custom="sq.py:sq", per_sample="-")
    assert result.value("sq") == 0.125
    assert capsys.readouterr().out.splitlines() == ["row,model,sq", "1,y_pred,0.25", "2,y_pred,0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sq.py"]  # no file named "-"


def test_list_losses_and_loss_info_are_data():
    names = [row["name"] for row in lc.list_losses()]
    assert "mse" in names and "giou" in names
    assert all("multiclass" in row["tasks"] for row in lc.list_losses("multiclass"))
    assert lc.loss_info("l1")["name"] == "mae"
    with pytest.raises(lc.UsageError, match="unknown task"):
        lc.list_losses("regresion")
    with pytest.raises(lc.UsageError, match="without parameters"):
        lc.loss_info("huber:delta=2")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ci": "0.95"}, "ci must be a level between 0 and 1"),
        ({"ci": True}, "ci must be a level between 0 and 1"),
        ({"ci": 0.95, "n_boot": 100.5}, "n_boot must be a whole number"),
        ({"ci": 0.95, "seed": None}, "seed must be a whole number"),
        ({"from_logits": "False"}, "from_logits takes True or False"),
        ({"from_logits": 2}, "from_logits takes True or False"),
    ],
)
def test_arguments_of_the_wrong_type_are_usage_errors(kwargs, message):
    """A raw TypeError, or a text "False" silently read as True (logits), before."""
    data = {"y_true": [0, 1, 1], "y_pred": [0.2, 0.7, 0.9]}
    with pytest.raises(lc.UsageError, match=message):
        lc.compute(data, **kwargs)


def test_flags_and_numpy_scalars():
    with pytest.raises(lc.UsageError, match="outliers takes True or False"):
        lc.recommend(outliers="no")
    with pytest.raises(lc.UsageError, match="per_sample takes True or False"):
        lc.losses.mse([1.0], [2.0], per_sample="yes")
    assert lc.losses.bce([0, 1], [0.2, 0.7], from_logits=np.bool_(False)) == lc.losses.bce(
        [0, 1], [0.2, 0.7]
    )
    data = {"y_true": [0, 1, 1], "y_pred": [0.2, 0.7, 0.9]}
    numpy_args = lc.compute(data, ci=np.float64(0.9), n_boot=np.int64(50), seed=np.int32(1))
    assert numpy_args.to_dict() == lc.compute(data, ci=0.9, n_boot=50, seed=1).to_dict()


def test_value_finds_a_group_by_the_value_of_a_dataframe_column():
    """value(group=True) said "no group True; it has: false, true"."""
    frame = pd.DataFrame(
        {
            "y_true": [1.0, 2.0, 3.0, 4.0],
            "y_pred": [1.5, 2.0, 3.0, 5.0],
            "flag": [True, False, True, False],
            "level": [1.0, 2.0, 1.0, 2.0],
            "day": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-02"]),
        }
    )
    for column, value, name in [
        ("flag", True, "true"),
        ("level", 1.0, "1"),
        ("day", pd.Timestamp("2024-01-01"), None),
    ]:
        result = lc.compute(frame, losses="mse", group_by=column)
        assert result.value("mse", group=value) == 0.125
        if name is not None:
            assert result.value("mse", group=name) == 0.125
    with pytest.raises(lc.UsageError, match="no group 3.0"):
        lc.compute(frame, losses="mse", group_by="level").value("mse", group=3.0)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_value_finds_a_date_time_group_whatever_the_column_unit(unit):
    """pandas 2 stores date-times in nanoseconds and the group was named
    "2024-01-01 00:00:00.000000000": value(group=Timestamp(...)) found no group."""
    days = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-02"])
    frame = pd.DataFrame(
        {
            "y_true": [1.0, 2.0, 3.0, 4.0],
            "y_pred": [1.5, 2.0, 3.0, 5.0],
            "day": days.astype(f"datetime64[{unit}]"),
        }
    )
    result = lc.compute(frame, losses="mse", group_by="day")
    assert result.value("mse", group=pd.Timestamp("2024-01-01")) == 0.125
    assert result.value("mse", group=pd.Timestamp("2024-01-02")) == 0.5
    with pytest.raises(lc.UsageError, match="no group"):
        result.value("mse", group=pd.Timestamp("2024-01-03"))
