"""Cells that are names, not numbers: --group-by, --id-col and multiclass class names.

A CSV reader that guesses types reads "007" and "7" as the number 7 and "TRUE",
"True" and "true" as one boolean: two stores became one group, the id copied into
--per-sample lost its zeros, and y_true "01" did not name its column y_pred_01.
Those columns are now read as text, as a DataFrame of strings gives them; a class
label that is a number still names the column of the same number ("1.0" -> y_pred_1).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import losscli as lc


def _groups(data):
    result = lc.compute(data, losses="mse", group_by="store")
    return {r.group: (r.value, r.n_rows) for r in result.results if r.group is not None}


@pytest.mark.parametrize(
    "stores",
    [["007", "7", "1.50", "1.5"], ["TRUE", "True", "true", "FALSE"], ["1", "01", "1e0", "1.0"]],
)
def test_group_names_keep_their_text(tmp_path, stores):
    # Each column alone reads as numbers (or booleans) when types are guessed.
    path = tmp_path / "stores.csv"
    rows = "".join(f"{i},{i + 0.5 * i},{s}\n" for i, s in enumerate(stores, start=1))
    path.write_text("y_true,y_pred,store\n" + rows)
    want = {s: ((0.5 * i) ** 2, 1) for i, s in enumerate(stores, start=1)}
    got = _groups(str(path))
    assert got.keys() == want.keys()
    for store, (value, rows_in) in got.items():
        assert rows_in == 1 and value == pytest.approx(want[store][0], rel=1e-12)
    frame = pd.read_csv(path, dtype={"store": str})
    assert _groups(frame) == got  # the file and a DataFrame of strings agree


def test_group_names_in_many_blocks_and_a_compressed_file(tmp_path):
    import gzip

    rng = np.random.default_rng(0)
    n = 300_000
    stores = np.array(["007", "7", "0.50", ".5"])[rng.integers(0, 4, n)]
    y = rng.normal(size=n)
    p = y + rng.normal(size=n)
    text = "y_true,y_pred,store\n" + "".join(
        f"{a!r},{b!r},{s}\n" for a, b, s in zip(y.tolist(), p.tolist(), stores.tolist())
    )
    (tmp_path / "s.csv").write_text(text)
    (tmp_path / "s.csv.gz").write_bytes(gzip.compress(text.encode()))
    for name in ("s.csv", "s.csv.gz"):
        got = _groups(str(tmp_path / name))
        assert sorted(got) == [".5", "0.50", "007", "7"]
        for store, (value, rows) in got.items():
            chosen = stores == store
            assert rows == int(chosen.sum())
            assert value == pytest.approx(float(np.mean((y - p)[chosen] ** 2)), rel=1e-12)


@pytest.mark.parametrize("ids", [["007", "7", "0.50"], ["TRUE", "true", "False"]])
def test_id_columns_are_copied_as_written(tmp_path, ids):
    path = tmp_path / "ids.csv"
    path.write_text("id,y_true,y_pred\n" + "".join(f"{i},1,1.5\n" for i in ids))
    out = io.StringIO()
    lc.compute(str(path), losses="mse", per_sample=out, id_cols="id")
    assert [line.split(",")[1] for line in out.getvalue().splitlines()] == ["id", *ids]


@pytest.mark.parametrize(
    "text",
    [
        "y_true,y_pred_01,y_pred_02\n01,0.8,0.2\n02,0.3,0.7\n",  # names with leading zeros
        "y_true,y_pred_1.0,y_pred_2.0\n1.0,0.8,0.2\n2.0,0.3,0.7\n",  # names with a point
        "y_true,y_pred_1,y_pred_2\n1.0,0.8,0.2\n2,0.3,0.7\n",  # a label of the same number
        "y_true,y_pred_a,y_pred_b\na,0.8,0.2\nb,0.3,0.7\n",
    ],
)
def test_class_names_that_look_like_numbers(run, tmp_path, text):
    path = tmp_path / "mc.csv"
    path.write_text(text)
    want = -(np.log(0.8) + np.log(0.7)) / 2
    data = json.loads(run("compute", path, "-l", "cce", "--format", "json").stdout)
    assert data["task"] == "multiclass"
    assert data["results"][0]["value"] == pytest.approx(want, rel=1e-12)
    assert lc.compute(str(path), losses="cce").value("cce") == pytest.approx(want, rel=1e-12)


def test_a_numeric_label_matching_two_class_names_is_an_error(run, tmp_path):
    path = tmp_path / "mc.csv"
    path.write_text("y_true,y_pred_01,y_pred_1.0\n1,0.8,0.2\n01,0.3,0.7\n")
    result = run("compute", path, "-l", "cce")
    assert result.exit_code == 1 and result.stdout == ""
    assert "class '1' at row 1 has no prediction column y_pred_1" in result.stderr


def test_a_numeric_dataframe_label_names_the_zero_padded_column():
    frame = pd.DataFrame({"y_true": [1, 2], "y_pred_01": [0.8, 0.3], "y_pred_02": [0.2, 0.7]})
    want = -(np.log(0.8) + np.log(0.7)) / 2
    assert lc.compute(frame, losses="cce").value("cce") == pytest.approx(want, rel=1e-12)
