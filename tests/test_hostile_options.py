"""Option values that are not what they look like (issue 12.11): usage errors, exit 2.

``--encoding`` names a codec that turns a file's bytes into text (rot13, base64, hex,
zip, idna ... are codecs Python knows, but not file encodings); ``--delimiter`` is one
ASCII character other than the quote (or ``tab``). Both are checked before any
reading, for the command line and the API alike.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

import losscli as lc

LOSS = [sys.executable, "-m", "losscli"]
DATA = "y_true,y_pred\n1,2\n3,4\n2,2\n"


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(DATA, encoding="utf-8")
    return path


NOT_TEXT = ["rot13", "rot_13", "base64", "hex", "zip", "zlib_codec", "bz2_codec", "uu", "quopri",
            "idna", "punycode", "undefined"]  # fmt: skip


@pytest.mark.parametrize("encoding", NOT_TEXT)
@pytest.mark.parametrize("command", ["compute", "sensitivity"])
def test_a_codec_that_is_not_a_text_encoding_is_a_usage_error(run, data, encoding, command):
    before = data.read_bytes()
    result = run(command, data, "--encoding", encoding)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: --encoding {encoding!r} is not a text encoding (it does not turn a file's "
        f"bytes into text); try utf-8, latin-1, cp1252 or utf-16"
    )
    assert data.read_bytes() == before


def test_a_compressing_codec_on_stdin_is_a_usage_error_too(run):
    result = run("compute", "-", "--encoding", "bz2_codec", input=DATA)
    assert result.exit_code == 2
    assert "is not a text encoding" in result.stderr


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "latin-1", "cp1252", "utf-8-sig", "ascii"])
def test_text_encodings_still_read(run_json, data, encoding):
    assert run_json("compute", data, "-l", "mae", "--encoding", encoding)["results"][0][
        "value"
    ] == pytest.approx(2 / 3, rel=1e-12)


@pytest.mark.parametrize("delimiter", ["é", ";;", "", "\x01", "\n", "\r", "\u00a0", "ab"])
def test_delimiter_must_be_one_ascii_character(run, data, delimiter):
    result = run("compute", data, "--delimiter", delimiter)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: --delimiter must be one ASCII character, such as ';' or '|' (tab: "
        f"--delimiter tab), got {delimiter!r}"
    )


def test_delimiter_cannot_be_the_quote(run, data):
    result = run("compute", data, "--delimiter", '"')
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: --delimiter cannot be '\"', the quote character of CSV; choose another one"
    )


@pytest.mark.parametrize(("given", "char"), [(";", ";"), ("tab", "\t"), ("\\t", "\t"), (" ", " ")])
def test_ascii_delimiters_read(run_json, tmp_path, given, char):
    path = tmp_path / "data.txt"
    path.write_text(DATA.replace(",", char), encoding="utf-8")
    out = run_json("compute", path, "-l", "mae", "--delimiter", given)
    assert out["results"][0]["value"] == pytest.approx(2 / 3, rel=1e-12)


def test_api_raises_the_same_usage_errors(data):
    with pytest.raises(lc.UsageError, match="'rot13' is not a text encoding"):
        lc.compute(str(data), encoding="rot13")
    with pytest.raises(lc.UsageError, match="one ASCII character"):
        lc.compute(str(data), delimiter="é")
    frame = pd.read_csv(data)
    assert lc.compute(frame, losses="mae").value("mae") == pytest.approx(2 / 3, rel=1e-12)


def test_a_failed_gate_prints_the_whole_report_through_a_pipe(data):
    """Exit 3 with the JSON complete on a pipe (flushed before the process ends)."""
    proc = subprocess.run(
        [*LOSS, "compute", str(data), "--format", "json", "--fail-above", "mae=0.1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["results"][2]["loss"] == "mae"
    assert proc.stderr.strip() == "Error: quality gate failed: mae = 0.666667 > 0.1 (model y_pred)"
