"""Counts in messages read as English: '1 row', '40 rows', never 'row(s)'."""

from __future__ import annotations

import json

import pytest

from losscli.analysis.diagnostics import (
    clipping_text,
    input_warnings,
    mape_zero_text,
    rowsum_text,
)
from losscli.words import plural, verb


@pytest.mark.parametrize(
    ("n", "word", "text"),
    [
        (1, "row", "1 row"),
        (0, "row", "0 rows"),
        (1500, "row", "1,500 rows"),
        (2, "loss", "2 losses"),
        (1, "true box", "1 true box"),
        (3, "true box", "3 true boxes"),
        (2, "missing or non-numeric value", "2 missing or non-numeric values"),
    ],
)
def test_plural(n, word, text):
    assert plural(n, word) == text


def test_verb_agrees_with_the_count():
    assert [verb(n, "has", "have") for n in (0, 1, 2)] == ["have", "has", "have"]


def test_warnings_of_one_row_and_of_several():
    """They said '1 row(s) ... were dropped', '1 row(s) have y_true = 0'."""
    assert input_warnings(1, 1) == [
        "1 row with missing or non-numeric values was dropped (--nan drop); 1 row used"
    ]
    assert input_warnings(40, 60) == [
        "40 rows with missing or non-numeric values were dropped (--nan drop); 60 rows used"
    ]
    assert input_warnings(0, 60) == []
    assert mape_zero_text(1, [4]).startswith("P-MAPE0 mape: 1 row has y_true = 0 (rows 4)")
    assert mape_zero_text(2, [4, 9]).startswith("P-MAPE0 mape: 2 rows have y_true = 0")
    assert clipping_text("m", 1, 1e-15, "bce", 0.5).startswith(
        "P-LOG0 m: 1 row predicts probability exactly 0"
    )
    assert clipping_text("m", 3, 1e-15, "bce", 0.5).startswith(
        "P-LOG0 m: 3 rows predict probability exactly 0"
    )
    assert rowsum_text("m", 1, 2, 0.9).startswith(
        "P-ROWSUM m: 1 row of class probabilities does not sum to 1"
    )
    assert rowsum_text("m", 2, 2, 0.9).startswith(
        "P-ROWSUM m: 2 rows of class probabilities do not sum to 1"
    )


def test_one_row_in_warnings_and_pitfalls(run, tmp_path):
    """compute's warnings and recommend's pitfalls about a single row."""
    path = tmp_path / "p.csv"
    path.write_text("y_true,y_pred\n1,0\n0,0.2\n1,0.8\n0,0.3\n1,0.6\n0,0.1\n")
    result = run("compute", path, "-l", "bce")
    assert "P-LOG0 y_pred: 1 row predicts probability exactly 0 for the true" in result.stderr
    out = json.loads(run("recommend", path, "--format", "json").stdout)
    log0 = next(p for p in out["pitfalls"] if p["id"] == "P-LOG0")
    assert log0["message"].startswith("1 row gives the true class probability exactly 0")
    path = tmp_path / "m.csv"
    path.write_text("y_true,y_pred\n0,0.5\n1,1.2\n2,2.1\n3,2.5\n")
    out = json.loads(run("recommend", path, "-l", "mape", "--format", "json").stdout)
    mape0 = next(p for p in out["pitfalls"] if p["id"] == "P-MAPE0")
    assert mape0["message"].startswith("you plan mape and y_true has 1 zero:")


def test_one_dropped_row(run, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("y_true,y_pred\n1,\n2,2.5\n")
    result = run("compute", path, "--nan", "drop", "-l", "mae")
    assert result.exit_code == 0, result.stderr
    assert (
        "Warning: 1 row with missing or non-numeric values was dropped (--nan drop); 1 row used"
    ) in result.stderr


def test_one_missing_value_and_one_field(run, tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("y_true,y_pred\n1,\n2,2.5\n")
    result = run("compute", path, "-l", "mae")
    assert "column y_pred: 1 missing or non-numeric value (rows 1;" in result.stderr
    path = tmp_path / "f.csv"
    path.write_text("y_true,y_pred\n1,1.5\n2\n")
    result = run("compute", path, "-l", "mae")
    assert "line 3: 1 field but the header has 2" in result.stderr
