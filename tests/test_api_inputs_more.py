"""The API's keyword arguments given in a form the CLI cannot produce.

A column named by a number, values where a column name is expected, a bool
for ``per_sample``, one gate as a text, duplicate column names in a
DataFrame: each is a UsageError or an InputError with one clear message,
raised before any work.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import losscli as lc
import losscli.api as api

DATA = {"y_true": [1.0, 2.0, 3.0], "y_pred": [1.5, 2.0, 2.0]}


@pytest.fixture
def no_work(monkeypatch):
    """Fails a test that reaches the data: the argument checks come first."""

    def opened(*args, **kwargs):
        raise AssertionError("the data were read before the arguments were checked")

    monkeypatch.setattr(api, "_open", opened)


def test_a_dataframes_numbered_columns_are_named_by_their_numbers():
    frame = pd.DataFrame({0: [1.0, 2.0], 1: [1.0, 3.0]})
    by_number = lc.compute(frame, y_true=0, y_pred=1, losses="mse")
    by_text = lc.compute(frame, y_true="0", y_pred="1", losses="mse")
    assert by_number.value("mse") == by_text.value("mse") == 0.5
    assert lc.compute(frame, y_true=np.int64(0), y_pred=[1], losses="mse").value("mse") == 0.5


@pytest.mark.parametrize("label", [True, 0.5, None], ids=repr)
def test_a_column_name_that_is_not_text_nor_a_number_is_a_usage_error(no_work, label):
    with pytest.raises(lc.UsageError, match='^y_true expects a column name, e.g. y_true="y_true"'):
        lc.compute(DATA, y_true=label)


def test_a_duplicate_dataframe_column_is_an_input_error_naming_it():
    frame = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["y_true", "y_pred", "y_pred"])
    expected = "duplicate column name 'y_pred' (column 3 of the data); rename one of them"
    with pytest.raises(lc.InputError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        lc.compute(frame)
    # the same wording for the other in-memory kinds, and for labels equal as text
    table = pa.Table.from_arrays([pa.array([1.0])] * 3, names=["y_true", "y_pred", "y_pred"])
    with pytest.raises(lc.InputError, match="duplicate column name 'y_pred' .column 3 of"):
        lc.compute(table)
    with pytest.raises(lc.InputError, match="duplicate column name '1' .column 2 of"):
        lc.compute(pd.DataFrame([[1.0, 2.0]], columns=[1, "1"]), y_true=1, y_pred=1)
    with pytest.raises(lc.InputError, match="duplicate column name '1' .column 3 of"):
        lc.compute({"y_true": [1.0], 1: [1.0], "1": [2.0]}, y_pred="1")


SERIES = pd.Series([1.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("function", "keyword", "value", "shown"),
    [
        (lc.compute, "weights", SERIES, "weights expects a column name, e.g. weights=\"w\" "
         "(got a Series); add the weights to the data as a column and pass its name"),
        (lc.compute, "y_true", SERIES, "y_true expects a column name"),
        (lc.compute, "y_pred", SERIES, "y_pred expects a column name or a list of them"),
        (lc.compute, "y_pred", np.array([1.5, 2.0, 2.0]), "y_pred expects a column name or"),
        (lc.compute, "y_pred", ["y_pred", SERIES], "(got a Series in the list)"),
        (lc.compute, "group_by", SERIES, "group_by expects a column name"),
        (lc.compute, "id_cols", SERIES, "id_cols expects a column name or a list of them"),
        (lc.compute, "on", SERIES, "on expects a column name or a list of them"),
        (lc.compute, "interval_cols", SERIES, "interval_cols expects a column name or"),
        (lc.compare, "time_col", np.arange(3), "time_col expects a column name"),
        (lc.compare, "weights", SERIES, "weights expects a column name"),
        (lc.sensitivity, "y_true", SERIES, "y_true expects a column name"),
        (lc.recommend, "weights", SERIES, "weights expects a column name"),
        (api.report_data, "group_by", SERIES, "group_by expects a column name"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " not in v else None,
)  # fmt: skip
def test_values_given_for_a_column_name_are_a_usage_error(no_work, function, keyword, value, shown):
    with pytest.raises(lc.UsageError) as raised:
        function(DATA, **{keyword: value})
    assert shown in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("value", [True, 1, object()], ids=repr)
def test_per_sample_takes_a_path_or_a_file_not_a_bool(no_work, value):
    with pytest.raises(lc.UsageError) as raised:
        lc.compute(DATA, losses="mse", per_sample=value)
    message = str(raised.value)
    assert message.startswith("per_sample takes a path or an open file")
    assert "lc.losses.<name>(y_true, y_pred, per_sample=True)" in message


@pytest.mark.parametrize("value", [False, None])
def test_per_sample_false_or_none_writes_nothing(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = lc.compute(DATA, losses="mse", per_sample=value)
    assert result.value("mse") == pytest.approx(1.25 / 3)
    assert list(tmp_path.iterdir()) == []


def test_per_sample_takes_a_pathlib_path(tmp_path):
    handle = io.StringIO()
    lc.compute(DATA, losses="mse", per_sample=handle)
    target = tmp_path / "rows.csv"
    lc.compute(DATA, losses="mse", per_sample=target)
    assert target.read_text() == handle.getvalue()


def test_one_gate_text_is_one_gate():
    as_text = lc.compute(DATA, losses="mse", fail_above="mse=0.1", fail_below="r2=0.99")
    as_list = lc.compute(DATA, losses="mse", fail_above=["mse=0.1"], fail_below=["r2=0.99"])
    assert as_text.gate_failures() == as_list.gate_failures()
    assert len(as_text.gate_failures()) == 2
    assert lc.compute(DATA, losses="mse", fail_above="mse=0.5").gate_failures() == []


def test_a_comma_list_of_gates_is_refused_as_the_cli_refuses_it():
    # --fail-above is repeated, not comma-separated: "mse=0.1,mae=0.2" is one bad bound
    with pytest.raises(lc.UsageError, match=r"^--fail-above mse=0.1,mae=0.2: '0.1,mae=0.2' is not"):
        lc.compute(DATA, fail_above="mse=0.1,mae=0.2")


def test_a_gate_that_is_not_a_text_is_a_usage_error(no_work):
    with pytest.raises(lc.UsageError, match='^fail_below expects "NAME=VALUE" texts'):
        lc.compute(DATA, fail_below=[("r2", 0.8)])


def test_an_object_column_of_numbers_and_number_texts_is_read_like_a_file():
    """1 beside "2" in one object column: "the DataFrame cannot be read" (Arrow's own
    error); as a file's cells, the numbers and number texts are now read alike."""
    frame = pd.DataFrame(
        {"y_true": pd.Series([1, "2", 3.5, " 4"], dtype=object), "y_pred": [1.5, 2.0, 3.0, 4.5]}
    )
    want = np.mean(np.square([1 - 1.5, 2 - 2.0, 3.5 - 3.0, 4 - 4.5]))
    assert lc.compute(frame, losses="mse").value("mse") == pytest.approx(want, rel=1e-12)
    bad = frame.assign(y_true=pd.Series([1, "x", 3.5, None], dtype=object))
    with pytest.raises(lc.InputError, match="column y_true: 2 missing or non-numeric"):
        lc.compute(bad, losses="mse")
